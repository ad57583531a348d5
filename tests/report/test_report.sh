#!/usr/bin/env bash
# auratag report (docs/report.md) on two short real runs, checked in the
# page's source and in a real browser:
#  - a multi-label run on a synthetic set grouped into songs: training writes
#    test-predictions.h5, whose per-tag ROC-AUC and AP by scikit-learn equal
#    results.json; the page's per-tag table (clip and song level) holds the
#    numbers of results.json, one row per tag, and an ROC and a
#    precision-recall chart per tag;
#  - a single-label run on tones prepared through the mel front end, with an
#    auralisation of its first layer: per-class table, the confusion matrix as
#    a picture, the gallery's sounds as audio players;
#  - both runs compared (a table row each, overlaid curves); nothing refers
#    outside the page;
#  - headless Chromium (tests/report/browser_check.py): no console errors,
#    every image decodes with a non-zero size, the per-tag tables equal
#    results.json, sorting reorders rows; its screenshot is kept in
#    $AURATAG_TEST_OUT (default build/test-output/report/);
#  - odd runs: UTF-8 names cut in legends, two runs of one folder name, a
#    loss stuck at one value or near 1e6 (the ticks stay distinct and finite),
#    the predictions of another run (said, no curves), a results.json that
#    `auratag eval --json` wrote;
#  - a run still training and one that stopped are reported as partial; a
#    run without a test split says so; not a run folder, a corrupt
#    results.json or a --figure that is missing or no picture are one clear
#    error each.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, fails, $fail
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
MK=$BUILD/tests/oracle/make_audio
keep=${AURATAG_TEST_OUT:-$BUILD/test-output}/report
mkdir -p "$keep"
runs=$work/runs
quiet() { "$@" >"$work/out.txt" 2>&1 || { echo "command failed: $*"; tail -5 "$work/out.txt"; return 1; }; }

# ---- a multi-label run, songs of 4 chunks
quiet "$AT" synth "$work/d" --tags 8 --patterns both --train 320 --valid 64 --test 96 --songs 4 --seed 3 ||
  failed "synth"
quiet "$AT" train configs/experiments/synth_pons_time.ini --set data.train="$work/d/train.h5" \
  --set data.valid="$work/d/valid.h5" --set data.test="$work/d/test.h5" --set train.root="$runs" \
  --set train.run=tags --set train.epochs=3 --set train.batch=32 || failed "training the multi-label run"

# ---- a single-label run on tones through the mel front end, then an auralisation
printf 'path,split,tags\n' >"$work/files.csv"
i=0
for split in train train train train train train valid valid test test test test; do
  for class in low high; do
    i=$((i + 1))
    f=$([ $class = low ] && echo $((250 + 20 * i)) || echo $((2500 + 60 * i)))
    "$MK" "$work/t$i.wav" --rate 22050 --seconds 1.2 --tone "0:1.2:$f:0.3" >/dev/null || failed "make_audio"
    echo "t$i.wav,$split,$class" >>"$work/files.csv"
  done
done
quiet "$AT" prep tests/explain/mel_small.ini --list "$work/files.csv" --out "$work/mcache" || failed "prep (tones)"
quiet "$AT" train tests/report/tones.ini --set data.train="$work/mcache/train.h5" --set data.valid="$work/mcache/valid.h5" \
  --set data.test="$work/mcache/test.h5" --set train.root="$runs" --set train.run=tones ||
  failed "training the single-label run"
quiet "$AT" auralise "$runs/tones" "$work/t1.wav" --layer 1 --feature 0 --out "$runs/tones/auralise" ||
  failed "auralise"

# ---- the report
if "$AT" report "$runs/tags" "$runs/tones" -o "$work/report.html" >"$work/report.txt" 2>&1; then
  pass "auratag report: $(tail -1 "$work/report.txt")"
else
  failed "auratag report: $(cat "$work/report.txt")"
fi
cp "$work/report.html" "$keep/report.html" 2>/dev/null

if $PY - "$work/report.html" "$runs" >"$work/check.txt" 2>&1 <<'PYEOF'; then
import html.parser, json, math, re, sys
import h5py, numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

