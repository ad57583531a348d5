#!/usr/bin/env bash
# Training end to end, on synthetic caches (auratag synth):
#  - learning happens: pons_time, pons_frequency and a narrow FCN-3 reach a
#    validation ROC-AUC above 0.95;
#  - exact resume: a run killed with SIGKILL mid-epoch and resumed ends with
#    the same weights, BN statistics and optimizer state, bit for bit, as an
#    uninterrupted run;
#  - NaN losses stop the run (or are skipped and counted);
#  - a checkpoint write that fails (file size limit = a full disk) is an
#    error and the previous checkpoint survives unchanged;
#  - eval's per-tag ROC-AUC / AP equal scikit-learn's on predict's output;
#  - bad inputs: mismatched cache, existing run folder, empty fold.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, $fail
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
quiet() { "$@" >"$work/out.txt" 2>&1; }
expect_error() { # description expected-text command...
  local what=$1 text=$2
  shift 2
  "$@" >"$work/err.txt" 2>&1
  local rc=$?
  if [ $rc = 1 ] && grep -qF -- "$text" "$work/err.txt"; then pass "$what: $(grep -o 'error: .*' "$work/err.txt" | head -1 | cut -c1-150)"
  else failed "$what (rc $rc): $(tail -2 "$work/err.txt")"; fi
}

"$AT" synth "$work/d40" --tags 8 --patterns both --train 2000 --valid 400 --test 400 --seed 3 >/dev/null || failed "synth 40x80"
"$AT" synth "$work/d96" --bins 96 --frames 1366 --tags 8 --patterns both --train 400 --valid 100 --test 100 --seed 4 >/dev/null || failed "synth 96x1366"
"$AT" synth "$work/folds" --tags 8 --patterns both --train 200 --valid 40 --test 40 --songs 4 --folds 5 --seed 5 >/dev/null || failed "synth folds"
data40="--set data.train=$work/d40/train.h5 --set data.valid=$work/d40/valid.h5 --set data.test=$work/d40/test.h5"
data96="--set data.train=$work/d96/train.h5 --set data.valid=$work/d96/valid.h5 --set data.test=$work/d96/test.h5"
runs="--set train.root=$work/runs"

roc_of() { $PY -c "import json,sys; print(json.load(open(sys.argv[1]))['valid']['clip']['macro_roc_auc'])" "$1"; }

# ---- learning happens
learn() { # name config data-args extra...
  local name=$1 config=$2 data=$3
  shift 3
  # shellcheck disable=SC2086
  if ! quiet "$AT" train "$config" $data $runs --set "train.run=$name" "$@"; then
    failed "$name: training failed: $(tail -3 "$work/out.txt")"
    return
  fi
  local auc
  auc=$(roc_of "$work/runs/$name/results.json")
  if $PY -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0.95 else 1)" "$auc"; then
    pass "$name learns the synthetic tags: validation ROC-AUC $auc > 0.95"
  else
    failed "$name: validation ROC-AUC $auc <= 0.95"
  fi
}
# The sanitizer run (AURATAG_QUICK=1) trains pons_time 2 epochs, FCN-3 for 4 steps and not
# pons_frequency: it is there for memory errors, and learning is proven by the
# normal run.
if [ "${AURATAG_QUICK:-0}" = 1 ]; then
  pons_time_epochs=2
  # shellcheck disable=SC2086
  quiet "$AT" train configs/experiments/synth_pons_time.ini $data40 $runs --set train.run=pons_time --set train.epochs=2 &&
    pass "pons_time trains 2 epochs (sanitizer run)" || failed "pons_time: $(tail -3 "$work/out.txt")"
  # shellcheck disable=SC2086
  quiet "$AT" train configs/experiments/synth_fcn3.ini $data96 $runs --set train.run=fcn3 --set train.max_steps=4 &&
    pass "fcn3 trains 4 steps (sanitizer run)" || failed "fcn3 steps: $(tail -3 "$work/out.txt")"
else
  pons_time_epochs=10
  learn pons_time configs/experiments/synth_pons_time.ini "$data40" --set train.epochs=10
  learn pons_frequency configs/experiments/synth_pons_frequency.ini "$data40"
  learn fcn3 configs/experiments/synth_fcn3.ini "$data96"
fi

# the run folder holds what the README promises
r=$work/runs/pons_time
if [ -f "$r/config.ini" ] && [ -f "$r/best.h5" ] && [ -f "$r/last.h5" ] && [ -f "$r/results.json" ] &&
   $PY - "$r/log.jsonl" "$pons_time_epochs" <<'PYEOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
steps = [l for l in lines if l["type"] == "step"]
epochs = [l for l in lines if l["type"] == "epoch"]
n = int(sys.argv[2])  # 10 (2 in the sanitizer run)
assert len(epochs) == n, len(epochs)
assert len(steps) == n * 63, len(steps)
assert all(k in steps[0] for k in ("loss", "lr", "samples_per_s", "grad_norm"))
assert all("valid" in e and "train_loss" in e and "time_s" in e for e in epochs)
assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
PYEOF
then pass "run folder: config.ini, log.jsonl (steps and epochs), best.h5, last.h5, results.json"; else failed "run folder contents"; fi

# ---- eval equals scikit-learn on predict's probabilities
if quiet "$AT" eval "$work/runs/pons_time" "$work/d40/test.h5" --json "$work/eval.json" --csv "$work/eval.csv" &&
   quiet "$AT" predict "$work/runs/pons_time" "$work/d40/test.h5" -o "$work/pred.h5" &&
   $PY - "$work/eval.json" "$work/pred.h5" "$work/d40/test.h5" <<'PYEOF'
