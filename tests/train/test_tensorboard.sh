#!/usr/bin/env bash
# TensorBoard's events in RUN/tb/ (docs/tensorboard.md), read back by the
# tensorboard package's own reader (EventAccumulator, in .venv-test):
#  - a run killed with SIGKILL mid-epoch and resumed: every number of
#    log.jsonl's step and epoch lines is a scalar at the same step with the
#    same value (float32), each step once per tag; the events file of the
#    killed part ends at the resumed step, the resumed part has its own file;
#  - the resolved config as text at step 0; the test metrics at the last
#    step equal results.json, and their Markdown table renders as a table;
#  - resuming a finished run writes its test metrics no second time;
#  - single-label runs: accuracy, balanced accuracy, per-class recall;
#  - both CRC-32Cs of every record check; a flipped byte is a data-loss error;
#  - [train] tensorboard = false writes no tb/; a tb/ that cannot be made is
#    one warning and the training goes on.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, fails, $fail
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
vpy=$(bash scripts/test-venv.sh) || { failed "cannot set up the test environment (scripts/test-venv.sh)"; exit 1; }
quiet() { "$@" >"$work/out.txt" 2>&1; }
"$AT" synth "$work/d" --tags 8 --patterns both --train 1600 --valid 96 --test 96 --songs 4 --seed 3 >/dev/null ||
  { failed "auratag synth --tags 8"; exit 1; }
"$AT" synth "$work/cls" --classes 3 --patterns both --train 96 --valid 30 --test 30 --seed 4 >/dev/null ||
  { failed "auratag synth --classes 3"; exit 1; }
data="--set data.train=$work/d/train.h5 --set data.valid=$work/d/valid.h5 --set data.test=$work/d/test.h5"
runs="--set train.root=$work/runs"
exp=configs/experiments/synth_pons_time.ini

# ---- a run killed mid-epoch (3 epochs of 100 steps, a checkpoint every 7), then resumed
# shellcheck disable=SC2086
"$AT" train $exp $data $runs --set train.run=killed --set train.batch=16 --set train.epochs=3 \
  --set train.checkpoint_every=7 >"$work/killed.txt" 2>&1 &
kill_after_steps $! "$work/runs/killed" 120 1200 0.02
r=$work/runs/killed
if [ $killed = 1 ] && [ ! -f "$r/results.json" ]; then
  cp -r "$r/tb" "$work/tb_killed"
  if quiet "$AT" train --resume "$r"; then
    resume_step=$(grep -o 'resuming .* (step [0-9]*)' "$work/out.txt" | grep -o '[0-9]*)$' | tr -d ')')
    pass "killed after $steps steps (SIGKILL), resumed at step $resume_step"
  else
    failed "the resumed run failed: $(tail -3 "$work/out.txt")"
  fi
else
  failed "could not kill the run mid-way (killed=$killed): $(tail -3 "$work/killed.txt")"
fi

# log.jsonl vs the events: the checker used below for every run
cat >"$work/check.py" <<'PYEOF'
"""check.py RUN [--files N]: every scalar of log.jsonl (steps, epochs) and the
test metrics of results.json are in RUN/tb/'s events, read by TensorBoard's
EventAccumulator, at their step, with their value, once each."""
import glob, json, math, re, sys
import numpy as np
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.plugins.text import text_plugin
from tensorboard.util import tensor_util

run = sys.argv[1]
log = [json.loads(l) for l in open(f"{run}/log.jsonl")]
results = json.load(open(f"{run}/results.json"))

def eval_tags(prefix, ev):
    out = {f"{prefix}/loss": ev["loss"]}
    def part(p, m):
        if "macro_roc_auc" in m:
            out[f"{p}/roc_auc"], out[f"{p}/pr_auc"] = m["macro_roc_auc"], m["macro_pr_auc"]
            for t in m["tags"]:
                out[f"{p}/roc_auc/{t['tag']}"], out[f"{p}/pr_auc/{t['tag']}"] = t["roc_auc"], t["pr_auc"]
        else:
            out[f"{p}/accuracy"], out[f"{p}/balanced_accuracy"] = m["accuracy"], m["balanced_accuracy"]
            for c, v in m["per_class_accuracy"].items():
                out[f"{p}/accuracy/{c}"] = v
    part(prefix, ev["clip"])
    if "song" in ev:
        part(f"{prefix}/song", ev["song"])
    return out

