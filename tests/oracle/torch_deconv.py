"""Redoes auratag's deconvnet (tests/oracle/deconv_dump.c) in PyTorch, float64:
forward with F.conv2d / relu / batch_norm (eval) / max_pool2d(return_indices),
keep feature k of the target layer (or its top-n activations), then back
down with F.max_unpool2d, F.relu and F.conv_transpose2d (the layer's own
weights, no bias; padding removed by cropping), batch norm and dropout
skipped. Checks that auratag's switches select window maxima (ties may
break either way in float32 vs float64, so auratag's are replayed), then
compares the deconvolved map: max |diff| / max |ref| <= 1e-4.

usage: torch_deconv.py DUMP.h5... [--list FILE]
Several dumps are checked in one process (PyTorch starts once): the
positional ones, then those of --list FILE (lines DUMP.h5<TAB>LABEL, the
label printed before the dump's result).
"""
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, __import__("os").path.dirname(__file__))
from torch_model import TorchModel  # noqa: E402


def check(path):
    """Checks one dump; prints a PASS or FAIL line, returns 0 or 1."""
    f = h5py.File(path, "r")
    text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
    config, target = text(f.attrs["config"]), text(f.attrs["target"])
    k, top_n = int(f.attrs["feature"]), int(f.attrs["top_n"])
    model = TorchModel(config, dtype=torch.float64)
    model.load_from(lambda name: np.asarray(f["initial/" + name]))
    model.train(False)
    switches = {name: np.asarray(f["switches/" + name]) for name in f.get("switches", {})}
    model.pool_switches = switches
    layers = {L.name: L for L in model.layers}

    # forward to the target, keeping every value
    x = torch.tensor(np.asarray(f["input"]), dtype=torch.float64)
    values = {"input": x}
    problems = []
    with torch.no_grad():
        for L in model.layers:
            values[L.name] = model.apply_layer(L, [values[i] for i in L.inputs])
            if L.kind == "maxpool":
                kh, kw, sh, sw = L.geom
                ref, _ = F.max_pool2d(values[L.inputs[0]], (kh, kw), (sh, sw), return_indices=True)
                gap = (ref - values[L.name]).abs().max().item()
                if gap > 1e-5 * max(ref.abs().max().item(), 1e-30):
                    problems.append(f"{L.name}: a switch picks a value {gap:.3g} below the window maximum")
            if L.name == target:
                break
        t_ref = values[target]
        t_ours = torch.tensor(np.asarray(f["target"]), dtype=torch.float64)
        t_err = (t_ours - t_ref).abs().max().item() / max(t_ref.abs().max().item(), 1e-30)

        # keep feature k (its top-n activations)
        sig = torch.zeros_like(t_ref)
        sig[:, k] = t_ref[:, k]
        if top_n > 0:
            flat = sig[0, k].flatten()
            # the same choice as auratag: largest first, ties in raster order
            order = sorted(range(flat.numel()), key=lambda i: (-flat[i].item(), i))
            keep = torch.zeros_like(flat, dtype=torch.bool)
            keep[order[:top_n]] = True
            sig[0, k] = torch.where(keep, flat, torch.zeros_like(flat)).reshape(sig[0, k].shape)

        # back down the chain
        name = target
        while name != "input":
            L = layers[name]
            src = L.inputs[0]
            in_shape = values[src].shape
            if L.kind == "maxpool":
                kh, kw, sh, sw = L.geom
                idx = torch.as_tensor(switches[L.name]).long()
                sig = F.max_unpool2d(sig, idx, (kh, kw), (sh, sw), output_size=in_shape[2:])
            elif L.kind in ("relu", "elu"):
                sig = F.relu(sig)
            elif L.kind == "conv":
                kh, kw, sh, sw, pt, pb, pl, pr, one_d = L.geom
                assert not one_d
                full = F.conv_transpose2d(sig, L.params["weight"].detach(), stride=(sh, sw))
                hp, wp = in_shape[2] + pt + pb, in_shape[3] + pl + pr
                full = F.pad(full, (0, wp - full.shape[3], 0, hp - full.shape[2]))
                sig = full[:, :, pt:pt + in_shape[2], pl:pl + in_shape[3]]
            elif L.kind in ("batchnorm", "dropout"):
                pass
            else:
                raise SystemExit(f"unexpected layer {L.name} ({L.kind}) below the target")
            name = src
    ours = torch.tensor(np.asarray(f["deconv"]), dtype=torch.float64)
    scale = max(sig.abs().max().item(), 1e-30)
    err = (ours - sig).abs().max().item() / scale
    ok = err <= 1e-4 and t_err <= 1e-4 and not problems and sig.abs().max().item() > 0
    print(f"{'PASS' if ok else 'FAIL'} deconvnet to {target}, feature {k}" + (f", top {top_n}" if top_n else "") +
          f": map rel err {err:.2e}, target rel err {t_err:.2e}, map max {scale:.3g}" +
          ("".join("; " + p for p in problems)))
    return 0 if ok else 1


def main():
    args = sys.argv[1:]
    dumps = []
    while args:
        a = args.pop(0)
        if a == "--list":
            for line in open(args.pop(0)):
                if line.strip():
                    path, _, label = line.rstrip("\n").partition("\t")
                    dumps.append((path, label or None))
        else:
            dumps.append((a, None))
    if not dumps:
        sys.exit(__doc__)
    status = 0
    for path, label in dumps:
        if label:
            print(f"{label}: ", end="")
        try:
            status |= check(path)
        except (Exception, SystemExit) as e:  # one broken dump fails, the others are still checked
            print(f"FAIL {path}: {type(e).__name__}: {e}")
            status = 1
        sys.stdout.flush()
    sys.exit(status)


if __name__ == "__main__":
    main()
