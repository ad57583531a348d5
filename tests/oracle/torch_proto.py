#!/usr/bin/python3
"""auratag's prototypical-network episode loss (host/train/prototypical.c, run
through tests/oracle/proto_dump) against the same loss written independently in
PyTorch with autograd in float64:

    prototypes = the mean of each way's support rows,
    d[q, v]    = sum_j (query_q,j - prototype_v,j)^2   (explicit, not cdist:
                 cdist switches to a less accurate matrix product for large sizes),
    loss       = F.cross_entropy(-d, way of q)          (mean over the queries),
    accuracy   = mean(argmax_v -d[q, v] == way of q),
    gradient   = d loss / d every row (supports through the prototypes).

Episodes: random shapes (ways 2..12, shots 1..6, queries 1..6, dim 1..64) at
three scales (well separated ways; overlapping ways; a saturated softmax, with
wrong queries far from every prototype), one-dimensional ones, a large one
(ways 20, shots 5, queries 15, dim 128), two ways with the same supports, and
every embedding equal (loss log(ways), zero gradient, accuracy 1/ways: the
first of tied ways wins on both sides).

Tolerances. Both sides read the same float32 embeddings and compute in double,
so only double rounding separates the losses: ~1e-16 relative to the logits'
size, which reach ~1e3 here; the loss must agree within 1e-9 relative plus
1e-13 x (1 + the largest |logit|) absolute (four orders above that noise, far
below what single precision anywhere in the computation would cause: float32
rounding of a prototype alone moves the loss by ~1e-8 relative). auratag's
gradient is float32: the support rows are one rounding of a double (6e-8
relative), a query row is a float32 sum over the ways of terms
2 (p_v - [v = w]) (x - c_v) / Q that cancel when a query is far from every
prototype, so its error is up to ~ways x 6e-8 x the largest term. An entry must
agree within 1e-5 relative plus 1e-5 x (the largest such term of its episode)
absolute, plus 1e-37 (a solved episode's gradient, ~1e-45 .. 1e-60, lies below
float32's smallest normal number, 1.2e-38, where it has no relative precision
and may underflow to 0): ~100x above float32 rounding, and a wrong gradient (a
missing support path, a factor of shots or of 2) is off by O(1).
The accuracy must be equal exactly.

Prints one line per episode; exit status 1 on any mismatch. The driver is
$AURATAG_BUILD/tests/oracle/proto_dump (AURATAG_BUILD defaults to "build",
relative to the repository root)."""
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("AURATAG_BUILD", "build")
DRIVER = os.path.join(BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD), "tests", "oracle", "proto_dump")

LOSS_RTOL, LOGIT_ATOL = 1e-9, 1e-13
GRAD_RTOL, GRAD_TERM_ATOL, GRAD_ATOL = 1e-5, 1e-5, 1e-37

rng = np.random.default_rng(20250301)


# ---------------------------------------------------------------- episodes

def episode(ways, shots, queries, dim, spread, noise):
    """Rows class-major: way w's centre (spread) plus per-row noise, float32."""
    centres = rng.normal(size=(ways, 1, dim)) * spread
    rows = centres + rng.normal(size=(ways, shots + queries, dim)) * noise
    return rows.reshape(ways * (shots + queries), dim).astype(np.float32)


def cases():
    out = []
    for i in range(60):
        ways, shots, queries = int(rng.integers(2, 13)), int(rng.integers(1, 7)), int(rng.integers(1, 7))
        dim = int(rng.choice([1, 2, 3, 5, 8, 16, 33, 64]))
        kind = ("separated", "overlapping", "saturated")[i % 3]
        spread, noise = {"separated": (1.0, 0.3), "overlapping": (0.3, 0.5), "saturated": (2.0, 3.0)}[kind]
        out.append((kind, ways, shots, queries, dim, episode(ways, shots, queries, dim, spread, noise)))
    for ways in (2, 5):
        out.append(("one-dimensional", ways, 3, 2, 1, episode(ways, 3, 2, 1, 1.0, 0.7)))
    out.append(("large", 20, 5, 15, 128, episode(20, 5, 15, 128, 0.2, 0.5)))
    e = episode(4, 3, 2, 6, 1.0, 0.5)
    e[5:8] = e[10:13]  # ways 1 and 2 (rows 5.. and 10.., 5 per way): the same support rows
    out.append(("two ways with the same supports", 4, 3, 2, 6, e))
    for ways, shots, queries, dim in ((2, 1, 1, 1), (6, 2, 3, 7)):
        same = np.tile(rng.normal(size=(1, dim)).astype(np.float32), (ways * (shots + queries), 1))
        out.append(("every embedding equal", ways, shots, queries, dim, same))
    return out


