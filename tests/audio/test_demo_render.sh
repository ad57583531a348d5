#!/usr/bin/env bash
# The demo dataset renderer (`auratag demo-data`, host/audio/demo_render.c):
#  - deterministic: the same seed renders bit-identical files twice; another
#    seed renders other music; clip k does not depend on how many clips are
#    rendered (a clip is a function of the seed and its index);
#  - files.csv (path,split,tags; 70/15/15 by clip), clips.csv, README.txt;
#  - tags: exactly one tempo class, one or two instrument families, drums or
#    not, each tag present; the tempo recorded in clips.csv lies in its class;
#  - audio: mono 16-bit WAV at the asked rate and length, levelled (RMS about
#    -20 dBFS), no silent second, and the tempo classes audible (an
#    autocorrelation tempo estimate orders slow < medium < fast);
#  - errors: a missing SoundFont names the Debian package; bad options.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, $fail

sf=/usr/share/sounds/sf2/FluidR3_GM.sf2
if [ ! -f "$sf" ]; then
  failed "no SoundFont at $sf: install the Debian package fluid-soundfont-gm (scripts/install-deps.sh)"
  exit 1
fi

"$AT" demo-data "$work/a" --clips 60 --seconds 3 --seed 1 >"$work/a.log" 2>&1 || failed "demo-data a: $(cat "$work/a.log")"
"$AT" demo-data "$work/b" --clips 60 --seconds 3 --seed 1 --quiet >"$work/b.log" 2>&1 || failed "demo-data b: $(cat "$work/b.log")"
"$AT" demo-data "$work/c" --clips 60 --seconds 3 --seed 2 --quiet >"$work/c.log" 2>&1 || failed "demo-data c: $(cat "$work/c.log")"
"$AT" demo-data "$work/p" --clips 10 --seconds 3 --seed 1 --quiet >"$work/p.log" 2>&1 || failed "demo-data p: $(cat "$work/p.log")"
grep -h "real time" "$work/a.log" | sed 's/^/     /'

