#!/usr/bin/python3
"""make_nn_attention_fixtures.py — PyTorch 1.13 references for multi-head self-attention
in ADM's chunked qkv order (tests/c/test_nn_attention.c). Run with Debian's system python:
    /usr/bin/python3 tests/reference/make_nn_attention_fixtures.py
It rewrites tests/reference/nn_attention/attention.ssfx (format: ssfx.py).

Attention is written here from its definition (per image and head, W = softmax over s
of q_t·k_s/√d, out = Σ_s W[t][s] v_s), and checked against ADM's QKVAttention, which
scales q and k by d^(-1/4) each before the product. Inputs are drawn in float32, so
the float64 references hold for the stored inputs exactly."""
import math
import os

import torch

import ssfx

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nn_attention")
torch.manual_seed(20250607)
arrays = []


def attention(qkv, heads):
    """From the definition: qkv (N,3C,T) -> out (N,C,T), W (N·heads,T,T)."""
    n, width, t = qkv.shape
    d = width // (3 * heads)
    q, k, v = (x.reshape(n * heads, d, t) for x in qkv.chunk(3, dim=1))
    w = torch.softmax(torch.einsum("bct,bcs->bts", q, k) / math.sqrt(d), dim=-1)
    return torch.einsum("bts,bcs->bct", w, v).reshape(n, heads * d, t), w


def adm_attention(qkv, heads):
    """guided-diffusion's QKVAttention.forward (the non-legacy order); its softmax runs in
    float32 to guard float16, here it keeps the float64 of the input."""
    bs, width, length = qkv.shape
    ch = width // (3 * heads)
    q, k, v = qkv.chunk(3, dim=1)
    scale = 1 / math.sqrt(math.sqrt(ch))
    weight = torch.einsum("bct,bcs->bts", (q * scale).view(bs * heads, ch, length),
                          (k * scale).view(bs * heads, ch, length))
    weight = torch.softmax(weight, dim=-1)
    a = torch.einsum("bts,bcs->bct", weight, v.reshape(bs * heads, ch, length))
    return a.reshape(bs, -1, length)


# name, N, C, heads, trailing sizes
CASES = [
    ("a4", 2, 8, 2, (3, 3)),
    ("a3", 3, 6, 1, (5,)),
    ("a49", 2, 16, 4, (7, 7)),
]
for name, n, c, heads, trailing in CASES:
    t = math.prod(trailing)
    # drawn in float32 (exact in the file); scores of a few units: neither flat nor one-hot
    qkv = (torch.randn(n, 3 * c, *trailing) * 1.5).double().requires_grad_(True)
    out, w = attention(qkv.reshape(n, 3 * c, t), heads)
    out = out.reshape(n, c, *trailing)
    adm = adm_attention(qkv.detach().reshape(n, 3 * c, t), heads).reshape(n, c, *trailing)
    assert torch.allclose(out, adm, rtol=1e-12, atol=1e-12), (name, (out - adm).abs().max().item())
    assert torch.allclose(w.sum(-1), torch.ones(n * heads, t, dtype=torch.float64))
    g = torch.randn(n, c, *trailing).double()
    (dqkv,) = torch.autograd.grad(out, qkv, grad_outputs=g)
    arrays += [(name + ".heads", torch.tensor([float(heads)])), (name + ".qkv", qkv), (name + ".y", out),
               (name + ".w", w), (name + ".g", g), (name + ".dqkv", dqkv)]

os.makedirs(OUT, exist_ok=True)
ssfx.write(OUT, "attention.ssfx", [(k, v.detach().numpy()) for k, v in arrays])
