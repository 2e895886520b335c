#!/usr/bin/python3
"""The floating-point work of one training step of the UNets in docs/scaling.md, counted on
the PyTorch mirror of our UNet (tests/reference/unet_torch.py): 2 FLOPs per multiply-add of
every convolution, linear layer and attention product (QKᵀ and AV) in the forward pass; a
training step is taken as 3 forward passes (the backward pass computes the input and the
weight gradients, each as much work as the forward). Normalisation, activations, the loss and
Adam are memory-bound and not counted. Prints one line per network.
usage: /usr/bin/python3 docs/scaling_flops.py"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from unet_torch import Attention, UNet  # noqa: E402

NETS = {
    "ihdm_cifar10": dict(in_ch=3, ch=128, mult=(1, 2, 2, 2), num_res_blocks=4, attn_res=(8, 4), dropout=0.1,
                         image_size=32),
    "ddpm_cifar10": dict(in_ch=3, ch=128, mult=(1, 2, 2, 2), num_res_blocks=2, attn_res=(16,), dropout=0.1,
                         image_size=32),
}


def forward_flops(net, batch):
    total = [0]

    def conv(m, inp, out):
        total[0] += 2 * out.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups

    def linear(m, inp, out):
        total[0] += 2 * out.numel() * m.in_features

    def attention(m, inp, out):
        n, c, h, w = inp[0].shape
        total[0] += 2 * 2 * n * c * (h * w) ** 2  # QKᵀ and AV over all heads

    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(conv)
        elif isinstance(m, torch.nn.Linear):
            m.register_forward_hook(linear)
        elif isinstance(m, Attention):
            m.register_forward_hook(attention)
    with torch.no_grad():
        net(torch.zeros(batch, 3, 32, 32), torch.ones(batch))
    return total[0]


for name, cfg in NETS.items():
    net = UNet(**cfg)
    params = sum(p.numel() for p in net.parameters())
    fwd = forward_flops(net, 1)
    print("%s params=%d forward_gflop_per_image=%.3f step_gflop_per_image=%.3f" % (name, params, fwd / 1e9, 3 * fwd / 1e9))

# ------------------------------------------------------------------ the scaling model
# IHDM's CIFAR-10 UNet on N = 8 H100 SXM GPUs, one rank per GPU, ring all-reduce of one
# float32 gradient bucket per step. Every number below is an assumption or a datasheet
# figure (docs/scaling.md names the sources); nothing here was measured on a GPU.
N = 8
P = sum(p.numel() for p in UNet(**NETS["ihdm_cifar10"]).parameters())
step_gflop = 3 * forward_flops(UNet(**NETS["ihdm_cifar10"]), 1) / 1e9
ring_bytes = 2 * (N - 1) / N * 4 * P
print("ring all-reduce: %.1f MB sent (and received) per rank per step, P = %d" % (ring_bytes / 1e6, P))
print("| images per GPU | sustained compute | compute ms | link (GB/s used) | all-reduce ms | share, not overlapped "
      "| exposed ms, overlapped | share, overlapped |")
links = [  # (name, GB/s per direction a ring step achieves: ~80-90% of the nominal figure)
    ("NVLink 4 (450 nominal)", 360), ("PCIe 5 x16 (64) or IB NDR (50)", 45),
]
computes = [  # (name, sustained TFLOP/s per GPU)
    ("25% of TF32 dense peak (124)", 0.25 * 494.7), ("50% of TF32 dense peak (247)", 0.5 * 494.7),
    ("60% of FP32 peak, no TF32 (40)", 0.6 * 66.9),
]
K = 10  # buckets: 244 MB of gradients in PyTorch DDP's 25 MB buckets
for batch_per_gpu in (16, 128):
    for cname, tflops in computes:
        t_comp = batch_per_gpu * step_gflop / tflops  # ms (GFLOP / TFLOP/s = ms)
        t_bwd = 2 / 3 * t_comp
        for lname, gbs in links:
            t_comm = ring_bytes / gbs / 1e6  # ms
            exposed = max(t_comm / K, t_comm - t_bwd * (1 - 1 / K))
            print("| %d | %s | %.2f | %s | %.2f | %.0f%% | %.2f | %.0f%% |" % (
                batch_per_gpu, cname, t_comp, lname, t_comm, 100 * t_comm / (t_comp + t_comm), exposed,
                100 * exposed / (t_comp + exposed)))
