"""The batches a model trains and is scored on: Keras' own pipeline from arrays, built through
the one private Keras API this package uses."""

import tensorflow as tf


def batches(x, y, batch_size, shuffle=False):
    """`(x, y)` as the `tf.data` pipeline that Keras builds from arrays itself (the same batches
    in the same order: the same numbers), with tf.data's autotuning off. Ending an autotuned
    iterator, as every epoch and evaluation does, waits for its tuning thread's next wake-up:
    the process idles for seconds (docs/results/stalls/)."""
    # Keras' own array pipeline; no public API builds it. Imported here and nowhere else.
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    options = tf.data.Options()
    options.autotune.enabled = False
    adapter = ArrayDataAdapter(x, y, batch_size=batch_size, shuffle=shuffle)
    dataset = adapter.get_tf_dataset().with_options(options)
    # Known length, as for arrays: the progress line and `CosineDecay` count steps.
    return dataset.apply(tf.data.experimental.assert_cardinality(adapter.num_batches))
