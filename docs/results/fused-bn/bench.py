import os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, tensorflow as tf, keras
from keras import layers

class FusedBN(layers.BatchNormalization):
    def call(self, inputs, training=None, mask=None):
        if training and self.trainable and self.axis == [3] or (training and self.axis == -1):
            pass
        if training and self.trainable:
            y, mean, var = tf.compat.v1.nn.fused_batch_norm(
                inputs, self.gamma, self.beta, mean=self.moving_mean, variance=self.moving_variance,
                epsilon=self.epsilon, is_training=True, data_format="NHWC",
                exponential_avg_factor=1.0 - self.momentum)
            self.moving_mean.assign(mean); self.moving_variance.assign(var)
            return y
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(
            inputs, self.gamma, self.beta, mean=self.moving_mean, variance=self.moving_variance,
            epsilon=self.epsilon, is_training=False, data_format="NHWC")
        return y

def make(bn_cls, filters, convs):
    x = inp = keras.Input((28, 28, 1))
    for s, f in enumerate((filters, 2 * filters)):
        for _ in range(convs):
            x = layers.Conv2D(f, 3, padding="same", use_bias=bn_cls is None)(x)
            if bn_cls: x = bn_cls()(x)
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x); x = layers.Dense(128, activation="relu")(x)
    out = layers.Dense(10, activation="softmax")(x)
    m = keras.Model(inp, out); m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m

rng = np.random.default_rng(0)
X = rng.random((128 * 40, 28, 28, 1), dtype=np.float32); Y = rng.integers(0, 10, 128 * 40)
res = {}
for rep in range(5):
    for name, cls in (("keras", layers.BatchNormalization), ("fused", FusedBN)):
        for f, c in ((32, 2), (16, 1)):
            keras.backend.clear_session()
            m = make(cls, f, c)
            m.fit(X[:1280], Y[:1280], batch_size=128, epochs=1, verbose=0)
            t = time.perf_counter(); m.fit(X, Y, batch_size=128, epochs=1, verbose=0); dt = time.perf_counter() - t
            res.setdefault((name, f, c), []).append(len(X) / dt)
for k, v in res.items(): print(k, [round(x) for x in v], "median", round(sorted(v)[2]))