# ---------------------------------------------------------------- PyTorch

def torch_episode(emb, ways, shots, queries):
    dim = emb.shape[1]
    x = torch.tensor(emb.astype(np.float64), requires_grad=True)
    e = x.view(ways, shots + queries, dim)
    protos = e[:, :shots, :].mean(dim=1)                        # [ways, dim]
    q = e[:, shots:, :].reshape(ways * queries, dim)            # [Q, dim]
    diff = q[:, None, :] - protos[None, :, :]                   # [Q, ways, dim]
    d = (diff * diff).sum(dim=2)                                # [Q, ways]
    target = torch.arange(ways).repeat_interleave(queries)
    loss = F.cross_entropy(-d, target)
    loss.backward()
    with torch.no_grad():
        accuracy = ((-d).argmax(dim=1) == target).double().mean().item()
        # the largest term of auratag's float32 sum for a query row (see the tolerances)
        p = torch.softmax(-d, dim=1) - F.one_hot(target, ways).double()
        terms = (2 * p[:, :, None] * diff / (ways * queries)).abs()
        largest_term = max(terms.max().item(), x.grad.abs().max().item())
    return loss.item(), accuracy, x.grad.numpy(), d.abs().max().item(), largest_term


# ---------------------------------------------------------------- auratag

def run_driver(all_cases):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "episodes.bin")
        with open(path, "wb") as f:
            for _, ways, shots, queries, dim, emb in all_cases:
                f.write(struct.pack("<4i", ways, shots, queries, dim))
                f.write(np.ascontiguousarray(emb, dtype="<f4").tobytes())
        r = subprocess.run([DRIVER, path], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("proto_dump failed (status %d): %s" % (r.returncode, r.stderr.strip()))
    lines = r.stdout.splitlines()
    results = []
    for k in range(0, len(lines), 3):
        head, lossline, gradline = lines[k].split(), lines[k + 1].split(), lines[k + 2].split()
        assert head[0] == "episode" and lossline[0] == "loss" and lossline[2] == "accuracy" and gradline[0] == "grad"
        results.append((float(lossline[1]), float(lossline[3]), np.array([float(v) for v in gradline[1:]])))
    return results


def main():
    if not os.access(DRIVER, os.X_OK):
        sys.exit("no %s (make %s)" % (DRIVER, os.path.relpath(DRIVER, ROOT)))
    torch.set_num_threads(1)
    all_cases = cases()
    got = run_driver(all_cases)
    if len(got) != len(all_cases):
        sys.exit("proto_dump answered %d episodes of %d" % (len(got), len(all_cases)))
    failures = 0
    worst_loss = worst_grad = 0.0
    for (kind, ways, shots, queries, dim, emb), (c_loss, c_acc, c_grad) in zip(all_cases, got):
        t_loss, t_acc, t_grad, max_logit, largest_term = torch_episode(emb, ways, shots, queries)
        t_grad = t_grad.reshape(-1)
        loss_tol = LOSS_RTOL * abs(t_loss) + LOGIT_ATOL * (1 + max_logit)
        loss_err = abs(c_loss - t_loss) / loss_tol
        grad_tol = GRAD_RTOL * np.abs(t_grad) + GRAD_TERM_ATOL * largest_term + GRAD_ATOL
        if c_grad.size != t_grad.size:
            grad_err = math.inf
        else:
            grad_err = float(np.max(np.abs(c_grad - t_grad) / grad_tol))
        ok = loss_err <= 1 and grad_err <= 1 and c_acc == t_acc
        if kind == "every embedding equal":
            ok = ok and abs(c_loss - math.log(ways)) <= 1e-15 and not np.any(c_grad) and c_acc == 1.0 / ways
        worst_loss, worst_grad = max(worst_loss, loss_err), max(worst_grad, grad_err)
        failures += not ok
        print("%s %-32s ways %2d shots %d queries %2d dim %3d: loss %.12g (torch %.12g, err/tol %.2g), "
              "accuracy %.4g (torch %.4g), gradient err/tol %.2g"
              % ("PASS" if ok else "FAIL", kind, ways, shots, queries, dim, c_loss, t_loss, loss_err, c_acc, t_acc,
                 grad_err))
    print("%d episodes, %d failed; worst error / tolerance: loss %.3g, gradient %.3g"
          % (len(all_cases), failures, worst_loss, worst_grad))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
