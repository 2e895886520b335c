"""Peer timings for bench/dist.lua: torch.distributed all_reduce (gloo over loopback TCP)
of one flat float32 tensor, divided by the world size afterwards (a mean, as
ss.dist.allreduce(grads, "mean")), in 2 processes with one thread each.
usage: python3 dist.py REPS FLOATS_SMALL FLOATS_DDPM FLOATS_IHDM; prints `case=... floats=... median_ms=...` lines."""
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

CASES = ("unet_small", "unet_cifar10_ddpm", "unet_cifar10_ihdm")


def worker(rank, port, reps, counts):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port, rank=rank, world_size=2)
    for name, n in zip(CASES, counts):
        x = torch.randn(n, generator=torch.Generator().manual_seed(rank))
        times = []
        for r in range(reps + 2):  # two warm-up runs
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(x)
            x.div_(2)
            if r >= 2:
                times.append(time.perf_counter() - t0)
        if rank == 0:
            print("case=%s floats=%d median_ms=%.6f" % (name, n, 1e3 * sorted(times)[len(times) // 2]), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    reps, counts = int(sys.argv[1]), [int(v) for v in sys.argv[2:5]]
    with socket.socket() as s:  # a free port on the loopback interface
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ["OMP_NUM_THREADS"] = "1"
    mp.spawn(worker, args=(port, reps, counts), nprocs=2, join=True)
