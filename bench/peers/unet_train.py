"""Peer timings for bench/unet_train.lua: one PyTorch training step (forward, MSE,
backward, Adam) of the same UNet (tests/reference/unet_torch.py, same parameter names and
layers), and the 3x3 convolutions' forward+backward for the GFLOP/s comparison. PyTorch
1.13 runs its CPU convolutions on oneDNN (MKL-DNN).
usage: python3 unet_train.py THREADS [REPS] [WARMUP]; prints `case=... median_ms=... cpu_ms=...` lines."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "reference"))
from timing import medians_ms  # noqa: E402
from unet_torch import UNet  # noqa: E402

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 7
warmup = int(sys.argv[3]) if len(sys.argv) > 3 else 2
torch.manual_seed(0)

net = UNet(in_ch=1, ch=32, mult=(1, 2, 2), num_res_blocks=2, attn_res=(7,), dropout=0.1, image_size=28)
net.train()
opt = torch.optim.Adam(net.parameters(), lr=2e-4)
x, target = torch.randn(32, 1, 28, 28), torch.randn(32, 1, 28, 28)
t = torch.randint(1, 1000, (32,)).float()


def step():
    opt.zero_grad(set_to_none=False)
    loss = F.mse_loss(net(x, t), target)
    loss.backward()
    opt.step()


print("case=unet_step peer=torch median_ms=%.6f cpu_ms=%.6f" % medians_ms(step, reps, warmup))

for cin, hw in ((64, 14), (32, 28)):
    xc = torch.randn(32, cin, hw, hw, requires_grad=True)
    conv = torch.nn.Conv2d(cin, cin, 3, padding=1)
    gc = torch.randn(32, cin, hw, hw)

    def conv_step():
        xc.grad = None
        conv.zero_grad(set_to_none=False)
        conv(xc).backward(gc)

    print("case=conv_%dx%dx%dx%d peer=torch median_ms=%.6f cpu_ms=%.6f" % ((cin, cin, hw, hw) + medians_ms(conv_step, 11)))
