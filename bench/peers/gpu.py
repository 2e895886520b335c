"""Peer timings for bench/gpu.lua: PyTorch CUDA eager on the same GPU, the same
architectures (tests/reference/unet_torch.py) and the same steps: a training step
(forward, MSE, backward, Adam with clipping) of IHDM's CIFAR-10 UNet and of a 64x64
Flexi-UNet, and 50 DDPM sampling steps (forward passes and the posterior update).
PyTorch's defaults: TF32 in cuDNN convolutions, exact FP32 matmuls, cudnn.benchmark off.
usage: python3 gpu.py REPS SCALE; prints `case=... median_ms=...` lines."""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "reference"))
from timing import median_ms  # noqa: E402
from unet_torch import UNet  # noqa: E402

if not torch.cuda.is_available():
    print("no CUDA in this PyTorch (%s)" % torch.__version__)
    sys.exit(0)
reps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
scale = int(sys.argv[2]) if len(sys.argv) > 2 else 1
dev = torch.device("cuda")
torch.manual_seed(0)


def synced(fn):
    def run():
        fn()
        torch.cuda.synchronize()
    return run


def step_ms(net, batch, ch, size, out_size):
    net = net.to(dev).train()
    opt = torch.optim.Adam(net.parameters(), lr=2e-4)
    x = torch.randn(batch, ch, size, size, device=dev)
    target = torch.randn(batch, ch, out_size, out_size, device=dev)
    t = torch.randint(1, 1000, (batch,), device=dev).float()

    def step():
        opt.zero_grad(set_to_none=False)
        y = net(x, t, out_size if out_size != size else None)
        F.mse_loss(y, target).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
    return median_ms(synced(step), reps=reps, warmup=3)


cifar = dict(in_ch=3, ch=128, mult=(1, 2, 2, 2), num_res_blocks=4, attn_res=(8, 4), dropout=0.1, image_size=32)
print("case=ihdm_cifar10_step peer=torch median_ms=%.6f" % step_ms(UNet(**cifar), 128 // scale, 3, 32, 32))
flexi = dict(in_ch=3, ch=128, mult=(1, 2, 2, 2), num_res_blocks=2, attn_res=(16,), dropout=0.1, image_size=64,
             flexi=True)
print("case=ssd_flexi64_step peer=torch median_ms=%.6f" % step_ms(UNet(**flexi), 64 // scale, 3, 64, 64))

# 50 respaced DDPM steps (x0 from the eps prediction, the posterior mean, fixed-small variance).
net = UNet(**cifar).to(dev).eval()
betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
abar = torch.cumprod(1 - betas, 0)
times = [round(999 - i * 999 / 50) for i in range(51)]
batch = 128 // scale


@torch.no_grad()
def sample():
    x = torch.randn(batch, 3, 32, 32, device=dev)
    for t, s in zip(times[:-1], times[1:]):
        eps = net(x, torch.full((batch,), float(t + 1), device=dev))
        at, as_ = abar[t].item(), abar[s].item()
        x0 = (x - math.sqrt(1 - at) * eps) / math.sqrt(at)
        a_ts = at / as_
        var = (1 - as_) / (1 - at) * (1 - a_ts)
        mean = (math.sqrt(as_) * (1 - a_ts) / (1 - at)) * x0 + (math.sqrt(a_ts) * (1 - as_) / (1 - at)) * x
        x = mean + math.sqrt(var) * torch.randn_like(x)
    return x


print("case=ddpm_sampling peer=torch median_ms=%.6f" % median_ms(synced(sample), reps=max(3, reps // 3), warmup=1))