import json, sys, h5py, numpy as np
from sklearn.metrics import roc_auc_score, average_precision_score
ev = json.load(open(sys.argv[1]))
p = h5py.File(sys.argv[2], "r")["probabilities"][()].astype(np.float64)
y = h5py.File(sys.argv[3], "r")["labels"][()]
assert p.shape == y.shape == (400, 8)
for j, t in enumerate(ev["clip"]["tags"]):
    assert abs(t["roc_auc"] - roc_auc_score(y[:, j], p[:, j])) < 1e-9, (j, t)
    assert abs(t["pr_auc"] - average_precision_score(y[:, j], p[:, j])) < 1e-9, (j, t)
assert abs(ev["clip"]["macro_roc_auc"] - roc_auc_score(y, p, average="macro")) < 1e-9
PYEOF
then pass "eval's per-tag ROC-AUC and AP equal scikit-learn's on predict's probabilities"; else failed "eval vs sklearn: $(tail -3 "$work/out.txt")"; fi

# ---- gradient clipping: one SGD step moves the weights by exactly lr * clip_norm
# (global L2 norm), starting from the seeded initial weights `auratag init` writes
"$AT" init configs/experiments/synth_pons_time.ini -o "$work/init.h5" --seed 1 >/dev/null
# shellcheck disable=SC2086
if quiet "$AT" train configs/experiments/synth_pons_time.ini $data40 $runs --set train.run=clip --set train.optimizer=sgd \
     --set train.lr=0.5 --set train.clip_norm=0.002 --set train.max_steps=1 &&
   $PY - "$work/init.h5" "$work/runs/clip/last.h5" "$work/runs/clip/log.jsonl" <<'PYEOF'
import json, sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r")["params"], h5py.File(sys.argv[2], "r")["params"]
sq = 0.0
for layer in a:
    for name in a[layer]:
        sq += float(((b[layer][name][()].astype(np.float64) - a[layer][name][()]) ** 2).sum())
step = [json.loads(l) for l in open(sys.argv[3]) if '"step"' in l and '"type": "step"' in l][0]
assert step["grad_norm"] > 0.002, step
assert abs(np.sqrt(sq) - 0.5 * 0.002) < 1e-6, np.sqrt(sq)
PYEOF
then pass "clip_norm: one SGD step moves the weights by lr x clip_norm"; else failed "clip_norm: $(tail -3 "$work/out.txt")"; fi

# ---- song level (mean of chunk scores per song) and single-label metrics
if quiet "$AT" eval "$work/runs/pons_time" "$work/folds/test.h5" --json "$work/song.json" &&
   quiet "$AT" predict "$work/runs/pons_time" "$work/folds/test.h5" -o "$work/song.h5" &&
   $PY - "$work/song.json" "$work/song.h5" "$work/folds/test.h5" <<'PYEOF'
import json, sys, h5py, numpy as np
from sklearn.metrics import roc_auc_score
ev = json.load(open(sys.argv[1]))
p = h5py.File(sys.argv[2], "r")["probabilities"][()]
c = h5py.File(sys.argv[3], "r")
song, y = c["song"][()], c["labels"][()]
songs = np.unique(song)
assert ev["songs"] == len(songs) == 10, ev["songs"]
ps = np.stack([p[song == s].astype(np.float64).mean(0) for s in songs]).astype(np.float32)
ys = np.stack([y[song == s][0] for s in songs])
keep = [j for j in range(ys.shape[1]) if 0 < ys[:, j].sum() < len(songs)]
want = np.mean([roc_auc_score(ys[:, j], ps[:, j].astype(np.float64)) for j in keep])
assert abs(ev["song"]["macro_roc_auc"] - want) < 1e-6, (ev["song"]["macro_roc_auc"], want)
assert ev["song"]["excluded_roc_auc"] == ys.shape[1] - len(keep)
PYEOF
then pass "song-level ROC-AUC = macro ROC-AUC of the mean chunk scores per song"; else failed "song level: $(tail -3 "$work/out.txt")"; fi
"$AT" synth "$work/cls" --classes 4 --patterns both --train 800 --valid 200 --test 200 --songs 5 --seed 6 >/dev/null
# shellcheck disable=SC2086
if quiet "$AT" train configs/experiments/synth_pons_time.ini $runs --set train.run=cls --set model.output=softmax \
     --set dense1.units=4 --set train.select=accuracy --set train.epochs=3 --set "data.train=$work/cls/train.h5" --set "data.valid=$work/cls/valid.h5" \
     --set "data.test=$work/cls/test.h5" &&
   quiet "$AT" eval "$work/runs/cls" "$work/cls/test.h5" --json "$work/cls.json" --csv "$work/cls.csv" &&
   quiet "$AT" predict "$work/runs/cls" "$work/cls/test.h5" -o "$work/cls.h5" &&
   $PY - "$work/cls.json" "$work/cls.h5" "$work/cls/test.h5" "$work/runs/cls/results.json" <<'PYEOF'
import json, sys, h5py, numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix
ev = json.load(open(sys.argv[1]))
p = h5py.File(sys.argv[2], "r")["probabilities"][()]
c = h5py.File(sys.argv[3], "r")
y, song = c["label"][()], c["song"][()]
pred = p.argmax(1)
assert abs(ev["clip"]["accuracy"] - accuracy_score(y, pred)) < 1e-12
assert ev["clip"]["confusion"] == confusion_matrix(y, pred, labels=range(4)).tolist()
assert np.allclose(p.sum(1), 1, atol=1e-5)
votes = []
for s in np.unique(song):
    v = np.bincount(pred[song == s], minlength=4)
    best = np.flatnonzero(v == v.max())
    sums = p[song == s].astype(np.float64).sum(0)
    votes.append((best[np.argmax(sums[best])], y[song == s][0]))
