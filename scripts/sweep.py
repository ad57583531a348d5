#!/usr/bin/python3
"""Depth x training-set-size sweeps: Choi et al.'s central experiment (deeper
FCNs gain more from more data) as one command that ends in a table and a plot.

    scripts/sweep.py SWEEP.ini [--only fcn3,fcn4] [--jobs N] [--gpus 0,1,...] [--root DIR] [--dry-run]
    scripts/sweep.py SWEEP.ini --slurm [--dry-run] [--submit] [--only ...]   # a Slurm job array, a task per cell
    scripts/sweep.py SWEEP.ini --cell K                          # just cell K (what an array task runs)
    scripts/sweep.py SWEEP.ini --collect                         # table, results.csv and plot of what is done

A cell is one model at one fraction of the training split. For each cell the
sweep runs

    auratag train EXPERIMENT --set train.root=ROOT --set train.run=NAME-MODEL-fPCT
                  --set data.fraction=F --set data.fraction_seed=S --set data.test= [--set train.epochs=E] ...
    auratag eval ROOT/RUN SWEEP_TEST_CACHE --json ROOT/RUN/test.json

(the experiment's own test split is switched off: the sweep's test cache,
evaluated once with the run's best.h5, is the one number per cell). Each
cell's output goes to ROOT/RUN.log. Run it again at any time: a cell whose
ROOT/RUN/test.json exists is skipped, a trained cell without it (results.json)
is only evaluated, an interrupted one (last.h5, no results.json) continues
with `auratag train --resume`, so a crash or a Slurm time limit costs at most
the work since the last checkpoint. A cell that fails (a missing cache or
config, a crash) is named with its log and the sweep goes on with the others;
the exit status is then 1.

At the end (and with --collect) ROOT/results.csv holds one row per finished
cell: sweep, model, percent, fraction, fraction_seed, train_examples (as
`auratag train` reported them), parameters, test_roc_auc, test_pr_auc (macro
means over the tags, `auratag eval`), test_examples, valid_roc_auc (the best
epoch's), best_epoch, epochs, train_wall_s (seconds the sweep spent in
`auratag train`, summed over attempts), eval_wall_s (the last `auratag
eval`'s), run. ROOT/auc_vs_size.png
plots test ROC-AUC against training examples (log axis), one line per model,
as Choi et al.'s figure; it needs matplotlib (Debian: python3-matplotlib).
ROOT/report.html is `auratag report` of every finished cell's run, that plot
first (docs/report.md).

The sweep config (INI; paths relative to the file, except root, which like
train.root is relative to the current folder):

    [sweep]
    name = demo_depth_data            ; runs NAME-MODEL-fPCT (default: the file's name)
    root = checkpoints/demo_depth_data  ; runs, logs, results.csv, auc_vs_size.png (this is the default)
    models = fcn3, fcn4, fcn5
    fractions = 25, 50, 100           ; percent of the training split (default 5, 10, 25, 50, 100)
    fraction_seed = 1                 ; nested subsets: 5 % inside 10 % inside ... (default 1)
    test = ../../data/demo/cache/test.h5   ; {model} may appear in it: a test cache per model
    epochs = 2                        ; optional: --set train.epochs
    experiment = ../experiments/demo_{model}.ini   ; an experiment config per model
    ; or  model_config = ../models/{model}.ini     ; + [experiment]: the sweep writes ROOT/configs/MODEL.ini
    launcher = mpirun -np 2           ; optional: a prefix for `auratag train` (data parallel runs)

    [experiments]                     ; optional: MODEL = EXPERIMENT.ini, wins over `experiment`
    [tests]                           ; optional: MODEL = TEST_CACHE.h5, wins over `test` (models that read
                                      ; different caches: a waveform model beside spectrogram models)
    [experiment]                      ; template mode: SECTION.KEY = VALUE of the written experiment
    [set]                             ; SECTION.KEY = VALUE: --set for every cell
    [set.fcn5]                        ; ... for one model's cells
    [slurm]                           ; --slurm: partition, account, qos, time, gpus (per cell), cpus_per_task,
                                      ; mem, max_parallel, constraint, setup (a shell line), launcher, sbatch

--slurm writes ROOT/sweep.sbatch (a job array, one task per cell, each
running `sweep.py SWEEP.ini --cell K`) and ROOT/collect.sbatch (--collect),
prints the two sbatch commands that submit them (the second after the first,
--dependency=afterany) and submits nothing unless --submit; --dry-run also
lists the tasks. Without --slurm, --dry-run prints each cell's state and
commands and runs nothing. --jobs N runs N cells at once (OMP_NUM_THREADS =
cores / N unless set; --gpus hands each running cell one of the listed GPUs).

Cells are numbered model-major from 0 (cell K = model K // len(fractions),
fraction K % len(fractions), over the full grid whatever --only says).
AURATAG names the auratag binary (default ./auratag).
Exit status: 0 every selected cell done, 1 a cell failed (or, --collect, has
no result), 2 a bad command line or config.
"""
import argparse
import concurrent.futures
import csv
import fcntl
import json
import math
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time

PROG = "sweep.py"
DEFAULT_FRACTIONS = [5.0, 10.0, 25.0, 50.0, 100.0]
SWEEP_KEYS = ("name", "root", "models", "fractions", "fraction_seed", "test", "epochs", "experiment",
              "model_config", "launcher")
