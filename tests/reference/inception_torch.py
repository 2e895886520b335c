"""inception_torch.py — the FID Inception-v3 in PyTorch 1.13 without torchvision, for the
fixtures (make_inception_fixtures.py) and the benchmark peer (bench/peers/fid.py).

FidInception follows pytorch-fid's fid_inception_v3 (torchvision's Inception3 with
FIDInceptionA/C/E_1/E_2: average pools that exclude the padding, a max pool in Mixed_7c),
with torchvision's module names, so its state_dict has pytorch-fid's keys
(Conv2d_1a_3x3.conv.weight, Mixed_5b.branch1x1.bn.running_mean, ..., fc.weight). `width`
scales every channel count (1/16 for the committed fixtures); `classes` is fc's size
(1008 in the real network). features(x) is pool3 for x already normalised.

nvlabs_module(model) builds the same network as a TorchScript-able module tree with the
names of clean-fid's inception-2015-12-05.pt (layers.conv, layers.mixed_3.tower.conv_1,
layers.mixed_9.tower_mixed_conv, ...), each convolution holding weight, beta, mean and var
and no gamma: gamma is folded in as weight' = gamma*weight, mean' = gamma*mean, which gives
the same BatchNorm output, gamma*(Wx - mean)/sqrt(var + eps) + beta."""
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

