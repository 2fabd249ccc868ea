"""The Keras callbacks of every trial and of the final training."""

import math

import keras

from fashion_tuning import interrupt
from fashion_tuning.config import OBJECTIVE
from fashion_tuning.errors import WriteFailed


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


class CosineDecay(keras.callbacks.Callback):
    """Anneals the learning rate along a half cosine from the optimizer's initial rate to
    zero over `epochs` epochs, set before every batch, and ends training there (nothing is
    learnt at a rate of zero).

    The position is counted in epochs (epoch + batch / batches per epoch), not in steps, so
    that the curve over epochs is the same whatever the number of images.
    """

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_train_begin(self, logs=None):
        self.initial = float(self.model.optimizer.learning_rate)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        done = min(1.0, (self.epoch + batch / self.params["steps"]) / self.epochs)
        self.model.optimizer.learning_rate = self.initial * 0.5 * (1 + math.cos(math.pi * done))

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= self.epochs:
            self.model.stop_training = True


def _log_writer_hook(name):
    """Keras' TensorBoard hook `name`, whose failure is the log writer's (`WriteFailed`), not
    the trial's: Keras hides its own frames from a traceback, so no caller can tell."""
    def hook(self, *args, **kwargs):
        try:
            return getattr(keras.callbacks.TensorBoard, name)(self, *args, **kwargs)
        except Exception as e:
            raise WriteFailed(e, self.folder, "--tensorboard-dir") from e
    return hook


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback, logging below `log_dir`, whose failures end the run, not
    the trial, naming `folder` (--tensorboard-dir's). Named as Keras' class: KerasTuner gives
    each trial its own log folder by that name."""

    def __init__(self, log_dir, folder):
        super().__init__(log_dir=str(log_dir))
        self.folder = folder


for _hook in ("set_model", "on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
              "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
              "on_epoch_begin", "on_epoch_end"):
    setattr(TensorBoard, _hook, _log_writer_hook(_hook))


def trial_callbacks(config, tensorboard_dir=None):
    """Callbacks of every trial (KerasTuner deep-copies them per trial); TensorBoard logs go
    to `tensorboard_dir` when given.

    Early stopping watches the objective, not `val_loss` (which rises on an overfitting model
    while its accuracy still climbs under the cosine schedule), and only from half the schedule
    on (`Config.judged_from_epoch`), so that the schedule's last, low-rate epochs are reached.
    """
    return [
        keras.callbacks.EarlyStopping(
            monitor=OBJECTIVE, mode="max", patience=config.patience, restore_best_weights=True,
            start_from_epoch=config.judged_from_epoch - 1),  # Keras counts epochs from 0.
        keras.callbacks.TerminateOnNaN(),
        StopOnSignal(),
    ] + ([TensorBoard(tensorboard_dir, config.tensorboard_dir)]
         if tensorboard_dir else [])  # KerasTuner adds per-trial dirs and HParams.