acc = np.mean([a == b for a, b in votes])
assert abs(ev["song"]["accuracy"] - acc) < 1e-12, (ev["song"]["accuracy"], acc)
assert json.load(open(sys.argv[4]))["select"] == "accuracy"
assert ev["clip"]["accuracy"] > 0.7, ev["clip"]["accuracy"]
from sklearn.metrics import balanced_accuracy_score
assert abs(ev["clip"]["balanced_accuracy"] - balanced_accuracy_score(y, pred)) < 1e-9  # JSON keeps 10 digits
PYEOF
then pass "single-label: accuracy, balanced accuracy, confusion matrix and song majority vote equal scikit-learn / numpy"; else failed "single-label eval: $(tail -3 "$work/out.txt")"; fi
# the screen shows what the JSON holds: balanced accuracy, and each class's confusion row
if quiet "$AT" eval "$work/runs/cls" "$work/cls/test.h5" && $PY - "$work/out.txt" "$work/cls.json" <<'PYEOF'
import json, re, sys
screen, ev = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))["clip"]
m = re.search(r"balanced accuracy ([0-9.]+)", screen)
assert m and abs(float(m.group(1)) - ev["balanced_accuracy"]) < 6e-5, m
for i, row in enumerate(ev["confusion"]):
    line = re.search(rf"^ +{i} +\S+ +{sum(row)} +[0-9.]+ +" + " +".join(map(str, row)) + " *$", screen, re.M)
    assert line, f"class {i}: no row with support {sum(row)} and confusion {row} in:\n{screen}"
PYEOF
then pass "single-label eval prints balanced accuracy and the confusion matrix"; else failed "single-label screen: $(cat "$work/out.txt")"; fi
# eval --songs: one line per song, checked against the predictions (mean chunk scores, majority vote)
"$AT" eval "$work/runs/pons_time" "$work/folds/test.h5" --songs >"$work/songs_ml.txt" 2>&1
"$AT" eval "$work/runs/cls" "$work/cls/test.h5" --songs >"$work/songs_cls.txt" 2>&1
if $PY - "$work" <<'PYEOF'
import re, sys, h5py, numpy as np
w = sys.argv[1]
# multi-label: true tags, hits among the top |true| tags, the top tags with their mean probability
screen = open(f"{w}/songs_ml.txt").read()
p = h5py.File(f"{w}/song.h5", "r")["probabilities"][()]
c = h5py.File(f"{w}/folds/test.h5", "r")
song, y, ids, tags = c["song"][()], c["labels"][()], c["ids"][()], [t.decode() for t in c["tags"][()]]
songs = np.unique(song)
for s in songs:
    rows = np.flatnonzero(song == s)
    mean = p[rows].astype(np.float64).mean(0)
    truth = [tags[j] for j in np.flatnonzero(y[rows[0]])]
    shown = min(max(len(truth), 3), len(tags))
    top = np.argsort(-mean, kind="stable")[:shown]
    hits = sum(tags[j] in truth for j in top[:len(truth)])
    line = [l for l in screen.splitlines() if l.split() and l.split()[0] == ids[rows[0]].decode()]
    assert len(line) == 1, (s, screen)
    f = line[0].split()
    assert int(f[1]) == len(rows) and f[2] == f"{hits}/{len(truth)}", (line, hits, truth)
    assert f[3] == (";".join(truth) or "(none)"), (line, truth)
    got = [(n.rstrip("*"), float(v)) for n, v in zip(f[4::2], f[5::2])]
    best = sorted(mean, reverse=True)[:shown]  # the largest means, whatever the order of ties
    assert len(got) == shown and all(abs(g - b) < 6e-4 for (_, g), b in zip(got, best)), (line, mean)
    assert all(abs(v - mean[tags.index(n)]) < 6e-4 for n, v in got), (line, mean)
# single-label: the voted class of every song, "wrong" where it is not the song's class
screen = open(f"{w}/songs_cls.txt").read()
p = h5py.File(f"{w}/cls.h5", "r")["probabilities"][()]
c = h5py.File(f"{w}/cls/test.h5", "r")
song, y, ids, names = c["song"][()], c["label"][()], c["ids"][()], [t.decode() for t in c["tags"][()]]
pred = p.argmax(1)
for s in np.unique(song):
    rows = np.flatnonzero(song == s)
    v = np.bincount(pred[rows], minlength=len(names))
    best = np.flatnonzero(v == v.max())
    voted = best[np.argmax(p[rows].astype(np.float64).sum(0)[best])]
    line = [l.split() for l in screen.splitlines() if l.split() and l.split()[0] == ids[rows[0]].decode()]
    assert len(line) == 1 and line[0][1:4] == [str(len(rows)), names[y[rows[0]]], names[voted]], (line, voted)
    assert (line[0][4:] == ["wrong"]) == (voted != y[rows[0]]), line
PYEOF
then pass "eval --songs: a line per song (true tags, hits, top tags at their mean probability; voted class, wrong marked)"
else failed "eval --songs: $(head -c 600 "$work/songs_ml.txt"; head -c 600 "$work/songs_cls.txt")"; fi

# the shipped single-label experiment runs as it is on a cache with folds and songs (Ballroom's shape)
"$AT" synth "$work/cls8" --classes 8 --songs 4 --folds 10 --train 400 --valid 40 --test 40 --seed 7 >/dev/null
if quiet "$AT" train configs/experiments/ballroom_pons_timefreq.ini --set "data.train=$work/cls8/train.h5" $runs \
     --set train.max_steps=3 && grep -q "on 320 examples" "$work/out.txt" &&
   quiet "$AT" eval "$work/runs/ballroom_pons_timefreq" "$work/cls8/test.h5" && grep -q "balanced accuracy" "$work/out.txt" &&
   grep -q "song level (10 songs, majority vote)" "$work/out.txt"; then
  pass "configs/experiments/ballroom_pons_timefreq.ini: single-label training on folds 2-9, eval per class and per song"
