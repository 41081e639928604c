#!/usr/bin/env python3
"""Writes the torch.save fixtures of ugm's PyTorch reader tests (io/src/test/resources/torch).

Run from this folder with a PyTorch (made with Debian's python3-torch, PyTorch 1.13):
    /usr/bin/python3 make_fixtures.py
Every value is deterministic (arange and fixed numbers, listed in EXPECTED below and asserted
again by the Java tests); only the zip entries' modification times change between runs.
The tests read these files and never need Python.
"""
import collections
import io
import os
import pickle
import struct
import zipfile
import zlib

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def path(*parts):
    p = os.path.join(HERE, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def arange(n, dtype, shape=None, scale=1.0, shift=0.0):
    t = torch.arange(n, dtype=torch.float64) * scale + shift
    t = t.to(dtype)
    return t.reshape(shape) if shape is not None else t


# ---------------------------------------------------------------------------------------------
# 1. A model's state dict, as Hugging Face's save_pretrained writes pytorch_model.bin (torch.save
#    of model.state_dict(), protocol 2), with tied weights: lm_head.weight is embed.weight.
# ---------------------------------------------------------------------------------------------
class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(4, 3)
        self.proj = torch.nn.Linear(3, 2)
        self.norm = torch.nn.LayerNorm(2)
        self.lm_head = torch.nn.Linear(3, 4, bias=False)
        self.lm_head.weight = self.embed.weight  # tied, as tie_word_embeddings does
        self.register_buffer("position_ids", torch.arange(5, dtype=torch.int64))


def tiny_state_dict():
    m = Tiny()
    with torch.no_grad():
        m.embed.weight.copy_(arange(12, torch.float32, (4, 3), 0.5, -1.0))      # -1.0, -0.5, ... 4.5
        m.proj.weight.copy_(arange(6, torch.float32, (2, 3), 0.25))             # 0, 0.25, ... 1.25
        m.proj.bias.copy_(torch.tensor([-2.0, 2.0]))
        m.norm.weight.copy_(torch.tensor([1.5, -1.5]))
        m.norm.bias.copy_(torch.tensor([0.125, 0.0]))
    return m.state_dict()


def write_state_dicts():
    sd = tiny_state_dict()
    torch.save(sd, path("tiny", "pytorch_model.bin"))
    with open(path("tiny", "config.json"), "w") as f:
        f.write('{"model_type": "tiny", "torch_dtype": "float32", "tie_word_embeddings": true}\n')

    # Every storage type ugm maps, views at offsets into larger storages, a scalar, an empty tensor.
    big = arange(20, torch.float32)
    rows = arange(24, torch.int32, (6, 4))
    mixed = collections.OrderedDict()
    mixed["f64"] = arange(3, torch.float64, None, 0.5)                 # 0, 0.5, 1
    mixed["f16"] = arange(4, torch.float16, (2, 2), 1.5)               # 0, 1.5, 3, 4.5
    mixed["bf16"] = arange(4, torch.bfloat16, None, -0.25)             # 0, -0.25, -0.5, -0.75
    mixed["i64"] = arange(3, torch.int64, None, 1, -1)                 # -1, 0, 1
    mixed["i16"] = arange(3, torch.int16, None, 7)                     # 0, 7, 14
    mixed["i8"] = arange(3, torch.int8, None, -3)                      # 0, -3, -6
    mixed["u8"] = arange(3, torch.uint8, None, 100)                    # 0, 100, 200
    mixed["bool"] = torch.tensor([True, False, True])
    mixed["scalar"] = torch.tensor(3.25, dtype=torch.float64)
    mixed["empty"] = torch.zeros(0, 4)
    mixed["slice"] = big[5:11]                                         # 5..10, offset 5 into 20
    mixed["rows"] = rows[2:4]                                          # 8..15, offset 8 into 24
    mixed["column"] = arange(3, torch.float32, (3, 1), 2.0)           # size-1 dimension
    torch.save(mixed, path("dtypes.pt"))

    # A sharded checkpoint as save_pretrained(max_shard_size=...) writes it.
    shard1 = collections.OrderedDict([("embed.weight", sd["embed.weight"].clone()), ("proj.weight", sd["proj.weight"])])
    shard2 = collections.OrderedDict([("proj.bias", sd["proj.bias"]), ("norm.weight", sd["norm.weight"]),
                                      ("norm.bias", sd["norm.bias"])])
    names = ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]
    torch.save(shard1, path("sharded", names[0]))
    torch.save(shard2, path("sharded", names[1]))
    weight_map = {k: names[0] for k in shard1}
    weight_map.update({k: names[1] for k in shard2})
    total = sum(t.numel() * t.element_size() for s in (shard1, shard2) for t in s.values())
    import json
    with open(path("sharded", "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)

    # Pickle protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL): the same tiny model.
    torch.save(sd, path("protocol4.pt"), pickle_protocol=4)

    # A non-contiguous view, which ugm refuses naming it.
    torch.save(collections.OrderedDict([("ok", arange(2, torch.float32)),
                                        ("transposed", arange(6, torch.float32, (2, 3)).t())]),
               path("bad", "transposed.pt"))
    # The format of PyTorch before 1.6.
    torch.save(collections.OrderedDict([("w", arange(2, torch.float32))]), path("bad", "legacy.pt"),
               _use_new_zipfile_serialization=False)
    # A parameter (torch._utils._rebuild_parameter) inside a plain dict.
    torch.save({"p": torch.nn.Parameter(arange(4, torch.float32, (2, 2), 1.0, 10.0))}, path("parameter.pt"))


# ---------------------------------------------------------------------------------------------
# 2. An optimizer state: Adam after two steps, its moments set to known values.
# ---------------------------------------------------------------------------------------------
def write_optimizer():
    w = torch.nn.Parameter(torch.zeros(2, 3))
    b = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.Adam([{"params": [w], "weight_decay": 0.01}, {"params": [b]}], lr=1e-3, betas=(0.9, 0.999))
    for _ in range(2):
        opt.zero_grad()
        ((w.sum() + b.sum()) ** 2).backward()
        opt.step()
    with torch.no_grad():
        opt.state[w]["exp_avg"].copy_(arange(6, torch.float32, (2, 3), 0.5))
        opt.state[w]["exp_avg_sq"].copy_(arange(6, torch.float32, (2, 3), 0.001, 0.001))   # 0.001 .. 0.006
        opt.state[b]["exp_avg"].copy_(torch.tensor([1.0, -1.0]))
        opt.state[b]["exp_avg_sq"].copy_(torch.tensor([0.25, 0.5]))
    torch.save(opt.state_dict(), path("optimizer.pt"))


# ---------------------------------------------------------------------------------------------
# 3. Hand-assembled pickles in the form PyTorch 2.x writes, and hostile ones. RawPickler writes
#    the opcodes pickle would for these objects; Global writes a GLOBAL for a name that torch
#    1.13 lacks (torch.uint16, torch._utils._rebuild_tensor_v3) or that must never run.
# ---------------------------------------------------------------------------------------------
class Global:
    def __init__(self, module, name):
        self.module, self.name = module, name


class Storage:
    def __init__(self, key, storage_class, data, numel):
        self.key, self.storage_class, self.data, self.numel = key, storage_class, data, numel


class Call:
    """Pickles as `func(*args)` (REDUCE)."""

    def __init__(self, func, args):
        self.func, self.args = func, args


class RawPickler(pickle._Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", Global("torch", obj.storage_class), obj.key, "cpu", obj.numel)
        return None

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, Global):
            if self.proto >= 4:
                self.save(obj.module)
                self.save(obj.name)
                self.write(pickle.STACK_GLOBAL)
            else:
                self.write(pickle.GLOBAL + (obj.module + "\n" + obj.name + "\n").encode())
            return
        if isinstance(obj, Call):
            self.save(obj.func)
            self.save(tuple(obj.args))
            self.write(pickle.REDUCE)
            return
        super().save(obj, save_persistent_id)


def raw_pickle(obj, protocol=2):
    buf = io.BytesIO()
    RawPickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def storages_of(obj, found):
    if isinstance(obj, Storage):
        found[obj.key] = obj
    elif isinstance(obj, Call):
        for a in obj.args:
            storages_of(a, found)
    elif isinstance(obj, (list, tuple)):
        for a in obj:
            storages_of(a, found)
    elif isinstance(obj, dict):
        for a in obj.values():
            storages_of(a, found)
    return found


def v2(storage, offset, size, stride):
    return Call(Global("torch._utils", "_rebuild_tensor_v2"),
                [storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict()])


def v3(storage, offset, size, stride, dtype):
    return Call(Global("torch._utils", "_rebuild_tensor_v3"),
                [storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict(), Global("torch", dtype)])


def u16(values):
    return b"".join(struct.pack("<H", v) for v in values)


def f32(values):
    return b"".join(struct.pack("<f", v) for v in values)


class ZipWriter:
    """Writes a zip the way PyTorch 2.x's writer (miniz with MZ_ZIP_FLAG_WRITE_ZIP64) lays it out:
    stored entries under one folder, each local header's extra field padded ("FB") so the data
    start on a 64-byte boundary, sizes in a data descriptor after the data (flag 0x0808), and a
    zip64 end record and locator before the classic end record."""

    def __init__(self):
        self.out = bytearray()
        self.central = []

    def add(self, name, data, method=0):
        name_b = name.encode()
        stored = data if method == 0 else zlib.compress(data)[2:-4]
        offset = len(self.out)
        start = offset + 30 + len(name_b) + 4
        pad = (-start) % 64
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        crc = zlib.crc32(data)
        self.out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x0808, method, 0, 0x21, 0, 0, 0, len(name_b), len(extra))
        self.out += name_b + extra + stored
        self.out += struct.pack("<IIII", 0x08074B50, crc, len(stored), len(data))
        self.central.append((name_b, method, crc, len(stored), len(data), offset))

    def finish(self):
        cd_start = len(self.out)
        for name_b, method, crc, csize, size, offset in self.central:
            self.out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, 0x0808, method, 0, 0x21, crc, csize, size,
                                    len(name_b), 0, 0, 0, 0, 0, offset)
            self.out += name_b
        cd_size = len(self.out) - cd_start
        z64 = len(self.out)
        n = len(self.central)
        self.out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 45, 0, 0, n, n, cd_size, cd_start)
        self.out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
        self.out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(n, 0xFFFF), min(n, 0xFFFF), 0xFFFFFFFF, 0xFFFFFFFF, 0)
        return bytes(self.out)


