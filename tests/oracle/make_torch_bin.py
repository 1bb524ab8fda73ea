#!/usr/bin/python3.11
"""Writes tests/fixtures/torch-bin: PyTorch checkpoints (pytorch_model.bin) made by torch.save itself,
for the reader in src/io/pytorch. Run after make_fixtures.py (it reads the tiny models' weights):

  /usr/bin/python3.11 tests/oracle/make_torch_bin.py   (needs only Debian's python3-torch)

  tiny-gpt2/            config.json, tokenizer.json and pytorch_model.bin: the weights of
                        tests/fixtures/tiny-gpt2/model.safetensors as a state dict, with
                        lm_head.weight tied to transformer.wte.weight (one storage), as GPT-2's
                        .bin files are
  tiny-gpt2-sharded/    the same state dict split by transformers' rule into two .bin shards and
                        pytorch_model.bin.index.json
  tiny-llama/           tiny-llama's BF16 weights as a state dict of BF16 tensors
  views.bin             tensors of every storage dtype, and views: a transpose, a slice with a
                        storage offset, an expanded (stride 0) row, an empty tensor
  views-legacy.bin      the same in the legacy format
  views.safetensors     the same tensors made contiguous (bool stored as U8), the expected values
  code.bin              a pickle that calls os.system (never to be run: the reader must refuse it),
  code-legacy.bin       the same in the legacy format
  training.bin          a training checkpoint: {"model": state dict, "step": 3}
"""

import json
import os
import shutil
import struct

import torch

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
OUT = os.path.join(FIXTURES, "torch-bin")

ST_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "U8",
}


def read_safetensors(path):
    """The tensors of a safetensors file, in their stored dtypes (by hand: no safetensors package)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    by_name = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.uint8)
        out[name] = raw.view(by_name[info["dtype"]]).reshape(info["shape"]).clone()
    return out


def write_safetensors(path, tensors):
    header, chunks, at = {}, [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        raw = t.view(torch.uint8) if t.dtype == torch.bool else t
        b = raw.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [at, at + len(b)]}
        chunks.append(b)
        at += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


def model_folder(src, dst, state):
    os.makedirs(dst, exist_ok=True)
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(os.path.join(FIXTURES, src, name), os.path.join(dst, name))
    return dst


class CallsSystem:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)

    gpt2 = read_safetensors(os.path.join(FIXTURES, "tiny-gpt2", "model.safetensors"))
    gpt2["lm_head.weight"] = gpt2["transformer.wte.weight"]  # tied: one storage, two names
    d = model_folder("tiny-gpt2", os.path.join(OUT, "tiny-gpt2"), gpt2)
    torch.save(gpt2, os.path.join(d, "pytorch_model.bin"))

    d = model_folder("tiny-gpt2", os.path.join(OUT, "tiny-gpt2-legacy"), gpt2)
    torch.save(gpt2, os.path.join(d, "pytorch_model.bin"), _use_new_zipfile_serialization=False)

    # Sharded as transformers' shard_checkpoint splits: consecutive tensors, an index of names.
    d = model_folder("tiny-gpt2", os.path.join(OUT, "tiny-gpt2-sharded"), gpt2)
    names = list(gpt2)
    parts = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map, total = {}, 0
    for i, part in enumerate(parts):
        shard = f"pytorch_model-{i + 1:05d}-of-{len(parts):05d}.bin"
        torch.save({n: gpt2[n] for n in part}, os.path.join(d, shard))
        for n in part:
            weight_map[n] = shard
            total += gpt2[n].numel() * gpt2[n].element_size()
    with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)

    llama = read_safetensors(os.path.join(FIXTURES, "tiny-llama", "model.safetensors"))
    d = model_folder("tiny-llama", os.path.join(OUT, "tiny-llama"), llama)
    torch.save(llama, os.path.join(d, "pytorch_model.bin"))

    g = torch.Generator().manual_seed(7)
    base = torch.randn(6, 5, generator=g, dtype=torch.float32)
    views = {
        "f64": torch.randn(2, 3, generator=g, dtype=torch.float64),
        "f32": torch.randn(4, generator=g, dtype=torch.float32),
        "f16": torch.randn(3, 2, generator=g).to(torch.float16),
        "bf16": torch.randn(5, generator=g).to(torch.bfloat16),
        "i64": torch.tensor([-3, 0, 2**40], dtype=torch.int64),
        "i32": torch.tensor([-7, 9], dtype=torch.int32),
        "i16": torch.tensor([-2, 3], dtype=torch.int16),
        "i8": torch.tensor([-1, 5], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "transposed": base.t(),
        "sliced": base[2:, 1:4],
        "expanded": base[0:1].expand(3, 5),
        "empty": base[0:0],
        "scalar": torch.tensor(2.5),
    }
    torch.save(views, os.path.join(OUT, "views.bin"))
    write_safetensors(os.path.join(OUT, "views.safetensors"), views)

    torch.save(views, os.path.join(OUT, "views-legacy.bin"), _use_new_zipfile_serialization=False)
    calls = {"w": torch.ones(2), "x": CallsSystem()}
    torch.save(calls, os.path.join(OUT, "code.bin"))
    torch.save(calls, os.path.join(OUT, "code-legacy.bin"), _use_new_zipfile_serialization=False)
    torch.save({"model": {"w": torch.ones(2)}, "step": 3}, os.path.join(OUT, "training.bin"))


if __name__ == "__main__":
    main()
