"""unet_torch.py — PyTorch 1.13 mirror of lua/scalespace/nn.lua's UNet and FlexiUNet: the
same layers, order and parameter names (state_dict keys equal net:state_dict() names), so
weights move between the two by name. Used by make_unet_fixtures.py (exactness) and
bench/peers/unet_train.py (the PyTorch side of the training-step benchmark)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(t, dim, max_period=10000):
    """ADM's sinusoidal embedding, computed in float32 as ADM (and our C kernel) do."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, emb_dim, dropout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return (self.skip(x) if self.skip is not None else x) + h


class Attention(nn.Module):
    """q, k, v as consecutive channel blocks, each split into heads (ADM's QKVAttention)."""

    def __init__(self, ch, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)

    def forward(self, x):
        n, c, h, w = x.shape
        d = c // self.heads
        q, k, v = self.qkv(x).reshape(n, 3 * c, h * w).chunk(3, dim=1)
        q, k, v = (z.reshape(n * self.heads, d, h * w) for z in (q, k, v))
        weights = torch.softmax(torch.einsum("bct,bcs->bts", q, k) / math.sqrt(d), dim=-1)
        a = torch.einsum("bts,bcs->bct", weights, v).reshape(n, c, h, w)
        return self.proj(a)


class AttnBlock(nn.Module):
    def __init__(self, ch, heads, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, ch)
        self.attn = Attention(ch, heads)

    def forward(self, x):
        return x + self.attn(self.norm(x))


class UpsampleConv(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class UNet(nn.Module):
    def __init__(self, in_ch=1, out_ch=None, ch=64, mult=(1, 2, 2), num_res_blocks=2, attn_res=(7,),
                 dropout=0.1, image_size=28, heads=1, groups=32, flexi=False, zero_init=True):
        super().__init__()
        out_ch = out_ch or in_ch
        self.ch, self.levels, self.nres, self.flexi = ch, len(mult), num_res_blocks, flexi
        self.sizes = [image_size // 2 ** l for l in range(len(mult))]
        emb_dim = 4 * ch
        self.temb1 = nn.Linear(ch, emb_dim)
        self.temb2 = nn.Linear(emb_dim, emb_dim)
        self.conv_in = nn.Conv2d(in_ch, ch, 3, padding=1)
        chans, cur = [ch], ch
        self.down = nn.ModuleDict()
        for l in range(1, self.levels + 1):
            lev = nn.ModuleDict({"res": nn.ModuleDict(), "attn": nn.ModuleDict()})
            for i in range(1, num_res_blocks + 1):
                lev["res"][str(i)] = ResBlock(cur, ch * mult[l - 1], emb_dim, dropout, groups)
                cur = ch * mult[l - 1]
                if self.sizes[l - 1] in attn_res:
                    lev["attn"][str(i)] = AttnBlock(cur, heads, groups)
                chans.append(cur)
            if l < self.levels:
                lev["down"] = nn.Conv2d(cur, cur, 3, stride=2, padding=1)
                chans.append(cur)
            self.down[str(l)] = lev
        self.mid = nn.ModuleDict({"res1": ResBlock(cur, cur, emb_dim, dropout, groups),
                                  "attn": AttnBlock(cur, heads, groups),
                                  "res2": ResBlock(cur, cur, emb_dim, dropout, groups)})
        self.up = nn.ModuleDict()
        for l in range(self.levels, 0, -1):
            lev = nn.ModuleDict({"res": nn.ModuleDict(), "attn": nn.ModuleDict()})
            for i in range(1, num_res_blocks + 2):
                lev["res"][str(i)] = ResBlock(cur + chans.pop(), ch * mult[l - 1], emb_dim, dropout, groups)
                cur = ch * mult[l - 1]
                if self.sizes[l - 1] in attn_res:
                    lev["attn"][str(i)] = AttnBlock(cur, heads, groups)
            if l > 1:
                lev["up"] = UpsampleConv(cur)
            self.up[str(l)] = lev
        self.norm_out = nn.GroupNorm(groups, cur)
        self.conv_out = nn.Conv2d(cur, out_ch, 3, padding=1)
        if flexi:
            self.adapt_in = nn.ModuleDict({str(l): nn.Conv2d(ch, ch * mult[l - 2], 1)
                                           for l in range(2, self.levels + 1)})
            self.adapt_out = nn.ModuleDict({str(l): nn.Conv2d(ch * mult[l - 1], ch * mult[0], 1)
                                            for l in range(2, self.levels + 1)})
        if zero_init:
            zero = [self.conv_out] + [m.conv2 for m in self.modules() if isinstance(m, ResBlock)] \
                + [m.proj for m in self.modules() if isinstance(m, Attention)]
            for m in zero:
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x, t, out_size=None):
        size = x.shape[-1]
        li = self.sizes.index(size) + 1 if self.flexi else 1
        lo = li - 1 if out_size is not None and out_size == 2 * size else li
        emb = self.temb2(F.silu(self.temb1(timestep_embedding(t, self.ch).to(x.dtype))))
        h = self.conv_in(x)
        if li > 1:
            h = self.adapt_in[str(li)](h)
        hs = [h]
        for l in range(li, self.levels + 1):
            lev = self.down[str(l)]
            for i in range(1, self.nres + 1):
                h = lev["res"][str(i)](h, emb)
                if str(i) in lev["attn"]:
                    h = lev["attn"][str(i)](h)
                hs.append(h)
            if "down" in lev:
                h = lev["down"](h)
                hs.append(h)
        h = self.mid["res2"](self.mid["attn"](self.mid["res1"](h, emb)), emb)
        for l in range(self.levels, lo - 1, -1):
            lev = self.up[str(l)]
            for i in range(1, self.nres + 2):
                block = lev["res"][str(i)]
                if hs:
                    skip = hs.pop()
                else:  # resolution change: zero-filled skips for the bypassed encoder level
                    skip = h.new_zeros(h.shape[0], block.norm1.num_channels - h.shape[1], *h.shape[2:])
                h = block(torch.cat([h, skip], dim=1), emb)
                if str(i) in lev["attn"]:
                    h = lev["attn"][str(i)](h)
            if l > lo:
                h = lev["up"](h)
        if lo > 1:
            h = self.adapt_out[str(lo)](h)
        return self.conv_out(F.silu(self.norm_out(h)))
