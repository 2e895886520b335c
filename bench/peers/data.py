"""Peer for bench/data.lua: the Fashion-MNIST training images decoded with gzip and
numpy, scaled to float32 in [0, 1] (what a PyTorch user's loader does by hand)."""
import gzip
import sys

import numpy as np

from timing import median_ms

path = sys.argv[1]


def run():
    with gzip.open(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255.0


print("case=fashion_mnist_train peer=gzip+numpy median_ms=%.6f" % median_ms(run, reps=5, warmup=1))