else failed "single-label experiment config: $(tail -3 "$work/out.txt")"; fi

# ---- exact resume after SIGKILL mid-epoch
bb="tests/configs/resume_blackbox.ini --set data.train=$work/d40/train.h5 --set data.valid=$work/d40/valid.h5 $runs"
# The sanitizer run trains these runs 2 epochs, not 3: the kills still come mid-epoch (the SIGKILL
# in the second), and the runs resumed after SIGTERM and SIGINT still cross an epoch boundary.
if [ "${AURATAG_QUICK:-0}" = 1 ]; then bb="$bb --set train.epochs=2"; fi
# shellcheck disable=SC2086
quiet "$AT" train $bb --set train.run=whole || failed "resume: the uninterrupted run failed"
# shellcheck disable=SC2086
"$AT" train $bb --set train.run=killed >"$work/killed.txt" 2>&1 &
kill_after_steps $! "$work/runs/killed" 150 600 0.05
if [ $killed = 1 ] && [ ! -f "$work/runs/killed/results.json" ]; then
  quiet "$AT" train --resume "$work/runs/killed" || failed "resume: the resumed run failed: $(tail -3 "$work/out.txt")"
  if $PY - "$work/runs/whole/last.h5" "$work/runs/killed/last.h5" <<'PYEOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
assert any(n.startswith("train/optimizer") for n in names) and any("running" not in n for n in names)
for n in names:
    assert a[n].shape == b[n].shape and np.array_equal(a[n][()], b[n][()]), f"{n} differs"
for k in ("step", "epoch", "lr", "best_metric", "best_epoch"):
    assert a["train"].attrs[k] == b["train"].attrs[k], k
PYEOF
  then pass "killed mid-epoch (SIGKILL after $steps steps) and resumed: final weights, statistics and optimizer state bit-identical"
  else failed "resumed run differs from the uninterrupted one"; fi
else
  failed "resume: could not kill the run mid-way (killed=$killed)"
fi

# the resumed run's log holds each step once (the steps after the checkpoint were taken again)
if $PY - "$work/runs/killed/log.jsonl" <<'PYEOF'
import json, sys
steps = [r["step"] for r in map(json.loads, open(sys.argv[1])) if r["type"] == "step"]
assert steps == list(range(1, len(steps) + 1)), f"step records are not 1..N once each: {len(steps)} records, {len(set(steps))} distinct"
PYEOF
then pass "after a resume, log.jsonl holds every step once"
else failed "log.jsonl repeats steps after a resume"; fi

# ---- SIGTERM / SIGINT mid-epoch: a checkpoint, the advice, exit 128 + signal; the resumed run equals the whole one
for sig in TERM INT; do
  # shellcheck disable=SC2086
  # (a script's background job starts with SIGINT ignored, which auratag respects: restore the default first)
  $PY -c "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])" \
    "$AT" train $bb --set train.run=sig$sig >"$work/sig.txt" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    steps=$(grep -c '"type": "step"' "$work/runs/sig$sig/log.jsonl" 2>/dev/null || true)
    [ "${steps:-0}" -ge 40 ] && break
    sleep 0.05
  done
  kill -$sig $pid
  wait $pid
  rc=$?
  want=$((128 + $(kill -l $sig)))
  if [ $rc = $want ] && grep -q "stopped by SIG$sig after step [0-9]*; checkpoint .*last.h5; continue with \`auratag train --resume" "$work/sig.txt" &&
     quiet "$AT" train --resume "$work/runs/sig$sig" &&
     $PY -c "
import sys, h5py, numpy as np
a, b = h5py.File('$work/runs/whole/last.h5', 'r'), h5py.File('$work/runs/sig$sig/last.h5', 'r')
names = []
a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
for n in names: assert np.array_equal(a[n][()], b[n][()]), n
"; then pass "SIG$sig: exit $rc, checkpoint written, resumed run bit-identical to the uninterrupted one"
  else failed "SIG$sig: exit $rc (want $want): $(tail -2 "$work/sig.txt") / $(tail -2 "$work/out.txt")"; fi
done

# a command that has nothing to save ends on SIGTERM as the signal would end it (128 + 15 to the shell)
"$AT" demo-data "$work/sigdemo" --clips 400 >/dev/null 2>&1 &
pid=$!
sleep 1
kill -TERM $pid
wait $pid
rc=$?
[ $rc = 143 ] && pass "SIGTERM ends demo-data at once (exit 143)" || failed "SIGTERM to demo-data: exit $rc"

# ---- max_steps: stops there; a resume at the limit takes no step
# shellcheck disable=SC2086
quiet "$AT" train $bb --set train.run=maxsteps --set train.max_steps=5
# shellcheck disable=SC2086
quiet "$AT" train --resume "$work/runs/maxsteps"
rc=$?
step=$($PY -c "import h5py; print(h5py.File('$work/runs/maxsteps/last.h5', 'r')['train'].attrs['step'])")
if [ $rc = 0 ] && [ "$step" = 5 ] && grep -q "stopped after max_steps = 5" "$work/out.txt"; then
  pass "max_steps = 5: the run stops at step 5, and a resume at the limit takes no further step"
