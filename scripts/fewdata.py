#!/usr/bin/python3
"""Learning from few examples with a pre-trained model (Pons' thesis: transfer
learning is the strongest strategy when few labelled examples exist).

For k = 1, 2, 5, 10, 20 training examples per class (per tag on multi-label
tasks: [data] per_class) and several draws of those examples
([data] fraction_seed), three ways to get a classifier, all run by
`auratag train` on the same examples with the same recipe otherwise:
  finetune  start from the published musicnn-msd model (its 50-tag head
            replaced by a new one: [train] init), every layer trained, the
            pre-trained ones at a tenth of the learning rate
            (lr_scale = input_bn..penultimate:0.1)
  probe     the same start, everything up to musicnn's `penultimate`
            embedding frozen (freeze = input_bn..penultimate): a linear
            classifier on the embedding, at lr 0.01
  scratch   musicnn from a seeded random initialisation, at lr 0.001
Each run: Adam, batch 8 (an epoch's last, incomplete batch left out), about
100 steps whatever k, batch-norm momentum 0.1 (configs/experiments/*_musicnn.ini).
Reported on the test split (tracks or clips never trained on): balanced
accuracy (single-label) or macro ROC-AUC (multi-label), mean and standard
deviation over the draws; a table, ROOT/results.csv and ROOT/few_data.png.

Tasks:
  soundtracks  which of 4 soundtracks a 3 s excerpt of real recorded music
               comes from (Debian packages; scripts/recipes/soundtracks.py)
  demo         the demo set's 10 instrument / drums / tempo tags, its clips
               through musicnn's front end (configs/datasets/demo_musicnn.ini)
Data, caches and models are made when missing (the demo set rendered by
`auratag demo-data`, the models fetched by scripts/fetch-musicnn.sh). Runs
whose results.json exists are not run again.

Usage:
  scripts/few_data.py [--task soundtracks|demo] [--k 1,2,5,10,20] [--seeds 1,2,3]
                      [--methods finetune,probe,scratch] [--root checkpoints/few_data/TASK]
Standard library; the plot needs matplotlib (Debian: python3-matplotlib).
"""
import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AURATAG = os.environ.get("AURATAG", os.path.join(ROOT, "build", "auratag"))
PRETRAINED = os.path.join(ROOT, "models", "musicnn-msd.h5")

TASKS = {
    "soundtracks": {
        "experiment": "configs/experiments/soundtracks_musicnn.ini",
        "dataset": "configs/datasets/soundtracks.ini",
        "data": "data/soundtracks",
        "classes": 4,
        "metric": ("balanced_accuracy", "balanced accuracy"),
    },
    "demo": {
        "experiment": "configs/experiments/demo_musicnn.ini",
        "dataset": "configs/datasets/demo_musicnn.ini",
        "data": "data/demo",
        "classes": 10,
        "metric": ("macro_roc_auc", "macro ROC-AUC"),
    },
}
# The experiment configs train at lr 0.001 (from scratch: better there than
# 0.01); the new head of both transfer methods learns at 0.01, and
# fine-tuning trains the pre-trained layers at 0.001 (docs/transfer.md has
# the runs that chose these).
METHODS = {
    "finetune": ["--set", "train.init=" + PRETRAINED, "--set", "train.lr=0.01",
                 "--set", "train.lr_scale=input_bn..penultimate:0.1"],
    "probe": ["--set", "train.init=" + PRETRAINED, "--set", "train.freeze=input_bn..penultimate",
              "--set", "train.lr=0.01"],
    "scratch": [],
}
STEPS = 100  # optimizer steps per run, whatever k: small k gets more epochs


def fail(msg):
    sys.stderr.write("few_data.py: error: %s\n" % msg)
    sys.exit(1)


def run(cmd, **kw):
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, **kw)


def prepare(task_name, task):
    """Audio, caches and the pre-trained model, when missing."""
    data = os.path.join(ROOT, task["data"])
    cache = os.path.join(data, "cache-musicnn" if task_name == "demo" else "cache")
    if not os.path.exists(os.path.join(cache, "test.h5")):
        if task_name == "soundtracks":
            run([sys.executable, "scripts/recipes/soundtracks.py", data])
            files = os.path.join(data, "files.csv")
        else:
            files = quiet_demo(data)
        run([AURATAG, "prep", task["dataset"], "--list", files, "--out", cache])
    if not os.path.exists(PRETRAINED):
        run(["bash", "scripts/fetch-musicnn.sh"], env=dict(os.environ, AURATAG=AURATAG))


