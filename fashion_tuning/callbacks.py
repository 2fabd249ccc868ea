"""The Keras callbacks of every trial and of the retrain."""

import keras

from fashion_tuning import interrupt


class StopOnSignal(keras.callbacks.Callback):
    """Lets Ctrl-C/SIGTERM stop Keras at the next batch end, as `interrupt.Interrupted`."""

    def on_train_begin(self, logs=None):
        interrupt.enter_keras()

    def on_train_end(self, logs=None):
        interrupt.leave_keras()

    on_test_begin = on_predict_begin = on_train_begin
    on_test_end = on_predict_end = on_train_end

    def on_train_batch_end(self, batch, logs=None):
        interrupt.check()

    on_test_batch_end = on_predict_batch_end = on_train_batch_end


def trial_callbacks(config, tensorboard_dir=None):
    """Callbacks of every trial (KerasTuner deep-copies them per trial); TensorBoard logs go
    to `tensorboard_dir` when given."""
    return [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.patience, restore_best_weights=True),
        keras.callbacks.TerminateOnNaN(),
        StopOnSignal(),
    ] + ([keras.callbacks.TensorBoard(log_dir=str(tensorboard_dir))]
         if tensorboard_dir else [])  # KerasTuner adds per-trial dirs and HParams.