want = {}  # tag -> {step: value}
def expect(tag, step, value):
    if value is None:  # null in the JSON (NaN): left out of the events
        return
    assert step not in want.setdefault(tag, {}), f"log.jsonl holds {tag} at step {step} twice"
    want[tag][step] = value
for rec in log:
    if rec["type"] == "step":
        for key in ("loss", "lr", "grad_norm", "samples_per_s"):
            expect(f"step/{key}", rec["step"], rec[key])
    elif rec["type"] == "epoch":
        expect("train/loss", rec["step"], rec["train_loss"])
        for tag, v in eval_tags("valid", rec["valid"]).items():
            expect(tag, rec["step"], v)
for tag, v in eval_tags("test", results["test"]).items():
    expect(tag, results["steps"], v)

acc = ea.EventAccumulator(f"{run}/tb", size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
acc.Reload()
got = acc.Tags()["scalars"]
assert set(got) == set(want), f"tags only in the events: {sorted(set(got) - set(want))}; only in the logs: {sorted(set(want) - set(got))}"
n = 0
for tag in got:
    events = acc.Scalars(tag)
    steps = [e.step for e in events]
    assert len(steps) == len(set(steps)), f"{tag}: a step twice: {sorted(s for s in steps if steps.count(s) > 1)[:5]}"
    assert set(steps) == set(want[tag]), f"{tag}: steps {sorted(set(steps) ^ set(want[tag]))[:5]} in one only"
    for e in events:
        w = np.float32(want[tag][e.step])
        slack = np.spacing(abs(w)) + (0.005 if tag == "step/samples_per_s" else 0)  # log.jsonl: %.2f
        assert abs(e.value - w) <= slack, f"{tag} at step {e.step}: events {e.value}, log {want[tag][e.step]}"
        n += 1

# texts: the config at step 0 (indented: a code block), the test table at the last step
texts = acc.Tags()["tensors"]
assert sorted(texts) == ["config", "test/metrics"], texts
for tag in texts:
    assert acc.SummaryMetadata(tag).plugin_data.plugin_name == "text"
config = acc.Tensors("config")
assert [e.step for e in config] == [0], [e.step for e in config]
text = tensor_util.make_ndarray(config[0].tensor_proto).item().decode()
assert re.sub(r"^    ", "", text, flags=re.M) == open(f"{run}/config.ini").read(), "config text != config.ini"
html = text_plugin.text_array_to_html(tensor_util.make_ndarray(config[0].tensor_proto), True)
assert "<pre><code>[model]" in html, html[:200]
table = acc.Tensors("test/metrics")
assert [e.step for e in table] == [results["steps"]], [e.step for e in table]
text = tensor_util.make_ndarray(table[0].tensor_proto).item().decode()
clip = results["test"]["clip"]
for t in clip.get("tags", []):
    assert f"| {t['tag']} | {t['positives']} | {t['roc_auc']:.4f} | {t['pr_auc']:.4f} |" in text, (t, text)
for c, v in clip.get("per_class_accuracy", {}).items():
    assert f"| {c} | {v:.4f} |" in text, (c, text)
html = text_plugin.text_array_to_html(tensor_util.make_ndarray(table[0].tensor_proto), True)
assert "<table>" in html and "<td>" in html, html[:300]

files = sorted(glob.glob(f"{run}/tb/events.out.tfevents.*.auratag"))
if len(sys.argv) > 3:
    assert len(files) == int(sys.argv[3]), files
n_epochs = sum(r["type"] == "epoch" for r in log)
print(f"{n} scalars in {len(got)} tags ({n_epochs} epochs, {results['steps']} steps) and 2 texts, in {len(files)} file(s)")
PYEOF

if [ -f "$r/results.json" ] && $vpy "$work/check.py" "$r" --files 2 >"$work/check.txt" 2>&1; then
  pass "killed + resumed: log.jsonl's step and epoch scalars and results.json's test metrics, once each: $(cat "$work/check.txt")"
else
  failed "killed + resumed run vs its events: $(tail -5 "$work/check.txt")"
fi

# the killed part's file now ends at the resumed step; the reader sees every record of both files
if $vpy - "$work/tb_killed" "$r/tb" "${resume_step:-0}" >"$work/cut.txt" 2>&1 <<'PYEOF'
import glob, os, sys
from tensorboard.backend.event_processing import event_file_loader
killed, tb, resume = sys.argv[1], sys.argv[2], int(sys.argv[3])
def steps(path):  # every record, through TensorBoard's record reader (both CRCs checked)
    return [e.step for e in event_file_loader.EventFileLoader(path).Load()]
first = sorted(glob.glob(f"{tb}/events.out.tfevents.*"))
before = steps(glob.glob(f"{killed}/events.out.tfevents.*")[0])
after = steps(first[0])
assert max(before) >= resume, (max(before), resume)
assert max(after) == resume and after == [s for s in before if s <= resume], (max(after), resume)
assert os.path.getsize(first[0]) <= os.path.getsize(glob.glob(f"{killed}/events.out.tfevents.*")[0])
print(f"the killed part had steps up to {max(before)}; its file is cut at the resumed step {resume}")
PYEOF
then pass "$(cat "$work/cut.txt")"
else failed "the killed part's events file: $(tail -3 "$work/cut.txt")"; fi

# resuming the finished run evaluates the test split again: its metrics are not written twice
if quiet "$AT" train --resume "$r" && $vpy "$work/check.py" "$r" --files 3 >"$work/check.txt" 2>&1; then
  pass "resuming the finished run adds a file but no step twice: $(cat "$work/check.txt")"
else
  failed "resume of a finished run: $(tail -3 "$work/check.txt") $(tail -2 "$work/out.txt")"
fi

# ---- single-label: accuracy, balanced accuracy, per-class recall (and their table)
# shellcheck disable=SC2086
if quiet "$AT" train $exp $runs --set train.run=cls --set model.output=softmax --set dense1.units=3 \
     --set train.select=accuracy --set train.epochs=2 --set "data.train=$work/cls/train.h5" \
     --set "data.valid=$work/cls/valid.h5" --set "data.test=$work/cls/test.h5" &&
   $vpy "$work/check.py" "$work/runs/cls" --files 1 >"$work/check.txt" 2>&1; then
  pass "single-label run: $(cat "$work/check.txt")"
else
  failed "single-label run: $(tail -3 "$work/check.txt") $(tail -2 "$work/out.txt")"
fi

# ---- the CRC-32Cs: TensorBoard's reader checks both of every record; a flipped byte is data loss
f=$(ls "$work/runs/cls/tb/"events.out.tfevents.*)
if $vpy - "$f" "$work/flipped" >"$work/crc.txt" 2>&1 <<'PYEOF'
import sys
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.compat import tf
path, flipped = sys.argv[1], sys.argv[2]
def records(p):
    return list(event_file_loader._make_tf_record_iterator(p))  # raises on a bad checksum
good = records(path)
data = bytearray(open(path, "rb").read())
at = len(data) // 2
data[at] ^= 0x20
open(flipped, "wb").write(bytes(data))
try:
    records(flipped)
    raise SystemExit(f"a flipped byte at {at} of {len(data)} was not noticed")
except tf.errors.DataLossError as e:
    assert "crc32" in str(e), e
    loaded = list(event_file_loader.EventFileLoader(flipped).Load())
    assert len(loaded) < len(good)
    print(f"{len(good)} records, checksums good; byte {at} flipped: '{' '.join(str(e).split()[-4:])}'; "
          f"TensorBoard keeps the {len(loaded)} records before it")
PYEOF
then pass "$(cat "$work/crc.txt")"
else failed "CRC check: $(tail -3 "$work/crc.txt")"; fi

# ---- [train] tensorboard = false: no tb/
# shellcheck disable=SC2086
if quiet "$AT" train $exp $data $runs --set train.run=off --set train.tensorboard=false --set train.max_steps=3 &&
   [ -f "$work/runs/off/log.jsonl" ] && [ ! -e "$work/runs/off/tb" ]; then
  pass "[train] tensorboard = false writes no tb/ folder"
else
  failed "tensorboard = false: $(ls "$work/runs/off") $(tail -2 "$work/out.txt")"
fi

# ---- a tb/ that cannot be made (a file is in the way): one warning, the run goes on
mkdir -p "$work/runs/blocked" && touch "$work/runs/blocked/tb"
# shellcheck disable=SC2086
if "$AT" train $exp $data $runs --set train.run=blocked --set train.max_steps=3 >"$work/out.txt" 2>"$work/err.txt" &&
   [ "$(grep -c 'warning: .*TensorBoard' "$work/err.txt")" = 1 ] &&
   [ "$(grep -c '"type": "step"' "$work/runs/blocked/log.jsonl")" = 3 ]; then
  pass "TensorBoard logging that cannot start is one warning; training goes on: $(cut -c1-150 "$work/err.txt")"
else
  failed "blocked tb/: $(cat "$work/err.txt") $(tail -2 "$work/out.txt")"
fi
exit $fail
