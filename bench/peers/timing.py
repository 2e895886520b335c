"""timing.py — the median wall time the Python peers report, measured as
scalespace.bench.median measures ours (warm-up runs, then the median of reps)."""
import time


def times_ms(fn, reps=11, warmup=2):
    """Median and spread in ms, as scalespace.bench.times: (median, p25, p75)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()

    def at(q):
        return 1e3 * times[int(q * (len(times) - 1) + 0.5)]
    return 1e3 * times[len(times) // 2], at(0.25), at(0.75)


def median_ms(fn, reps=11, warmup=2):
    return times_ms(fn, reps, warmup)[0]