else failed "max_steps: rc $rc, step $step after resume: $(tail -2 "$work/out.txt")"; fi
# following the advice it prints: --resume with a higher max_steps goes on to it
advice=$(grep -o "auratag train --resume [^\`]*" "$work/out.txt" | head -1 | sed 's/max_steps=N/max_steps=8/')
# shellcheck disable=SC2086
quiet "$AT" ${advice#auratag }
step=$($PY -c "import h5py; print(h5py.File('$work/runs/maxsteps/last.h5', 'r')['train'].attrs['step'])")
if [ "$step" = 8 ] && grep -q "^max_steps = 8" "$work/runs/maxsteps/config.ini"; then
  pass "the printed advice works: '$advice' trains on to step 8 (and the run's config.ini says so)"
else failed "following '$advice': step $step: $(tail -2 "$work/out.txt")"; fi
expect_error "--resume --set of a key that changes the recipe" "a resumed run keeps its recipe" \
  "$AT" train --resume "$work/runs/maxsteps" --set train.lr=0.5

# ---- a resume refuses a training cache that was replaced since the checkpoint
cp "$work/d40/train.h5" "$work/swap.h5"
quiet "$AT" train configs/experiments/synth_pons_time.ini --set "data.train=$work/swap.h5" --set data.valid= --set data.test= \
  $runs --set train.run=swapped --set train.max_steps=2
"$AT" synth "$work/other" --tags 8 --patterns both --train 2000 --valid 10 --test 10 --seed 99 >/dev/null
cp "$work/other/train.h5" "$work/swap.h5"
expect_error "--resume with a replaced training cache" "is not the one this run trained on" \
  "$AT" train --resume "$work/runs/swapped" --set train.max_steps=3

# ---- a run that stopped before its first checkpoint starts afresh; stale temporary files of dead processes go
mkdir -p "$work/runs/early"
cp "$work/runs/maxsteps/config.ini" "$work/runs/early/config.ini"
echo '{"type": "start"}' >"$work/runs/early/log.jsonl"
touch "$work/runs/early/last.h5.tmp.2147483646"
# shellcheck disable=SC2086
if quiet "$AT" train $bb --set train.run=early --set train.max_steps=2 && grep -q "starting it afresh" "$work/out.txt" &&
   [ ! -e "$work/runs/early/last.h5.tmp.2147483646" ] && [ -f "$work/runs/early/last.h5" ]; then
  pass "a run folder without a checkpoint is started afresh; a dead process's temporary file is removed"
else failed "restart before the first checkpoint: $(tail -2 "$work/out.txt")"; fi

# ---- NaN: stop (exit 1, names step and layer, keeps the last checkpoint) or skip.
# The cause here is a corrupt example: one spectrogram of NaN in the training cache.
cp "$work/d40/train.h5" "$work/nan.h5"
$PY -c "import h5py, numpy as np; f = h5py.File('$work/nan.h5', 'r+'); f['features'][17] = np.nan"
nan="--set data.train=$work/nan.h5 --set data.valid=$work/d40/valid.h5 --set data.test= $runs"
# shellcheck disable=SC2086
"$AT" train configs/experiments/synth_pons_time.ini $nan --set train.run=nan --set train.checkpoint_every=1 >"$work/nan.txt" 2>&1
rc=$?
if [ $rc = 1 ] && grep -Eq "non-finite (loss|gradient) at step [0-9]+ \(epoch 1, batch [0-9]+\); the input holds NaN/Inf: example 17 " "$work/nan.txt" &&
   grep -q "last good checkpoint is .*last.h5" "$work/nan.txt" && grep -q '"type": "nan_stop"' "$work/runs/nan/log.jsonl" &&
   [ ! -f "$work/runs/nan/results.json" ]; then
  pass "a NaN loss stops the run: $(grep -o 'non-finite.*' "$work/nan.txt" | head -1)"
else failed "NaN stop (rc $rc): $(tail -3 "$work/nan.txt")"; fi
# shellcheck disable=SC2086
"$AT" train configs/experiments/synth_pons_time.ini $nan --set train.run=nanskip --set train.on_nan=skip \
  --set train.epochs=2 >"$work/nan.txt" 2>&1
if [ $? = 0 ] && $PY -c "import json,sys; r = json.load(open(sys.argv[1])); sys.exit(0 if r['nan_skipped'] == 2 and r['valid']['clip']['macro_roc_auc'] > 0.75 else 1)" "$work/runs/nanskip/results.json"; then
  pass "on_nan = skip skips the bad batch (once per epoch) and trains on"; else failed "NaN skip: $(tail -3 "$work/nan.txt")"; fi

# ---- a failing checkpoint write keeps the previous checkpoint
# shellcheck disable=SC2086
quiet "$AT" train $bb --set train.run=full --set train.max_steps=10 || failed "disk full: first part"
before=$(md5sum <"$work/runs/full/last.h5")
( trap '' XFSZ; ulimit -f 20000; "$AT" train --resume "$work/runs/full" --set train.max_steps=11 ) >"$work/full.txt" 2>&1
rc=$?
after=$(md5sum <"$work/runs/full/last.h5")
leftovers=$(find "$work/runs/full" -name '*.tmp*' | wc -l)
if [ $rc = 1 ] && grep -q "disk full" "$work/full.txt" && [ "$before" = "$after" ] && [ "$leftovers" = 0 ] &&
   quiet "$AT" train --resume "$work/runs/full" --set train.max_steps=11; then
  pass "a checkpoint write that fails is an error; the previous checkpoint survives and resumes"
else failed "disk full (rc $rc, leftovers $leftovers): $(tail -2 "$work/full.txt")"; fi

# ---- bad input
# shellcheck disable=SC2086
expect_error "a cache that does not fit the model" "has 96 frequency bins per frame but model 'pons_time' takes 40" \
  "$AT" train configs/experiments/synth_pons_time.ini $data96 $runs --set train.run=mismatch
# shellcheck disable=SC2086
expect_error "an existing run folder" "already holds a run" \
  "$AT" train configs/experiments/synth_pons_time.ini $data40 $runs --set train.run=pons_time
expect_error "an empty test fold" "selects no test examples" \
  "$AT" train configs/experiments/synth_pons_time.ini --set "data.train=$work/folds/train.h5" --set data.valid= \
  --set data.test= --set data.fold=7 $runs --set train.run=emptyfold
cp "$work/d40/valid.h5" "$work/otherfe.h5"
$PY -c "import h5py; h5py.File('$work/otherfe.h5', 'r+').attrs['compression'] = 'db'"
# shellcheck disable=SC2086
expect_error "a validation cache made with another front end" "was made with another front end than the training cache" \
  "$AT" train configs/experiments/synth_pons_time.ini $data40 --set "data.valid=$work/otherfe.h5" $runs --set train.run=otherfe
expect_error "eval on a cache made with another front end" "was made with another front end than the training cache of" \
  "$AT" eval "$work/runs/pons_time" "$work/otherfe.h5"
# a validation cache whose tags are the training cache's in another order is mapped by name (the same
# results as the original); one with another tag set is refused, naming the differences
$PY - "$work/d40/valid.h5" "$work/perm.h5" "$work/renamed.h5" "$work/cls/valid.h5" "$work/clsperm.h5" <<'PYEOF'
import shutil, sys, h5py, numpy as np
src, perm, renamed, csrc, cperm = sys.argv[1:]
order = [3, 0, 7, 1, 6, 2, 5, 4]
shutil.copy(src, perm)
with h5py.File(perm, "r+") as f:
    tags, labels = f["tags"][()], f["labels"][()]
    f["tags"][...] = tags[order]
    f["labels"][...] = labels[:, order]
shutil.copy(src, renamed)
with h5py.File(renamed, "r+") as f:
    tags = f["tags"][()]
    tags[2] = b"not_a_tag"
    f["tags"][...] = tags
shutil.copy(csrc, cperm)
with h5py.File(cperm, "r+") as f:  # classes [0,1,2,3] -> [2,0,3,1]
    names, label = f["tags"][()], f["label"][()]
    new_of_old = np.array([1, 3, 0, 2])
    f["tags"][...] = names[np.argsort(new_of_old)]
    f["label"][...] = new_of_old[label]
PYEOF
one_epoch() { # run-name valid-cache train-cache extra...
  local name=$1 valid=$2 train=$3
  shift 3
  quiet "$AT" train configs/experiments/synth_pons_time.ini $runs --set "train.run=$name" --set train.epochs=1 \
    --set "data.train=$train" --set "data.valid=$valid" --set data.test= "$@"
}
if one_epoch tags_ref "$work/d40/valid.h5" "$work/d40/train.h5" && one_epoch tags_perm "$work/perm.h5" "$work/d40/train.h5" &&
   grep -q "in another order; its labels were mapped by name" "$work/out.txt" &&
   [ "$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['valid'])" "$work/runs/tags_ref/results.json")" = \
     "$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['valid'])" "$work/runs/tags_perm/results.json" | sed "s|$work/perm.h5|$work/d40/valid.h5|")" ]; then
  pass "a validation cache with the tags in another order is mapped by name: the same results"