SLURM_KEYS = ("partition", "account", "qos", "time", "gpus", "cpus_per_task", "mem", "max_parallel",
              "constraint", "setup", "launcher", "sbatch")
# --set keys the sweep itself decides for every cell
OWNED_KEYS = ("train.run", "train.root", "data.fraction", "data.fraction_seed", "data.test")
# environment variables that make auratag start MPI (host/dist/dist.c); an
# eval (or a train without a launcher) inside a Slurm job of several tasks
# must not see them, or it would wait for ranks that never come
MPI_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS", "MPI_LOCALNRANKS")


class ConfigError(Exception):
    pass


def die(msg, status=2):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(status)


# ---- the sweep config ----

def read_ini(path):
    """[(section, [(key, value, line)], line)] in file order, with file:line errors
    (the same INI dialect as auratag's: ';' and '#' comments, also after a
    value when preceded by a space)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ConfigError(f"cannot read the sweep config '{path}': {e.strerror}")
    sections, current = [], None
    seen = {}
    for n, raw in enumerate(lines, 1):
        text = re.sub(r"\s[;#].*$", "", raw).strip()
        if not text or text[0] in ";#":
            continue
        if text.startswith("["):
            if not text.endswith("]") or not text[1:-1].strip():
                raise ConfigError(f"{path}:{n}: a section header is written [NAME]")
            name = text[1:-1].strip()
            if name in seen:
                raise ConfigError(f"{path}:{n}: section [{name}] given twice (first at line {seen[name]})")
            seen[name] = n
            current = (name, [], n)
            sections.append(current)
            continue
        if "=" not in text:
            raise ConfigError(f"{path}:{n}: expected '[section]' or 'key = value'")
        key, value = (s.strip() for s in text.split("=", 1))
        if current is None:
            raise ConfigError(f"{path}:{n}: '{key}' stands before any section; start with [sweep]")
        if not key:
            raise ConfigError(f"{path}:{n}: a key is missing before '='")
        for k, _, first in current[1]:
            if k == key:
                raise ConfigError(f"{path}:{n}: [{current[0]}] key '{key}' given twice (first at line {first})")
        current[1].append((key, value, n))
    return sections


class Cell:
    def __init__(self, index, model, percent, sweep):
        self.index = index
        self.model = model
        self.percent = percent
        self.fraction = percent / 100.0
        self.run = f"{sweep.name}-{model}-f{fmt_percent(percent)}"
        self.dir = os.path.join(sweep.root, self.run)
        self.log = os.path.join(sweep.root, self.run + ".log")
        self.test_json = os.path.join(self.dir, "test.json")
        self.results_json = os.path.join(self.dir, "results.json")
        self.last_h5 = os.path.join(self.dir, "last.h5")
        self.state_json = os.path.join(self.dir, "sweep.json")

    def label(self):
        return f"cell {self.index} ({self.model}, {fmt_percent(self.percent)} %)"


def fmt_percent(p):
    return ("%.6g" % p)


def fmt_fraction(p):
    return "%.10g" % (p / 100.0)


class Sweep:
    def __init__(self, path, root_override=None):
        self.path = os.path.abspath(path)
        self.folder = os.path.dirname(self.path)
        sections = read_ini(path)
        by_name = {name: entries for name, entries, _ in sections}
        for name, entries, line in sections:
            if name in ("sweep", "experiments", "tests", "experiment", "set", "slurm") or name.startswith("set."):
                continue
            raise ConfigError(f"{path}:{line}: unknown section [{name}] (known: [sweep], [experiments], [tests], "
                              "[experiment], [set], [set.MODEL], [slurm])")
        if "sweep" not in by_name:
            raise ConfigError(f"{path}: no [sweep] section (see `{PROG} --help`)")
        s = {}
        for key, value, line in by_name["sweep"]:
            if key not in SWEEP_KEYS:
                raise ConfigError(f"{path}:{line}: unknown key '{key}' in [sweep] (known: {', '.join(SWEEP_KEYS)})")
            s[key] = (value, line)

        def where(key):
            return f"{path}:{s[key][1]}" if key in s else path

        self.name = s.get("name", (os.path.splitext(os.path.basename(path))[0], 0))[0]
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", self.name):
            raise ConfigError(f"{where('name')}: name '{self.name}' may hold only letters, digits and _ . + -")
        root = root_override or s.get("root", (os.path.join("checkpoints", self.name), 0))[0]
        self.root = os.path.abspath(root)

        experiments = {k: (v, line) for k, v, line in by_name.get("experiments", [])}
        if "models" in s:
            self.models = [m.strip() for m in s["models"][0].split(",") if m.strip()]
        else:
            self.models = list(experiments)
        if not self.models:
            raise ConfigError(f"{where('models')}: no models: give [sweep] models = fcn3, fcn4, ...")
        for m in self.models:
            if not re.fullmatch(r"[A-Za-z0-9_.+-]+", m):
                raise ConfigError(f"{where('models')}: model name '{m}' may hold only letters, digits and _ . + -")
        if len(set(self.models)) != len(self.models):
            raise ConfigError(f"{where('models')}: a model is listed twice")

        if "fractions" in s:
            self.percents = []
            for item in s["fractions"][0].split(","):
                item = item.strip().rstrip("%").strip()
                try:
                    p = float(item)
                except ValueError:
                    raise ConfigError(f"{where('fractions')}: fraction '{item}' is not a number (percent of the "
                                      "training split, e.g. fractions = 5, 10, 25, 50, 100)")
                if not (0 < p <= 100) or math.isnan(p):
                    raise ConfigError(f"{where('fractions')}: fraction {item} % is not in (0, 100]")
                self.percents.append(p)
            if not self.percents:
                raise ConfigError(f"{where('fractions')}: no fractions")
            if len(set(self.percents)) != len(self.percents):
                raise ConfigError(f"{where('fractions')}: a fraction is listed twice")
        else:
            self.percents = list(DEFAULT_FRACTIONS)

        self.fraction_seed = self._int(s, "fraction_seed", 1, 0, path)
        self.epochs = self._int(s, "epochs", None, 1, path)
        tests = {k: (v, line) for k, v, line in by_name.get("tests", [])}
        if ("test" not in s or not s["test"][0]) and not tests:
            raise ConfigError(f"{path}: [sweep] needs test = the test cache every cell is evaluated on "
                              "({model} in it, or a [tests] section, for a cache per model)")
        self.launcher = shlex.split(s["launcher"][0]) if "launcher" in s else []

        # experiment configs: explicit, a pattern, or template mode
        pattern = s.get("experiment")
        model_pattern = s.get("model_config")
        if pattern and model_pattern:
            raise ConfigError(f"{where('model_config')}: give either experiment = or model_config =, not both")
        self.template = {}
        if "experiment" in by_name:
            if not model_pattern:
                raise ConfigError(f"{path}: [experiment] is for model_config = (template mode); "
                                  "with experiment configs, put overrides in [set]")
            for key, value, line in by_name["experiment"]:
                if "." not in key:
                    raise ConfigError(f"{path}:{line}: [experiment] keys are SECTION.KEY (data.train, train.lr)")
                sec, k = key.split(".", 1)
                if sec == "data" and k in ("train", "valid", "test") and value:
                    value = self.resolve(value)
                self.template[key] = value
            if "data.train" not in self.template:
                raise ConfigError(f"{path}: [experiment] needs data.train = the training cache")
        elif model_pattern:
            raise ConfigError(f"{where('model_config')}: model_config = needs an [experiment] section "
                              "(data.train = ..., train.lr = ...)")
        self.experiment = {}
        self.model_config = {}
        for m in self.models:
            if m in experiments:
                self.experiment[m] = self.resolve(experiments[m][0])
            elif pattern:
                self.experiment[m] = self.resolve(pattern[0].replace("{model}", m))
            elif model_pattern:
                self.model_config[m] = self.resolve(model_pattern[0].replace("{model}", m))
                self.experiment[m] = os.path.join(self.root, "configs", m + ".ini")
            else:
                raise ConfigError(f"{path}: no experiment config for model '{m}': give [sweep] experiment = "
                                  "PATH with {model}, model_config = PATH with {model}, or [experiments] "
                                  f"{m} = PATH")
        # test caches: one for all, a pattern with {model}, or [tests] MODEL = CACHE
        self.tests = {}
        for m in self.models:
            if m in tests:
                self.tests[m] = self.resolve(tests[m][0])
            elif "test" in s and s["test"][0]:
                self.tests[m] = self.resolve(s["test"][0].replace("{model}", m))
            else:
                raise ConfigError(f"{path}: no test cache for model '{m}': give [sweep] test = or [tests] {m} = CACHE")
        for m in tests:
            if m not in self.models:
                raise ConfigError(f"{path}:{tests[m][1]}: [tests] names '{m}', which is not in "
                                  f"models = {', '.join(self.models)}")
        for m in experiments:
            if m not in self.models:
                raise ConfigError(f"{path}:{experiments[m][1]}: [experiments] names '{m}', which is not in "
                                  f"models = {', '.join(self.models)}")

        # overrides
        self.sets = self._sets(by_name.get("set", []), "set", path)
        self.model_sets = {}
        for name, entries, line in sections:
            if name.startswith("set."):
                m = name[4:]
                if m not in self.models:
                    raise ConfigError(f"{path}:{line}: section [{name}] names '{m}', which is not in models = "
                                      f"{', '.join(self.models)}")
                self.model_sets[m] = self._sets(entries, name, path)

        self.slurm = {}
        for key, value, line in by_name.get("slurm", []):
            if key not in SLURM_KEYS:
                raise ConfigError(f"{path}:{line}: unknown key '{key}' in [slurm] (known: {', '.join(SLURM_KEYS)})")
            self.slurm[key] = value
        for key in ("gpus", "cpus_per_task", "max_parallel"):
            if key in self.slurm:
                v = self.slurm[key]
                if not v.isdigit() or int(v) < (0 if key == "gpus" else 1):
                    raise ConfigError(f"{path}: [slurm] {key} = '{v}' must be a whole number"
                                      f"{'' if key == 'gpus' else ' >= 1'}")

        self.cells = [Cell(i * len(self.percents) + j, m, p, self)
                      for i, m in enumerate(self.models) for j, p in enumerate(self.percents)]

    def resolve(self, p):
        p = os.path.expanduser(p)
        return os.path.normpath(p if os.path.isabs(p) else os.path.join(self.folder, p))

    @staticmethod
    def _int(s, key, default, lo, path):
        if key not in s:
            return default
        value, line = s[key]
        try:
            v = int(value)
        except ValueError:
            raise ConfigError(f"{path}:{line}: {key} = '{value}' is not a whole number")
        if v < lo:
            raise ConfigError(f"{path}:{line}: {key} = {v} must be at least {lo}")
        return v

    @staticmethod
    def _sets(entries, section, path):
        out = []
        for key, value, line in entries:
            if not re.fullmatch(r"[A-Za-z0-9_]+\.[A-Za-z0-9_]+", key):
                raise ConfigError(f"{path}:{line}: [{section}] keys are SECTION.KEY (train.batch, conv1.filters), "
                                  f"not '{key}'")
            if key in OWNED_KEYS:
                raise ConfigError(f"{path}:{line}: [{section}] may not set {key}: the sweep sets "
                                  f"{', '.join(OWNED_KEYS)} for every cell")
            out.append(f"{key}={value}")
        return out

    def template_text(self, model):
        lines = [f"; written by scripts/sweep.py from {self.path} for model {model}; edit the sweep config",
                 f"include = {self.model_config[model]}"]
        sections = {}
        for key, value in self.template.items():
            sec, k = key.split(".", 1)
            if sec in ("data", "train"):
                sections.setdefault(sec, []).append(f"{k} = {value}")
            else:
                lines.append(f"set = {key}={value}")
        for sec in ("data", "train"):
            if sec in sections:
                lines += ["", f"[{sec}]"] + sections[sec]
        return "\n".join(lines) + "\n"

    def write_templates(self, models):
        """Template mode: ROOT/configs/MODEL.ini, rewritten only when its text
        changes (temporary name + rename: array tasks may race)."""
        for m in models:
            if m not in self.model_config:
                continue
            path = self.experiment[m]
            text = self.template_text(m)
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() == text:
                        continue
            except OSError:
                pass
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.tmp{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)


# ---- one cell ----

def auratag_binary():
    return os.environ.get("AURATAG", "./auratag")


def cell_state(cell):
    """done / evaluate / resume / train / restart (a run folder with no
    checkpoint: it stopped before its first one)."""
    if read_test(cell) is not None:
        return "done"
    if os.path.isfile(cell.results_json):
        return "evaluate"
    if os.path.isfile(cell.last_h5):
        return "resume"
    if os.path.isdir(cell.dir) and os.listdir(cell.dir):
        return "restart"
    return "train"


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_test(cell):
    j = read_json(cell.test_json)
    try:
        c = j["clip"]
        return j if isinstance(c["macro_roc_auc"], (int, float)) and isinstance(c["macro_pr_auc"], (int, float)) else None
    except (TypeError, KeyError):
        return None


def train_command(sweep, cell, launcher):
    cmd = list(launcher) + [auratag_binary(), "train", sweep.experiment[cell.model]]
    for s in sweep.sets + sweep.model_sets.get(cell.model, []):
        cmd += ["--set", s]
    if sweep.epochs is not None:
        cmd += ["--set", f"train.epochs={sweep.epochs}"]
    cmd += ["--set", f"train.root={sweep.root}", "--set", f"train.run={cell.run}",
            "--set", f"data.fraction={fmt_fraction(cell.percent)}",
            "--set", f"data.fraction_seed={sweep.fraction_seed}", "--set", "data.test="]
    return cmd


def resume_command(cell, launcher):
    return list(launcher) + [auratag_binary(), "train", "--resume", cell.dir]


def eval_command(sweep, cell):
    return [auratag_binary(), "eval", cell.dir, sweep.tests[cell.model], "--json", cell.test_json + ".tmp"]


def show(path):
    """A path as the user would type it: relative below the current folder."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def quote(cmd):
    return " ".join(shlex.quote(c) for c in cmd)


