#!/usr/bin/python3
"""make_torch_fixtures.py — PyTorch checkpoint files for the reader in runtime/io/torchfile.c
(tests/c/test_torchfile.c, tests/lua/checkpoint_spec.lua, the fuzz seed corpus).

Run with Debian's system python (torch 1.13 CPU):
    /usr/bin/python3 tests/reference/make_torch_fixtures.py
It rewrites tests/reference/torch/*; the files are committed, so tests never need Python.

Files (all a few KB):
  state_dict.pt         torch.save of an OrderedDict, zip format: float32, float16 (with -0,
                        65504, 2^-24), bfloat16, float64, a 0-d float32, an int64 0-d
                        (num_batches_tracked-like; listed, not loadable as float32), an
                        nn.Parameter (_rebuild_parameter), a transposed view and a window
                        view (non-contiguous, storage offset), and two tensors that share one
                        storage at different offsets
  state_dict_legacy.pt  the same dict with _use_new_zipfile_serialization=False
  state_dict_deflate.pt the zip rewritten by Python's zipfile, every entry deflated, with a
                        "byteorder" entry "little" (torch >= 2.1 writes one)
  state_dict_big.pt     the zip rewritten with byteorder "big" and every storage byte-swapped
  state_dict_zip64.pt   the zip rewritten with zip64 records everywhere (sizes and offsets in
                        zip64 extra fields, a zip64 end record and locator), as torch writes
                        files of 4 GiB and more
  state_dict_proto4.pt  torch.save(..., pickle_protocol=4): FRAME, MEMOIZE, STACK_GLOBAL,
                        SHORT_BINUNICODE
  state_dict.ssfx       torch's own .float() of every floating entry (0-d as (1))
  nested.pt             {"model": {"conv": {"weight": t}}, "ema": [t0, t1], "step": 12,
                        "opt": {0: {"exp_avg": t}}, "five": 5-d} -> dotted names
                        model.conv.weight, ema.0, ...; "five" is listed but does not load
  nested.ssfx
  bare.pt               torch.save of one tensor (listed as "tensor")
  script.pt             torch.jit.save(torch.jit.script(Net())): submodules named like the
                        NVlabs Inception file (layers.conv, layers.mixed.tower.conv, ...), an
                        nn.Conv2d, a BatchNorm2d, a Linear, and non-tensor attributes
  script.ssfx
  evil_system.pt        zip whose data.pkl REDUCEs posix.system("echo pwned")
  evil_eval.pt          a bare pickle (no zip) calling builtins.eval, as a legacy file
  evil_inst.pt          zip whose data.pkl uses the INST opcode (allowed by pickle, not by us)
  evil_opcode.pt        zip whose data.pkl holds byte 0xee, which is no pickle opcode
  evil_cycle.pt         zip whose data.pkl is a list that contains itself
  evil_deep.pt          zip whose data.pkl nests 100000 MARKs
  truncated.pt          the first half of state_dict.pt
  short_data.pt         state_dict.pt with data/0 shorter than its storage's numel says
"""
import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

import ssfx

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch")


def path(name):
    return os.path.join(OUT, name)


def report(name):
    print("%-24s %8d bytes" % (name, os.path.getsize(path(name))))


def floats(d):
    """(name, float32 array) for every floating tensor; 0-d as (1)."""
    out = []
    for k in sorted(d):
        v = d[k]
        if v.is_floating_point():
            v = v.detach().float().contiguous()
            out.append((k, (v.reshape(1) if v.dim() == 0 else v).numpy()))
    return out


def state_dict():
    g = torch.Generator().manual_seed(20250412)
    f16 = torch.randn(6, generator=g)
    f16[:3] = torch.tensor([-0.0, 65504.0, 2.0 ** -24])
    base = torch.randn(4, 6, generator=g)
    shared = torch.randn(10, generator=g)
    sd = OrderedDict()
    sd["conv.weight"] = torch.randn(2, 3, 3, 3, generator=g)
    sd["half"] = f16.half()
    sd["bf16"] = torch.randn(2, 3, generator=g).bfloat16()
    sd["double"] = torch.linspace(-1, 1, 5, dtype=torch.float64).reshape(5, 1) / 3
    sd["scalar"] = torch.tensor(2.5)
    sd["bn.num_batches_tracked"] = torch.tensor(7)
    sd["param"] = nn.Parameter(torch.randn(3, generator=g))
    sd["view.t"] = base.t()  # (6, 4), strides (1, 6)
    sd["view.window"] = base[1:3, 2:5]  # (2, 3), offset 8, strides (6, 1)
    sd["shared.a"] = shared[:6].view(2, 3)
    sd["shared.b"] = shared[4:]  # offset 4 in the same storage
    return sd