page, runs = sys.argv[1], sys.argv[2]
text = open(page, encoding="utf-8").read()

class Page(html.parser.HTMLParser):
    """Tables (by data-table and data-run) as rows of data-value lists; images and audio."""
    def __init__(self):
        super().__init__()
        self.tables, self.images, self.audio, self.refs = {}, [], [], []
        self.table = self.row = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            if a.get(key) and not a[key].startswith(("data:", "#")):
                self.refs.append(a[key])
        if tag == "table" and a.get("data-table"):
            self.table = self.tables.setdefault((a["data-table"], a.get("data-run", "")), [])
        elif tag == "tr" and self.table is not None and "data-tag" in a:
            self.row = [a["data-tag"]]
            self.table.append(self.row)
        elif tag == "td" and self.row is not None:
            self.row.append(a.get("data-value"))
        elif tag == "img":
            self.images.append(a)
        elif tag == "audio":
            self.audio.append(a)
    def handle_endtag(self, tag):
        if tag == "table":
            self.table = None
        if tag == "tr":
            self.row = None

p = Page()
p.feed(text)
fails = []
def close(a, b):
    return (a is None and math.isnan(b)) or (a is not None and abs(a - b) <= 1e-9 * max(1, abs(a)))

# multi-label: table rows == results.json, clip and song level
res = json.load(open(f"{runs}/tags/results.json"))
for kind, level in (("test-tags", "clip"), ("song-tags", "song")):
    rows = p.tables.get((kind, "tags"))
    tags = res["test"][level]["tags"]
    if rows is None or len(rows) != len(tags):
        fails.append(f"{kind}: {0 if rows is None else len(rows)} rows for {len(tags)} tags")
        continue
    by_tag = {r[0]: r for r in rows}
    for t in tags:
        r = by_tag.get(t["tag"])
        if not r or r[1] != t["tag"] or not all(close(t[k], float(v)) for k, v in zip(("positives", "roc_auc", "pr_auc"), r[2:])):
            fails.append(f"{kind}: row of {t['tag']} {r} != {t}")
print(f"per-tag tables (clip, song): {len(res['test']['clip']['tags'])} tags each, numbers of results.json")

# test-predictions.h5 (the curves' source) against scikit-learn and results.json
f = h5py.File(f"{runs}/tags/test-predictions.h5", "r")
probs, labels = f["probabilities"][()], f["labels"][()]
names = [t.decode() if isinstance(t, bytes) else t for t in f["tags"][()]]
worst = 0.0
for j, t in enumerate(res["test"]["clip"]["tags"]):
    assert names[j] == t["tag"]
    worst = max(worst, abs(roc_auc_score(labels[:, j], probs[:, j]) - t["roc_auc"]),
                abs(average_precision_score(labels[:, j], probs[:, j]) - t["pr_auc"]))
if worst > 1e-6:
    fails.append(f"test-predictions.h5: scikit-learn differs from results.json by {worst}")
print(f"test-predictions.h5: {probs.shape[0]} examples x {probs.shape[1]} tags; scikit-learn's ROC-AUC and AP "
      f"equal results.json (max dev {worst:.1e})")
roc = [i for i in p.images if re.match(r".*: ROC-AUC \d", i.get("alt", ""))]
pr = [i for i in p.images if re.match(r".*: PR-AUC \d", i.get("alt", ""))]
if len(roc) != len(names) or len(pr) != len(names):
    fails.append(f"{len(roc)} ROC and {len(pr)} precision-recall charts for {len(names)} tags")

# single-label: per-class table, confusion matrix, gallery
res2 = json.load(open(f"{runs}/tones/results.json"))
rows = p.tables.get(("test-classes", "tones"), [])
recall = res2["test"]["clip"]["per_class_accuracy"]
if sorted(r[0] for r in rows) != sorted(recall) or not all(close(recall[r[0]], float(r[3])) for r in rows):
    fails.append(f"test-classes rows {rows} != {recall}")
