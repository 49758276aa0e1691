#!/usr/bin/env python3
"""Float reference for GGML block formats, from an independent implementation: llama.cpp's
gguf-py (`gguf` on PyPI) dequantizes random blocks of every type our kernels read, and we
write the blocks and the floats into tests/serve/engine/data/quant_reference.json (small:
two blocks of each type). The blocks' f16 scale fields are set to small finite values so
every value is finite.

Run: py="$(scripts/python-env.sh gguf bench/serve/gguf_requirements.txt)"
     "$py" bench/serve/make_quant_reference.py tests/serve/engine/data/quant_reference.json"""
import importlib.metadata
import json
import sys

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T

rng = np.random.default_rng(14)
# type -> (byte offsets of f16 scale fields in one block)
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
out = {"made_by": "bench/serve/make_quant_reference.py (gguf "
                  + importlib.metadata.version("gguf") + ")",
       "types": []}
for t, fields in F16_FIELDS.items():
    block_elems, block_bytes = gguf.GGML_QUANT_SIZES[t]
    n_blocks = 2
    raw = rng.integers(0, 256, size=n_blocks * block_bytes, dtype=np.uint8)
    for b in range(n_blocks):
        for off in fields:
            scale = np.float16(rng.uniform(0.001, 0.05) * (1 if rng.random() < 0.8 else -1))
            raw[b * block_bytes + off: b * block_bytes + off + 2] = np.frombuffer(
                scale.tobytes(), dtype=np.uint8)
    vals = gguf.quants.dequantize(raw, t).astype(np.float32).reshape(-1)
    assert vals.size == n_blocks * block_elems and np.all(np.isfinite(vals))
    out["types"].append({"type_id": int(t), "name": t.name.lower(), "bytes_hex": raw.tobytes().hex(),
                         "values": [float(v) for v in vals]})
with open(sys.argv[1], "w") as f:
    json.dump(out, f, separators=(",", ":"))
    f.write("\n")