def quiet_demo(data):
    """The demo clips with their peak at -20 dBFS, as the soundtracks recipe
    does: musicnn's float16 front end overflows on the rendered level
    (configs/datasets/musicnn.ini). Returns the FILES.csv of the copies."""
    if not os.path.exists(os.path.join(data, "files.csv")):
        run([AURATAG, "demo-data", data])
    out = os.path.join(data, "quiet")
    files = os.path.join(out, "files.csv")
    if os.path.exists(files):
        return files
    with open(os.path.join(data, "files.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        dst = os.path.join(out, row["path"])
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        subprocess.run(["sox", "-q", os.path.join(data, row["path"]), dst, "norm", "-20"], check=True)
    with open(files + ".tmp", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    os.replace(files + ".tmp", files)
    return files


def epochs_for(k, task, batch=8):
    batches = max(1, k * task["classes"] // batch)  # drop_last = true
    return max(5, math.ceil(STEPS / batches))


def score(results_path, task):
    test = json.load(open(results_path))["test"]["clip"]
    return test[task["metric"][0]]


def one_run(root, task, method, k, seed):
    name = "%s-k%d-s%d" % (method, k, seed)
    results = os.path.join(root, name, "results.json")
    if not os.path.exists(results):
        cmd = [AURATAG, "train", task["experiment"], "--set", "train.root=" + root, "--set", "train.run=" + name,
               "--set", "data.per_class=%d" % k, "--set", "data.fraction_seed=%d" % seed,
               "--set", "train.epochs=%d" % epochs_for(k, task)] + METHODS[method]
        log = os.path.join(root, name + ".txt")
        os.makedirs(root, exist_ok=True)
        with open(log, "w") as out:
            print("+ " + " ".join(cmd) + "  > " + log, flush=True)
            if subprocess.run(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                fail("%s failed; see %s" % (name, log))
    return score(results, task)


def table(task, rows, ks, methods):
    label = task["metric"][1]
    print("\ntest %s, mean +- standard deviation over %d draw(s) of the training examples" %
          (label, len(next(iter(rows.values())))))
    print("%-10s" % "k/class" + "".join("%18s" % m for m in methods))
    for k in ks:
        cells = []
        for m in methods:
            v = rows[(m, k)]
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            cells.append("%18s" % ("%.3f +- %.3f" % (statistics.mean(v), sd)))
        print("%-10d" % k + "".join(cells))


def plot(root, task_name, task, rows, ks, methods):
    png = os.path.join(root, "few_data.png")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot: not drawn: matplotlib is not installed for %s (Debian: python3-matplotlib)" % sys.executable)
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for m in methods:
        means = [statistics.mean(rows[(m, k)]) for k in ks]
        sds = [statistics.stdev(rows[(m, k)]) if len(rows[(m, k)]) > 1 else 0 for k in ks]
        ax.errorbar(ks, means, yerr=sds, marker="o", capsize=3, label=m)
    ax.set_xscale("log")
    ax.set_xticks(ks)
    ax.set_xticklabels([str(k) for k in ks])
    ax.set_xlabel("training examples per class")
    ax.set_ylabel("test " + task["metric"][1])
    ax.set_title("musicnn on %s: fine-tuning, linear probe, from scratch" % task_name)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    print("plot: %s" % png)


def main():
    ap = argparse.ArgumentParser(description="few-data learning: fine-tuning vs linear probe vs from scratch")
    ap.add_argument("--task", choices=sorted(TASKS), default="soundtracks")
    ap.add_argument("--k", default="1,2,5,10,20", help="examples per class (default 1,2,5,10,20)")
    ap.add_argument("--seeds", default="1,2,3", help="draws of the training examples (default 1,2,3)")
    ap.add_argument("--methods", default="finetune,probe,scratch")
    ap.add_argument("--root", help="where the runs go (default checkpoints/few_data/TASK)")
    args = ap.parse_args()
    task = TASKS[args.task]
    ks = [int(k) for k in args.k.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    for m in methods:
        if m not in METHODS:
            fail("unknown method '%s' (finetune, probe, scratch)" % m)
    if not os.access(AURATAG, os.X_OK):
        fail("%s is missing: run make first (or set AURATAG)" % AURATAG)
    root = os.path.abspath(args.root or os.path.join(ROOT, "checkpoints", "few_data", args.task))
    prepare(args.task, task)
    rows = {}
    for k in ks:
        for m in methods:
            rows[(m, k)] = [one_run(root, task, m, k, s) for s in seeds]
    with open(os.path.join(root, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["task", "method", "k", "seed", task["metric"][0]])
        for (m, k), values in rows.items():
            for s, v in zip(seeds, values):
                w.writerow([args.task, m, k, s, "%.6f" % v])
    table(task, rows, ks, methods)
    print("results: %s" % os.path.join(root, "results.csv"))
    plot(root, args.task, task, rows, ks, methods)


if __name__ == "__main__":
    main()
