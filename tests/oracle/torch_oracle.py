"""PyTorch oracle: replays a trace written by oracle_dump (auratag, CPU backend)
in PyTorch and compares every tensor.

  /usr/bin/python3 tests/oracle/torch_oracle.py TRACE.h5... [--list FILE] [--tol 1e-4]

Several traces are checked in one process (PyTorch starts once): the
positional ones, then those of --list FILE (lines TRACE.h5<TAB>LABEL, the
label printed before the trace's result). Each trace is checked on its own.

Compared: inference-mode logits; per training step the logits, the loss and
every parameter gradient; after the steps, every parameter and running
statistic. Error of a tensor = max |a - b| / max |b|, b = PyTorch in float64.

Discontinuities are followed, not guessed: dropout uses auratag's masks, and
max-pool and ReLU take auratag's decisions (switches, which inputs pass) after
checking that each one is right up to rounding (a switch selects a window
maximum, a ReLU disagreement sits within 1e-5 of zero relative to the layer).
A tensor that is ill-conditioned in float32 itself (PyTorch in float32 is far
from float64 too, e.g. the gradient of a conv bias that feeds batch norm,
exactly zero in exact arithmetic) may differ by up to 10x PyTorch's own
float32 error; such tensors are listed. Exit status 1 if any check fails.
"""
import argparse
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from torch_model import TorchModel  # noqa: E402


def rel_err(ours, ref):
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if ours.shape != ref.shape:
        return float("inf")
    scale = max(np.abs(ref).max(initial=0.0), 1e-30)
    return float(np.abs(ours - ref).max(initial=0.0) / scale)


def replay(f, config, dtype, threads):
    """Runs the trace's computation in PyTorch; returns {label: reference array}."""
    torch.set_num_threads(threads)
    model = TorchModel(config, dtype=dtype)
    model.load_from(lambda name: f["initial/" + name][()])
    x = torch.tensor(f["input"][()], dtype=dtype)
    if "targets" in f:
        targets = torch.tensor(f["targets"][()], dtype=dtype)
    else:
        targets = torch.tensor(f["labels"][()], dtype=torch.long)
    ref = {}
    with torch.no_grad():
        model.train(False)
        ref["eval/logits"] = model.forward(x).numpy()
    model.train(True)
    params = model.parameters()
    lr, wd = float(f.attrs["lr"]), float(f.attrs["weight_decay"])
    if text(f.attrs["optimizer"]) == "adam":
        opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=float(f.attrs["eps"]), weight_decay=wd)
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=float(f.attrs["momentum"]),
                              nesterov=bool(f.attrs["nesterov"]), weight_decay=wd)
    for k in range(int(f.attrs["steps"])):
        g = f[f"step{k}"]
        model.dropout_masks = {n: g["masks"][n][()] for n in g["masks"]} if "masks" in g else {}
        model.pool_switches = {n: g["switches"][n][()] for n in g["switches"]} if "switches" in g else {}
        model.relu_masks = {n: g["relu"][n][()] for n in g["relu"]} if "relu" in g else {}
        opt.zero_grad()
        logits = model.forward(x)
        ref[f"step{k}/logits"] = logits.detach().numpy().copy()
        loss = model.loss(logits, targets)
        ref[f"step{k}/loss"] = np.array(loss.item())
        loss.backward()
        for pname, t in model.named_tensors(True):
            ref[f"step{k}/grads/{pname}"] = t.grad.numpy().copy()
        opt.step()
    for trainable in (True, False):
        for pname, t in model.named_tensors(trainable):
            ref[f"final/{pname}"] = t.detach().numpy().copy()
    return ref, model.pool_tie_violations


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def check(path, tol, threads):
    """Checks one trace; prints PASS or FAIL lines, returns 0 or 1."""
    f = h5py.File(path, "r")
    config = text(f.attrs["config"])
    # The reference is PyTorch in float64. PyTorch in float32 measures how far
    # float32 itself can land from it: a tensor that is ill-conditioned in
    # float32 (e.g. the gradient of a conv bias feeding batch norm, which is
    # exactly zero in exact arithmetic) may differ by up to 10x that amount.
    ref64, violations = replay(f, config, torch.float64, threads)
    ref32, _ = replay(f, config, torch.float32, threads)

    failures, relaxed, worst = list(violations), [], 0.0
    for label, ref in ref64.items():
        ours = f[label][()]
        e = rel_err(ours, ref)
        noise = rel_err(ref32[label], ref)
        bound = max(tol, 10.0 * noise)
        if e > tol and e <= bound:
            relaxed.append(f"{label} ({e:.2g}; float32 PyTorch itself: {noise:.2g})")
        else:
            worst = max(worst, e)
        if not e <= bound:
            failures.append(f"{label}: relative error {e:.3g} > {bound:.3g} (float32 PyTorch: {noise:.3g})")

    label = f"{path} ({text(f.attrs['optimizer'])}, {int(f.attrs['steps'])} steps)"
    if failures:
        print(f"FAIL {label}")
        for line in failures[:20]:
            print("   ", line)
        return 1
    print(f"PASS {label}: {len(ref64)} tensors, worst relative error {worst:.3g} <= {tol:g}"
          + (f"; {len(relaxed)} ill-conditioned in float32 within 10x of PyTorch's own float32 error" if relaxed else ""))
    for r in relaxed[:6]:
        print("     ", r)
    return 0


def traces_of(args):
    """(path, label) of every trace asked for, in order."""
    out = [(t, None) for t in args.trace]
    if args.list:
        for line in open(args.list):
            if line.strip():
                path, _, label = line.rstrip("\n").partition("\t")
                out.append((path, label or None))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace", nargs="*")
    ap.add_argument("--list", help="a file of lines TRACE.h5<TAB>LABEL, checked after the positional traces")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    traces = traces_of(args)
    if not traces:
        ap.error("no trace given")
    status = 0
    for path, label in traces:
        if label:
            print(f"{label}: ", end="")
        try:
            status |= check(path, args.tol, args.threads)
        except Exception as e:  # one broken trace fails, the others are still checked
            print(f"FAIL {path}: {type(e).__name__}: {e}")
            status = 1
        sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
