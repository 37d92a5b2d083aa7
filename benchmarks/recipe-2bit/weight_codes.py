#!/usr/bin/env python3
"""What a checkpoint's quantized weights look like: per quantized layer, the share of fp32 masters in
each code of the WRPN weight grid, and the share past the clip range [-1, 1].

    python3 benchmarks/recipe-2bit/weight_codes.py RUN_DIR_OR_CHECKPOINT [...]

Reads the safetensors file and its JSON sidecar (the layers' resolved bits) with numpy alone.
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np


def checkpoint(path):
    p = Path(path)
    if p.is_dir():
        found = sorted((p / "checkpoints").glob("*.safetensors")) or sorted(p.glob("*.safetensors"))
        if not found:
            sys.exit(f"weight_codes: no checkpoint under {p}")
        p = found[-1]
    return p


def tensors(st):
    raw = st.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32":
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(body[a:b], dtype="<f4")
    return out


def weight_bits(sidecar):
    arch = json.loads(sidecar.read_text())["architecture"]
    bits = {}

    def walk(layers):
        for layer in layers:
            if "weight_bits" in layer:
                bits[layer["name"] + ".weight"] = layer["weight_bits"]
            for key in ("layers", "branch", "shortcut"):
                if isinstance(layer.get(key), list):
                    walk(layer[key])

    walk(arch["layers"])
    return bits


def main(paths):
    print("| checkpoint | layer | bits | masters | share per code (−max … +max) | share with abs(w) > 1 |")
    print("|---|---|---|---|---|---|")
    for path in paths:
        st = checkpoint(path)
        bits = weight_bits(st.with_suffix(".json"))
        ws = tensors(st)
        for name, k in bits.items():
            if k >= 32 or k == 1 or name not in ws:
                continue
            w = ws[name]
            levels = 2 ** (k - 1) - 1
            codes = np.rint(np.clip(w, -1, 1) * levels).astype(int)
            share = [np.mean(codes == c) for c in range(-levels, levels + 1)]
            cells = " ".join(f"{s:.3f}" for s in share) if levels <= 3 else f"zero {share[levels]:.3f}"
            print(f"| {st.parent.parent.name}/{st.stem} | {name} | {k} | {w.size} | {cells} | {np.mean(np.abs(w) > 1):.3f} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