def torch2_zip(pkl, storages, root="archive", byteorder=b"little", method_for=None):
    """The entries of a PyTorch 2.x torch.save file, in its order."""
    z = ZipWriter()
    method_for = method_for or {}
    z.add(root + "/data.pkl", pkl, method_for.get("data.pkl", 0))
    z.add(root + "/.format_version", b"1")
    z.add(root + "/.storage_alignment", b"64")
    if byteorder is not None:
        z.add(root + "/byteorder", byteorder)
    for key in sorted(storages):
        z.add(root + "/data/" + key, storages[key], method_for.get("data/" + key, 0))
    z.add(root + "/version", b"3\n")
    z.add(root + "/.data/serialization_id", b"1234567890123456789012345678901234567890")
    return z.finish()


def rewrite_as_torch2(src, dst, root="archive", byteorder=b"little", method_for=None):
    """Moves a PyTorch 1.13 file's pickle and storages into the 2.x layout above."""
    with zipfile.ZipFile(src) as z:
        names = z.namelist()
        old = names[0].split("/")[0]
        pkl = z.read(old + "/data.pkl")
        storages = {n[len(old) + 6:]: z.read(n) for n in names if n.startswith(old + "/data/")}
    with open(dst, "wb") as f:
        f.write(torch2_zip(pkl, storages, root, byteorder, method_for))