if diff -r "$work/a" "$work/b" >/dev/null; then pass "same seed: bit-identical WAVs, files.csv, clips.csv, README.txt"
else failed "same seed renders differ: $(diff -rq "$work/a" "$work/b" | head -3)"; fi
same=0
for f in "$work/a"/audio/*.wav; do cmp -s "$f" "$work/c/audio/$(basename "$f")" && same=$((same + 1)); done
[ "$same" = 0 ] && pass "another seed: all 60 clips differ" || failed "another seed: $same clips identical"
prefix_ok=1
for f in "$work/p"/audio/*.wav; do cmp -s "$f" "$work/a/audio/$(basename "$f")" || prefix_ok=0; done
[ "$prefix_ok" = 1 ] && pass "clip k is the same whatever the number of clips (10 vs 60)" || failed "clips depend on --clips"

$PY - "$work/a" <<'EOF' || fail=1
import collections, csv, os, sys, wave
import numpy as np
root = sys.argv[1]
ok = True
def check(name, cond, detail=""):
    global ok
    print("%s %s%s" % ("PASS" if cond else "FAIL", name, (": " + detail) if detail else ""))
    ok &= bool(cond)

families = ["piano", "organ", "guitar", "strings", "brass", "reed"]
tempi = {"slow": (60, 80), "medium": (100, 120), "fast": (150, 180)}
rows = list(csv.DictReader(open(os.path.join(root, "files.csv"), newline="")))
check("files.csv: header path,split,tags and 60 clips", list(rows[0].keys()) == ["path", "split", "tags"] and len(rows) == 60)
split = collections.Counter(r["split"] for r in rows)
check("files.csv: 70/15/15 split by clip (42/9/9)", split == {"train": 42, "valid": 9, "test": 9}, str(dict(split)))
bad = []
count = collections.Counter()
for r in rows:
    t = r["tags"].split(";")
    count.update(t)
    n_fam = sum(x in families for x in t)
    n_tempo = sum(x in tempi for x in t)
    if n_tempo != 1 or not 1 <= n_fam <= 2 or any(x not in families + ["drums"] + list(tempi) for x in t):
        bad.append(r)
check("every clip: one tempo class, one or two families, known tags", not bad, str(bad[:2]))
check("every tag present (each family >= 5, drums 15..45, each tempo >= 10)",
      all(count[f] >= 5 for f in families) and 15 <= count["drums"] <= 45 and all(count[k] >= 10 for k in tempi),
      str(dict(count)))
clips = list(csv.DictReader(open(os.path.join(root, "clips.csv"), newline="")))
wrong = [c for c in clips for k, (lo, hi) in tempi.items() if k in c["tags"].split(";") and not lo <= float(c["bpm"]) <= hi]
check("clips.csv: each clip's BPM lies in its tempo class", len(clips) == 60 and not wrong, str(wrong[:2]))
progs = {"piano": range(0, 8), "organ": range(16, 24), "guitar": range(24, 32), "strings": list(range(40, 45)) + list(range(48, 52)),
         "brass": range(56, 64), "reed": range(64, 72)}
mism = []
for c in clips:
    fams = sorted(f for f in families if f in c["tags"].split(";"))
    got = sorted(f for p in (c["program1"], c["program2"]) if p for f in families if int(p) in progs[f])
    if fams != got:
        mism.append((c["path"], fams, got))
check("clips.csv: the GM programs played are the tagged families", not mism, str(mism[:2]))
readme = open(os.path.join(root, "README.txt")).read()
check("README.txt describes every tag", all(t in readme for t in families + ["drums"] + list(tempi)))

levels, silent, shape_bad, est = [], [], [], collections.defaultdict(list)
for r in rows:
    with wave.open(os.path.join(root, r["path"])) as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) != (1, 2, 22050, 3 * 22050):
            shape_bad.append((r["path"], w.getparams()))
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32768
    levels.append(10 * np.log10(np.mean(x ** 2)))
    sec = [10 * np.log10(np.mean(x[i:i + 22050] ** 2) + 1e-20) for i in range(0, len(x), 22050)]
    if min(sec) < -50:
        silent.append((r["path"], min(sec)))
    # a crude tempo: autocorrelation of the positive log-energy flux, lags 0.3-1.1 s
    hop = 256
    e = np.log(1e-8 + np.add.reduceat(x ** 2, np.arange(0, len(x) - hop + 1, hop)))
    f = np.maximum(0, np.diff(e))
    f -= f.mean()
    ac = np.correlate(f, f, "full")[len(f) - 1:]
    fps = 22050 / hop
    lags = np.arange(int(0.3 * fps), int(1.1 * fps))
    est[[k for k in tempi if k in r["tags"].split(";")][0]].append(60 * fps / lags[np.argmax(ac[lags])])
check("WAVs: mono, 16-bit, 22050 Hz, 3 s", not shape_bad, str(shape_bad[:2]))
check("levels: RMS -23.5..-16.5 dBFS (the renderer's -23..-17 target)", -23.5 <= min(levels) and max(levels) <= -16.5,
      "%.1f..%.1f dBFS" % (min(levels), max(levels)))
check("no silent second in any clip (RMS > -50 dBFS)", not silent, str(silent[:3]))
med = {k: float(np.median(v)) for k, v in est.items()}
check("tempo is audible: median estimated BPM slow < medium < fast, slow one within 60-80",
      med["slow"] < med["medium"] < med["fast"] and 58 <= med["slow"] <= 82,
      ", ".join("%s %.0f" % (k, med[k]) for k in tempi))
sys.exit(0 if ok else 1)
EOF

"$AT" demo-data "$work/r16" --clips 2 --seconds 1.5 --rate 16000 --quiet >/dev/null 2>&1 &&
  $PY -c "import wave,sys; w=wave.open(sys.argv[1]); sys.exit(0 if (w.getframerate(), w.getnframes()) == (16000, 24000) else 1)" \
    "$work/r16/audio/0000.wav" && pass "--rate 16000 --seconds 1.5: 24000 samples at 16 kHz" || failed "--rate 16000"
fails "a missing SoundFont names the Debian package" "fluid-soundfont-gm" \
  "$AT" demo-data "$work/x" --clips 1 --soundfont "$work/none.sf2"
echo "not a soundfont" >"$work/bad.sf2"
fails "a file that is not a SoundFont" "fluid-soundfont-gm" "$AT" demo-data "$work/x" --clips 1 --soundfont "$work/bad.sf2"
fails "--clips 0" "--clips" "$AT" demo-data "$work/x" --clips 0
fails "an unknown option" "unknown option" "$AT" demo-data "$work/x" --tempo 3
fails "no output folder" "demo-data: missing arguments: OUT_DIR" "$AT" demo-data

# ---- the musical claim of Pons et al. (CBMI 2016) on the demo dataset: the
# Time architecture (1x60 filters) beats the Frequency one (32x1) on the tempo
# tags, and the Frequency one beats the Time one on the instrument tags
# (test-split ROC-AUC, macro over each group; 400 clips, 15 epochs each).
if [ "${AURATAG_QUICK:-0}" = 1 ]; then
  echo "SKIP the musical claim (AURATAG_QUICK=1; it runs in make test)"
elif ! "$AT" 2>&1 | grep -qw prep; then
  failed "the musical claim: this build has no 'auratag prep'"
else
  export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
  "$AT" demo-data "$work/demo" --clips 400 --quiet >/dev/null 2>&1 || failed "demo-data 400 clips"
  "$AT" prep configs/datasets/demo.ini --list "$work/demo/files.csv" --out "$work/demo/cache" >"$work/prep.log" 2>&1 ||
    failed "prep of the demo: $(tail -3 "$work/prep.log")"
  for m in time frequency; do
    "$AT" train "configs/experiments/demo_pons_$m.ini" --set "data.train=$work/demo/cache/train.h5" \
      --set "data.valid=$work/demo/cache/valid.h5" --set "data.test=$work/demo/cache/test.h5" \
      --set "train.root=$work/runs" --set "train.run=$m" --set train.epochs=15 >"$work/train_$m.log" 2>&1 ||
      failed "train demo_pons_$m: $(tail -3 "$work/train_$m.log")"
  done
  $PY - "$work/runs" <<'EOF' || fail=1
import json, os, sys
root = sys.argv[1]
auc = {}
for m in ("time", "frequency"):
    tags = json.load(open(os.path.join(root, m, "results.json")))["test"]["clip"]["tags"]
    auc[m] = {t["tag"]: t["roc_auc"] for t in tags}
groups = {"tempo": ["slow", "medium", "fast"], "instrument": ["piano", "organ", "guitar", "strings", "brass", "reed"]}
mean = {(m, g): sum(auc[m][t] for t in ts) / len(ts) for m in auc for g, ts in groups.items()}
for m in auc:
    print("     %-9s " % m + " ".join("%s %.3f" % (t, auc[m][t]) for ts in groups.values() for t in ts)
          + "  drums %.3f" % auc[m]["drums"])
ok = True
for g, better, worse in (("tempo", "time", "frequency"), ("instrument", "frequency", "time")):
    good = mean[(better, g)] > mean[(worse, g)] + 0.05
    ok &= good
    print("%s %s tags: %s %.3f > %s %.3f (mean test ROC-AUC)" % ("PASS" if good else "FAIL", g, better,
          mean[(better, g)], worse, mean[(worse, g)]))
sys.exit(0 if ok else 1)
EOF
fi

exit $fail
