"""timing.py — the median wall time the Python peers report, measured as
scalespace.bench.median measures ours (warm-up runs, then the median of reps), its spread,
and the median process CPU time of the same runs (all threads' time: steadier than wall time
when other processes share the cores)."""
import time


def _runs(fn, reps, warmup):
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return sorted(wall), sorted(cpu)


def times_ms(fn, reps=11, warmup=2):
    """Median and spread of wall time in ms, as scalespace.bench.times: (median, p25, p75)."""
    wall, _ = _runs(fn, reps, warmup)

    def at(q):
        return 1e3 * wall[int(q * (len(wall) - 1) + 0.5)]
    return 1e3 * wall[len(wall) // 2], at(0.25), at(0.75)


def medians_ms(fn, reps=11, warmup=2):
    """(median wall ms, median process CPU ms) over reps runs after warmup runs."""
    wall, cpu = _runs(fn, reps, warmup)
    return 1e3 * wall[len(wall) // 2], 1e3 * cpu[len(cpu) // 2]


def median_ms(fn, reps=11, warmup=2):
    return medians_ms(fn, reps, warmup)[0]