class Console:
    lock = threading.Lock()

    @classmethod
    def say(cls, msg, err=False):
        with cls.lock:
            print(msg, file=sys.stderr if err else sys.stdout, flush=True)


def run_logged(cmd, f, env, echo):
    """Runs cmd with stdout and stderr appended to the open log f (and
    echoed); returns (status, seconds)."""
    t0 = time.monotonic()
    f.write(f"\n== {time.strftime('%Y-%m-%d %H:%M:%S')} {quote(cmd)}\n")
    f.flush()
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                             stdin=subprocess.DEVNULL)
    except OSError as e:
        f.write(f"cannot start {cmd[0]}: {e.strerror}\n")
        f.flush()
        return 127, time.monotonic() - t0
    for raw in p.stdout:
        line = raw.decode("utf-8", "replace")
        f.write(line)
        f.flush()
        if echo:
            Console.say(line.rstrip("\n"))
    status = p.wait()
    f.write(f"== exit status {status}, {time.monotonic() - t0:.1f} s\n")
    f.flush()
    return status, time.monotonic() - t0


def last_words(log):
    """The log's last line that is not the sweep's own: usually the error."""
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            lines = [l.strip() for l in f if l.strip() and not l.startswith("== ")]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def update_state(cell, add=None, put=None):
    """ROOT/RUN/sweep.json: train_wall_s (summed over attempts),
    train_attempts, eval_wall_s (the last evaluation's)."""
    if not os.path.isdir(cell.dir):
        return
    st = read_json(cell.state_json) or {}
    for k, v in (add or {}).items():
        st[k] = round(st.get(k, 0) + v, 3)
    for k, v in (put or {}).items():
        st[k] = round(v, 3)
    tmp = cell.state_json + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(st, f)
    os.replace(tmp, cell.state_json)


