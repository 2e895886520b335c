#!/usr/bin/python3
"""make_nn_pool_fixtures.py — PyTorch 1.13 references for the layers FID's Inception-v3
needs (issue 15): ReLU, max pooling (3x3 stride 2; stride 1 padding 1; ties), average
pooling (count_include_pad False and True, 2x2), global average pooling, and inference
BatchNorm (eps 1e-3) after a bias-free convolution, to be folded into it
(tests/c/test_nn_layers.c). Run with Debian's system python:
    /usr/bin/python3 tests/reference/make_nn_pool_fixtures.py
It rewrites tests/reference/nn_pool/pool.ssfx (format: ssfx.py). Values are computed in
float64 and stored as float32. Names are "<case>.<role>": x input, y output, g upstream
gradient, dx its input gradient; k, s, p (kh, kw), (sh, sw), (ph, pw); the BatchNorm cases
hold w (the convolution's weight), gamma (absent: 1), beta, mean, var, and y = bn(conv(x))."""
import os

import torch
import torch.nn.functional as F

import ssfx

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nn_pool")
torch.manual_seed(20250301)
arrays = []


def grads(name, y, x):
    g = torch.randn_like(y)
    (dx,) = torch.autograd.grad(y, (x,), grad_outputs=g)
    arrays.extend([(name + ".x", x), (name + ".y", y), (name + ".g", g), (name + ".dx", dx)])


def window(name, k, s, p):
    arrays.extend([(name + ".k", torch.tensor(k, dtype=torch.float64)), (name + ".s", torch.tensor(s, dtype=torch.float64)),
                   (name + ".p", torch.tensor(p, dtype=torch.float64))])


# ReLU, with values kept away from 0 (finite differences) and some exact zeros (gradient 0 there).
x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
x = x + 0.1 * torch.sign(x)
x[0, 0, 0, :3] = 0.0
grads("relu", F.relu(x.requires_grad_(True)), x)

# max pooling: the stem's 3x3 stride 2 on odd sizes, Mixed_7c's 3x3 stride 1 padding 1, a
# rectangular window, and ties (values from {0, 1, 2}: the gradient goes to the first maximum)
for name, shape, k, s, p, ties in (("max_k3s2", (2, 3, 11, 9), (3, 3), (2, 2), (0, 0), False),
                                   ("max_k3s1p1", (2, 3, 7, 8), (3, 3), (1, 1), (1, 1), False),
                                   ("max_k2x3s1x2p1x1", (2, 2, 6, 9), (2, 3), (1, 2), (1, 1), False),
                                   ("max_ties", (2, 2, 7, 7), (3, 3), (2, 2), (1, 1), True)):
    x = torch.randint(0, 3, shape).double() if ties else torch.randn(*shape, dtype=torch.float64)
    y = F.max_pool2d(x.requires_grad_(True), k, stride=s, padding=p)
    grads(name, y, x)
    window(name, k, s, p)

# average pooling: Inception's exclude-pad 3x3, the default include-pad, the UNet's 2x2, strided
for name, shape, k, s, p, include in (("avg_k3s1p1_excl", (2, 3, 7, 8), (3, 3), (1, 1), (1, 1), False),
                                      ("avg_k3s1p1_incl", (2, 3, 7, 8), (3, 3), (1, 1), (1, 1), True),
                                      ("avg_k2s2", (2, 3, 6, 7), (2, 2), (2, 2), (0, 0), True),
                                      ("avg_k3x2s2x1p1x0_excl", (2, 2, 9, 6), (3, 2), (2, 1), (1, 0), False)):
    x = torch.randn(*shape, dtype=torch.float64)
    y = F.avg_pool2d(x.requires_grad_(True), k, stride=s, padding=p, count_include_pad=include)
    grads(name, y, x)
    window(name, k, s, p)
    arrays.append((name + ".include_pad", torch.tensor([1.0 if include else 0.0])))

x = torch.randn(3, 5, 7, 6, dtype=torch.float64)
grads("global", F.adaptive_avg_pool2d(x.requires_grad_(True), 1).flatten(1), x)

# BatchNorm (eval, eps 1e-3) after a bias-free convolution: with gamma, and without (TorchScript's
# Inception has none: gamma = 1), on a 1x7 convolution with Inception's padding.
for name, cin, cout, k, p, has_gamma in (("bn_k3", 4, 6, (3, 3), (1, 1), True),
                                         ("bn_k1x7_nogamma", 5, 4, (1, 7), (0, 3), False)):
    conv = torch.nn.Conv2d(cin, cout, k, padding=p, bias=False).double()
    bn = torch.nn.BatchNorm2d(cout, eps=1e-3).double().eval()
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(cout, dtype=torch.float64))
        bn.running_var.copy_(torch.rand(cout, dtype=torch.float64) * 2 + 0.1)
        bn.weight.copy_(torch.randn(cout, dtype=torch.float64) if has_gamma else torch.ones(cout, dtype=torch.float64))
        bn.bias.copy_(torch.randn(cout, dtype=torch.float64))
    x = torch.randn(2, cin, 8, 9, dtype=torch.float64)
    with torch.no_grad():
        y = bn(conv(x))
    arrays.extend([(name + ".x", x), (name + ".w", conv.weight.detach()), (name + ".beta", bn.bias.detach()),
                   (name + ".mean", bn.running_mean), (name + ".var", bn.running_var), (name + ".y", y),
                   (name + ".p", torch.tensor(p, dtype=torch.float64))])
    if has_gamma:
        arrays.append((name + ".gamma", bn.weight.detach()))

os.makedirs(OUT, exist_ok=True)
ssfx.write(OUT, "pool.ssfx", [(k, v.detach().numpy()) for k, v in arrays])
