import sys, time, json
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import numpy as np, keras
from probe import make
cands = {
 "base": dict(), "base_bn": dict(bn=True), "base64": dict(filters=64),
 "vgg2": dict(convs=2, widths=(1, 2)), "vgg2_bn": dict(convs=2, bn=True, widths=(1, 2)),
 "vgg2_16_bn": dict(filters=16, convs=2, bn=True, widths=(1, 2)),
 "vgg3_16_bn": dict(filters=16, convs=2, bn=True, widths=(1, 2, 4)),
 "base_bn_16": dict(filters=16, bn=True),
 "mix12_bn": dict(stage_convs=(1, 2), bn=True, widths=(1, 2)),
}
x = np.random.randint(0, 255, (128 * 40, 28, 28), dtype="uint8"); y = np.random.randint(0, 10, 128 * 40)
for policy in sys.argv[2].split(","):
  for name in sys.argv[1].split(","):
    keras.backend.clear_session(); m = make(policy, **cands[name])
    class T(keras.callbacks.Callback):
        def on_train_batch_end(s, b, logs=None):
            if b == 9: s.t = time.perf_counter()
        def on_train_end(s, logs=None): s.d = time.perf_counter() - s.t
    t = T(); m.fit(x, y, batch_size=128, epochs=1, verbose=0, callbacks=[t])
    print(json.dumps({"name": name, "policy": policy, "params": m.count_params(), "img_s": round(30 * 128 / t.d)}), flush=True)
