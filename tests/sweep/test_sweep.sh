#!/usr/bin/env bash
# scripts/sweep.py end to end on a tiny synthetic set (96 x 173, 10 tags,
# 120 training examples): a 2 models x 2 fractions grid of 1-epoch cells,
# results.csv and the plot, skipping finished cells, re-evaluating a cell
# whose test result is gone, resuming an interrupted cell (equal to the
# uninterrupted one), --jobs 2 giving the same numbers, --cell, --collect,
# template mode, failed cells named with their logs, the Slurm job array
# (--slurm --dry-run), a cell locked by another process, bad configs, and a
# tiny grid on the demo dataset (60 FluidSynth clips).
# Under a minute on two cores.
set -u
cd "$(dirname "$0")/../.." || exit 1
source tests/lib.sh
export AURATAG=$AT OMP_WAIT_POLICY=passive OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
repo=$(pwd)
sweep() { "$PY" scripts/sweep.py "$@"; }
[ -x "$AT" ] || { echo "FAIL no auratag binary at $AT (run make)"; exit 1; }

"$AT" synth "$work/d" --bins 96 --frames 173 --tags 10 --train 120 --valid 30 --test 30 >/dev/null
# the "depths": FCN-3 narrowed to 8/16/32 channels with pools for 96 x 173,
# and Pons' Time net (1x60 filters, pool over all bands)
cat >"$work/fcn3.ini" <<EOF
include = $repo/configs/models/fcn3.ini
set = model.input=96x173x1
set = conv1.filters=8
set = conv2.filters=16
set = conv3.filters=32
set = maxpool1.size=4x4
set = maxpool2.size=4x5
set = maxpool3.size=6x8
set = dense1.units=10
[data]
train = d/train.h5
valid = d/valid.h5
test = d/test.h5
[train]
lr = 0.003
batch = 32
epochs = 5
EOF
cat >"$work/pons_time.ini" <<EOF
include = $repo/configs/models/pons_time.ini
set = model.input=96x173x1
set = model.output=sigmoid
set = maxpool1.size=96x1
set = conv1.filters=8
set = dense1.units=10
[data]
train = d/train.h5
valid = d/valid.h5
[train]
lr = 0.003
epochs = 5
EOF
cat >"$work/sweep.ini" <<EOF
; the test's sweep
[sweep]
name = t
root = $work/runs
models = fcn3, pons_time
fractions = 25, 100     ; percent
test = d/test.h5
epochs = 1
[experiments]
fcn3 = fcn3.ini
pons_time = pons_time.ini
[set]
train.batch = 16
EOF
R=$work/runs
cells=(t-fcn3-f25 t-fcn3-f100 t-pons_time-f25 t-pons_time-f100)

# ---- a full sweep ----
t0=$(date +%s.%N)
if sweep "$work/sweep.ini" >"$work/run1.txt" 2>&1; then pass "sweep of 4 cells ($(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s)"
else failed "sweep of 4 cells: $(cat "$work/run1.txt")"; fi
"$PY" - "$R/results.csv" >"$work/csv.txt" 2>&1 <<'EOF'
import csv, sys
cols = ["sweep", "model", "percent", "fraction", "fraction_seed", "train_examples", "parameters",
        "test_roc_auc", "test_pr_auc", "test_examples", "valid_roc_auc", "best_epoch", "epochs",
        "train_wall_s", "eval_wall_s", "run"]
with open(sys.argv[1]) as f:
    r = csv.DictReader(f)
    assert r.fieldnames == cols, f"columns {r.fieldnames}"
    rows = list(r)
assert [(x["model"], x["percent"]) for x in rows] == [("fcn3", "25"), ("fcn3", "100"), ("pons_time", "25"),
                                                      ("pons_time", "100")], rows
for x in rows:
    for k in ("test_roc_auc", "test_pr_auc", "valid_roc_auc"):
        assert 0.0 <= float(x[k]) <= 1.0, (k, x[k])
    # round(0.25 x 120) = 30 and 120 training examples, 30 test examples
    assert int(x["train_examples"]) == {"25": 30, "100": 120}[x["percent"]], x
    assert int(x["test_examples"]) == 30 and int(x["parameters"]) > 0 and x["epochs"] == "1", x
    assert float(x["train_wall_s"]) > 0 and float(x["eval_wall_s"]) > 0, x
    assert x["run"] == f"t-{x['model']}-f{x['percent']}" and x["fraction"] == {"25": "0.25", "100": "1"}[x["percent"]]
