"""One final-training timing run: the hand-picked configuration, flip recipe, seed 42, N epochs on
all 60,000 images, fed by Keras' array pipeline as the package fed it before `hypermodel.batches`
(autotuned), or with "noautotune" with autotuning off; prints per-epoch seconds, the final loss
and a weight checksum. From the repository root: python docs/results/stalls/final_training_timing.py 8
[noautotune]"""
import hashlib, json, os, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import numpy as np
from fashion_tuning.data import load_fashion_mnist
from fashion_tuning.config import HAND_PICKED
from fashion_tuning.recipe import Recipe
from fashion_tuning import final_training
from benchmarks.speed import EpochTimer
import tensorflow as tf

epochs = int(sys.argv[1])
if len(sys.argv) > 2 and sys.argv[2] == "noautotune":
    from keras.src.trainers.data_adapters import array_data_adapter as ada
    _orig = ada.ArrayDataAdapter.get_tf_dataset
    def _patched(self):
        options = tf.data.Options()
        options.autotune.enabled = False
        return _orig(self).with_options(options)
    ada.ArrayDataAdapter.get_tf_dataset = _patched
d = load_fashion_mnist()
timer = EpochTimer()
model, hist, secs = final_training.train_configuration(
    HAND_PICKED, 42, epochs, (d.x_train, d.y_train), 128, "float32",
    Recipe.parse("flip,flip-tta"), callbacks=[timer], verbose=0)
w = hashlib.sha256(b"".join(np.asarray(v).tobytes() for v in model.get_weights())).hexdigest()[:16]
print(json.dumps({"env": {k: os.environ.get(k) for k in ("TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS")},
                  "inter": tf.config.threading.get_inter_op_parallelism_threads(),
                  "intra": tf.config.threading.get_intra_op_parallelism_threads(),
                  "epoch_s": [round(t, 2) for t in timer.times], "loss": hist["loss"][-1],
                  "variant": sys.argv[2:], "total_s": round(secs, 1), "weights": w}))