else failed "reordered tags: $(tail -2 "$work/out.txt")"; fi
cls_args=(--set model.output=softmax --set dense1.units=4 --set train.select=accuracy)
if one_epoch cls_ref "$work/cls/valid.h5" "$work/cls/train.h5" "${cls_args[@]}" &&
   one_epoch cls_perm "$work/clsperm.h5" "$work/cls/train.h5" "${cls_args[@]}" &&
   [ "$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['valid']['clip'])" "$work/runs/cls_ref/results.json")" = \
     "$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['valid']['clip'])" "$work/runs/cls_perm/results.json")" ]; then
  pass "a validation cache with the classes in another order is mapped by name: the same accuracy and confusion"
else failed "reordered classes: $(tail -2 "$work/out.txt")"; fi
# shellcheck disable=SC2086
expect_error "a validation cache with another tag set" "missing 'band2_rhythm7'; not in the model's: 'not_a_tag'" \
  "$AT" train configs/experiments/synth_pons_time.ini $data40 --set "data.valid=$work/renamed.h5" $runs --set train.run=renamed
# the checkpoint names its outputs; eval and predict map a reordered cache by name (the same figures,
# predictions in the model's order) and refuse another tag set; a resume refuses a training cache whose
# tags were reordered in place
ckpt_tags=$($PY -c "import h5py,sys; print(' '.join(t.decode() for t in h5py.File(sys.argv[1],'r')['tags'][()]))" "$work/runs/tags_ref/last.h5")
cache_tags=$($PY -c "import h5py,sys; print(' '.join(t.decode() for t in h5py.File(sys.argv[1],'r')['tags'][()]))" "$work/d40/train.h5")
[ -n "$ckpt_tags" ] && [ "$ckpt_tags" = "$cache_tags" ] && pass "a checkpoint's /tags are its training cache's: $ckpt_tags" ||
  failed "checkpoint /tags '$ckpt_tags' vs the training cache's '$cache_tags'"