print("4 rows, %d columns, AUCs in [0, 1], examples 30 / 120" % len(cols))
EOF
if [ $? -eq 0 ]; then pass "results.csv: $(cat "$work/csv.txt")"; else failed "results.csv: $(cat "$work/csv.txt")"; fi
grep -q "^fcn3 .*0\.[0-9]\{4\}" "$work/run1.txt" && grep -q "test ROC-AUC by model" "$work/run1.txt" \
  && pass "the table is printed" || failed "no table: $(cat "$work/run1.txt")"
for c in "${cells[@]}"; do
  [ -f "$R/$c/test.json" ] && [ -s "$R/$c.log" ] || failed "cell $c: no test.json or log"
done
if "$PY" -c "import matplotlib" 2>/dev/null; then
  if [ -s "$R/auc_vs_size.png" ] && head -c 8 "$R/auc_vs_size.png" | grep -q PNG; then pass "auc_vs_size.png drawn"
  else failed "no auc_vs_size.png: $(grep plot "$work/run1.txt")"; fi
else
  grep -q "python3-matplotlib" "$work/run1.txt" && pass "no matplotlib: the script names python3-matplotlib" \
    || failed "no matplotlib and no hint: $(cat "$work/run1.txt")"
fi
# the report of the finished cells: a comparison row per cell's run, the plot inlined first
rows=$(grep -o '<tr data-run="[^"]*">' "$R/report.html" 2>/dev/null | sort | tr '\n' ' ')
want=$(for c in "${cells[@]}"; do echo "<tr data-run=\"$c\">"; done | sort | tr '\n' ' ')
if [ -n "$rows" ] && [ "$rows" = "$want" ] && grep -q "^report: $R/report.html" "$work/run1.txt" &&
  { ! "$PY" -c "import matplotlib" 2>/dev/null || grep -q '<figure class="extra"><img alt="[^"]*auc_vs_size.png" src="data:image/png;base64,' "$R/report.html"; }; then
  pass "report.html: the ${#cells[@]} runs compared, the plot first"
else
  failed "report.html: rows '$rows' (want '$want'): $(grep '^report' "$work/run1.txt")"
fi
# without matplotlib (hidden behind a package that fails to import): a hint, not an error
mkdir -p "$work/nompl/matplotlib"
echo 'raise ImportError("hidden by the test")' >"$work/nompl/matplotlib/__init__.py"
if PYTHONPATH=$work/nompl sweep "$work/sweep.ini" --collect >"$work/nompl.txt" 2>&1 \
  && grep -q "apt-get install python3-matplotlib" "$work/nompl.txt"; then
  pass "matplotlib missing: $(grep '^plot' "$work/nompl.txt")"
else failed "matplotlib missing: $(cat "$work/nompl.txt")"; fi

# ---- a second run skips every cell ----
snapshot() { (cd "$R" && find . -type f ! -name results.csv ! -name '*.png' ! -name report.html -printf '%p %s %T@\n' | sort); }
snapshot >"$work/before.txt"
t0=$(date +%s.%N)
sweep "$work/sweep.ini" >"$work/run2.txt" 2>&1
rc=$?
secs=$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}")
snapshot >"$work/after.txt"
if [ $rc -eq 0 ] && grep -q "all 4 cells finished earlier" "$work/run2.txt" && [ "$(grep -c 'skipped$' "$work/run2.txt")" -eq 4 ] \
  && ! grep -q ": training \|: evaluating \|: resuming " "$work/run2.txt" && cmp -s "$work/before.txt" "$work/after.txt" \
  && awk "BEGIN{exit !($secs < 5)}"; then
  pass "second run: every cell skipped, nothing rewritten ($secs s)"
else failed "second run (rc $rc, $secs s): $(cat "$work/run2.txt"; diff "$work/before.txt" "$work/after.txt")"; fi

