"""Peer timing for bench/sampling.lua: IHDM's sampler (Alg. 2: u <- u + f(u, k) + delta*eps
for k = K..1, no noise on the last step) in PyTorch eager, no_grad, with the same UNet as
the examples (tests/reference/unet_torch.py: ch 32, mult (1,2,2), 1 res block, attention
at 7x7).
usage: python3 sampling.py THREADS BATCH K [REPS]; prints `case=... median_ms=... cpu_ms=...` lines."""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "reference"))
from timing import medians_ms  # noqa: E402
from unet_torch import UNet  # noqa: E402

torch.set_num_threads(int(sys.argv[1]))
batch, K = int(sys.argv[2]), int(sys.argv[3])
reps = int(sys.argv[4]) if len(sys.argv) > 4 else 3
torch.manual_seed(0)
net = UNet(in_ch=1, ch=32, mult=(1, 2, 2), num_res_blocks=1, attn_res=(7,), dropout=0.1, image_size=28)
net.eval()
u0 = torch.rand(batch, 1, 28, 28)


def sample():
    with torch.no_grad():
        u = u0.clone()
        for k in range(K, 0, -1):
            u = u + net(u, torch.full((batch,), float(k)))
            if k > 1:
                u = u + 0.0125 * torch.randn_like(u)
    return u


print("case=ihdm_sampling peer=torch median_ms=%.6f cpu_ms=%.6f" % medians_ms(sample, reps, 1))
