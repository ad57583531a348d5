#!/usr/bin/python3
"""Learning from few examples: transfer learning and prototypical networks
(Pons' thesis; Pons et al., "Training neural audio classifiers with few
data", ICASSP 2019).

    scripts/fewdata.py [--task soundtracks|demo-tempo|demo-tags] [--k 1,2,5,10,20] [--seeds 1,2,3]
                       [--strategies scratch,scratch-proto,probe,finetune,proto-finetune]
                       [--root checkpoints/fewdata/TASK] [--dry-run]
    scripts/fewdata.py ... --slurm [--dry-run] [--submit] [--partition P] [--time T] [--cpus N] ...
    scripts/fewdata.py ... --run-index I      # just run I (what an array task runs)
    scripts/fewdata.py ... --collect          # table, CSVs and plot of what is done; runs nothing

For k = 1, 2, 5, 10, 20 training examples per class ([data] per_class) and
several draws of those examples ([data] fraction_seed), five ways to get a
classifier of musicnn, all run by `auratag train` on the same examples with
the same recipe otherwise:
  scratch         musicnn from a seeded random initialisation, lr 0.001
  scratch-proto   the same initialisation, trained as a prototypical network
                  (Snell et al. 2017; [train] mode = prototypical) on the
                  `penultimate` embedding, lr 0.001
  probe           start from the published musicnn-msd model, everything up to
                  its `penultimate` embedding frozen (freeze =
                  input_bn..penultimate): a linear classifier, lr 0.01
  finetune        start from musicnn-msd (its 50-tag head replaced by a new
                  one: [train] init), every layer trained, the new head at lr
                  0.01, the pre-trained layers at 0.001 (lr_scale =
                  input_bn..penultimate:0.1)
  proto-finetune  start from musicnn-msd, trained as a prototypical network,
                  lr 0.001 for every layer
Each run takes STEPS = 60 optimizer steps whatever k (Adam; batch-norm
momentum 0.1, configs/experiments/*_musicnn.ini; the epoch of lowest training
loss is kept, select = loss). The classifiers train on batches of 8 (an
epoch's last, incomplete batch left out), for ceil(60 / batches per epoch)
epochs. The prototypical networks train on episodes of every class of the
task (n_way = classes) x (k_shot + n_query) examples, n_query = max(1, k //
2), k_shot = k - n_query: each episode is all k x classes training examples,
split afresh into support and queries; 10 epochs of 6 episodes. Their test
score is by prototypes: each class's mean embedding over its k training
examples, the nearest one wins.

k = 1: no episode can be formed (it needs a support and a query per class),
so at k = 1 the two prototypical strategies train nothing: they are `auratag
eval WEIGHTS TEST.h5 --support TRAIN.h5 --k-shot 1 --draws 1 --seed SEED`,
prototypes of one example per class (drawn by the eval's seed, not by
per_class) on the untrained embedding: scratch-proto on a seeded
initialisation (`auratag init EXPERIMENT --seed 1`, the one scratch and
scratch-proto training start from, train.seed = 1), proto-finetune on
musicnn-msd's pre-trained embedding as published.

Metric: balanced accuracy (single-label tasks) or macro ROC-AUC
(multi-label) on the test split (tracks or clips never trained on); mean and
standard deviation over the draws.

Tasks:
  soundtracks  which of 4 soundtracks a 3 s excerpt of real recorded music
               comes from (Debian packages; scripts/recipes/soundtracks.py)
  demo-tempo   the demo set's tempo, slow / medium / fast (exactly one per
               clip), its clips through musicnn's front end
               (configs/datasets/demo_tempo_musicnn.ini): 3 classes
  demo-tags    the demo set's 10 instrument / drums / tempo tags, multi-label
               (configs/datasets/demo_tags_musicnn.ini): scratch, probe and
               finetune only (prototypical networks need one class per example)
Data, caches and models are made when missing (the demo set rendered by
`auratag demo-data`, its clips copied at -20 dBFS peak into data/demo/quiet,
whose files-tempo.csv keeps only the tempo tag; the models fetched by
scripts/fetch-musicnn.sh).

Runs are numbered from 0 over the grid k x strategy x seed (k-major, in the
order given: run I = k I // (strategies x seeds), ...). Run NAME =
STRATEGY-kK-sSEED goes to ROOT/NAME, its output to ROOT/NAME.log. A run
whose result exists (ROOT/NAME/results.json, or ROOT/NAME/eval.json at k = 1
for the prototypical strategies) is not run again; one that stopped before
its result is moved aside (ROOT/NAME.aborted) and run afresh. A run that
fails is named with its log and the others go on; the exit status is then 1.

Output in ROOT: results.csv (task, strategy, k, seed, the metric,
wall_s, run: one row per finished run), summary.csv (task, strategy, k,
draws, mean, std), a printed table of mean +- std, and fewdata.png (the five
strategies against k; hollow markers: the k = 1 prototypes without
training). The plot needs matplotlib (Debian: python3-matplotlib).
report.html: `auratag report` of every finished training run, the plot first
(docs/report.md).

--slurm writes ROOT/fewdata.sbatch (a job array, one task per run, each
running this script with the same grid and --run-index $SLURM_ARRAY_TASK_ID)
and ROOT/collect.sbatch (--collect, after the array), prints the command
that submits both and submits nothing unless --submit; --dry-run also lists
the tasks. It makes the data and models first (the array tasks must not race
to make them). Without --slurm, --dry-run prints each run's state and
command.

AURATAG names the auratag binary (default build/auratag). Standard library.
Exit status: 0 every selected run done, 1 a run failed (--collect: a run has
no result), 2 a bad command line.
"""
import argparse
import csv
import fcntl
import json
import math
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

