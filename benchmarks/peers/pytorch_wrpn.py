#!/usr/bin/env python3
"""PyTorch peer of `wrpn bench`: the same networks and configurations, trained the way a PyTorch
user would train them.

  fp32        plain fp32 (TF32 off for convolutions and matrix products)
  tf32        the same network with TF32 on (what Ampere/Hopper users usually run)
  fq<k>       WRPN by fake quantization with straight-through estimators, as Distiller does it:
              activations clamp(x, 0, 1) then round(x * (2^k-1)) / (2^k-1); weights clamp(w, -1, 1)
              then round(w * (2^(k-1)-1)) / (2^(k-1)-1) (k = 1: sign(w) * mean|w|) on a copy made each
              forward from fp32 master weights; gradients pass straight through (TF32 on). First conv
              and last linear layer stay full precision, as in wrpn. Every activation is still an
              fp32 tensor: autograd keeps fp32 inputs for backward.

Per configuration: median step time (forward, cross-entropy, backward, SGD momentum 0.9) over
timed steps after warm-up, images/s, torch.cuda.max_memory_allocated of one step, and the bytes
autograd keeps for backward (counted with saved_tensors_hooks, parameters excluded).

With --wrpn-kernels (kernels-cuda.json from `wrpn bench kernels --device cuda`) it also times
PyTorch's own activation quantizer and a copy at exactly wrpn's tensor shapes, with the L2 flushed
between repeats like wrpn; with --wrpn-train (train-cuda.json) it adds the wrpn/PyTorch ratios.

  python3 pytorch_wrpn.py --out DIR [--quick] [--device cuda|cpu] [--wrpn-kernels F] [--wrpn-train F]

With --serve (what `wrpn bench train --peer pytorch` starts) it answers JSON-line requests instead:
set up one configuration, time N steps, so that wrpn and PyTorch steps alternate in one run.

Writes DIR/pytorch-DEVICE.json, DIR/pytorch-train-DEVICE.csv, DIR/pytorch-kernels-DEVICE.csv (with
--wrpn-kernels) and DIR/pytorch-DEVICE.md (a summary with the ratios). Runs on PyTorch 1.13 or newer.
"""
import argparse
import csv
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- WRPN quantizers with straight-through gradients (Distiller's way) --------------------------

class _RoundSTE(torch.autograd.Function):
    """round(x * levels) / levels forward; the gradient passes unchanged."""

    @staticmethod
    def forward(ctx, x, levels):
        return torch.round(x * levels) / levels

    @staticmethod
    def backward(ctx, g):
        return g, None


class _BinarySTE(torch.autograd.Function):
    """sign(w) * mean|w| (sign(0) = +1); the gradient passes unchanged."""

    @staticmethod
    def forward(ctx, w):
        scale = w.abs().mean()
        return torch.where(w < 0, -scale, scale)

    @staticmethod
    def backward(ctx, g):
        return g


def quantize_weight(w, bits):
    if bits >= 32:
        return w
    if bits == 1:
        return _BinarySTE.apply(w)
    return _RoundSTE.apply(w.clamp(-1, 1), float(2 ** (bits - 1) - 1))


class QAct(nn.Module):
    """ReLU at 32 bits; else clamp to [0, 1] (autograd masks the gradient outside) and k-bit round with STE."""

    def __init__(self, bits):
        super().__init__()
        self.bits = bits

    def forward(self, x):
        if self.bits >= 32:
            return F.relu(x)
        return _RoundSTE.apply(torch.clamp(x, 0, 1), float(2 ** self.bits - 1))


class QConv2d(nn.Conv2d):
    def __init__(self, cin, cout, k, stride, pad, bits):
        super().__init__(cin, cout, k, stride=stride, padding=pad, bias=False)
        self.bits = bits

    def forward(self, x):
        return F.conv2d(x, quantize_weight(self.weight, self.bits), None, self.stride, self.padding)


class QLinear(nn.Linear):
    def __init__(self, cin, cout, bits, bias):
        super().__init__(cin, cout, bias=bias)
        self.bits = bits

    def forward(self, x):
        return F.linear(x, quantize_weight(self.weight, self.bits), self.bias)


# ---- the models of wrpn's zoo (src/main/java/org/wrpn/nn/models/Models.java) -------------------

def scaled(base, width):
    return max(1, int(round(base * width)))


class LeNet(nn.Module):
    """conv5x5(16) BN act pool, conv5x5(32) BN act pool, fc(128) BN act, fc(classes)."""

    def __init__(self, width, wbits, abits, in_ch=1, classes=10, side=28):
        super().__init__()
        c1, c2, hidden = scaled(16, width), scaled(32, width), scaled(128, width)
        self.conv1 = QConv2d(in_ch, c1, 5, 1, 2, 32)          # first layer: full precision
        self.bn1 = nn.BatchNorm2d(c1)
        self.act1 = QAct(abits)
        self.conv2 = QConv2d(c1, c2, 5, 1, 2, wbits)
        self.bn2 = nn.BatchNorm2d(c2)
        self.act2 = QAct(abits)
        self.fc1 = QLinear((side // 4) * (side // 4) * c2, hidden, wbits, bias=False)
        self.bn3 = nn.BatchNorm1d(hidden)
        self.act3 = QAct(32)                                   # input of the last layer: full precision
        self.fc2 = QLinear(hidden, classes, 32, bias=True)

    def forward(self, x):
        x = F.max_pool2d(self.act1(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(self.act2(self.bn2(self.conv2(x))), 2)
        x = self.act3(self.bn3(self.fc1(torch.flatten(x, 1))))
        return self.fc2(x)


class Block(nn.Module):
    def __init__(self, cin, cout, stride, wbits, abits, out_bits):
        super().__init__()
        self.conv1 = QConv2d(cin, cout, 3, stride, 1, wbits)
        self.bn1 = nn.BatchNorm2d(cout)
        self.act1 = QAct(abits)
        self.conv2 = QConv2d(cout, cout, 3, 1, 1, wbits)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(QConv2d(cin, cout, 1, stride, 0, wbits), nn.BatchNorm2d(cout))
        self.act = QAct(out_bits)

    def forward(self, x):
        b = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        s = x if self.shortcut is None else self.shortcut(x)
        return self.act(b + s)


class ResNetCifar(nn.Module):
    """CIFAR ResNet (depth 6n+2): conv3x3(16), 3 stages of n basic blocks (16, 32, 64), avg pool, fc."""

    def __init__(self, depth, width, wbits, abits, in_ch=3, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        widths = [scaled(16, width), scaled(32, width), scaled(64, width)]
        self.conv1 = QConv2d(in_ch, widths[0], 3, 1, 1, 32)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.act1 = QAct(abits)
        blocks, cin = [], widths[0]
        total = 3 * n
        for s, cout in enumerate(widths):
            for i in range(n):
                last = len(blocks) == total - 1
                blocks.append(Block(cin, cout, 2 if (s > 0 and i == 0) else 1, wbits, abits, 32 if last else abits))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = QLinear(cin, classes, 32, bias=True)

    def forward(self, x):
        x = self.blocks(self.act1(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def build(model, width, wbits, abits):
    if model == "lenet":
        return LeNet(width, wbits, abits), (1, 28, 28)
    if model.startswith("resnet"):
        return ResNetCifar(int(model[len("resnet"):]), width, wbits, abits), (3, 32, 32)
    raise SystemExit(f"unknown model {model}")


# ---- measurement ------------------------------------------------------------------------------

def set_tf32(on):
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def time_once(fn, dev):
    """Seconds one call takes: CUDA events around it on the GPU, the host clock on the CPU."""
    if dev.type == "cuda":
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        return a.elapsed_time(b) / 1e3
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def saved_activation_bytes(model, step_forward, inputs):
    """Bytes autograd keeps for backward in one forward: unique storages, without the parameters, the
    input batch and weight-shaped tensors (the quantized weight copies), as wrpn's ledger counts."""
    params = {p.data_ptr() for p in model.parameters()} | {t.data_ptr() for t in inputs}
    weight_shapes = {tuple(p.shape) for p in model.parameters()}
    storages = {}

    def pack(t):
        if isinstance(t, torch.Tensor) and t.data_ptr() not in params and tuple(t.shape) not in weight_shapes:
            try:
                st = t.untyped_storage()
                key, nbytes = st.data_ptr(), st.nbytes()
            except AttributeError:  # PyTorch < 2.0
                st = t.storage()
                key, nbytes = st.data_ptr(), st.nbytes()
            if key not in params:
                storages[key] = max(storages.get(key, 0), nbytes)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = step_forward()
    loss.backward()
    return sum(storages.values())


def train_case(model_name, width, mode, bits, batch, steps, warmup, dev):
    torch.manual_seed(1)
    wbits = abits = bits if mode == "fq" else 32
    set_tf32(mode != "fp32")
    model, chw = build(model_name, width, wbits, abits)
    model = model.to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.rand((batch,) + chw, device=dev) * 2 - 1
    y = torch.randint(0, 10, (batch,), device=dev)

    def forward():
        return F.cross_entropy(model(x), y)

    def step():
        opt.zero_grad(set_to_none=True)
        forward().backward()
        opt.step()

    for _ in range(warmup):
        step()
    sync(dev)
    times = [time_once(step, dev) for _ in range(steps)]
    peak = -1
    if dev.type == "cuda":
        opt.zero_grad(set_to_none=False)  # gradients exist during a step: count them like wrpn's ledger
        torch.cuda.reset_peak_memory_stats(dev)
        step()
        sync(dev)
        peak = torch.cuda.max_memory_allocated(dev)
    opt.zero_grad(set_to_none=True)
    saved = saved_activation_bytes(model, forward, [x, y])
    med = statistics.median(times)
    return {
        "model": model_name, "width": float(width), "mode": mode if mode != "fq" else f"fq{bits}",
        "wbits": wbits, "abits": abits, "tf32": mode != "fp32", "batch": batch, "steps": steps,
        "step_s": med, "step_min_s": min(times), "images_per_s": batch / med,
        "max_memory_allocated_bytes": peak, "saved_activation_bytes": saved,
    }


# ---- the peer inside `wrpn bench train --peer pytorch` ----------------------------------------

class ServedCase:
    """One configuration kept alive between requests, so wrpn and PyTorch steps can alternate."""

    def __init__(self, model_name, width, bits, batch, warmup, dev):
        torch.manual_seed(1)
        self.mode = "fp32" if bits >= 32 else "fq"
        set_tf32(False)
        self.model, chw = build(model_name, width, bits, bits)
        self.model = self.model.to(dev).train()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        self.x = torch.rand((batch,) + chw, device=dev) * 2 - 1
        self.y = torch.randint(0, 10, (batch,), device=dev)
        self.dev = dev
        for _ in range(warmup):
            self.step()
        self.opt.zero_grad(set_to_none=True)
        self.saved = saved_activation_bytes(self.model, self.forward, [self.x, self.y])
        self.opt.zero_grad(set_to_none=True)

    def forward(self):
        return F.cross_entropy(self.model(self.x), self.y)

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        self.forward().backward()
        self.opt.step()

    def time(self, steps):
        sync(self.dev)
        return [time_once(self.step, self.dev) for _ in range(steps)]


def serve(threads, dev):
    """JSON lines on stdin, one JSON answer per line on stdout (nothing else is printed there):
    {"op": "hello"} -> torch version, threads, machine; {"op": "setup", "model", "width", "bits", "batch",
    "warmup"} -> mode and saved bytes; {"op": "time", "steps"} -> step times in seconds; {"op": "quit"}."""
    torch.set_num_threads(threads)
    out = sys.stdout
    sys.stdout = sys.stderr  # stray prints must not break the protocol
    case = None

    def reply(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "hello":
                reply({"torch": torch.__version__, "threads": torch.get_num_threads(), "python": platform.python_version(),
                       "mkldnn": bool(torch.backends.mkldnn.is_available()), "machine": machine(dev)})
            elif op == "setup":
                case = None
                case = ServedCase(req["model"], float(req["width"]), int(req["bits"]), int(req["batch"]), int(req.get("warmup", 3)), dev)
                reply({"mode": case.mode if case.mode == "fp32" else f"fq{int(req['bits'])}", "saved_activation_bytes": case.saved})
            elif op == "time":
                if case is None:
                    raise ValueError("time before setup")
                reply({"times": case.time(int(req.get("steps", 1)))})
            elif op == "quit":
                reply({"bye": True})
                return 0
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as e:  # noqa: BLE001 - the caller gets the reason and decides
            reply({"error": f"{type(e).__name__}: {e}"})
    return 0


def kernel_rows(wrpn_kernels, dev, reps, warmup):
    """PyTorch's activation quantizer and a copy at wrpn's tensor shapes, L2 flushed between repeats."""
    shapes = []
    for r in wrpn_kernels.get("rows", []):
        # activation sites only (mask true): a max pool's re-pack has no counterpart in PyTorch
        if r.get("site") != "all" and r.get("op") == "copy_f32" and r.get("mask") is True:
            shapes.append((r["model"], float(r["width"]), r["site"], r["shape"], int(r["elements"])))
    bits = sorted({int(r["bits"]) for r in wrpn_kernels.get("rows", []) if r.get("op") == "quantize_pack"}, reverse=True)
    if dev.type == "cuda":
        l2 = getattr(torch.cuda.get_device_properties(dev), "L2_cache_size", 0) or (64 << 20)
    else:
        l2 = 32 << 20  # a CPU's last-level cache, roughly: wrpn's host clock flushes likewise
    flush = torch.empty(max(8 << 20, 2 * l2) // 4, device=dev)
    rows = []
    for model, width, site, shape, n in shapes:
        x = torch.rand(n, device=dev) * 1.5 - 0.25
        out = torch.empty_like(x)

        def timed(fn):
            for _ in range(warmup):
                fn()
            sync(dev)
            ts = []
            for i in range(reps):
                flush.fill_(float(i))
                ts.append(time_once(fn, dev))
            return statistics.median(ts)

        copy_s = timed(lambda: out.copy_(x))
        base = {"model": model, "width": width, "site": site, "shape": shape, "elements": n}
        rows.append(dict(base, op="torch_copy", bits=32, median_s=copy_s, gbps=8 * n / copy_s / 1e9))
        for k in bits:
            levels = float(2 ** k - 1)
            s = timed(lambda: torch.round(torch.clamp(x, 0, 1) * levels) / levels)
            # Effective GB/s: the op's own input and output (4 + 4 bytes per element); it runs several kernels.
            rows.append(dict(base, op="torch_fake_quant", bits=k, median_s=s, gbps=8 * n / s / 1e9))
        del x, out
    return rows


def ratios(train_rows, kernel_rows_, wrpn_train, wrpn_kernels):
    out = {"kernels": [], "train": []}
    if wrpn_kernels:
        wk = {(r["model"], float(r["width"]), r["shape"], r["op"], int(r["bits"])): r
              for r in wrpn_kernels.get("rows", []) if r.get("site") != "all"}
        for r in kernel_rows_:
            op = "copy_f32" if r["op"] == "torch_copy" else "quantize_pack"
            w = wk.get((r["model"], r["width"], r["shape"], op, r["bits"]))
            if w:
                out["kernels"].append({
                    "model": r["model"], "width": r["width"], "shape": r["shape"], "bits": r["bits"],
                    "wrpn_op": op, "torch_op": r["op"], "wrpn_s": w["median_s"], "torch_s": r["median_s"],
                    "torch_over_wrpn_time": r["median_s"] / w["median_s"]})
    if wrpn_train:
        fp32 = {(r["model"], r["width"]): r for r in train_rows if r["mode"] == "fp32"}
        for w in wrpn_train.get("rows", []):
            if w.get("policy") != "packed" and int(w["abits"]) != 32:
                continue
            mode = "fp32" if int(w["abits"]) == 32 else f"fq{int(w['abits'])}"
            t = next((r for r in train_rows if r["model"] == w["model"] and r["width"] == float(w["width"])
                      and r["mode"] == mode), None)
            if t is None or int(t["batch"]) != int(w["batch"]):
                continue
            ok = w.get("status") == "ok"
            wrpn_peak = w["backend_peak_bytes"] if ok else w["planned_peak_bytes"]
            wrpn_saved = w["saved_activation_bytes"] if ok else w["planned_saved_bytes"]
            row = {"model": w["model"], "width": float(w["width"]), "bits": int(w["abits"]), "wrpn_policy": w["policy"],
                   "torch_mode": mode, "wrpn_measured": ok,
                   "wrpn_peak_bytes": wrpn_peak, "torch_max_memory_allocated_bytes": t["max_memory_allocated_bytes"],
                   "wrpn_over_torch_peak": wrpn_peak / t["max_memory_allocated_bytes"] if t["max_memory_allocated_bytes"] > 0 else None,
                   "wrpn_saved_bytes": wrpn_saved, "torch_saved_bytes": t["saved_activation_bytes"],
                   "wrpn_over_torch_saved": wrpn_saved / t["saved_activation_bytes"] if t["saved_activation_bytes"] else None,
                   "wrpn_over_torch_fp32_peak": (wrpn_peak / fp32[(w["model"], float(w["width"]))]["max_memory_allocated_bytes"]
                                                 if (w["model"], float(w["width"])) in fp32
                                                 and fp32[(w["model"], float(w["width"]))]["max_memory_allocated_bytes"] > 0 else None)}
            if ok:
                row["wrpn_over_torch_images_per_s"] = w["images_per_s"] / t["images_per_s"]
            out["train"].append(row)
    return out


def machine(dev):
    m = {"python": platform.python_version(), "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
         "host": platform.node(), "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    m["cpu"] = line.split(":", 1)[1].strip() + f" x{os.cpu_count()}"
                    break
    except OSError:
        pass
    if dev.type == "cuda":
        p = torch.cuda.get_device_properties(dev)
        m.update({"gpu": p.name, "gpu_memory_bytes": p.total_memory, "gpu_multiprocessors": p.multi_processor_count,
                  "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()})
        try:
            m["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                         capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            pass
    return m


def write_csv(path, rows, m, commit):
    if not rows:
        return
    cols = list(rows[0].keys())
    label = m.get("gpu", m.get("cpu"))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols + ["machine", "commit"])
        for r in rows:
            w.writerow([("%.6g" % r[c]) if isinstance(r.get(c), float) else r.get(c) for c in cols] + [label, commit])


def fmt_bytes(b):
    if b is None or b < 0:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if b < 1024 or unit == "GiB":
            return f"{b:.1f} {unit}" if unit != "B" else f"{b} B"
        b /= 1024


def markdown(res):
    m = res["machine"]
    lines = [f"## PyTorch peer ({m.get('gpu', m.get('cpu'))}, torch {m['torch']}, commit {res['commit']})", "",
             "| model | width | mode | batch | step ms | img/s | max_memory_allocated | saved for backward |",
             "|---|---|---|---|---|---|---|---|"]
    for r in res["train"]:
        lines.append(f"| {r['model']} | {r['width']:g} | {r['mode']} | {r['batch']} | {1e3 * r['step_s']:.2f} | "
                     f"{r['images_per_s']:.0f} | {fmt_bytes(r['max_memory_allocated_bytes'])} | {fmt_bytes(r['saved_activation_bytes'])} |")
    if res["ratios"]["train"]:
        lines += ["", "wrpn (planned by the ledger where it did not train) vs PyTorch (fp32 at 32 bits, else fake quantization) "
                  "at the same config:", "",
                  "| model | width | bits | wrpn save | wrpn peak | torch peak | ratio | vs torch fp32 | wrpn saved | torch saved | ratio | img/s ratio |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in res["ratios"]["train"]:
            f = lambda v: "-" if v is None else f"{v:.3f}"
            lines.append(f"| {r['model']} | {r['width']:g} | {r['bits']} | {r['wrpn_policy']} | {fmt_bytes(r['wrpn_peak_bytes'])}"
                         f"{'' if r['wrpn_measured'] else ' (planned)'} | {fmt_bytes(r['torch_max_memory_allocated_bytes'])} | "
                         f"{f(r['wrpn_over_torch_peak'])} | {f(r['wrpn_over_torch_fp32_peak'])} | {fmt_bytes(r['wrpn_saved_bytes'])} | "
                         f"{fmt_bytes(r['torch_saved_bytes'])} | {f(r['wrpn_over_torch_saved'])} | "
                         f"{f(r.get('wrpn_over_torch_images_per_s'))} |")
    if res["ratios"]["kernels"]:
        lines += ["", "Activation quantizer at wrpn's shapes: PyTorch fake-quant time / wrpn quantize+pack time "
                  "(> 1: wrpn faster); copy rows compare the two copies:", "",
                  "| model | width | shape | bits | wrpn op | wrpn us | torch us | torch/wrpn |", "|---|---|---|---|---|---|---|---|"]
        for r in res["ratios"]["kernels"]:
            lines.append(f"| {r['model']} | {r['width']:g} | {r['shape']} | {r['bits']} | {r['wrpn_op']} | {1e6 * r['wrpn_s']:.1f} | "
                         f"{1e6 * r['torch_s']:.1f} | {r['torch_over_wrpn_time']:.2f} |")
    if res["skipped"]:
        lines += ["", f"skipped (time budget): {len(res['skipped'])} configurations"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=".")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cuda", "cpu"])
    ap.add_argument("--quick", action="store_true", help="lenet and resnet20 at width 1, modes fp32, tf32, fq4, fq1")
    ap.add_argument("--models", default=None, help="comma list (default: from --wrpn-train, else lenet,resnet20)")
    ap.add_argument("--widths", default=None, help="comma list (default: from --wrpn-train, else 1,2,3)")
    ap.add_argument("--bits", default=None, help="fake-quant bits (default: from --wrpn-train, else 8,4,2,1)")
    ap.add_argument("--batch", type=int, default=None, help="default: from --wrpn-train, else 64")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--kernel-reps", type=int, default=20)
    ap.add_argument("--wrpn-kernels", default=None)
    ap.add_argument("--wrpn-train", default=None)
    ap.add_argument("--time-budget", type=float, default=150, help="seconds; later configurations are skipped")
    ap.add_argument("--serve", action="store_true", help="answer JSON-line requests on stdin (wrpn bench --peer pytorch)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (with --serve: default all cores)")
    a = ap.parse_args(argv)
    t0 = time.time()
    dev = torch.device(a.device)
    if a.serve:
        return serve(a.threads or os.cpu_count(), dev)
    if a.threads:
        torch.set_num_threads(a.threads)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no GPU")
    torch.backends.cudnn.benchmark = True
    wtrain = json.load(open(a.wrpn_train)) if a.wrpn_train else None
    wkern = json.load(open(a.wrpn_kernels)) if a.wrpn_kernels else None
    cfg = (wtrain or {}).get("config", {})
    models = a.models.split(",") if a.models else cfg.get("models", ["lenet", "resnet20"])
    widths = [float(w) for w in a.widths.split(",")] if a.widths else [float(w) for w in cfg.get("widths", [1, 2, 3])]
    bits = [int(b) for b in a.bits.split(",")] if a.bits else [int(b) for b in cfg.get("bits", [8, 4, 2, 1]) if int(b) != 32]
    batch = a.batch or int(cfg.get("batch", 64))
    if a.quick:
        widths, bits = widths[:1], [b for b in bits if b in (4, 1)] or bits[:1]
    cases = [(m, w, mode, k) for m in models for w in widths
             for (mode, k) in [("fp32", 32), ("tf32", 32)] + [("fq", k) for k in bits]]
    train_rows, skipped = [], []
    for m, w, mode, k in cases:
        if time.time() - t0 > a.time_budget:
            skipped.append({"model": m, "width": w, "mode": mode, "bits": k})
            continue
        r = train_case(m, w, mode, k, batch, a.steps, a.warmup, dev)
        train_rows.append(r)
        print(f"{r['model']:9s} w{r['width']:<4g} {r['mode']:5s} step {1e3 * r['step_s']:8.2f} ms  {r['images_per_s']:9.0f} img/s  "
              f"peak {fmt_bytes(r['max_memory_allocated_bytes']):>10s}  saved {fmt_bytes(r['saved_activation_bytes']):>10s}", flush=True)
    krows = kernel_rows(wkern, dev, a.kernel_reps, 3) if wkern else []
    commit = os.environ.get("WRPN_COMMIT") or (wtrain or wkern or {}).get("commit") or "unknown"
    m = machine(dev)
    res = {"suite": "pytorch-peer", "machine": m, "commit": commit,
           "config": {"device": a.device, "models": models, "widths": widths, "bits": bits, "batch": batch, "steps": a.steps,
                      "warmup": a.warmup, "quick": a.quick, "layout": "NCHW (PyTorch default)", "cudnn_benchmark": True,
                      "optimizer": "SGD lr 0.01 momentum 0.9 weight decay 5e-4"},
           "train": train_rows, "kernels": krows, "ratios": ratios(train_rows, krows, wtrain, wkern), "skipped": skipped,
           "seconds": round(time.time() - t0, 1)}
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, f"pytorch-{a.device}.json"), "w") as f:
        json.dump(res, f, indent=2)
    write_csv(os.path.join(a.out, f"pytorch-train-{a.device}.csv"), train_rows, m, commit)
    write_csv(os.path.join(a.out, f"pytorch-kernels-{a.device}.csv"), krows, m, commit)
    md = markdown(res)
    with open(os.path.join(a.out, f"pytorch-{a.device}.md"), "w") as f:
        f.write(md)
    print(md)
    print(f"pytorch peer: {len(train_rows)} configurations, {len(skipped)} skipped, {res['seconds']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