# ---- a cell without its test result is only evaluated ----
cp "$R/results.csv" "$work/results1.csv"
auc() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['clip']['macro_roc_auc'])" "$1"; }
rm "$R/t-pons_time-f25/test.json"
snapshot | grep -v "t-pons_time-f25/test.json\|t-pons_time-f25/sweep.json\|t-pons_time-f25.log" >"$work/before.txt"
sweep "$work/sweep.ini" >"$work/run3.txt" 2>&1
rc=$?
snapshot | grep -v "t-pons_time-f25/test.json\|t-pons_time-f25/sweep.json\|t-pons_time-f25.log" >"$work/after.txt"
if [ $rc -eq 0 ] && [ "$(grep -c ": evaluating " "$work/run3.txt")" -eq 1 ] && grep -q "pons_time 25 %: evaluating" "$work/run3.txt" \
  && ! grep -q ": training \|: resuming " "$work/run3.txt" && [ "$(grep -c 'skipped$' "$work/run3.txt")" -eq 3 ] \
  && cmp -s "$work/before.txt" "$work/after.txt" && [ -f "$R/t-pons_time-f25/test.json" ] \
  && cut -d, -f1-13,16 "$work/results1.csv" | cmp -s - <(cut -d, -f1-13,16 "$R/results.csv"); then
  pass "deleted test.json: only that cell re-evaluated, same numbers, the run untouched"
else failed "re-evaluation (rc $rc): $(cat "$work/run3.txt"; diff "$work/before.txt" "$work/after.txt")"; fi

# ---- an interrupted cell is resumed, and equals the uninterrupted run ----
ref=$(auc "$R/t-fcn3-f100/test.json")
cp "$R/t-fcn3-f100/config.ini" "$work/config_ref.ini"
rm -rf "$R/t-fcn3-f100"
"$AT" train "$work/fcn3.ini" --set train.batch=16 --set train.epochs=1 --set "train.root=$R" --set train.run=t-fcn3-f100 \
  --set data.fraction=1 --set data.fraction_seed=1 --set data.test= --set train.max_steps=3 >"$work/interrupted.txt" 2>&1
sed -i '/^max_steps/d' "$R/t-fcn3-f100/config.ini"   # what the run would be had it been killed at step 3
if [ -f "$R/t-fcn3-f100/last.h5" ] && [ ! -f "$R/t-fcn3-f100/results.json" ] \
  && cmp -s "$work/config_ref.ini" "$R/t-fcn3-f100/config.ini"; then :; else
  failed "could not make an interrupted cell: $(tail -3 "$work/interrupted.txt")"; fi
sweep "$work/sweep.ini" --only fcn3 >"$work/run4.txt" 2>&1
rc=$?
got=$(auc "$R/t-fcn3-f100/test.json" 2>/dev/null)
if [ $rc -eq 0 ] && grep -q "fcn3 100 %: resuming t-fcn3-f100" "$work/run4.txt" && [ "$(grep -c ': resuming \|: training \|: evaluating ' "$work/run4.txt")" -eq 2 ] \
  && grep -q '"type": "resume"' "$R/t-fcn3-f100/log.jsonl" && [ "$got" = "$ref" ]; then
  pass "interrupted cell resumed with train --resume: test ROC-AUC $got, equal to the uninterrupted run"
else failed "resume (rc $rc, $got vs $ref): $(cat "$work/run4.txt")"; fi

# ---- the same grid with two cells at a time gives the same numbers ----
if sweep "$work/sweep.ini" --jobs 2 --root "$work/runs_j2" >"$work/j2.txt" 2>&1 \
  && cut -d, -f1-13,16 "$work/results1.csv" | cmp -s - <(cut -d, -f1-13,16 "$work/runs_j2/results.csv"); then
  pass "--jobs 2: the same results.csv numbers as one cell at a time"
else failed "--jobs 2: $(cat "$work/j2.txt"; diff "$work/results1.csv" "$work/runs_j2/results.csv")"; fi

# ---- --cell K and --collect ----
rm "$R/t-pons_time-f100/test.json"
if sweep "$work/sweep.ini" --collect >"$work/c1.txt" 2>&1; then failed "--collect with a cell missing succeeded"
elif grep -q "1 of 4 cells have no test result: cell 3 (pons_time, 100 %)" "$work/c1.txt"; then
  pass "--collect names the cell without a result: $(tail -1 "$work/c1.txt" | cut -c1-110)"
else failed "--collect: $(cat "$work/c1.txt")"; fi
if sweep "$work/sweep.ini" --cell 3 >"$work/cell.txt" 2>&1 && grep -q "pons_time 100 %: evaluating" "$work/cell.txt" \
  && [ "$(grep -c ': evaluating \|: training \|: resuming ' "$work/cell.txt")" -eq 1 ] && sweep "$work/sweep.ini" --collect >/dev/null 2>&1; then
  pass "--cell 3 brings just that cell to done; --collect then exits 0"