from sweep import ranges  # the Slurm --array list, as sweep.py writes it (scripts/ is on sys.path)

PROG = "fewdata.py"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AURATAG = os.environ.get("AURATAG", os.path.join(ROOT, "build", "auratag"))
PRETRAINED = os.path.join(ROOT, "models", "musicnn-msd.h5")

TASKS = {
    "soundtracks": {
        "experiment": "configs/experiments/soundtracks_musicnn.ini",
        "dataset": "configs/datasets/soundtracks.ini",
        "data": "data/soundtracks",
        "cache": "data/soundtracks/cache",
        "classes": 4,
        "metric": ("balanced_accuracy", "balanced accuracy"),
    },
    "demo-tempo": {
        "experiment": "configs/experiments/demo_tempo_musicnn.ini",
        "dataset": "configs/datasets/demo_tempo_musicnn.ini",
        "data": "data/demo",
        "cache": "data/demo/cache-musicnn-tempo",
        "classes": 3,
        "metric": ("balanced_accuracy", "balanced accuracy"),
    },
    "demo-tags": {  # multi-label: the classifier strategies only
        "experiment": "configs/experiments/demo_tags_musicnn.ini",
        "dataset": "configs/datasets/demo_tags_musicnn.ini",
        "data": "data/demo",
        "cache": "data/demo/cache-musicnn-tags",
        "classes": 10,
        "metric": ("macro_roc_auc", "macro ROC-AUC"),
        "multi_label": True,
    },
}
TEMPO = ("slow", "medium", "fast")
STRATEGIES = ["scratch", "scratch-proto", "probe", "finetune", "proto-finetune"]
PROTO = ("scratch-proto", "proto-finetune")
# The experiment configs train at lr 0.001 (from scratch: better there than
# 0.01); the new head of both transfer classifiers learns at 0.01, and
# fine-tuning trains the pre-trained layers at 0.001 (docs/transfer.md has
# the runs that chose these). The prototypical networks have no head to
# learn: lr 0.001 everywhere.
SETS = {
    "scratch": [],
    "scratch-proto": [],
    "probe": ["train.init=" + PRETRAINED, "train.freeze=input_bn..penultimate", "train.lr=0.01"],
    "finetune": ["train.init=" + PRETRAINED, "train.lr=0.01", "train.lr_scale=input_bn..penultimate:0.1"],
    "proto-finetune": ["train.init=" + PRETRAINED],
}
STEPS = 60         # optimizer steps per run, whatever k: small k gets more epochs
BATCH = 8          # the classifiers' batch (the experiment configs' train.batch)
PROTO_EPOCHS = 10  # prototypical runs: PROTO_EPOCHS epochs of STEPS / PROTO_EPOCHS episodes
INIT_SEED = 1      # train.seed: the initialisation scratch and scratch-proto start from