class Conv(nn.Module):
    """The NVlabs Inception file's conv: weight, beta, mean, var (no gamma)."""

    def __init__(self, cin, cout, k, g):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k, generator=g))
        self.register_buffer("beta", torch.randn(cout, generator=g))
        self.register_buffer("mean", torch.randn(cout, generator=g))
        self.register_buffer("var", torch.rand(cout, generator=g) + 0.5)

    def forward(self, x):
        x = F.conv2d(x, self.weight)
        return (x - self.mean[:, None, None]) / torch.sqrt(self.var[:, None, None]) + self.beta[:, None, None]


class Tower(nn.Module):
    def __init__(self, g):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1, bias=False)
        self.conv_1 = Conv(4, 4, 1, g)

    def forward(self, x):
        return self.conv_1(self.conv(x))


class Mixed(nn.Module):
    def __init__(self, g):
        super().__init__()
        self.conv = Conv(4, 4, 1, g)
        self.tower = Tower(g)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn(self.conv(x) + self.tower(x))


class Layers(nn.Module):
    def __init__(self, g):
        super().__init__()
        self.conv = Conv(3, 4, 3, g)
        self.mixed = Mixed(g)

    def forward(self, x):
        return self.mixed(self.conv(x))


class Net(nn.Module):
    def __init__(self, g):
        super().__init__()
        self.layers = Layers(g)
        self.output = nn.Linear(4, 3)
        self.scale = 0.5  # attributes that are not tensors are skipped by the reader
        self.label = "fixture"
        self.sizes = [1, 2, 3]

    def forward(self, x):
        return self.output(self.layers(x).mean(dim=(2, 3))) * self.scale


def entry(name, compression):
    """A zip entry with a fixed date, so that reruns write the same bytes."""
    info = zipfile.ZipInfo(name, date_time=(2025, 4, 12, 0, 0, 0))
    info.compress_type = compression
    return info