else failed "--cell 3: $(cat "$work/cell.txt")"; fi
fails "--cell out of range" "the sweep has cells 0 .. 3 (2 models x 2 fractions)" sweep "$work/sweep.ini" --cell 4

# ---- a cell held by another process is left to it ----
rm "$R/t-fcn3-f25/test.json"
"$PY" -c 'import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); open(sys.argv[2], "w").close(); time.sleep(30)' \
  "$R/t-fcn3-f25.log" "$work/locked" &
holder=$!
for _ in $(seq 100); do [ -f "$work/locked" ] && break; sleep 0.05; done
sweep "$work/sweep.ini" --cell 0 >"$work/lock.txt" 2>&1
rc=$?
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
if [ $rc -eq 1 ] && grep -q "cell 0 (fcn3, 25 %) is being run by another process" "$work/lock.txt" && [ ! -f "$R/t-fcn3-f25/test.json" ]; then
  pass "a cell locked by another process is left alone (exit 1)"
else failed "lock (rc $rc): $(cat "$work/lock.txt")"; fi
sweep "$work/sweep.ini" --cell 0 >/dev/null 2>&1 || failed "--cell 0 after the lock was released"

# ---- failed cells: named with their logs; the others still run; exit 1 ----
cat >"$work/broken.ini" <<EOF
include = $repo/configs/models/pons_time.ini
set = model.input=96x173x1
set = model.output=sigmoid
set = maxpool1.size=96x1
set = dense1.units=10
[data]
train = d/no_such_train.h5
[train]
epochs = 3
EOF
cat >"$work/bad_cells.ini" <<EOF
[sweep]
name = b
root = $work/runs_bad
models = ghost, broken, fcn3
fractions = 100
test = d/test.h5
epochs = 1
[experiments]
ghost = no_such_experiment.ini
broken = broken.ini
fcn3 = fcn3.ini
EOF
sweep "$work/bad_cells.ini" >"$work/bad.txt" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "cell 0 (ghost, 100 %) failed: no experiment config '$work/no_such_experiment.ini'; log: $work/runs_bad/b-ghost-f100.log" "$work/bad.txt" \
  && grep -q "cell 1 (broken, 100 %) failed: auratag train exited with status 1: .*no_such_train.h5.*; log: $work/runs_bad/b-broken-f100.log" "$work/bad.txt" \
  && grep -q "2 of 3 cells failed" "$work/bad.txt" && [ "$(grep -c '^b,fcn3,100' "$work/runs_bad/results.csv")" -eq 1 ] \
  && grep -q "no_such_train.h5" "$work/runs_bad/b-broken-f100.log"; then
  pass "failed cells named with their logs, the good cell still done, exit 1"
else failed "failed cells (rc $rc): $(cat "$work/bad.txt")"; fi
sed -e "s#^test = .*#test = d/no_such_test.h5#" -e "s#runs_bad#runs_bad2#" -e "s#^models = .*#models = fcn3#" "$work/bad_cells.ini" >"$work/no_test.ini"
sed -i '/^ghost\|^broken/d' "$work/no_test.ini"
fails "missing test cache" "cell 0 (fcn3, 100 %) failed: no test cache '$work/d/no_such_test.h5'; log: $work/runs_bad2/b-fcn3-f100.log" \
  sweep "$work/no_test.ini"

# ---- template mode: a model config + [experiment], per-model [set.MODEL] ----
cat >"$work/template.ini" <<EOF
[sweep]
name = tm
root = $work/runs_tm
models = pons_time
fractions = 50
test = d/test.h5
model_config = $repo/configs/models/{model}.ini
[experiment]
data.train = d/train.h5
data.valid = d/valid.h5
train.lr = 0.003
train.epochs = 1
[set.pons_time]
model.input = 96x173x1
model.output = sigmoid
maxpool1.size = 96x1
dense1.units = 10
EOF
if sweep "$work/template.ini" >"$work/tm.txt" 2>&1 && grep -q "^include = $repo/configs/models/pons_time.ini" "$work/runs_tm/configs/pons_time.ini" \
  && grep -q "^train = $work/d/train.h5" "$work/runs_tm/configs/pons_time.ini" && grep -q "^tm,pons_time,50,0.5,1,60," "$work/runs_tm/results.csv"; then
  pass "template mode: ROOT/configs/pons_time.ini written and trained on 60 examples"
