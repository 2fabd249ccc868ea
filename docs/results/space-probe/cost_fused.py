"""Images/s of the product's own trunks (`make_cnn`, fused BatchNorm), interleaved.

    python cost_fused.py 5 float32        # repetitions, precision

Times 30 training steps of batch 128 on random images after 10 warm-up steps, for each trunk
in turn, `reps` times round, and prints one JSON line per trunk with the median and range.
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import keras  # noqa: E402
import numpy as np  # noqa: E402

from fashion_tuning.hypermodel import make_cnn  # noqa: E402

TRUNKS = {"16 (1,1)": (16, (1, 1)), "16 (1,2)": (16, (1, 2)), "32 (1,1)": (32, (1, 1)),
          "32 (1,2)": (32, (1, 2)), "32 (2,2)": (32, (2, 2))}


class Timer(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 9:
            self.start = time.perf_counter()

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self.start


reps, precision = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (128 * 40, 28, 28), dtype="uint8")
y = rng.integers(0, 10, 128 * 40)
speeds = {name: [] for name in TRUNKS}
for _ in range(reps):
    for name, (filters, stage_convs) in TRUNKS.items():
        keras.backend.clear_session()
        model = make_cnn(filters=filters, stage_convs=stage_convs, precision=precision)
        timer = Timer()
        model.fit(x, y, batch_size=128, epochs=1, verbose=0, callbacks=[timer])
        speeds[name].append(30 * 128 / timer.seconds)
for name, s in speeds.items():
    print(json.dumps({"trunk": name, "precision": precision, "img_s_median": round(np.median(s)),
                      "min": round(min(s)), "max": round(max(s))}), flush=True)
