"""Probe candidate trunks/training choices on the real split (48k train / 12k val)."""
import json, sys, time
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3]))
import keras
from keras import layers
from fashion_tuning.data import load_fashion_mnist, stratified_split

def make(policy, filters=32, convs=1, bn=False, widths=(1, 2, 2), units=256, dropout=0.3,
         lr=1e-3, schedule="constant", epochs=12, steps=375, flip=False, shift=0.0, conv_drop=0.0,
         stage_convs=None):
    p = keras.DTypePolicy(policy)
    inp = keras.Input((28, 28), dtype="uint8")
    x = layers.Rescaling(1 / 255, dtype=p)(inp)
    x = layers.Reshape((28, 28, 1), dtype=p)(x)
    if flip:
        x = layers.RandomFlip("horizontal", dtype=p)(x)
    if shift:
        x = layers.RandomTranslation(shift, shift, fill_mode="constant", dtype=p)(x)
    for stage, w in enumerate(widths):
        for _ in range(stage_convs[stage] if stage_convs else convs):
            x = layers.Conv2D(filters * w, 3, padding="same", use_bias=not bn, dtype=p)(x)
            if bn:
                x = layers.BatchNormalization(dtype=p)(x)
            x = layers.Activation("relu", dtype=p)(x)
        x = layers.MaxPooling2D(dtype=p)(x)
        if conv_drop:
            x = layers.Dropout(conv_drop, dtype=p)(x)
    x = layers.Flatten(dtype=p)(x)
    x = layers.Dense(units, activation="relu", dtype=p)(x)
    x = layers.Dropout(dropout, dtype=p)(x)
    out = layers.Dense(10, activation="softmax", dtype="float32")(x)
    m = keras.Model(inp, out)
    rate = lr if schedule == "constant" else keras.optimizers.schedules.CosineDecay(lr, epochs * steps)
    m.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m

CANDIDATES = {
    "base_const": dict(),
    "base_cos": dict(schedule="cosine"),
    "bn1_cos": dict(bn=True, schedule="cosine", lr=2e-3),
    "vgg2_bn_cos": dict(convs=2, bn=True, widths=(1, 2), schedule="cosine", lr=2e-3),
    "vgg2_cos": dict(convs=2, widths=(1, 2), schedule="cosine"),
    "vgg2_bn_cos_cd": dict(convs=2, bn=True, widths=(1, 2), schedule="cosine", lr=2e-3, conv_drop=0.25),
    "vgg2_bn_cos_flip": dict(convs=2, bn=True, widths=(1, 2), schedule="cosine", lr=2e-3, flip=True),
    "base64_cos": dict(filters=64, schedule="cosine"),
    "d2_16_bn_cos": dict(filters=16, convs=2, bn=True, schedule="cosine", lr=2e-3),
    "d1_16_bn_cos": dict(filters=16, bn=True, schedule="cosine", lr=2e-3),
    "p2_32_bn_cos": dict(bn=True, widths=(1, 2), schedule="cosine", lr=2e-3),
    "p2_32_cos": dict(widths=(1, 2), schedule="cosine"),
    "mix12_bn_cos": dict(stage_convs=(1, 2), bn=True, widths=(1, 2), schedule="cosine", lr=2e-3),
    "vgg2_16_bn_cos": dict(filters=16, convs=2, bn=True, widths=(1, 2), schedule="cosine", lr=2e-3),
}

if __name__ == "__main__":
    names = sys.argv[1].split(",")
    epochs = int(sys.argv[2]); policy = sys.argv[3]
    d = load_fashion_mnist()
    tr, va = stratified_split(d.y_train, 0.2, 42)
    xt, yt, xv, yv = d.x_train[tr], d.y_train[tr], d.x_train[va], d.y_train[va]
    for name in names:
        keras.backend.clear_session(); keras.utils.set_random_seed(42)
        kw = {**CANDIDATES[name]}
        m = make(policy, epochs=epochs, steps=int(np.ceil(len(yt) / 128)), **kw)
        times = []
        class T(keras.callbacks.Callback):
            def on_epoch_begin(s, e, l=None): s.t = time.perf_counter()
            def on_epoch_end(s, e, l=None): times.append(time.perf_counter() - s.t)
        h = m.fit(xt, yt, validation_data=(xv, yv), epochs=epochs, batch_size=128, verbose=0, callbacks=[T()])
        va_acc = h.history["val_accuracy"]
        rec = {"name": name, "policy": policy, "epochs": epochs, "params": m.count_params(),
               "val_acc": [round(v, 4) for v in va_acc], "best": max(va_acc), "best_epoch": int(np.argmax(va_acc)) + 1,
               "train_acc_last": round(h.history["accuracy"][-1], 4),
               "epoch_s_median": float(np.median(times[1:])), "images_per_s": len(yt) / float(np.median(times[1:]))}
        print(json.dumps(rec), flush=True)