"$AT" eval "$work/runs/tags_ref" "$work/d40/valid.h5" --json "$work/e_ref.json" >/dev/null 2>&1
"$AT" eval "$work/runs/tags_ref" "$work/perm.h5" --json "$work/e_perm.json" >/dev/null 2>"$work/e_perm.err"
"$AT" predict "$work/runs/tags_ref" "$work/d40/valid.h5" -o "$work/p_ref.h5" >/dev/null 2>&1
"$AT" predict "$work/runs/tags_ref" "$work/perm.h5" -o "$work/p_perm.h5" >/dev/null 2>&1
if grep -q "in another order; its labels were mapped by name" "$work/e_perm.err" && $PY - "$work" <<'PYEOF'
import json, sys, h5py, numpy as np
w = sys.argv[1]
ref, perm = json.load(open(f"{w}/e_ref.json")), json.load(open(f"{w}/e_perm.json"))
strip = lambda d: {k: v for k, v in d.items() if k not in ("cache", "weights")}
assert strip(ref) == strip(perm), (ref, perm)
a, b = h5py.File(f"{w}/p_ref.h5", "r"), h5py.File(f"{w}/p_perm.h5", "r")
assert list(a["tags"][()]) == list(b["tags"][()])
np.testing.assert_array_equal(a["probabilities"][()], b["probabilities"][()])
PYEOF
then pass "eval and predict on a cache with the tags in another order: mapped by name, the same figures and predictions"
else failed "eval/predict on reordered tags: $(cat "$work/e_perm.err")"; fi
expect_error "eval on a cache with another tag set" "missing 'band2_rhythm7'; not in the model's: 'not_a_tag'" \
  "$AT" eval "$work/runs/tags_ref" "$work/renamed.h5"
expect_error "predict on a cache with another tag set" "missing 'band2_rhythm7'; not in the model's: 'not_a_tag'" \
  "$AT" predict "$work/runs/tags_ref" "$work/renamed.h5" -o "$work/p_renamed.h5"
cp "$work/d40/train.h5" "$work/tr_inplace.h5"
quiet "$AT" train configs/experiments/synth_pons_time.ini $runs --set train.run=tags_resume --set train.max_steps=1 \
  --set "data.train=$work/tr_inplace.h5" --set data.valid= --set data.test= || failed "tags_resume: first part"
$PY -c "
import h5py, sys
with h5py.File(sys.argv[1], 'r+') as f:
    t, l = f['tags'][()], f['labels'][()]
    f['tags'][...] = t[::-1]; f['labels'][...] = l[:, ::-1]" "$work/tr_inplace.h5"
expect_error "a resume on a training cache whose tags were reordered" "its tags were changed or reordered since" \
  "$AT" train --resume "$work/runs/tags_resume" --set train.max_steps=2
head -c 100000 "$work/d40/valid.h5" >"$work/trunc.h5"
expect_error "a truncated cache" "trunc.h5" "$AT" eval "$work/runs/pons_time" "$work/trunc.h5"

# ---- run names stay inside the runs root; one process per run folder
for bad in .. . "" "a/b" "$(head -c 300 /dev/zero | tr '\0' x)"; do
  # shellcheck disable=SC2086
  expect_error "run name '${bad:0:20}' is refused" "[train] run:" \
    "$AT" train configs/experiments/synth_pons_time.ini $data40 $runs --set "train.run=$bad"
done
[ ! -e "$work/results.json" ] && [ ! -e "$work/runs/config.ini" ] && pass "no run wrote beside or above its folder" ||
  failed "a refused run name still wrote files"
expect_error "an empty runs root" "runs root is empty" \
  "$AT" train configs/experiments/synth_pons_time.ini $data40 --set train.root= --set train.run=x
# a long run holds its folder; a second train, and a --resume, of it stop naming the holder
# shellcheck disable=SC2086
"$AT" train configs/experiments/synth_pons_time.ini $data40 $runs --set train.run=locked --set train.epochs=1000 \
  >"$work/locked.txt" 2>&1 &
holder=$!
for _ in $(seq 100); do grep -q "^training" "$work/locked.txt" && break; sleep 0.1; done
# shellcheck disable=SC2086
expect_error "a second train into a running run's folder" "in use by another auratag process (PID $holder)" \
  "$AT" train configs/experiments/synth_pons_time.ini $data40 $runs --set train.run=locked
expect_error "a --resume of a running run" "in use by another auratag process (PID $holder)" \
  "$AT" train --resume "$work/runs/locked"
kill -KILL $holder
wait $holder 2>/dev/null
# the kernel dropped the dead holder's lock with it
if flock -n "$work/runs/locked/.lock" true; then pass "a run folder is free again once its holder is gone"
else failed "the lock of a dead process is still held"; fi
# ---- transfer learning: [train] init loads every tensor whose layer and shape match and re-initialises
# the rest (a new head); with lr 0 the loaded tensors stay exactly those of the file
"$AT" init configs/models/pons_time.ini --set dense1.units=5 -o "$work/five_tags.h5" >/dev/null
# shellcheck disable=SC2086
if quiet "$AT" train configs/experiments/synth_pons_time.ini $data40 $runs --set train.run=transfer \
     --set "train.init=$work/five_tags.h5" --set train.max_steps=1 --set train.optimizer=sgd --set train.lr=0 &&
   grep -q "init from $work/five_tags.h5: 2 tensors loaded; re-initialised (seed 1): dense1" "$work/out.txt" &&
   $PY -c "
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], 'r'), h5py.File(sys.argv[2], 'r')
assert np.array_equal(a['params/conv1/weight'][()], b['params/conv1/weight'][()])
assert np.array_equal(a['params/conv1/bias'][()], b['params/conv1/bias'][()])
assert a['params/dense1/weight'].shape[0] == 8 and b['params/dense1/weight'].shape[0] == 5
" "$work/runs/transfer/last.h5" "$work/five_tags.h5"; then
  pass "[train] init: conv1 loaded as it is, the 5-tag head re-initialised for 8 tags ($(grep -o 'init from.*' "$work/out.txt" | sed "s|$work/||"))"