else failed "template mode: $(cat "$work/tm.txt")"; fi

# ---- Slurm: one array task per cell, and a dependent collect job ----
cat "$work/sweep.ini" - >"$work/slurm.ini" <<EOF
[slurm]
partition = gpu
time = 02:00:00
gpus = 2
max_parallel = 3
setup = module load openmpi
EOF
if sweep "$work/slurm.ini" --slurm --dry-run --root "$work/runs_sl" >"$work/sl.txt" 2>&1; then
  s=$work/runs_sl/sweep.sbatch c=$work/runs_sl/collect.sbatch
  if bash -n "$s" && bash -n "$c" && grep -qx "#SBATCH --array=0-3%3" "$s" && grep -qx "#SBATCH --ntasks-per-node=2" "$s" \
    && grep -qx "#SBATCH --gpus-per-node=2" "$s" && grep -qx "#SBATCH --partition=gpu" "$s" && grep -qx "#SBATCH --time=02:00:00" "$s" \
    && grep -q -- '--cell "\$SLURM_ARRAY_TASK_ID"' "$s" && grep -q "^export AURATAG_SWEEP_LAUNCHER=srun" "$s" \
    && grep -qx "module load openmpi" "$s" && grep -q -- "--collect$" "$c" \
    && grep -q "sbatch --dependency=afterany:" "$work/sl.txt" && [ "$(grep -c '^  task' "$work/sl.txt")" -eq 4 ]; then
    pass "--slurm --dry-run: sweep.sbatch (array 0-3, 2 GPUs and ranks per cell) and collect.sbatch"
  else failed "--slurm sbatch files: $(cat "$work/sl.txt" "$s" "$c")"; fi
else failed "--slurm --dry-run: $(cat "$work/sl.txt")"; fi
if sweep "$work/sweep.ini" --slurm --dry-run --only pons_time --root "$work/runs_sl2" >"$work/sl2.txt" 2>&1 \
  && grep -qx "#SBATCH --array=2-3" "$work/runs_sl2/sweep.sbatch" && grep -qx "#SBATCH --ntasks-per-node=1" "$work/runs_sl2/sweep.sbatch" \
  && ! grep -q LAUNCHER "$work/runs_sl2/sweep.sbatch"; then
  pass "--slurm --only pons_time: array 2-3, one rank"
else failed "--slurm --only: $(cat "$work/sl2.txt" "$work/runs_sl2/sweep.sbatch")"; fi

# ---- the Slurm templates, with stand-ins for srun and sbcast ----
mkdir -p "$work/fakebin"
printf '#!/bin/sh\n# srun stand-in: drop the options, run the command once (one rank)\nwhile [ $# -gt 0 ]; do case $1 in --*) shift ;; *) break ;; esac; done\nexec "$@"\n' >"$work/fakebin/srun"
printf '#!/bin/sh\n# sbcast stand-in: sbcast [--force] SRC DEST\n[ "$1" = --force ] && shift\nexec cp "$1" "$2"\n' >"$work/fakebin/sbcast"
chmod +x "$work/fakebin/srun" "$work/fakebin/sbcast"
slurm_env=(env "PATH=$work/fakebin:$PATH" "ROOT=$work/sl_runs" RUN=one)
if "${slurm_env[@]}" bash scripts/slurm/one_node.sbatch "$work/fcn3.ini" --set train.epochs=1 >"$work/one1.txt" 2>&1 \
  && [ -f "$work/sl_runs/one/results.json" ] && "${slurm_env[@]}" bash scripts/slurm/one_node.sbatch "$work/fcn3.ini" >"$work/one2.txt" 2>&1 \
  && grep -q "is finished (results.json); nothing to do" "$work/one2.txt"; then
  pass "one_node.sbatch (srun stand-in): trains $work/sl_runs/one, then sees it finished"
