#!/usr/bin/python3
"""Benchmark (never part of the product): the PyTorch side of bench_step.

Times full training steps of a model config with PyTorch (TorchModel, the
twin of the C model from tests/oracle/torch_model.py): forward in training
mode, BCE / softmax CE, backward, torch.optim.Adam; with --infer, inference
as a PyTorch user runs it: model.eval(), forward only under
torch.inference_mode(). FLOPs per example are 6 x forward MACs (--infer:
2 x), counted from the config exactly as auratag counts them (conv: output
elements x c_in x kh x kw; dense: in x out; nothing else), so the GFLOP/s
figures compare with bench_step's.

usage: /usr/bin/python3 tests/bench/torch_step.py CONFIG [--batch N] [--steps S]
           [--warmup W] [--threads T] [--impl NAME] [--label NAME] [--macs M] [--infer]
Run it with the Debian interpreter (/usr/bin/python3, torch 1.13) or .venv-bench's.
Ends with one machine-readable line:
    RESULT impl=pytorch model=... batch=... ms_per_step=... ... mode=train|infer
(with --infer the model label defaults to NAME-infer, fwd_ms is the whole
step and bwd_ms = update_ms = 0, as in bench_step).
"""
import argparse
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oracle"))
from torch_model import TorchModel, parse_ini  # noqa: E402


def forward_macs(model):
    """Forward MACs per example: each conv / dense layer's output elements
    times the fan-in of one output (weight[0].numel() = c_in*kh*kw or in)."""
    model.train(False)
    values = {"input": torch.zeros((1,) + model.input_shape)}
    macs = 0
    with torch.no_grad():
        for L in model.layers:
            out = model.apply_layer(L, [values[i] for i in L.inputs])
            values[L.name] = out
            if L.kind in ("conv", "conv1d", "dense"):
                macs += out.numel() * L.params["weight"][0].numel()
    model.train(True)
    return macs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    ap.add_argument("--impl", default="pytorch", help="name in the RESULT line (e.g. pytorch-tuned-malloc)")
    ap.add_argument("--label", help="model name in the RESULT line (default: the config's)")
    ap.add_argument("--macs", type=float, help="forward MACs per example (default: counted here)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--infer", action="store_true", help="inference: eval mode, forward only, torch.inference_mode()")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    with open(a.config) as f:
        text = f.read()
    name = dict(parse_ini(text)[0][1]).get("name", os.path.basename(a.config))
    # inference rows get their own model label so that the summary keeps them apart
    name = a.label or (name + "-infer" if a.infer else name)
    model = TorchModel(text)
    model.init_random(a.seed)
    macs = a.macs if a.macs else forward_macs(model)
    flop_factor = 2.0 if a.infer else 6.0
    flop_per_step = flop_factor * macs * a.batch
    opt = None if a.infer else torch.optim.Adam(model.parameters(), lr=1e-3)
    model.eval() if a.infer else model.train(True)

    g = torch.Generator().manual_seed(a.seed + 1)
    x = torch.randn((a.batch,) + model.input_shape, generator=g)
    if model.activation == "sigmoid":
        targets = (torch.rand((a.batch, model.output_shape[0]), generator=g) < 0.3).float()
    else:
        targets = torch.randint(0, model.output_shape[0], (a.batch,), generator=g)

    malloc_env = " ".join(f"{k}={os.environ[k]}" for k in ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_")
                          if k in os.environ) or "default allocator"
    what = "inference passes (eval, inference_mode, forward only)" if a.infer else "training steps"
    print(f"torch_step: {name} ({a.config}), batch {a.batch}, {a.warmup} warmup + {a.steps} timed {what}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {malloc_env}")
    print(f"  {macs * 1e-9:.4f} GMACs/example forward, {flop_per_step * 1e-9:.3f} GFLOP per step "
          f"({flop_factor:.0f} x MACs x batch)")

    fwd_t, bwd_t, upd_t, all_t = [], [], [], []
    for k in range(a.warmup + a.steps):
        tag = "warmup" if k < a.warmup else "step"
        if a.infer:
            t0 = time.perf_counter()
            with torch.inference_mode():
                logits = model.forward(x)
            t1 = time.perf_counter()
            del logits
            ms = [(t1 - t0) * 1e3, 0.0, 0.0, (t1 - t0) * 1e3]
            print(f"  {tag:<6} {k if k < a.warmup else k - a.warmup:2d}: {ms[3]:9.1f} ms  (forward, inference mode)",
                  flush=True)
        else:
            t0 = time.perf_counter()
            logits = model.forward(x)
            t1 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = model.loss(logits, targets)
            loss.backward()
            t2 = time.perf_counter()
            opt.step()
            t3 = time.perf_counter()
            del logits
            ms = [(t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t3 - t0) * 1e3]
            print(f"  {tag:<6} {k if k < a.warmup else k - a.warmup:2d}: {ms[3]:9.1f} ms  (forward {ms[0]:8.1f}, "
                  f"loss+backward {ms[1]:8.1f}, adam {ms[2]:6.1f})  loss {loss.item():.5f}", flush=True)
        if k >= a.warmup:
            for lst, v in zip((fwd_t, bwd_t, upd_t, all_t), ms):
                lst.append(v)

    med, best = statistics.median(all_t), min(all_t)
    fwd, bwd, upd = statistics.median(fwd_t), statistics.median(bwd_t), statistics.median(upd_t)
    sps = a.batch / (med * 1e-3)
    gflops = flop_per_step / (med * 1e-3) * 1e-9
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if a.infer:
        print(f"  median {med:.1f} ms/step (min {best:.1f}), forward only")
    else:
        print(f"  median {med:.1f} ms/step (min {best:.1f}): forward {fwd:.1f} ms, loss+backward {bwd:.1f} ms, "
              f"adam {upd:.1f} ms")
    print(f"  {sps:.2f} samples/s, {gflops:.1f} GFLOP/s (best step {flop_per_step / (best * 1e-3) * 1e-9:.1f}), "
          f"peak RSS {rss_mb:.0f} MB")
    print(f"RESULT impl={a.impl} model={name} batch={a.batch} threads={torch.get_num_threads()} steps={a.steps} "
          f"ms_per_step={med:.2f} ms_min={best:.2f} samples_per_s={sps:.4f} gflops={gflops:.3f} fwd_ms={fwd:.2f} "
          f"bwd_ms={bwd:.2f} update_ms={upd:.2f} macs_per_example={macs:.0f} peak_rss_mb={rss_mb:.0f} "
          f"mode={'infer' if a.infer else 'train'} torch={torch.__version__}")


if __name__ == "__main__":
    main()