def die(msg, status=2):
    sys.stderr.write("%s: %s\n" % (PROG, msg))
    sys.exit(status)


def say(msg):
    print(msg, flush=True)


def rel(path):
    r = os.path.relpath(path)
    return r if not r.startswith("../..") else path


# ---- data and models ----

def run(cmd, **kw):
    say("+ " + " ".join(shlex.quote(c) for c in cmd))
    subprocess.run(cmd, check=True, cwd=ROOT, **kw)


def prepare(task_name, task):
    """Audio, caches and the pre-trained model, when missing."""
    data = os.path.join(ROOT, task["data"])
    cache = os.path.join(ROOT, task["cache"])
    if not os.path.exists(os.path.join(cache, "test.h5")):
        if task_name == "soundtracks":
            run([sys.executable, "scripts/recipes/soundtracks.py", data])
            files = os.path.join(data, "files.csv")
        elif task_name == "demo-tempo":
            files = tempo_list(quiet_demo(data))
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


def tempo_list(files):
    """files-tempo.csv beside FILES.csv: the same clips, tags = the tempo
    class only (a single-label file list: one class name per file)."""
    out = os.path.join(os.path.dirname(files), "files-tempo.csv")
    if os.path.exists(out):
        return out
    with open(files, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(out + ".tmp", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "split", "tags"])
        for row in rows:
            tempo = [t for t in row["tags"].split(";") if t in TEMPO]
            if len(tempo) != 1:
                die("%s: %s has %d tempo tags (%s), not one" % (files, row["path"], len(tempo), row["tags"]), 1)
            w.writerow([row["path"], row["split"], tempo[0]])
    os.replace(out + ".tmp", out)
    return out


# ---- the runs ----