def cell_env(gpu=None, threads=None, keep_mpi=False):
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "passive")
    if threads is not None and "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(threads)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    if not keep_mpi:
        for v in MPI_SIZE_VARS:
            env.pop(v, None)
    return env


def run_cell(sweep, cell, launcher, gpu=None, threads=None, echo=False, prefix=""):
    """Brings one cell to done; returns (ok, message)."""
    tag = f"{prefix}{cell.model} {fmt_percent(cell.percent)} %"
    if cell_state(cell) == "done":
        Console.say(f"{tag}: finished earlier ({show(cell.test_json)} exists), skipped")
        return True, ""
    os.makedirs(sweep.root, exist_ok=True)
    with open(cell.log, "a", encoding="utf-8", errors="replace") as log:
        # one process per cell at a time (a local sweep beside a Slurm array)
        try:
            fcntl.flock(log.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False, (f"{cell.label()} is being run by another process (it holds {cell.log}); "
                           "left to it")
        except OSError:
            pass  # a filesystem without locks: go on unguarded
        return cell_steps(sweep, cell, launcher, log, tag, gpu, threads, echo)


def cell_steps(sweep, cell, launcher, log, tag, gpu, threads, echo):
    def fail(why):
        log.write(f"== {PROG}: {why}\n")
        log.flush()
        return False, f"{cell.label()} failed: {why}; log: {cell.log}"

    state = cell_state(cell)  # again, under the lock
    if state == "done":
        Console.say(f"{tag}: finished meanwhile ({show(cell.test_json)} exists), skipped")
        return True, ""
    exp = sweep.experiment[cell.model]
    if state in ("train", "restart"):
        if cell.model in sweep.model_config and not os.path.isfile(sweep.model_config[cell.model]):
            return fail(f"no model config '{sweep.model_config[cell.model]}'")
        if not os.path.isfile(exp):
            return fail(f"no experiment config '{exp}'")
    if not os.path.isfile(sweep.tests[cell.model]):
        return fail(f"no test cache '{sweep.tests[cell.model]}'")
    if state == "restart":
        aside = cell.dir + ".aborted"
        k = 1
        while os.path.exists(aside):
            k += 1
            aside = f"{cell.dir}.aborted{k}"
        os.rename(cell.dir, aside)
        log.write(f"== {PROG}: {cell.dir} had no checkpoint (it stopped before its first); moved to {aside}\n")
        Console.say(f"{tag}: {cell.run} stopped before its first checkpoint; moved aside to {aside}, starting again")
        state = "train"
    if state in ("train", "resume"):
        cmd = train_command(sweep, cell, launcher) if state == "train" else resume_command(cell, launcher)
        Console.say(f"{tag}: {'training' if state == 'train' else 'resuming'} {cell.run} (log: {show(cell.log)})")
        status, secs = run_logged(cmd, log, cell_env(gpu, threads, keep_mpi=bool(launcher)), echo)
        update_state(cell, add={"train_wall_s": secs, "train_attempts": 1})
        if status != 0:
            return fail(f"auratag train exited with status {status}: {last_words(cell.log)}")
        if not os.path.isfile(cell.results_json):
            return fail(f"auratag train ended without {cell.results_json} (stopped by max_steps?): "
                        f"{last_words(cell.log)}")
    Console.say(f"{tag}: evaluating {cell.run} on {show(sweep.tests[cell.model])}")
    status, secs = run_logged(eval_command(sweep, cell), log, cell_env(gpu, threads), echo)
    if status != 0:
        return fail(f"auratag eval exited with status {status}: {last_words(cell.log)}")
    try:
        os.replace(cell.test_json + ".tmp", cell.test_json)
    except OSError as e:
        return fail(f"auratag eval wrote no {cell.test_json}.tmp ({e.strerror})")
    update_state(cell, put={"eval_wall_s": secs})
    t = read_test(cell)
    if t is None:
        return fail(f"{cell.test_json} has no clip.macro_roc_auc / macro_pr_auc")
    Console.say(f"{tag}: test ROC-AUC {t['clip']['macro_roc_auc']:.4f}, PR-AUC {t['clip']['macro_pr_auc']:.4f}")
    return True, ""


# ---- results ----

TRAINING_LINE = re.compile(r"^training \S+ \((\d+) parameters\) on (\d+) examples")
COLUMNS = ["sweep", "model", "percent", "fraction", "fraction_seed", "train_examples", "parameters",
           "test_roc_auc", "test_pr_auc", "test_examples", "valid_roc_auc", "best_epoch", "epochs",
           "train_wall_s", "eval_wall_s", "run"]


def from_log(cell):
    params = examples = None
    try:
        with open(cell.log, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = TRAINING_LINE.match(line)
                if m:
                    params, examples = int(m.group(1)), int(m.group(2))
    except OSError:
        pass
    return params, examples


def cell_row(sweep, cell):
    t = read_test(cell)
    if t is None:
        return None
    r = read_json(cell.results_json) or {}
    st = read_json(cell.state_json) or {}
    params, examples = from_log(cell)
    valid = (r.get("valid") or {}).get("clip") or {}
    return {"sweep": sweep.name, "model": cell.model, "percent": fmt_percent(cell.percent),
            "fraction": fmt_fraction(cell.percent), "fraction_seed": sweep.fraction_seed,
            "train_examples": "" if examples is None else examples, "parameters": "" if params is None else params,
            "test_roc_auc": "%.6f" % t["clip"]["macro_roc_auc"], "test_pr_auc": "%.6f" % t["clip"]["macro_pr_auc"],
            "test_examples": t.get("examples", ""),
            "valid_roc_auc": "%.6f" % valid["macro_roc_auc"] if isinstance(valid.get("macro_roc_auc"), (int, float)) else "",
            "best_epoch": r.get("best_epoch", ""), "epochs": r.get("epochs", ""),
            "train_wall_s": "%.1f" % st["train_wall_s"] if "train_wall_s" in st else "",
            "eval_wall_s": "%.1f" % st["eval_wall_s"] if "eval_wall_s" in st else "",
            "run": cell.run,
            "_roc": t["clip"]["macro_roc_auc"], "_pr": t["clip"]["macro_pr_auc"]}  # for the table, not the CSV


def collect(sweep, selected):
    """Writes ROOT/results.csv (every finished cell of the grid) and the plot,
    prints the table; returns the selected cells that have no result."""
    rows = [(c, cell_row(sweep, c)) for c in sweep.cells]
    done = [row for _, row in rows if row]
    os.makedirs(sweep.root, exist_ok=True)
    csv_path = os.path.join(sweep.root, "results.csv")
    tmp = csv_path + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        w.writerows(done)
    os.replace(tmp, csv_path)

    test_caches = sorted(set(sweep.tests.values()))
    print(f"\nsweep {sweep.name}: {len(done)} of {len(sweep.cells)} cells done; test cache"
          f"{'s' if len(test_caches) > 1 else ''} {', '.join(test_caches)}")
    print("%-12s %8s %10s %11s %12s %11s %10s %9s" % ("model", "percent", "examples", "parameters",
                                                      "test ROC-AUC", "test PR-AUC", "best epoch", "train s"))
    for c, row in rows:
        if row:
            print("%-12s %8s %10s %11s %12s %11s %10s %9s" % (
                c.model, row["percent"], row["train_examples"] or "?", row["parameters"] or "?",
                "%.4f" % row["_roc"], "%.4f" % row["_pr"],
                row["best_epoch"], row["train_wall_s"] or "?"))
        else:
            print("%-12s %8s %10s %11s %12s %11s %10s %9s" % (c.model, fmt_percent(c.percent), "-", "-",
                                                              "-", "-", "-", cell_state(c)))
    # the pivot: models x training-set size
    if done:
        print("\ntest ROC-AUC by model (rows) and training-set size (columns: percent)")
        print("%-12s" % "model" + "".join("%9s" % (fmt_percent(p) + "%") for p in sweep.percents))
        for m in sweep.models:
            line = "%-12s" % m
            for c, row in rows:
                if c.model == m:
                    line += "%9s" % ("%.4f" % row["_roc"] if row else "-")
            print(line)
    print(f"results: {csv_path}")
    plot(sweep, done)
    report(sweep, [c for c, row in rows if row])
    return [c for c, row in rows if not row and c in selected]


def report(sweep, finished):
    """ROOT/report.html: `auratag report` of every finished cell's run, the
    sweep's plot shown first. A report that cannot be written is said, not
    fatal: results.csv and the plot are the sweep's results."""
    if not finished:
        return
    path = os.path.join(sweep.root, "report.html")
    png = os.path.join(sweep.root, "auc_vs_size.png")
    cmd = [auratag_binary(), "--quiet", "report", *[c.dir for c in finished], "--title", f"sweep {sweep.name}",
           "-o", path]
    if os.path.exists(png):
        cmd += ["--figure", png]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode == 0:
        print(f"report: {path}")
    else:
        print(f"report: not written: {done.stderr.strip()}")


def plot(sweep, done):
    """ROOT/auc_vs_size.png: test ROC-AUC and PR-AUC (macro) against training
    examples, one line per model."""
    png = os.path.join(sweep.root, "auc_vs_size.png")
    points, ticks = {}, {}
    for row in done:
        if row["train_examples"] != "":
            n = int(row["train_examples"])
            points.setdefault(row["model"], []).append((n, row["_roc"], row["_pr"]))
            ticks[n] = row["percent"]
    if not points:
        print("plot: no finished cell with a known training-set size yet")
        return
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print(f"plot: not drawn: matplotlib is not installed for {sys.executable} "
              "(Debian: apt-get install python3-matplotlib); results.csv has every number")
        return
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.4))
    for panel, (ax, metric) in enumerate(zip(axes, ("ROC-AUC", "PR-AUC"))):
        for m in sweep.models:
            if m in points:
                pts = sorted(points[m])
                ax.plot([p[0] for p in pts], [p[1 + panel] for p in pts], marker="o", label=m)
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xticks(sorted(ticks))
        ax.set_xticklabels([f"{n:,}\n{ticks[n]} %" for n in sorted(ticks)])
        ax.set_xlabel("training examples (log scale)")
        ax.set_ylabel(f"test {metric} (macro over tags)")
        ax.set_title(f"test {metric} vs training-set size")
        ax.grid(True, alpha=0.3)
        ax.legend(title="model")
    fig.suptitle(sweep.name)
    fig.tight_layout()
    tmp = png + ".tmp.png"
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, png)
    print(f"plot: {png}")