if not any(i.get("alt", "").startswith("Confusion matrix (test clips)") for i in p.images):
    fails.append("no confusion matrix picture")
if len(p.audio) != 2 or not all(a.get("src", "").startswith("data:audio/wav;base64,") for a in p.audio):
    fails.append(f"{len(p.audio)} audio players (want 2 inlined: original, feature 0)")
comparison = re.findall(r'<tr data-run="([^"]+)">', text)
if comparison != ["tags", "tones"]:
    fails.append(f"comparison rows {comparison}")
if p.refs:
    fails.append(f"the page refers outside itself: {p.refs[:3]}")
if not all(i.get("src", "").startswith(("data:image/svg+xml;base64,", "data:image/png;base64,")) for i in p.images):
    fails.append("an image that is not inlined")
print(f"{len(p.images)} inlined images, {len(p.audio)} audio players, comparison of {len(comparison)} runs")
for line in fails:
    print("FAILED:", line)
sys.exit(1 if fails else 0)
PYEOF
  pass "report contents: $(tr '\n' ' ' <"$work/check.txt")"
else
  failed "report contents: $(cat "$work/check.txt")"
fi

# ---- in a real browser
if $PY tests/report/browser_check.py "$work/report.html" --screenshot "$keep/report.png" \
  --results "$runs/tags/results.json" >"$work/browser.txt" 2>&1; then
  pass "headless Chromium: $(tr '\n' ' ' <"$work/browser.txt")"
else
  failed "headless Chromium: $(cat "$work/browser.txt")"
fi

# ---- partial runs: one still training, then the same stopped
"$AT" train configs/experiments/synth_pons_time.ini --set data.train="$work/d/train.h5" \
  --set data.valid="$work/d/valid.h5" --set data.test="$work/d/test.h5" --set train.root="$runs" \
  --set train.run=long --set train.epochs=1000 \
  --set train.batch=32 >"$work/long.txt" 2>&1 &
long=$!
for _ in $(seq 1 600); do
  grep -q '"type": "epoch"' "$runs/long/log.jsonl" 2>/dev/null && break
  kill -0 $long 2>/dev/null || { failed "the long run ended: $(tail -3 "$work/long.txt")"; break; }
  sleep 0.05
done
if "$AT" report "$runs/long" -o "$work/long.html" >"$work/out.txt" 2>&1 &&
  grep -q "still training" "$work/out.txt" && grep -q 'class="partial">Partial: this run is still training' "$work/long.html" &&
  grep -q "no test evaluation yet" "$work/long.html"; then
  pass "a run still training: $(head -1 "$work/out.txt")"
else
  failed "a run still training: $(cat "$work/out.txt")"
fi
kill -9 $long 2>/dev/null
wait $long 2>/dev/null
if "$AT" report "$runs/long" -o "$work/long.html" >"$work/out.txt" 2>&1 &&
  grep -q "stopped before it finished" "$work/long.html" && grep -q -- "--resume" "$work/long.html"; then
  pass "a run that stopped: $(head -1 "$work/out.txt")"
else
  failed "a run that stopped: $(cat "$work/out.txt")"
fi

# ---- a finished run without a test split
quiet "$AT" train configs/experiments/synth_pons_time.ini --set data.train="$work/d/train.h5" \
  --set data.valid="$work/d/valid.h5" --set data.test= --set train.root="$runs" --set train.run=notest \
  --set train.epochs=1 --set train.batch=64 || failed "training without a test split"
if "$AT" report "$runs/notest" -o "$work/notest.html" >"$work/out.txt" 2>&1 &&
  grep -q "no test evaluation: its experiment has no test split" "$work/notest.html"; then
  pass "a run without a test split: $(head -1 "$work/out.txt")"
else
  failed "a run without a test split: $(cat "$work/out.txt")"
