"""timing.py — the median wall time the Python peers report, measured as
scalespace.bench.median measures ours (warm-up runs, then the median of reps), and the
median process CPU time of the same runs (all threads' time: steadier than wall time
when other processes share the cores)."""
import time


def median_ms(fn, reps=11, warmup=2):
    return medians_ms(fn, reps, warmup)[0]


def medians_ms(fn, reps=11, warmup=2):
    """(median wall ms, median process CPU ms) over reps runs after warmup runs."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return 1e3 * sorted(wall)[len(wall) // 2], 1e3 * sorted(cpu)[len(cpu) // 2]