class Run:
    def __init__(self, index, root, task_name, strategy, k, seed):
        self.index, self.task_name, self.strategy, self.k, self.seed = index, task_name, strategy, k, seed
        self.metric = TASKS[task_name]["metric"][0]
        self.name = "%s-k%d-s%d" % (strategy, k, seed)
        self.dir = os.path.join(root, self.name)
        self.log = os.path.join(root, self.name + ".log")
        self.untrained = strategy in PROTO and k == 1  # prototypes on the untrained embedding
        self.result = os.path.join(self.dir, "eval.json" if self.untrained else "results.json")
        self.timing = os.path.join(self.dir, "fewdata.json")

    def score(self):
        try:
            with open(self.result) as f:
                j = json.load(f)
            v = j["balanced_accuracy_mean"] if self.untrained else j["test"]["clip"][self.metric]
            return float(v)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def wall(self):
        try:
            with open(self.timing) as f:
                return float(json.load(f)["wall_s"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def state(self):
        if self.score() is not None:
            return "done"
        if os.path.isdir(self.dir) and os.listdir(self.dir):
            return "restart"
        return "run"


def grid(root, task_name, ks, strategies, seeds):
    runs = []
    for k in ks:
        for s in strategies:
            for seed in seeds:
                runs.append(Run(len(runs), root, task_name, s, k, seed))
    return runs


def episode(task, k):
    """(n_way, k_shot, n_query) of strategy PROTO at k examples per class."""
    n_query = max(1, k // 2)
    return task["classes"], k - n_query, n_query


def classify_epochs(task, k):
    rows = k * task["classes"]
    batches = rows // BATCH if rows >= BATCH else 1  # drop_last, unless a single short batch
    return math.ceil(STEPS / batches)


def commands(task, r):
    """The commands of run r, in order."""
    exp = task["experiment"]
    cache = os.path.join(ROOT, task["cache"])
    if r.untrained:
        weights = PRETRAINED
        cmds = []
        if r.strategy == "scratch-proto":
            weights = os.path.join(r.dir, "init.h5")
            cmds.append([AURATAG, "init", exp, "-o", weights, "--seed", str(INIT_SEED)])
        cmds.append([AURATAG, "eval", weights, os.path.join(cache, "test.h5"), "--support",
                     os.path.join(cache, "train.h5"), "--k-shot", "1", "--draws", "1", "--seed", str(r.seed),
                     "--json", r.result + ".tmp"])
        return cmds
    sets = ["train.root=" + os.path.dirname(r.dir), "train.run=" + r.name, "data.per_class=%d" % r.k,
            "data.fraction_seed=%d" % r.seed] + SETS[r.strategy]
    if r.strategy in PROTO:
        n_way, k_shot, n_query = episode(task, r.k)
        sets += ["train.mode=prototypical", "train.n_way=%d" % n_way, "train.k_shot=%d" % k_shot,
                 "train.n_query=%d" % n_query, "train.batch=%d" % (n_way * (k_shot + n_query)),
                 "train.episodes=%d" % (STEPS // PROTO_EPOCHS), "train.epochs=%d" % PROTO_EPOCHS]
    else:
        sets += ["train.epochs=%d" % classify_epochs(task, r.k)]
    cmd = [AURATAG, "train", exp]
    for s in sets:
        cmd += ["--set", s]
    return [cmd]


def quote(cmd):
    return " ".join(shlex.quote(rel(c) if os.path.isabs(c) and c.startswith(ROOT) else c) for c in cmd)


def one_run(task, r, prefix=""):
    """Brings run r to done; returns an error message, or None."""
    tag = "%s%s" % (prefix, r.name)
    if r.state() == "done":
        say("%s: done earlier (%.4f), skipped" % (tag, r.score()))
        return None
    os.makedirs(os.path.dirname(r.dir), exist_ok=True)
    with open(r.log, "a", encoding="utf-8", errors="replace") as log:
        try:  # one process per run at a time (a local invocation beside a Slurm array)
            fcntl.flock(log.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return "%s is being run by another process (it holds %s); left to it" % (r.name, r.log)
        except OSError:
            pass
        state = r.state()
        if state == "done":
            say("%s: done meanwhile (%.4f), skipped" % (tag, r.score()))
            return None
        if state == "restart":
            aside, n = r.dir + ".aborted", 1
            while os.path.exists(aside):
                n += 1
                aside = "%s.aborted%d" % (r.dir, n)
            os.rename(r.dir, aside)
            log.write("== %s: %s had no result; moved to %s\n" % (PROG, r.dir, aside))
            say("%s: stopped before its result earlier; moved aside to %s" % (tag, rel(aside)))
        if r.untrained:
            os.makedirs(r.dir, exist_ok=True)
        say("%s: %s (log %s)" % (tag, "prototypes, no training" if r.untrained else "training", rel(r.log)))
        t0 = time.monotonic()
        for cmd in commands(task, r):
            log.write("== %s\n" % quote(cmd))
            log.flush()
            status = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT).returncode
            if status != 0:
                log.flush()
                return "%s failed: %s exited with status %d: %s; log %s" % (
                    r.name, os.path.basename(cmd[0]) + " " + cmd[1], status, last_words(r.log), r.log)
        if r.untrained:
            os.replace(r.result + ".tmp", r.result)
        wall = time.monotonic() - t0
        with open(r.timing, "w") as f:
            json.dump({"wall_s": round(wall, 1)}, f)
        v = r.score()
        if v is None:
            return "%s: no test %s in %s; log %s" % (r.name, r.metric, r.result, r.log)
        say("%s: test %s %.4f, %.0f s" % (tag, TASKS[r.task_name]["metric"][1], v, wall))
        return None


def last_words(log):
    try:
        with open(log, errors="replace") as f:
            lines = [ln.strip() for ln in f.read().splitlines() if ln.strip() and not ln.startswith("==")]
        return lines[-1][:300] if lines else "(empty log)"
    except OSError:
        return "(no log)"


# ---- results ----

def collect(root, task_name, task, runs, ks, strategies, seeds):
    """results.csv, summary.csv, the table and the plot of the finished runs;
    returns the runs without a result."""
    done = [r for r in runs if r.score() is not None]
    missing = [r for r in runs if r.score() is None]
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["task", "strategy", "k", "seed", task["metric"][0], "wall_s", "run"])
        for r in done:
            wall = r.wall()
            w.writerow([task_name, r.strategy, r.k, r.seed, "%.6f" % r.score(),
                        "" if wall is None else "%.1f" % wall, r.name])
    cells = {}
    for r in done:
        cells.setdefault((r.strategy, r.k), []).append(r.score())
    with open(os.path.join(root, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["task", "strategy", "k", "draws", "mean", "std"])
        for s in strategies:
            for k in ks:
                v = cells.get((s, k))
                if v:
                    w.writerow([task_name, s, k, len(v), "%.6f" % statistics.mean(v), "%.6f" % sd(v)])
    table(task_name, task, cells, ks, strategies, seeds)
    say("results: %s, %s" % (rel(os.path.join(root, "results.csv")), rel(os.path.join(root, "summary.csv"))))
    if done:
        plot(root, task_name, task, cells, ks, strategies)
        report(root, task_name, done)
    return missing


def report(root, task_name, done):
    """ROOT/report.html: `auratag report` of the finished training runs (the
    k = 1 prototype evaluations train nothing and have no run folder), the
    plot first. Failing to write it is said, not fatal."""
    dirs = [os.path.join(root, r.name) for r in done if os.path.exists(os.path.join(root, r.name, "results.json"))]
    if not dirs:
        return
    path = os.path.join(root, "report.html")
    cmd = [AURATAG, "--quiet", "report", *dirs, "--title", "few-data experiment: %s" % task_name, "-o", path]
    if os.path.exists(os.path.join(root, "fewdata.png")):
        cmd += ["--figure", os.path.join(root, "fewdata.png")]
    res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    say("report: %s" % rel(path) if res.returncode == 0 else "report: not written: %s" % res.stderr.strip())


def sd(v):
    return statistics.stdev(v) if len(v) > 1 else 0.0


def table(task_name, task, cells, ks, strategies, seeds):
    chance = "chance 0.5" if task.get("multi_label") else "chance %.3f" % (1.0 / task["classes"])
    say("\n%s: test %s (%d %s, %s), mean +- standard deviation over the draws "
        "of the training examples (seeds %s)" % (task_name, task["metric"][1], task["classes"],
                                                 "tags" if task.get("multi_label") else "classes", chance,
                                                 ",".join(str(s) for s in seeds)))
    w = 18
    say("%-8s" % "k/class" + "".join("%*s" % (w, s) for s in strategies))
    for k in ks:
        row = []
        for s in strategies:
            v = cells.get((s, k))
            text = "-" if not v else "%.3f +- %.3f%s" % (statistics.mean(v), sd(v), "*" if s in PROTO and k == 1 else "")
            if v and len(v) < len(seeds):
                text += "(%d)" % len(v)
            row.append("%*s" % (w, text))
        say("%-8d" % k + "".join(row))
    if any(s in PROTO for s in strategies) and 1 in ks:
        say("* k = 1: prototypes of one example per class on the untrained embedding (no episode can be formed)")


def plot(root, task_name, task, cells, ks, strategies):
    png = os.path.join(root, "fewdata.png")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("plot: not drawn: matplotlib is not installed for %s (Debian: python3-matplotlib)" % sys.executable)
        return
    style = {"scratch": ("C0", "o", "-"), "scratch-proto": ("C0", "s", "--"), "probe": ("C2", "^", "-"),
             "finetune": ("C1", "o", "-"), "proto-finetune": ("C1", "s", "--")}
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    for i, s in enumerate(strategies):
        have = [k for k in ks if cells.get((s, k))]
        if not have:
            continue
        color, marker, line = style.get(s, (None, "o", "-"))
        dodge = 1.04 ** (i - (len(strategies) - 1) / 2)  # side by side, so that the error bars can be told apart
        xs = [k * dodge for k in have]
        means = [statistics.mean(cells[(s, k)]) for k in have]
        sds = [sd(cells[(s, k)]) for k in have]
        ax.errorbar(xs, means, yerr=sds, marker=marker, linestyle=line, color=color, capsize=3, label=s)
        if s in PROTO and have[0] == 1:  # k = 1: no training; a hollow marker
            ax.plot([xs[0]], [means[0]], marker=marker, color="white", markeredgecolor=color, markersize=6,
                    linestyle="none", zorder=3)
    ax.axhline(0.5 if task.get("multi_label") else 1.0 / task["classes"], color="grey", linewidth=0.8, linestyle=":", label="chance")
    ax.set_xscale("log")
    ax.set_xticks(ks)
    ax.set_xticklabels([str(k) for k in ks])
    ax.minorticks_off()
    ax.set_xlabel("training examples per class (hollow: k = 1 prototypes, no training)")
    ax.set_ylabel("test " + task["metric"][1])
    ax.set_title("musicnn on %s: %d optimizer steps per run" % (task_name, STEPS))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = png + ".tmp.png"
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, png)
    say("plot: %s" % rel(png))


# ---- Slurm ----

def write_slurm(a, root, runs, grid_args):
    py = shlex.quote(sys.executable)
    script = shlex.quote(os.path.abspath(__file__))
    args = " ".join(shlex.quote(x) for x in grid_args)
    pending = [r.index for r in runs if r.state() != "done"] or [r.index for r in runs]
    array = ranges(pending) + ("%%%d" % a.max_parallel if a.max_parallel else "")
    head = []
    for opt, value in (("partition", a.partition), ("account", a.account), ("qos", a.qos), ("mem", a.mem)):
        if value:
            head.append("#SBATCH --%s=%s" % (opt, value))
    for extra in shlex.split(a.sbatch or ""):
        head.append("#SBATCH %s" % extra)
    common = ["cd %s" % shlex.quote(ROOT), "export AURATAG=%s" % shlex.quote(os.path.abspath(AURATAG)),
              "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1} OMP_WAIT_POLICY=passive"]
    if a.setup:
        common.append(a.setup)
    array_lines = [
        "#!/bin/bash",
        "# Written by scripts/fewdata.py --slurm: the few-data experiment on %s, one array task per run" % a.task,
        "# (task I = run I of the k x strategy x seed grid; `fewdata.py --dry-run` with the same options lists them).",
        "# Submit it again after a time limit or a failure: finished runs return at once.",
        "#SBATCH --job-name=fewdata-%s" % a.task,
        "#SBATCH --array=%s" % array,
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        "#SBATCH --cpus-per-task=%d" % a.cpus,
        "#SBATCH --time=%s" % a.time,
        "#SBATCH --output=%s/slurm-%%A_%%a.out" % root,
    ] + head + ["set -euo pipefail"] + common + [
        'exec %s %s %s --run-index "$SLURM_ARRAY_TASK_ID"' % (py, script, args)]
    collect_lines = [
        "#!/bin/bash",
        "# Written by scripts/fewdata.py --slurm: after the array job, results.csv, summary.csv,",
        "# the table and fewdata.png of every finished run.",
        "#SBATCH --job-name=fewdata-%s-collect" % a.task,
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --time=00:15:00",
        "#SBATCH --output=%s/slurm-collect-%%j.out" % root,
    ] + [h for h in head if not h.startswith("#SBATCH --mem")] + [
        "set -euo pipefail", "cd %s" % shlex.quote(ROOT), "exec %s %s %s --collect" % (py, script, args)]
    os.makedirs(root, exist_ok=True)
    paths = []
    for name, lines in (("fewdata.sbatch", array_lines), ("collect.sbatch", collect_lines)):
        path = os.path.join(root, name)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(path, 0o755)
        paths.append(path)
    submit = "jid=$(sbatch --parsable %s) && sbatch --dependency=afterany:${jid%%%%;*} %s" % (
        shlex.quote(paths[0]), shlex.quote(paths[1]))
    return paths, submit, len(pending)


# ---- main ----

def parse_args(argv):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    ap.add_argument("--task", choices=sorted(TASKS), default="soundtracks")
    ap.add_argument("--k", default="1,2,5,10,20", help="examples per class (default 1,2,5,10,20)")
    ap.add_argument("--seeds", default="1,2,3", help="draws of the training examples (default 1,2,3)")
    ap.add_argument("--strategies", default=",".join(STRATEGIES),
                    help="default: %s" % ",".join(STRATEGIES))
    ap.add_argument("--root", help="where the runs go (default checkpoints/fewdata/TASK)")
    ap.add_argument("--dry-run", action="store_true", help="print the runs' states and commands; run nothing")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--slurm", action="store_true", help="write ROOT/fewdata.sbatch (a job array, a task per "
                      "run) and ROOT/collect.sbatch; print the command that submits them")
    mode.add_argument("--run-index", type=int, metavar="I", help="run I only (what an array task runs)")
    mode.add_argument("--collect", action="store_true", help="only results.csv, summary.csv, the table and the plot")
    sl = ap.add_argument_group("Slurm (with --slurm)")
    sl.add_argument("--submit", action="store_true", help="also submit (sbatch)")
    sl.add_argument("--partition", help="#SBATCH --partition (default: the cluster's)")
    sl.add_argument("--account", help="#SBATCH --account")
    sl.add_argument("--qos", help="#SBATCH --qos")
    sl.add_argument("--time", default="01:00:00", help="per run (default 01:00:00; a run took 0.5-6 min on 2 cores)")
    sl.add_argument("--cpus", type=int, default=4, help="cores per run (default 4; OMP_NUM_THREADS follows)")
    sl.add_argument("--mem", default="8G", help="per run (default 8G)")
    sl.add_argument("--max-parallel", type=int, help="array tasks running at once (--array=...%%N)")
    sl.add_argument("--setup", help="a shell line run before each task (e.g. 'module load hdf5')")
    sl.add_argument("--sbatch", help="other #SBATCH options, e.g. '--constraint=avx512'")
    return ap.parse_args(argv)


def ints(text, what):
    try:
        v = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        die("--%s: '%s' is not a comma-separated list of integers" % (what, text))
    if not v or len(set(v)) != len(v):
        die("--%s: '%s': give each value once" % (what, text))
    return v


def main(argv):
    a = parse_args(argv)
    task = TASKS[a.task]
    ks = ints(a.k, "k")
    seeds = ints(a.seeds, "seeds")
    if min(ks) < 1:
        die("--k: examples per class start at 1")
    strategies = [s.strip() for s in a.strategies.split(",") if s.strip()]
    for s in strategies:
        if s not in STRATEGIES:
            die("unknown strategy '%s' (%s)" % (s, ", ".join(STRATEGIES)))
    if len(set(strategies)) != len(strategies) or not strategies:
        die("--strategies: give each strategy once")
    if task.get("multi_label") and any(s in PROTO for s in strategies):
        die("--task %s is multi-label: prototypical networks need one class per example; "
            "give --strategies scratch,probe,finetune" % a.task)
    if a.submit and not a.slurm:
        die("--submit goes with --slurm")
    root = os.path.abspath(a.root or os.path.join(ROOT, "checkpoints", "fewdata", a.task))
    runs = grid(root, a.task, ks, strategies, seeds)
    grid_args = ["--task", a.task, "--k", ",".join(map(str, ks)), "--seeds", ",".join(map(str, seeds)),
                 "--strategies", ",".join(strategies), "--root", root]

    if a.collect:
        missing = collect(root, a.task, task, runs, ks, strategies, seeds)
        if missing:
            sys.stderr.write("%s: %d of %d runs have no result: %s\n" % (
                PROG, len(missing), len(runs), ", ".join("%d %s [%s]" % (r.index, r.name, r.state()) for r in missing)))
            return 1
        return 0

    if not a.dry_run:
        if not os.access(AURATAG, os.X_OK):
            die("%s is missing: run make first (or set AURATAG)" % AURATAG)
        prepare(a.task, task)

    if a.slurm:
        paths, submit, n = write_slurm(a, root, runs, grid_args)
        say("wrote %s: a job array of %d of the %d runs (%s; k %s; seeds %s)" % (
            rel(paths[0]), n, len(runs), ",".join(strategies), ",".join(map(str, ks)), ",".join(map(str, seeds))))
        say("wrote %s: results.csv, summary.csv, the table and the plot once the array is done" % rel(paths[1]))
        if a.dry_run:
            for r in runs:
                say("  task %d: %s [%s]" % (r.index, r.name, r.state()))
        say("submit with:\n  " + submit)
        if a.submit and not a.dry_run:
            if not shutil.which("sbatch"):
                die("sbatch is not on PATH: submit from the cluster's login node with the command above", 1)
            out = subprocess.run(["sbatch", "--parsable", paths[0]], capture_output=True, text=True)
            if out.returncode != 0:
                die("sbatch %s failed: %s" % (paths[0], out.stderr.strip()), 1)
            jid = out.stdout.strip().split(";")[0]
            out2 = subprocess.run(["sbatch", "--parsable", "--dependency=afterany:" + jid, paths[1]],
                                  capture_output=True, text=True)
            if out2.returncode != 0:
                die("sbatch %s failed: %s" % (paths[1], out2.stderr.strip()), 1)
            say("submitted: array job %s, collect job %s" % (jid, out2.stdout.strip().split(";")[0]))
        return 0

    if a.run_index is not None:
        if not 0 <= a.run_index < len(runs):
            die("--run-index %d: the grid has runs 0 .. %d (%d k x %d strategies x %d seeds)" % (
                a.run_index, len(runs) - 1, len(ks), len(strategies), len(seeds)))
        todo = [runs[a.run_index]]
    else:
        todo = runs

    if a.dry_run:
        say("fewdata %s: %d runs, root %s" % (a.task, len(todo), rel(root)))
        for r in todo:
            state = r.state()
            say("run %d %s: %s" % (r.index, r.name, state))
            if state != "done":
                for cmd in commands(task, r):
                    say("  " + quote(cmd))
        return 0

    pending = [r for r in todo if r.state() != "done"]
    say("fewdata %s: %d of %d runs to run, %d done earlier; runs in %s" % (
        a.task, len(pending), len(todo), len(todo) - len(pending), rel(root)))
    failures = []
    t0 = time.monotonic()
    for i, r in enumerate(todo):
        err = one_run(task, r, prefix="[%d/%d] " % (i + 1, len(todo)))
        if err:
            failures.append(err)
            sys.stderr.write("%s: %s\n" % (PROG, err))
    if a.run_index is None:
        collect(root, a.task, task, runs, ks, strategies, seeds)
        say("wall time %.0f s" % (time.monotonic() - t0))
    if failures:
        sys.stderr.write("%s: %d of %d runs failed:\n" % (PROG, len(failures), len(todo)))
        for err in failures:
            sys.stderr.write("  %s\n" % err)
        return 1
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `fewdata.py ... | head` ends quietly
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        die("interrupted: run the same command again to continue (finished runs are skipped)", 130)