# ---- Slurm ----

def ranges(indices):
    out, start, prev = [], None, None
    for i in sorted(indices):
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            out.append(f"{start}-{prev}" if prev > start else f"{start}")
            start = prev = i
    if start is not None:
        out.append(f"{start}-{prev}" if prev > start else f"{start}")
    return ",".join(out)


def write_slurm(sweep, selected, only_arg):
    sl = sweep.slurm
    gpus = int(sl.get("gpus", "1"))
    tasks = max(gpus, 1)
    cpus = sl.get("cpus_per_task", "8")
    launcher = sl.get("launcher", "srun" if gpus > 1 else "")
    array = ranges(c.index for c in selected) + (f"%{sl['max_parallel']}" if "max_parallel" in sl else "")
    binary = os.path.abspath(auratag_binary())
    script = os.path.abspath(sys.argv[0])
    here = os.getcwd()
    head = []
    for key, opt in (("partition", "partition"), ("account", "account"), ("qos", "qos"), ("mem", "mem"),
                     ("constraint", "constraint")):
        if key in sl:
            head.append(f"#SBATCH --{opt}={sl[key]}")
    for extra in shlex.split(sl.get("sbatch", "")):
        head.append(f"#SBATCH {extra}")
    common = [f"cd {shlex.quote(here)}",
              f"export AURATAG={shlex.quote(binary)}",
              "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1} OMP_WAIT_POLICY=passive"]
    if sl.get("setup"):
        common.append(sl["setup"])
    root_q = shlex.quote(sweep.root)
    py = shlex.quote(sys.executable)
    args = f"{shlex.quote(script)} {shlex.quote(sweep.path)} --root {root_q}"
    array_lines = [
        "#!/bin/bash",
        f"# Written by scripts/sweep.py --slurm from {sweep.path}.",
        f"# One array task per cell of the {len(sweep.models)} x {len(sweep.percents)} grid "
        f"(task K = cell K: model K / {len(sweep.percents)}, fraction K % {len(sweep.percents)});",
        "# each runs `sweep.py --cell K`: train (or resume) and evaluate that cell, output in ROOT/RUN.log.",
        "# Submit it again after a time limit or a failure: finished cells are skipped, interrupted ones resumed.",
        f"#SBATCH --job-name={sweep.name}",
        f"#SBATCH --array={array}",
        "#SBATCH --nodes=1",
        f"#SBATCH --ntasks-per-node={tasks}",
        f"#SBATCH --cpus-per-task={cpus}",
    ]
    if gpus > 0:
        array_lines.append(f"#SBATCH --gpus-per-node={gpus}")
    array_lines += [f"#SBATCH --time={sl.get('time', '24:00:00')}",
                    f"#SBATCH --output={sweep.root}/slurm-%A_%a.out"] + head + ["set -euo pipefail"] + common
    if launcher:
        array_lines.append(f"export AURATAG_SWEEP_LAUNCHER={shlex.quote(launcher)}   "
                           "# data parallel: one rank per GPU of the task's node")
    array_lines.append(f'exec {py} {args} --cell "$SLURM_ARRAY_TASK_ID"')
    collect_lines = [
        "#!/bin/bash",
        f"# Written by scripts/sweep.py --slurm from {sweep.path}: after the array job,",
        "# the table, ROOT/results.csv and ROOT/auc_vs_size.png of every finished cell.",
        f"#SBATCH --job-name={sweep.name}-collect",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --time=00:30:00",
        f"#SBATCH --output={sweep.root}/slurm-collect-%j.out",
    ] + [h for h in head if not h.startswith(("#SBATCH --mem", "#SBATCH --constraint"))] + \
        ["set -euo pipefail", f"cd {shlex.quote(here)}",
         f"exec {py} {args} --collect{' --only ' + shlex.quote(only_arg) if only_arg else ''}"]
    os.makedirs(sweep.root, exist_ok=True)
    paths = []
    for name, lines in (("sweep.sbatch", array_lines), ("collect.sbatch", collect_lines)):
        path = os.path.join(sweep.root, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(path, 0o755)
        paths.append(path)
    submit = (f"jid=$(sbatch --parsable {shlex.quote(paths[0])}) && "
              f"sbatch --dependency=afterany:${{jid%%;*}} {shlex.quote(paths[1])}")
    return paths, submit


# ---- main ----

def parse_args(argv):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    ap.add_argument("config", help="the sweep config (INI)")
    ap.add_argument("--only", help="models to run, comma-separated (e.g. fcn3,fcn4)")
    ap.add_argument("--jobs", type=int, default=1, help="cells run at once on this machine (default 1)")
    ap.add_argument("--gpus", help="with --jobs: GPU ids handed to the cells in turn (CUDA_VISIBLE_DEVICES)")
    ap.add_argument("--root", help="runs root (default: [sweep] root, else checkpoints/NAME)")
    ap.add_argument("--dry-run", action="store_true", help="print what would run; run nothing")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--slurm", action="store_true", help="write ROOT/sweep.sbatch (a job array) and "
                      "ROOT/collect.sbatch, print the command that submits them")
    mode.add_argument("--cell", type=int, metavar="K", help="run cell K only")
    mode.add_argument("--collect", action="store_true", help="only the table, results.csv and the plot")
    ap.add_argument("--submit", action="store_true", help="with --slurm: also submit (sbatch)")
    return ap.parse_args(argv)