else failed "[train] init: $(tail -2 "$work/out.txt")"; fi
"$AT" init configs/models/pons_frequency.ini -o "$work/other.h5" >/dev/null
# shellcheck disable=SC2086
expect_error "[train] init from a model sharing no layer" "no layer of model 'pons_time' has the name and shape of one there" \
  "$AT" train configs/experiments/synth_pons_time.ini $data40 $runs --set train.run=transfer_none \
  --set "train.init=$work/other.h5"
# ---- freeze and lr_scale: frozen layers keep their weights exactly (even with weight decay); a scaled
# layer's first SGD update is the scale times the unscaled one, the other layers' updates unchanged
"$AT" init configs/experiments/synth_pons_time.ini -o "$work/start.h5" --seed 1 >/dev/null
one_step() { # run extra...
  local run=$1
  shift
  # shellcheck disable=SC2086
  quiet "$AT" train configs/experiments/synth_pons_time.ini $data40 $runs --set "train.run=$run" \
    --set "train.init=$work/start.h5" --set train.max_steps=1 --set train.optimizer=sgd --set train.lr=0.5 "$@"
}
if one_step plain && one_step frozen --set train.freeze=conv1 --set train.weight_decay=0.01 &&
   grep -q "^layers: frozen: conv1$" "$work/out.txt" &&
   one_step scaled --set "train.lr_scale=dense*:0.25" && grep -q "^layers: lr x0.25: dense1$" "$work/out.txt" &&
   $PY -c "
import sys, h5py, numpy as np
start, plain, frozen, scaled = (h5py.File(f, 'r')['params'] for f in sys.argv[1:])
w = lambda f, n: f[n][()].astype(np.float64)
for n in ('conv1/weight', 'conv1/bias'):
    assert np.array_equal(w(frozen, n), w(start, n)), n + ' moved although frozen'
    assert np.array_equal(w(scaled, n), w(plain, n)), n + ' differs at scale 1'
assert not np.array_equal(w(frozen, 'dense1/weight'), w(start, 'dense1/weight')), 'dense1 did not learn'
d_plain = w(plain, 'dense1/weight') - w(start, 'dense1/weight')
d_scaled = w(scaled, 'dense1/weight') - w(start, 'dense1/weight')
assert np.abs(d_plain).max() > 1e-4
assert np.allclose(d_scaled, 0.25 * d_plain, rtol=1e-3, atol=1e-6), np.abs(d_scaled - 0.25 * d_plain).max()
" "$work/start.h5" "$work/runs/plain/last.h5" "$work/runs/frozen/last.h5" "$work/runs/scaled/last.h5"; then
  pass "[train] freeze keeps conv1 exactly (weight decay on), lr_scale = dense*:0.25 gives a quarter of dense1's update"
else failed "[train] freeze / lr_scale: $(tail -3 "$work/out.txt")"; fi
# shellcheck disable=SC2086
expect_error "[train] freeze naming no layer" "'conv9' names no layer of model 'pons_time'; its layers: conv1" \
  "$AT" train configs/experiments/synth_pons_time.ini $data40 $runs --set train.run=bad_freeze --set train.freeze=conv9
# shellcheck disable=SC2086
expect_error "[train] freeze of a layer without parameters" "'relu1' names no layer with parameters or dropout" \
  "$AT" train configs/experiments/synth_pons_time.ini $data40 $runs --set train.run=bad_freeze --set train.freeze=relu1
# shellcheck disable=SC2086
expect_error "[train] freeze of everything" "these settings leave no parameter of model 'pons_time' to train" \
  "$AT" train configs/experiments/synth_pons_time.ini $data40 $runs --set train.run=bad_freeze --set train.freeze=conv1..dense1
# shellcheck disable=SC2086
expect_error "[train] lr_scale without a factor" "'conv1' is not LAYER:FACTOR" \
  "$AT" train configs/experiments/synth_pons_time.ini $data40 $runs --set train.run=bad_scale --set train.lr_scale=conv1
# ---- [data] per_class = k: k examples per class drawn from the seeded permutation
"$AT" synth "$work/classes" --classes 4 --train 200 --valid 40 --test 40 --seed 6 >/dev/null || failed "synth classes"
few() { # run k seed
  quiet "$AT" train configs/experiments/synth_pons_time.ini --set model.output=softmax --set dense1.units=4 \
    --set "data.train=$work/classes/train.h5" --set "data.valid=$work/classes/valid.h5" --set "data.test=$work/classes/test.h5" $runs --set "train.run=$1" \
    --set "data.per_class=$2" --set "data.fraction_seed=$3" --set train.epochs=1 --set train.select=accuracy
}
if few k3 3 1 && grep -q "on 12 examples" "$work/out.txt" && few k3b 3 2 && few k3c 3 1 &&
   $PY -c "
import sys, json
# the same seed draws the same examples (equal logs), another seed others
a, b, c = (open(sys.argv[i]).read() for i in (1, 2, 3))
step = lambda t: [l for l in t.splitlines() if '\"type\": \"step\"' in l][0].split('\"loss\": ')[1].split(',')[0]
assert step(a) == step(c) and step(a) != step(b), (step(a), step(b), step(c))
" "$work/runs/k3/log.jsonl" "$work/runs/k3b/log.jsonl" "$work/runs/k3c/log.jsonl"; then
  pass "[data] per_class = 3: 12 examples of 4 classes, the same for the same seed"
else failed "[data] per_class: $(tail -2 "$work/out.txt")"; fi
exit $fail