def rewrite_zip(src, dst, compression, byteorder=None, swap=False, cut=None):
    """Copies a torch zip with Python's zipfile: other compression, a byteorder entry,
    storages byte-swapped (swap: the element size of each data/<key>), one entry cut short."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
        prefix = zin.namelist()[0].split("/")[0]
        for info in zin.infolist():
            data = zin.read(info)
            key = info.filename[len(prefix) + 1:]
            if swap and key.startswith("data/"):
                size = swap[key[5:]]
                data = b"".join(data[i:i + size][::-1] for i in range(0, len(data), size))
            if cut and key == cut[0]:
                data = data[:cut[1]]
            zout.writestr(entry(info.filename, compression), data)
        if byteorder:
            zout.writestr(entry(prefix + "/byteorder", compression), byteorder)


def write_zip64(src, dst):
    """Copies a zip with every size and offset in zip64 fields (stored entries)."""
    with zipfile.ZipFile(src) as zin:
        entries = [(info.filename.encode(), zin.read(info)) for info in zin.infolist()]
    out, central = bytearray(), bytearray()
    mask = 0xFFFFFFFF
    for name, data in entries:
        offset, crc = len(out), zipfile.crc32(data) & mask
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, mask, mask, len(name), len(extra))
        out += name + extra + data
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc, mask, mask,
                               len(name), len(cextra), 0, 0, 0, 0, mask)
        central += name + cextra
    cd_off = len(out)
    out += central
    eocd64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), len(central),
                       cd_off)
    out += struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, mask, mask, 0)
    with open(dst, "wb") as f:
        f.write(out)


def storage_sizes(sd):
    """data/<key> -> element size, the keys as torch.save numbers storages (first seen first)."""
    sizes, seen = {}, {}
    for v in sd.values():
        ptr = v.storage().data_ptr()
        if ptr not in seen:
            seen[ptr] = str(len(seen))
            sizes[seen[ptr]] = v.element_size()
    return sizes


def zip_with_pickle(name, pkl, compression=zipfile.ZIP_STORED):
    """A torch-style zip whose data.pkl is `pkl` (no tensors)."""
    with zipfile.ZipFile(path(name), "w", compression) as z:
        z.writestr(entry("archive/data.pkl", compression), pkl)
        z.writestr(entry("archive/version", compression), "3\n")
    report(name)


class System:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


class Eval:
    def __reduce__(self):
        return (eval, ("__import__('os').system('echo pwned')",))


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = state_dict()
    torch.save(sd, path("state_dict.pt"))
    report("state_dict.pt")
    torch.save(sd, path("state_dict_legacy.pt"), _use_new_zipfile_serialization=False)
    report("state_dict_legacy.pt")
    rewrite_zip(path("state_dict.pt"), path("state_dict_deflate.pt"), zipfile.ZIP_DEFLATED, byteorder="little")
    report("state_dict_deflate.pt")
    rewrite_zip(path("state_dict.pt"), path("state_dict_big.pt"), zipfile.ZIP_STORED, byteorder="big",
                swap=storage_sizes(sd))
    report("state_dict_big.pt")
    write_zip64(path("state_dict.pt"), path("state_dict_zip64.pt"))
    report("state_dict_zip64.pt")
    torch.save(sd, path("state_dict_proto4.pt"), pickle_protocol=4)
    report("state_dict_proto4.pt")
    # Each variant must load in torch itself to the same values.
    for variant in ("state_dict_legacy.pt", "state_dict_deflate.pt", "state_dict_zip64.pt", "state_dict_proto4.pt"):
        back = torch.load(path(variant))
        assert all(torch.equal(back[k], sd[k]) for k in sd), variant
    ssfx.write(OUT, "state_dict.ssfx", floats(sd))

    g = torch.Generator().manual_seed(7)
    t = [torch.randn(3, generator=g) for _ in range(4)]
    nested = {"model": {"conv": {"weight": t[0]}}, "ema": [t[1], t[2]], "step": 12,
              "opt": {0: {"exp_avg": t[3]}}, "note": "not a tensor", "five": torch.zeros(1, 1, 1, 1, 2)}
    torch.save(nested, path("nested.pt"))
    report("nested.pt")
    ssfx.write(OUT, "nested.ssfx", floats({"model.conv.weight": t[0], "ema.0": t[1], "ema.1": t[2],
                                           "opt.0.exp_avg": t[3]}))

    torch.save(torch.arange(6, dtype=torch.float32).reshape(2, 3) / 8, path("bare.pt"))
    report("bare.pt")

    torch.manual_seed(11)
    net = Net(torch.Generator().manual_seed(3)).eval()
    with torch.no_grad():  # running statistics that are not the defaults
        net.layers.mixed.bn.running_mean.copy_(torch.randn(4))
        net.layers.mixed.bn.running_var.copy_(torch.rand(4) + 0.5)
    scripted = torch.jit.script(net)
    torch.jit.save(scripted, path("script.pt"))
    report("script.pt")
    ssfx.write(OUT, "script.ssfx", floats(net.state_dict()))

    zip_with_pickle("evil_system.pt", pickle.dumps(System(), protocol=2))
    with open(path("evil_eval.pt"), "wb") as f:
        f.write(pickle.dumps(Eval(), protocol=3))  # protocol 2 would spell it __builtin__.eval
    report("evil_eval.pt")
    # INST: pickle protocol 0's way of building an instance (module, name, then args).
    zip_with_pickle("evil_inst.pt", b"\x80\x02(ios\nsystem\n.")
    zip_with_pickle("evil_opcode.pt", b"\x80\x02}q\x00\xee.")
    zip_with_pickle("evil_cycle.pt", b"\x80\x02]q\x00h\x00a.")
    zip_with_pickle("evil_deep.pt", b"\x80\x02" + b"(" * 100000 + b"t.", zipfile.ZIP_DEFLATED)

    whole = open(path("state_dict.pt"), "rb").read()
    with open(path("truncated.pt"), "wb") as f:
        f.write(whole[: len(whole) // 2])
    report("truncated.pt")
    rewrite_zip(path("state_dict.pt"), path("short_data.pt"), zipfile.ZIP_STORED, cut=("data/0", 100))
    report("short_data.pt")


if __name__ == "__main__":
    main()