def main(argv):
    a = parse_args(argv)
    if a.jobs < 1:
        die("--jobs must be at least 1")
    if a.submit and not a.slurm:
        die("--submit goes with --slurm")
    try:
        sweep = Sweep(a.config, a.root)
    except ConfigError as e:
        die(str(e))
    selected = sweep.cells
    if a.only:
        names = [m.strip() for m in a.only.split(",") if m.strip()]
        unknown = [m for m in names if m not in sweep.models]
        if unknown or not names:
            die(f"--only: '{','.join(unknown) or a.only}' not among the sweep's models ({', '.join(sweep.models)})")
        selected = [c for c in sweep.cells if c.model in names]
    gpus = [g.strip() for g in a.gpus.split(",") if g.strip()] if a.gpus else []

    if a.collect:
        missing = collect(sweep, selected)
        if missing:
            print(f"{PROG}: {len(missing)} of {len(selected)} cells have no test result: "
                  + ", ".join(f"{c.label()} [{cell_state(c)}; log {c.log}]" for c in missing), file=sys.stderr)
            return 1
        return 0

    binary = auratag_binary()
    if not a.dry_run and not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        msg = f"no auratag binary at '{binary}' (build it with `make`, or point AURATAG at it)"
        if a.slurm:
            print(f"{PROG}: warning: {msg}", file=sys.stderr)
        else:
            die(msg)

    if a.slurm:
        sweep.write_templates({c.model for c in selected})
        paths, submit = write_slurm(sweep, selected, a.only)
        print(f"wrote {paths[0]}: a job array of {len(selected)} cells ({', '.join(sorted({c.model for c in selected}, key=sweep.models.index))} "
              f"x {', '.join(fmt_percent(p) for p in sweep.percents)} %)")
        print(f"wrote {paths[1]}: the table and plot once the array is done")
        if a.dry_run:
            for c in selected:
                print(f"  task {c.index}: {c.run} [{cell_state(c)}]")
        print("submit with:\n  " + submit)
        if a.submit and not a.dry_run:
            if not shutil.which("sbatch"):
                die("sbatch is not on PATH: submit from the cluster's login node with the command above", 1)
            out = subprocess.run(["sbatch", "--parsable", paths[0]], capture_output=True, text=True)
            if out.returncode != 0:
                die(f"sbatch {paths[0]} failed: {out.stderr.strip()}", 1)
            jid = out.stdout.strip().split(";")[0]
            out2 = subprocess.run(["sbatch", "--parsable", f"--dependency=afterany:{jid}", paths[1]],
                                  capture_output=True, text=True)
            if out2.returncode != 0:
                die(f"sbatch {paths[1]} failed: {out2.stderr.strip()}", 1)
            print(f"submitted: array job {jid}, collect job {out2.stdout.strip().split(';')[0]}")
        return 0

    if a.cell is not None:
        if not 0 <= a.cell < len(sweep.cells):
            die(f"--cell {a.cell}: the sweep has cells 0 .. {len(sweep.cells) - 1} "
                f"({len(sweep.models)} models x {len(sweep.percents)} fractions)")
        todo = [sweep.cells[a.cell]]
    else:
        todo = selected

    launcher = shlex.split(os.environ["AURATAG_SWEEP_LAUNCHER"]) if os.environ.get("AURATAG_SWEEP_LAUNCHER") \
        else sweep.launcher

    if a.dry_run:
        print(f"sweep {sweep.name}: {len(todo)} cells, root {sweep.root}")
        for c in todo:
            state = cell_state(c)
            print(f"cell {c.index} {c.run}: {state}")
            if c.model in sweep.model_config:
                print(f"  (writes {sweep.experiment[c.model]} from {sweep.model_config[c.model]})")
            if state in ("train", "restart"):
                print("  " + quote(train_command(sweep, c, launcher)))
            elif state == "resume":
                print("  " + quote(resume_command(c, launcher)))
            if state != "done":
                print("  " + quote(eval_command(sweep, c)) + f"  (-> {c.test_json})")
            for p in [sweep.experiment[c.model] if c.model not in sweep.model_config else sweep.model_config[c.model],
                      sweep.tests[c.model]]:
                if not os.path.isfile(p):
                    print(f"  missing: {p}")
        return 0

    sweep.write_templates({c.model for c in todo})
    pending = [c for c in todo if cell_state(c) != "done"]
    if not pending:
        print(f"sweep {sweep.name}: all {len(todo)} cells finished earlier (each has its test.json): nothing to run")
    else:
        print(f"sweep {sweep.name}: {len(pending)} of {len(todo)} cells to run, {len(todo) - len(pending)} "
              f"finished earlier; runs in {sweep.root}")
    failures = []
    t0 = time.monotonic()
    jobs = min(a.jobs, max(len(pending), 1))
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
    echo = jobs == 1 and sys.stdout.isatty()
    slots = queue.Queue()
    for k in range(jobs):
        slots.put(k)

    def work(i, c):
        slot = slots.get()
        try:
            gpu = gpus[slot % len(gpus)] if gpus else None
            return run_cell(sweep, c, launcher, gpu=gpu, threads=threads, echo=echo,
                            prefix=f"[{i + 1}/{len(todo)}] ")
        finally:
            slots.put(slot)

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda ic: work(*ic), enumerate(todo)))
    for ok, msg in results:
        if not ok:
            failures.append(msg)
            Console.say(f"{PROG}: {msg}", err=True)

    if a.cell is not None:
        return 1 if failures else 0
    collect(sweep, selected)
    print(f"wall time {time.monotonic() - t0:.1f} s")
    if failures:
        print(f"{PROG}: {len(failures)} of {len(todo)} cells failed:", file=sys.stderr)
        for msg in failures:
            print(f"  {msg}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `sweep.py ... | head` ends quietly
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        die("interrupted: run the same command again to continue (finished cells are skipped, "
            "interrupted ones resumed)", 130)
