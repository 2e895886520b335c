"""Peer timings for bench/conv.lua: PyTorch 1.13's CPU convolutions (oneDNN) at the UNet's
layer shapes, forward and backward (input and weight gradients), batch 32.
usage: python3 conv.py THREADS REPS; prints `case=... fwd_ms=... bwd_ms=...` lines (wall medians)."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import median_ms  # noqa: E402

from conv_shapes import SHAPES  # noqa: E402

torch.set_num_threads(int(sys.argv[1]))
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
for name, cin, cout, hw, k, stride in SHAPES:
    x = torch.randn(32, cin, hw, hw, requires_grad=True)
    conv = torch.nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)
    y = conv(x)
    g = torch.randn_like(y)

    def fwd():
        with torch.no_grad():
            conv(x)

    def bwd():
        x.grad = None
        conv.zero_grad(set_to_none=False)
        conv(x).backward(g)

    f = median_ms(fwd, reps, 1)
    print("case=%s fwd_ms=%.6f bwd_ms=%.6f" % (name, f, median_ms(bwd, reps, 1) - f))
