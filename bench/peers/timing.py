"""timing.py — the median wall time the Python peers report, measured as
scalespace.bench.median measures ours (warm-up runs, then the median of reps)."""
import time


def median_ms(fn, reps=11, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * sorted(times)[len(times) // 2]