else failed "one_node.sbatch: $(cat "$work/one1.txt" "$work/one2.txt" 2>/dev/null | tail -5)"; fi
"$AT" train "$work/fcn3.ini" --set "train.root=$work/sl_runs" --set train.run=two --set train.epochs=1 --set train.max_steps=2 >/dev/null 2>&1
sed -i '/^max_steps/d' "$work/sl_runs/two/config.ini"
if env "PATH=$work/fakebin:$PATH" "ROOT=$work/sl_runs" RUN=two bash scripts/slurm/one_node.sbatch "$work/fcn3.ini" >"$work/two.txt" 2>&1 \
  && grep -q "^resuming $work/sl_runs/two at epoch 1, batch 2" "$work/two.txt" && [ -f "$work/sl_runs/two/results.json" ]; then
  pass "one_node.sbatch resumes an interrupted run (train --resume)"
else failed "one_node.sbatch resume: $(tail -5 "$work/two.txt")"; fi
if env "PATH=$work/fakebin:$PATH" "ROOT=$work/sl_runs" RUN=multi STAGE=1 "STAGE_DIR=$work/node_local" \
  "CACHES=$work/d/train.h5 $work/d/valid.h5" bash scripts/slurm/multi_node.sbatch "$work/fcn3.ini" --set train.epochs=1 >"$work/multi.txt" 2>&1 \
  && cmp -s "$work/d/train.h5" "$work/node_local/train.h5" && grep -qx "train = $work/node_local/train.h5" "$work/sl_runs/multi/config.ini" \
  && grep -qx "valid = $work/node_local/valid.h5" "$work/sl_runs/multi/config.ini" && [ -f "$work/sl_runs/multi/results.json" ]; then
  pass "multi_node.sbatch STAGE=1: caches copied to the node-local folder and trained from there"
else failed "multi_node.sbatch: $(tail -5 "$work/multi.txt")"; fi

printf '#!/bin/sh\n' >"$work/fakebin/module"
chmod +x "$work/fakebin/module"
# the array task of cell 2 and the collect job, run here as Slurm would (srun stand-in: one rank)
if env "PATH=$work/fakebin:$PATH" SLURM_ARRAY_TASK_ID=2 bash "$work/runs_sl/sweep.sbatch" >"$work/task2.txt" 2>&1 \
  && grep -q "pons_time 25 %: training t-pons_time-f25" "$work/task2.txt" && [ -f "$work/runs_sl/t-pons_time-f25/test.json" ] \
  && grep -q "^== .* srun .*auratag train" "$work/runs_sl/t-pons_time-f25.log" \
  && ! bash "$work/runs_sl/collect.sbatch" >"$work/collect.txt" 2>&1 && grep -q "1 of 4 cells done" "$work/collect.txt" \
  && grep -q "3 of 4 cells have no test result" "$work/collect.txt"; then
  pass "sweep.sbatch as array task 2 trains cell 2 through srun; collect.sbatch reports 1 of 4 done (exit 1)"
else failed "array task / collect job: $(cat "$work/task2.txt" "$work/collect.txt" | tail -8)"; fi

# ---- the shipped sweep configs parse ----
for f in configs/sweeps/demo_depth_data.ini configs/sweeps/choi_depth_data.ini configs/sweeps/demo_waveform_data.ini \
  configs/sweeps/mtat_waveform_data.ini; do
  n=$(sweep "$f" --dry-run --root "$work/shipped" 2>&1 | grep -c "^cell ")
  case $f in *demo*) want=9 ;; *mtat_waveform*) want=15 ;; *) want=25 ;; esac
  [ "$n" -eq "$want" ] && pass "$f: $n cells" || failed "$f: $n cells, not $want: $(sweep "$f" --dry-run 2>&1 | tail -3)"
done
for m in fcn4 fcn5; do
  "$AT" model "configs/experiments/demo_$m.ini" 2>&1 | grep -q "^maxpool.*1x1x128" && pass "demo_$m.ini pools 96 x 173 to 1 x 1" \
    || failed "demo_$m.ini: $("$AT" model "configs/experiments/demo_$m.ini" 2>&1 | tail -3)"
done

# ---- bad configs and command lines are refused, naming the line ----
bad() { # NAME MESSAGE CONFIG_TEXT
  printf '%s\n' "$3" >"$work/bad.ini"
  fails "$1" "$2" sweep "$work/bad.ini" --dry-run
}
bad "no [sweep]" "no [sweep] section" "[set]"
bad "unknown key" "bad.ini:3: unknown key 'modles' in [sweep]" $'[sweep]\ntest = d/test.h5\nmodles = fcn3'
bad "fraction out of range" "bad.ini:4: fraction 0 % is not in (0, 100]" $'[sweep]\nmodels = fcn3\nexperiment = x.ini\nfractions = 0, 50\ntest = t.h5'
bad "fraction not a number" "fraction 'half' is not a number" $'[sweep]\nmodels = fcn3\nexperiment = x.ini\nfractions = half\ntest = t.h5'
bad "no test cache" "[sweep] needs test =" $'[sweep]\nmodels = fcn3\nexperiment = x.ini'
bad "a model without a test cache" "no test cache for model 'fcn4'" \
  $'[sweep]\nmodels = fcn3, fcn4\nexperiment = x.ini\n[tests]\nfcn3 = t.h5'