fi
# ... then evaluated beside it by `auratag eval --json` (as make demo and sweeps do): shown
quiet "$AT" eval "$runs/notest" "$work/d/test.h5" --json "$runs/notest/test-eval.json" || failed "eval --json"
if "$AT" report "$runs/notest" -o "$work/notest.html" >"$work/out.txt" 2>&1 &&
  grep -q 'data-table="test-tags" data-run="notest"' "$work/notest.html" &&
  grep -q "evaluated with the kept weights (test-eval.json)" "$work/notest.html"; then
  pass "... and its test-eval.json (auratag eval --json) shown"
else
  failed "test-eval.json not shown: $(cat "$work/out.txt")"
fi

# ---- odd runs: names in UTF-8 cut in the legends, two runs of one name, a
# loss stuck at one value (and one near 1e6), predictions of another run, a
# results.json written by `auratag eval`
odd=$work/odd
mkdir -p "$odd/a" "$odd/b"
cp -r "$runs/tags" "$odd/a/réééééééééééééééééééé-tags"
cp -r "$runs/tags" "$odd/b/tags"
cp -r "$runs/tags" "$odd/a/tags"
cp "$runs/tones/test-predictions.h5" "$odd/a/réééééééééééééééééééé-tags/test-predictions.h5"
$PY - "$odd/b/tags/log.jsonl" "$odd/a/tags/log.jsonl" <<'PYEOF'
import json, sys
for path, values in zip(sys.argv[1:], ([0.6931471805599453, 0.6931472], [1000000.0, 1000000.0000000002])):
    lines = [json.loads(l) for l in open(path)]
    epochs = [l for l in lines if l["type"] == "epoch"]
    for i, l in enumerate(epochs):
        l["train_loss"] = values[i % 2]
    open(path, "w").write("".join(json.dumps(l) + "\n" for l in lines))
PYEOF
"$AT" eval "$runs/tags" "$work/d/test.h5" --json "$odd/a/tags/results.json" >/dev/null 2>&1 || failed "eval --json"
if timeout 60 "$AT" report "$odd/a/réééééééééééééééééééé-tags" "$odd/b/tags" "$odd/a/tags" -o "$work/odd.html" \
  >"$work/out.txt" 2>&1 && grep -q "does not belong to this run" "$work/odd.html" &&
  [ "$(grep -c 'id="run-[123]"' "$work/odd.html")" = 3 ] && grep -q 'data-table="test-tags" data-run="a/tags"' "$work/odd.html" &&
  grep -q '<tr data-run="b/tags">' "$work/odd.html" &&
  $PY tests/report/browser_check.py "$work/odd.html" --screenshot "$keep/odd.png" >"$work/odd.txt" 2>&1; then
  pass "odd runs (UTF-8 names cut, one name twice, a flat loss, a foreign predictions file, eval's results.json): $(tail -1 "$work/odd.txt")"
else
  failed "odd runs: $(cat "$work/out.txt" "$work/odd.txt" 2>/dev/null | grep -v '^ok' | tail -8)"
fi

# ---- bad input
printf 'not a picture\n' >"$work/notes.txt"
fails "a --figure that is no picture" "not a readable PNG or SVG" \
  "$AT" report "$runs/tags" --figure "$work/notes.txt" -o "$work/x.html"
mkdir -p "$work/empty"
fails "not a run folder" "is not a run folder: it has neither config.ini nor log.jsonl" \
  "$AT" report "$work/empty" -o "$work/x.html"
fails "no such folder" "does not exist" "$AT" report "$work/nowhere" -o "$work/x.html"
fails "a file, not a folder" "is not a folder" "$AT" report "$work/files.csv" -o "$work/x.html"
fails "no -o" "-o REPORT.html is required" "$AT" report "$runs/tags"
cp -r "$runs/tags" "$work/cut"
head -c 200 "$runs/tags/results.json" >"$work/cut/results.json"
fails "a corrupt results.json" "results.json' is not valid JSON" "$AT" report "$work/cut" -o "$work/x.html"
fails "a missing --figure" "--figure '$work/none.png': not a readable PNG or SVG" \
  "$AT" report "$runs/tags" --figure "$work/none.png" -o "$work/x.html"
[ -f "$work/x.html" ] && failed "a failed report left a page behind"
exit $fail