def write_torch2():
    # The tiny model's own pickle and storages in the 2.x layout.
    rewrite_as_torch2(path("tiny", "pytorch_model.bin"), path("torch2_layout.pt"))
    # The same moved with Python's zipfile (no alignment: unaligned data; classic end record).
    with zipfile.ZipFile(path("tiny", "pytorch_model.bin")) as z, \
            zipfile.ZipFile(path("torch2_zipfile.pt"), "w", zipfile.ZIP_STORED) as out:
        old = z.namelist()[0].split("/")[0]
        out.writestr("archive/data.pkl", z.read(old + "/data.pkl"))
        out.writestr("archive/.format_version", b"1")
        out.writestr("archive/.storage_alignment", b"64")
        out.writestr("archive/byteorder", b"little")
        for n in z.namelist():
            if n.startswith(old + "/data/"):
                out.writestr("archive/" + n[len(old) + 1:], z.read(n))
        out.writestr("archive/version", b"3\n")
        out.writestr("archive/.data/serialization_id", b"1234567890123456789012345678901234567890")

    # What 2.x writes for dtypes without a legacy storage class: _rebuild_tensor_v3 over an
    # UntypedStorage (numel = bytes) with the dtype as a global; next to a v2 float tensor.
    u = Storage("0", "UntypedStorage", u16([0, 1, 2, 65535, 7, 8]), 12)
    f8 = Storage("1", "UntypedStorage", bytes([0x38, 0x40, 0xB8, 0x00]), 4)
    f = Storage("2", "FloatStorage", f32([1.0, 2.0, 3.0]), 3)
    sd = collections.OrderedDict([("u16", v3(u, 1, (2, 2), (2, 1), "uint16")),        # 1, 2, 65535, 7
                                  ("f8", v3(f8, 0, (4,), (1,), "float8_e4m3fn")),
                                  ("f32", v2(f, 0, (3,), (1,)))])
    storages = {s.key: s.data for s in storages_of(list(sd.values()), {}).values()}
    with open(path("torch2_v3.pt"), "wb") as out:
        out.write(torch2_zip(raw_pickle(sd, 2), storages))

    # Broken ones, each refused with one line.
    ok = Storage("0", "FloatStorage", f32([1.0, 2.0, 3.0, 4.0]), 4)
    with open(path("bad", "big_endian.pt"), "wb") as out:
        out.write(torch2_zip(raw_pickle({"w": v2(ok, 0, (4,), (1,))}), {"0": ok.data}, byteorder=b"big"))
    with open(path("bad", "compressed.pt"), "wb") as out:
        out.write(torch2_zip(raw_pickle({"w": v2(ok, 0, (4,), (1,))}), {"0": ok.data}, method_for={"data/0": 8}))
    with open(path("bad", "short_storage.pt"), "wb") as out:
        out.write(torch2_zip(raw_pickle({"w": v2(ok, 2, (2, 2), (2, 1))}), {"0": ok.data}))
    with open(path("bad", "missing_storage.pt"), "wb") as out:
        out.write(torch2_zip(raw_pickle({"w": v2(Storage("9", "FloatStorage", b"", 4), 0, (4,), (1,))}), {"0": ok.data}))
    # A pickle that would run a shell command under torch.load(weights_only=False). Never run here
    # either: RawPickler only writes the opcodes.
    with open(path("bad", "os_system.pt"), "wb") as out:
        out.write(torch2_zip(raw_pickle({"w": Call(Global("posix", "system"), ["echo pwned"])}), {}))
    with open(path("bad", "eval.pt"), "wb") as out:
        out.write(torch2_zip(raw_pickle(Call(Global("builtins", "eval"), ["1+1"]), 4), {}))
    # Not a state dict: a training checkpoint that holds one.
    with open(path("bad", "not_state_dict.pt"), "wb") as out:
        out.write(torch2_zip(raw_pickle({"epoch": 3, "model": {"w": v2(ok, 0, (4,), (1,))}}), {"0": ok.data}))


