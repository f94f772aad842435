"""numpy reference for the federated aggregation benchmark: 100 x 1,000,000 float32."""
import time, numpy as np
rng = np.random.default_rng(1)
u = rng.uniform(-1, 1, size=(100, 1_000_000)).astype(np.float32)
w = (100.0 + np.arange(100)).astype(np.float32)
def best(f, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts)//2], ts[0]
print("fedavg np.average", best(lambda: np.average(u, axis=0, weights=w), 10))
print("fedavg w @ u / sum", best(lambda: (w @ u) / w.sum(), 10))
print("median np.median", best(lambda: np.median(u, axis=0), 3))
def trimmed():
    k = 10
    p = np.partition(u, (k, 100 - k - 1), axis=0)
    return p[k:100 - k].mean(axis=0)
print("trimmed partition", best(trimmed, 3))