bad "[tests] naming another model" "bad.ini:6: [tests] names 'fcn5', which is not in models = fcn3" \
  $'[sweep]\nmodels = fcn3\nexperiment = x.ini\ntest = t.h5\n[tests]\nfcn5 = t.h5'
# a test cache per model: [tests] wins over test =, {model} is replaced
printf '[sweep]\nmodels = fcn3, pons_time, fcn4\nexperiment = x.ini\ntest = {model}/test.h5\n[tests]\nfcn3 = own.h5\n' \
  >"$work/per_model.ini"
out=$(sweep "$work/per_model.ini" --dry-run --root "$work/per_model" 2>&1)
if grep -q "eval .*t-fcn3-f100 $work/own.h5\|eval .*-fcn3-f100 $work/own.h5" <<<"$out" &&
   grep -q "eval .*-pons_time-f100 $work/pons_time/test.h5" <<<"$out" && grep -q "eval .*-fcn4-f5 $work/fcn4/test.h5" <<<"$out"; then
  pass "a test cache per model: [tests] fcn3 = own.h5, test = {model}/test.h5 for the others"
else failed "per-model test caches: $(grep ' eval ' <<<"$out" | head -3)"; fi
bad "no experiment" "no experiment config for model 'fcn3'" $'[sweep]\nmodels = fcn3\ntest = t.h5'
bad "sweep-owned --set" "bad.ini:6: [set] may not set train.run" $'[sweep]\nmodels = fcn3\nexperiment = x.ini\ntest = t.h5\n[set]\ntrain.run = x'
bad "unknown section" "bad.ini:5: unknown section [sweeep]" $'[sweep]\nmodels = fcn3\nexperiment = x.ini\ntest = t.h5\n[sweeep]'
bad "syntax" "bad.ini:2: expected '[section]' or 'key = value'" $'[sweep]\nmodels fcn3'
fails "no such sweep config" "cannot read the sweep config" sweep "$work/nope.ini"
fails "--only an unknown model" "--only: 'fcn9' not among the sweep's models (fcn3, pons_time)" sweep "$work/sweep.ini" --only fcn9
fails "no auratag binary" "no auratag binary at '$work/nope'" env AURATAG="$work/nope" "$PY" scripts/sweep.py "$work/sweep.ini"

# ---- the demo dataset at a tiny scale: 60 FluidSynth clips, the shipped demo
# FCN-3 and FCN-4 experiments (configs/experiments/demo_fcn*.ini), 50 / 100 %
# of the training split, 1 epoch
if "$AT" demo-data "$work/demo" --clips 60 --seed 5 >"$work/demo.txt" 2>&1 &&
  "$AT" prep configs/datasets/demo.ini --list "$work/demo/files.csv" --out "$work/demo/cache" >>"$work/demo.txt" 2>&1; then
  cat >"$work/demo_sweep.ini" <<EOF
[sweep]
name = demo_tiny
root = $work/demo_runs
models = fcn3, fcn4
fractions = 50, 100
test = $work/demo/cache/test.h5
epochs = 1
experiment = $repo/configs/experiments/demo_{model}.ini
[set]
data.train = $work/demo/cache/train.h5
data.valid = $work/demo/cache/valid.h5
EOF
  if sweep "$work/demo_sweep.ini" >"$work/demo_sweep.txt" 2>&1 &&
    [ "$(($(wc -l <"$work/demo_runs/results.csv") - 1))" = 4 ]; then
    pass "the demo dataset (60 clips): FCN-3 and FCN-4 x 50 / 100 %, 4 cells in results.csv"
  else
    failed "demo sweep: $(tail -5 "$work/demo_sweep.txt")"
  fi
else
  failed "demo dataset for the sweep: $(tail -3 "$work/demo.txt")"
fi

exit $fail