# ---------------------------------------------------------------------------------------------
# 4. Plain data of every kind, protocols 2 and 4: what an optimizer state may carry.
# ---------------------------------------------------------------------------------------------
def write_data():
    value = {
        "none": None, "true": True, "false": False,
        "small": 7, "negative": -300, "int32": 2 ** 31 - 1, "big": 2 ** 40, "min64": -2 ** 63,
        "float": 0.1, "text": "h\u00e9llo \u2713", "bytes": b"\x00\x01\xff",
        "tuple": (1, "two", 3.0), "list": [[1, 2], [3]], "set": {3}, "frozen": frozenset({"x"}),
        "size": torch.Size([2, 3]), "int_keys": {0: "zero", 1: "one"},
        "tensor": torch.tensor([[1.0, 2.0], [3.0, 4.0]]),
    }
    torch.save(value, path("data_p2.pt"))
    torch.save(value, path("data_p4.pt"), pickle_protocol=4)


def main():
    write_state_dicts()
    write_optimizer()
    write_torch2()
    write_data()
    for root, _, files in sorted(os.walk(HERE)):
        for n in sorted(files):
            if not n.endswith((".py", ".md")):
                p = os.path.join(root, n)
                print(f"{os.path.relpath(p, HERE):45s} {os.path.getsize(p):6d} bytes")


if __name__ == "__main__":
    main()