EPS = 1e-3


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=EPS)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class InceptionA(nn.Module):
    def __init__(self, cin, pool, w):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, w(64), kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, w(48), kernel_size=1)
        self.branch5x5_2 = BasicConv2d(w(48), w(64), kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, w(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(w(64), w(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(w(96), w(96), kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool, kernel_size=1)

    def forward(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        # FIDInceptionA: TensorFlow's average pool does not count the padding
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([self.branch1x1(x), b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, cin, w):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, w(384), kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, w(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(w(64), w(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(w(96), w(96), kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin, c7, w):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, w(192), kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, w(192), kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, w(192), kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, w(192), kernel_size=1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_1(x)
        d = self.branch7x7dbl_5(self.branch7x7dbl_4(self.branch7x7dbl_3(self.branch7x7dbl_2(d))))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([self.branch1x1(x), b7, d, bp], 1)


class InceptionD(nn.Module):
    def __init__(self, cin, w):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, w(192), kernel_size=1)
        self.branch3x3_2 = BasicConv2d(w(192), w(320), kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, w(192), kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(w(192), w(192), kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(w(192), w(192), kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(w(192), w(192), kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    def __init__(self, cin, w, max_pool):
        super().__init__()
        self.max_pool = max_pool  # FIDInceptionE_2 (Mixed_7c) pools by max, FIDInceptionE_1 by average
        self.branch1x1 = BasicConv2d(cin, w(320), kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, w(384), kernel_size=1)
        self.branch3x3_2a = BasicConv2d(w(384), w(384), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(w(384), w(384), kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, w(448), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(w(448), w(384), kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(w(384), w(384), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(w(384), w(384), kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, w(192), kernel_size=1)

    def forward(self, x):
        t = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        if self.max_pool:
            p = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            p = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(t), self.branch3x3_2b(t), self.branch3x3dbl_3a(d),
                          self.branch3x3dbl_3b(d), self.branch_pool(p)], 1)


class FidInception(nn.Module):
    def __init__(self, width=1.0, classes=1008):
        super().__init__()

        def w(c):
            v = c * width
            assert v == int(v), (c, width)
            return int(v)

        self.Conv2d_1a_3x3 = BasicConv2d(3, w(32), kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(w(32), w(32), kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(w(32), w(64), kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(w(64), w(80), kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(w(80), w(192), kernel_size=3)
        self.Mixed_5b = InceptionA(w(192), w(32), w)
        self.Mixed_5c = InceptionA(w(256), w(64), w)
        self.Mixed_5d = InceptionA(w(288), w(64), w)
        self.Mixed_6a = InceptionB(w(288), w)
        self.Mixed_6b = InceptionC(w(768), w(128), w)
        self.Mixed_6c = InceptionC(w(768), w(160), w)
        self.Mixed_6d = InceptionC(w(768), w(160), w)
        self.Mixed_6e = InceptionC(w(768), w(192), w)
        self.Mixed_7a = InceptionD(w(768), w)
        self.Mixed_7b = InceptionE(w(1280), w, max_pool=False)
        self.Mixed_7c = InceptionE(w(2048), w, max_pool=True)
        self.fc = nn.Linear(w(2048), classes)

    def features(self, x):
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for m in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                  self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = m(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def randomize(model, x, seed):
    """Seeded random weights whose activations stay O(1): kaiming-normal convolutions,
    gamma in [0.5, 1.5], beta in [-0.2, 0.2], running statistics from one train-mode pass
    over x (momentum None: exactly that batch's statistics)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.4 * torch.rand(m.bias.shape, generator=g) - 0.2)
                m.momentum = None
                m.reset_running_stats()
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.01)
                m.bias.zero_()
        model.train()
        model.features(x)
        model.eval()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = 0.1
    return model


# ------------------------------------------------------------------ the NVlabs tree


class NVConv(nn.Module):
    def __init__(self, basic: BasicConv2d):
        super().__init__()
        c, bn = basic.conv, basic.bn
        gamma = bn.weight.detach()
        self.register_buffer("weight", c.weight.detach() * gamma[:, None, None, None])
        self.register_buffer("beta", bn.bias.detach().clone())
        self.register_buffer("mean", bn.running_mean.detach() * gamma)
        self.register_buffer("var", bn.running_var.detach().clone())
        self.stride: List[int] = list(c.stride)
        self.padding: List[int] = list(c.padding)

    def forward(self, x):
        y = F.conv2d(x, self.weight, None, self.stride, self.padding)
        y = (y - self.mean[None, :, None, None]) / torch.sqrt(self.var[None, :, None, None] + 1e-3)
        return F.relu(y + self.beta[None, :, None, None])


class Tower2(nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.conv, self.conv_1 = NVConv(a), NVConv(b)

    def forward(self, x):
        return self.conv_1(self.conv(x))


class Tower3(nn.Module):
    def __init__(self, a, b, c):
        super().__init__()
        self.conv, self.conv_1, self.conv_2 = NVConv(a), NVConv(b), NVConv(c)

    def forward(self, x):
        return self.conv_2(self.conv_1(self.conv(x)))


class Tower4(nn.Module):
    def __init__(self, a, b, c, d):
        super().__init__()
        self.conv, self.conv_1, self.conv_2, self.conv_3 = NVConv(a), NVConv(b), NVConv(c), NVConv(d)

    def forward(self, x):
        return self.conv_3(self.conv_2(self.conv_1(self.conv(x))))


class Tower5(nn.Module):
    def __init__(self, a, b, c, d, e):
        super().__init__()
        self.conv, self.conv_1, self.conv_2 = NVConv(a), NVConv(b), NVConv(c)
        self.conv_3, self.conv_4 = NVConv(d), NVConv(e)

    def forward(self, x):
        return self.conv_4(self.conv_3(self.conv_2(self.conv_1(self.conv(x)))))


class PoolTower(nn.Module):
    """tower_2 of A and C: an average pool that excludes the padding, then a 1x1 conv."""

    def __init__(self, a):
        super().__init__()
        self.pool = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        self.conv = NVConv(a)

    def forward(self, x):
        return self.conv(self.pool(x))


class MaxPoolS2(nn.Module):
    def forward(self, x):
        return F.max_pool2d(x, kernel_size=3, stride=2)


class NVA(nn.Module):
    def __init__(self, blk: InceptionA):
        super().__init__()
        self.conv = NVConv(blk.branch1x1)
        self.tower = Tower2(blk.branch5x5_1, blk.branch5x5_2)
        self.tower_1 = Tower3(blk.branch3x3dbl_1, blk.branch3x3dbl_2, blk.branch3x3dbl_3)
        self.tower_2 = PoolTower(blk.branch_pool)

    def forward(self, x):
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), self.tower_2(x)], 1)


class NVB(nn.Module):
    def __init__(self, b: InceptionB):
        super().__init__()
        self.conv = NVConv(b.branch3x3)
        self.tower = Tower3(b.branch3x3dbl_1, b.branch3x3dbl_2, b.branch3x3dbl_3)
        self.pool = MaxPoolS2()

    def forward(self, x):
        return torch.cat([self.conv(x), self.tower(x), self.pool(x)], 1)


class NVC(nn.Module):
    def __init__(self, blk: InceptionC):
        super().__init__()
        self.conv = NVConv(blk.branch1x1)
        self.tower = Tower3(blk.branch7x7_1, blk.branch7x7_2, blk.branch7x7_3)
        self.tower_1 = Tower5(blk.branch7x7dbl_1, blk.branch7x7dbl_2, blk.branch7x7dbl_3, blk.branch7x7dbl_4,
                              blk.branch7x7dbl_5)
        self.tower_2 = PoolTower(blk.branch_pool)

    def forward(self, x):
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), self.tower_2(x)], 1)


class NVD(nn.Module):
    def __init__(self, d: InceptionD):
        super().__init__()
        self.tower = Tower2(d.branch3x3_1, d.branch3x3_2)
        self.tower_1 = Tower4(d.branch7x7x3_1, d.branch7x7x3_2, d.branch7x7x3_3, d.branch7x7x3_4)
        self.pool = MaxPoolS2()

    def forward(self, x):
        return torch.cat([self.tower(x), self.tower_1(x), self.pool(x)], 1)


class NVE(nn.Module):
    """E with NVlabs' flat names: conv, tower_conv, tower_mixed_conv(_1), tower_1_conv(_1),
    tower_1_mixed_conv(_1), tower_2_pool, tower_2_conv."""

    def __init__(self, e: InceptionE):
        super().__init__()
        self.conv = NVConv(e.branch1x1)
        self.tower_conv = NVConv(e.branch3x3_1)
        self.tower_mixed_conv = NVConv(e.branch3x3_2a)
        self.tower_mixed_conv_1 = NVConv(e.branch3x3_2b)
        self.tower_1_conv = NVConv(e.branch3x3dbl_1)
        self.tower_1_conv_1 = NVConv(e.branch3x3dbl_2)
        self.tower_1_mixed_conv = NVConv(e.branch3x3dbl_3a)
        self.tower_1_mixed_conv_1 = NVConv(e.branch3x3dbl_3b)
        self.tower_2_conv = NVConv(e.branch_pool)
        self.tower_2_pool = (nn.MaxPool2d(3, 1, 1) if e.max_pool else nn.AvgPool2d(3, 1, 1, count_include_pad=False))

    def forward(self, x):
        t = self.tower_conv(x)
        d = self.tower_1_conv_1(self.tower_1_conv(x))
        p = self.tower_2_pool(x)
        return torch.cat([self.conv(x), self.tower_mixed_conv(t), self.tower_mixed_conv_1(t),
                          self.tower_1_mixed_conv(d), self.tower_1_mixed_conv_1(d), self.tower_2_conv(p)], 1)


class NVLayers(nn.Module):
    def __init__(self, m: FidInception):
        super().__init__()
        self.conv = NVConv(m.Conv2d_1a_3x3)
        self.conv_1 = NVConv(m.Conv2d_2a_3x3)
        self.conv_2 = NVConv(m.Conv2d_2b_3x3)
        self.pool0 = MaxPoolS2()
        self.conv_3 = NVConv(m.Conv2d_3b_1x1)
        self.conv_4 = NVConv(m.Conv2d_4a_3x3)
        self.pool1 = MaxPoolS2()
        self.mixed, self.mixed_1, self.mixed_2 = NVA(m.Mixed_5b), NVA(m.Mixed_5c), NVA(m.Mixed_5d)
        self.mixed_3 = NVB(m.Mixed_6a)
        self.mixed_4, self.mixed_5 = NVC(m.Mixed_6b), NVC(m.Mixed_6c)
        self.mixed_6, self.mixed_7 = NVC(m.Mixed_6d), NVC(m.Mixed_6e)
        self.mixed_8 = NVD(m.Mixed_7a)
        self.mixed_9, self.mixed_10 = NVE(m.Mixed_7b), NVE(m.Mixed_7c)

    def forward(self, x):
        x = self.pool0(self.conv_2(self.conv_1(self.conv(x))))
        x = self.pool1(self.conv_4(self.conv_3(x)))
        x = self.mixed_2(self.mixed_1(self.mixed(x)))
        x = self.mixed_7(self.mixed_6(self.mixed_5(self.mixed_4(self.mixed_3(x)))))
        x = self.mixed_10(self.mixed_9(self.mixed_8(x)))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


class NVInception(nn.Module):
    def __init__(self, m: FidInception):
        super().__init__()
        self.layers = NVLayers(m)
        self.output = nn.Linear(m.fc.in_features, m.fc.out_features)
        with torch.no_grad():
            self.output.weight.copy_(m.fc.weight)
            self.output.bias.copy_(m.fc.bias)

    def forward(self, x):
        return self.layers(x)


def nvlabs_module(model):
    return torch.jit.script(NVInception(model).eval())
