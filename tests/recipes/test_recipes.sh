#!/usr/bin/env bash
# The dataset recipes (scripts/recipes/*.py) on tiny fixtures built here that
# mimic each dataset's real file layout:
#  - MagnaTagATune: annotations_final.csv in the real format (tab-separated,
#    quoted, clip_id + 188 tag columns + mp3_path) and mp3 folders 0..f with
#    the three broken clips; Choi's folder split (0-b / c / d-f), the clean
#    split from .npy (numpy's format) and .txt lists, tags, missing files;
#  - Ballroom: the archive's 10 folders (Rumba split in three) with the real
#    698 file counts; 8 classes, balanced seeded folds (KFold sizes), song ids,
#    stratified folds, determinism;
#  - MSD: Choi's split files, tags.py, *_y.npy, a Last.fm tags SQLite db and
#    7digital-style D/D/ID.clip.mp3 previews, some missing or empty;
#  - generic: a folder + labels CSV (header or not, RFC 4180 quoting), seeded
#    split fractions, songs kept together, single-label checks;
#  - scripts/ballroom_cv.sh on a folded synthetic cache: mean +- std of chunk
#    and song accuracy over the folds, reuse of finished folds;
#  - and, when this build has `auratag prep`, a Ballroom-like list of real
#    WAVs through recipe -> prep -> cross-validation.
set -u
. "$(dirname "$0")/../lib.sh"  # BUILD, AT, PY, $work, pass, failed, $fail
R=scripts/recipes
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# check NAME CMD...: runs CMD (a Python check printing its reason on failure)
check() {
  local name=$1
  shift
  if out=$("$@" 2>&1); then pass "$name${out:+: $out}"; else failed "$name: $out"; fi
}

# ======================================================================
# MagnaTagATune
# ======================================================================
$PY - "$work/mtat" <<'EOF'
import os, sys, random
root = sys.argv[1]
mp3 = os.path.join(root, "mp3")
tags = ["no voice", "singer", "duet", "plucking", "hard rock", "world", "bongos", "harpsichord", "female singing",
        "clasical", "sitar", "chorus", "female opera", "male vocal", "vocals", "clarinet", "heavy", "silence",
        "beats", "men", "woodwind", "funky", "no strings", "chimes", "foreign", "no piano", "horns", "classical",
        "female", "no voices", "soft rock", "eerie", "spacey", "jazz", "guitar", "quiet", "no beat", "banjo",
        "electric", "solo", "violins", "folk", "female voice", "wind", "happy", "ambient", "new age", "synth",
        "funk", "no singing", "middle eastern", "trumpet", "percussion", "drum", "airy", "voice", "repetitive",
        "birds", "space", "strings", "bass", "harpsicord", "medieval", "male voice", "girl", "keyboard",
        "acoustic", "loud", "classic", "string", "drums", "electronic", "not classical", "chanting",
        "no violin", "not rock", "no guitar", "organ", "no vocal", "talking", "choral", "weird", "opera",
        "soprano", "fast", "acoustic guitar", "electric guitar", "male singer", "man singing", "classical guitar",
        "country", "violin", "electro", "reggae", "tribal", "dark", "male opera", "no vocals", "irish",
        "electronica", "horn", "operatic", "arabic", "lol", "low", "instrumental", "trance", "chant", "strange",
        "drone", "synthesizer", "heavy metal", "modern", "disco", "bells", "man", "deep", "fast beat",
        "industrial", "hard", "harp", "no flute", "jungle", "pop", "lute", "female vocal", "oboe", "mellow",
        "orchestral", "viola", "light", "echo", "piano", "celtic", "male vocals", "orchestra", "eastern",
        "old", "flutes", "punk", "spanish", "sad", "sax", "slow", "male", "blues", "vocal", "indian",
        "no singer", "scary", "india", "woman", "woman singing", "rock", "dance", "piano solo", "guitars",
        "no drums", "jazzy", "singing", "cello", "calm", "female vocals", "voices", "different", "techno",
        "clapping", "house", "monks", "flute", "not opera", "not english", "oriental", "beat", "upbeat",
        "soft", "noise", "choir", "female singer", "rap", "metal", "hip hop", "quick", "water", "baroque",
        "women", "fiddle", "english"]
assert len(tags) == 188, len(tags)
rng = random.Random(7)
rows, clip = [], 2
for k, folder in enumerate("0123456789abcdef"):
    os.makedirs(os.path.join(mp3, folder), exist_ok=True)
    for j in range(3):
        rows.append((str(clip), folder, "artist_%d-album-%02d-track_%s-%d-%d.mp3" % (clip, j, folder, 30 * j, 30 * j + 29)))
        clip += 1
# the three broken clips, where they really are (folders 6, 8, 9)
rows += [("35644", "6", "norine_braun-now_and_zen-08-gently-117-146.mp3"),
         ("55753", "8", "jacob_heringman-josquin_des_prez_lute_settings-19-gintzler__pater_noster-204-233.mp3"),
         ("57881", "9", "american_baroque-dances_and_suites_of_rameau_and_couperin-25-le_petit_rien_xiveme_ordre_couperin-88-117.mp3")]
with open(os.path.join(root, "annotations_final.csv"), "w") as f:
    f.write("\t".join('"%s"' % h for h in ["clip_id"] + tags + ["mp3_path"]) + "\n")
    for n, (cid, folder, name) in enumerate(rows):
        # clip 2 has no tag at all; the others a few, "guitar" and "no vocals" on even clip ids
        v = ["0"] * 188
        if cid != "2":
            for t in rng.sample(range(188), 3):
                v[t] = "1"
            if int(cid) % 2 == 0:
                v[tags.index("guitar")] = "1"
                v[tags.index("no vocals")] = "1"
        f.write("\t".join('"%s"' % x for x in [cid] + v + [folder + "/" + name]) + "\n")
        path = os.path.join(mp3, folder, name)
        if cid not in ("35644",):  # the first broken clip has no file, as in the real dataset
            with open(path, "wb") as g:
                g.write(b"ID3\x03\x00\x00\x00\x00\x00\x00fake mp3 " + cid.encode())
EOF
$PY $R/mtat.py "$work/mtat/annotations_final.csv" "$work/mtat/mp3" --out "$work/mtat/out/files.csv" >"$work/mtat/log1" 2>&1 \
  || failed "mtat.py choi: $(cat "$work/mtat/log1")"
check "mtat choi split: folders 0-b train, c valid, d-f test; broken clips left out; tags by column name" \
  $PY - "$work/mtat" <<'EOF'
import csv, os, sys
root = sys.argv[1]
out = os.path.join(root, "out", "files.csv")
rows = list(csv.DictReader(open(out, newline="")))
assert list(rows[0].keys()) == ["path", "split", "tags"], rows[0].keys()
cnt = {s: sum(r["split"] == s for r in rows) for s in ("train", "valid", "test")}
assert cnt == {"train": 36, "valid": 3, "test": 9}, cnt
for r in rows:
    p = os.path.normpath(os.path.join(os.path.dirname(out), r["path"]))
    assert os.path.isfile(p), p
    folder = os.path.basename(os.path.dirname(p))
    want = "train" if int(folder, 16) < 12 else "valid" if folder == "c" else "test"
    assert r["split"] == want, (r, want)
    assert "norine_braun" not in p and "heringman" not in p and "american_baroque" not in p, p
ann = list(csv.reader(open(os.path.join(root, "annotations_final.csv")), delimiter="\t"))
head = ann[0]
by_path = {a[-1]: a for a in ann[1:]}
for r in rows:
    a = by_path["/".join(r["path"].split("/")[-2:])]
    want = [t for t, v in zip(head[1:-1], a[1:-1]) if v == "1"]
    got = r["tags"].split(";") if r["tags"] else []
    assert got == want, (got, want)
    assert (r["tags"] == "") == (a[0] == "2"), r
assert any("no vocals" in r["tags"].split(";") for r in rows)
print("%d/%d/%d clips" % (cnt["train"], cnt["valid"], cnt["test"]))
EOF
grep -q "left out 3 broken clips" "$work/mtat/log1" && pass "mtat choi: reports the 3 broken clips" || failed "mtat choi: no broken-clip report: $(cat "$work/mtat/log1")"
$PY $R/mtat.py "$work/mtat/annotations_final.csv" "$work/mtat/mp3" --out "$work/mtat/out/files2.csv" >/dev/null 2>&1
cmp -s "$work/mtat/out/files.csv" "$work/mtat/out/files2.csv" && pass "mtat: deterministic" || failed "mtat: two runs differ"

# the clean split: lists as numpy writes them (<U, "INDEX\tpath") and as text
$PY - "$work/mtat" <<'EOF'
import csv, os, sys
import numpy as np
root = sys.argv[1]
ann = list(csv.reader(open(os.path.join(root, "annotations_final.csv")), delimiter="\t"))[1:]
paths = [a[-1] for a in ann if a[0] not in ("35644", "55753", "57881", "2")]
# a made-up clean split: not the folder rule (the real one is not either)
sp = {"train": paths[0:30], "valid": paths[30:34], "test": paths[34:40]}
for d, fmt in (("clean_npy", "npy"), ("clean_txt", "txt")):
    os.makedirs(os.path.join(root, d), exist_ok=True)
    for s, lst in sp.items():
        entries = ["%d\t%s" % (i, p) for i, p in enumerate(lst)]
        if fmt == "npy":
            np.save(os.path.join(root, d, s + ".npy"), np.array(entries))
        else:
            open(os.path.join(root, d, s + ".txt"), "w").write("\n".join(lst) + "\n")
    open(os.path.join(root, d, "expect.txt"), "w").write(repr(sp))
EOF
for d in clean_npy clean_txt; do
  $PY $R/mtat.py "$work/mtat/annotations_final.csv" "$work/mtat/mp3" --split clean --clean-dir "$work/mtat/$d" \
    --out "$work/mtat/out/$d.csv" >"$work/mtat/log_$d" 2>&1 || failed "mtat.py clean ($d): $(cat "$work/mtat/log_$d")"
  check "mtat clean split from $d: the lists' clips in their splits, nothing else" $PY - "$work/mtat" "$d" <<'EOF'
import ast, csv, os, sys
root, d = sys.argv[1], sys.argv[2]
sp = ast.literal_eval(open(os.path.join(root, d, "expect.txt")).read())
rows = list(csv.DictReader(open(os.path.join(root, "out", d + ".csv"))))
got = {s: sorted("/".join(r["path"].split("/")[-2:]) for r in rows if r["split"] == s) for s in sp}
assert got == {s: sorted(v) for s, v in sp.items()}, got
print("%d/%d/%d clips" % tuple(len(sp[s]) for s in ("train", "valid", "test")))
EOF
done
fails "mtat clean split without its lists" "needs --clean-dir" \
  $PY $R/mtat.py "$work/mtat/annotations_final.csv" "$work/mtat/mp3" --split clean --out "$work/mtat/out/x.csv"
rm "$work/mtat/mp3/0/"*-0-29.mp3
fails "mtat: a missing mp3 is an error" "missing or empty" \
  $PY $R/mtat.py "$work/mtat/annotations_final.csv" "$work/mtat/mp3" --out "$work/mtat/out/x.csv"
$PY $R/mtat.py "$work/mtat/annotations_final.csv" "$work/mtat/mp3" --out "$work/mtat/out/skip.csv" --skip-missing >/dev/null 2>&1 &&
  [ "$(($(wc -l <"$work/mtat/out/skip.csv") - 1))" = 47 ] && pass "mtat --skip-missing leaves out the missing clip" ||
  failed "mtat --skip-missing: $(wc -l <"$work/mtat/out/skip.csv") lines"
printf 'clip_id,a,b\n1,0,1\n' >"$work/mtat/bad.csv"
fails "mtat: a file that is not annotations_final.csv" "clip_id" \
  $PY $R/mtat.py "$work/mtat/bad.csv" "$work/mtat/mp3" --out "$work/mtat/out/x.csv"

# ======================================================================
# Ballroom
# ======================================================================
$PY - "$work/ballroom/BallroomData" <<'EOF'
import os, sys
root = sys.argv[1]
counts = {"ChaChaCha": 111, "Jive": 60, "Quickstep": 82, "Rumba-American": 7, "Rumba-International": 51,
          "Rumba-Misc": 40, "Samba": 86, "Tango": 86, "VienneseWaltz": 65, "Waltz": 110}
for c, n in counts.items():
    os.makedirs(os.path.join(root, c), exist_ok=True)
    for i in range(n):
        open(os.path.join(root, c, "Media-%06d.wav" % (1000 * len(c) + i)), "wb").write(b"RIFF fake")
open(os.path.join(root, "ChaChaCha", ".DS_Store"), "wb").write(b"x")
open(os.path.join(root, "allBallroomFiles"), "w").write("list\n")
EOF
for s in 1 1b 2 strat; do
  seed=${s%b}
  extra=()
  [ "$s" = strat ] && { seed=1; extra=(--stratify); }
  $PY $R/ballroom.py "$work/ballroom/BallroomData" --out "$work/ballroom/out/files_$s.csv" --seed "$seed" "${extra[@]}" \
    >"$work/ballroom/log_$s" 2>&1 || failed "ballroom.py ($s): $(cat "$work/ballroom/log_$s")"
done
check "ballroom: 698 songs, 8 classes (Rumba-* = Rumba, 98), KFold-sized folds (8 x 70 + 2 x 69), song = file" \
  $PY - "$work/ballroom" <<'EOF'
import csv, collections, os, sys
root = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(root, "out", "files_1.csv"))))
assert list(rows[0].keys()) == ["path", "split", "tags", "song", "fold"], rows[0].keys()
assert len(rows) == 698, len(rows)
cls = collections.Counter(r["tags"] for r in rows)
assert cls == {"ChaChaCha": 111, "Jive": 60, "Quickstep": 82, "Rumba": 98, "Samba": 86, "Tango": 86,
               "VienneseWaltz": 65, "Waltz": 110}, cls
assert all(r["split"] == "" for r in rows)
sizes = collections.Counter(int(r["fold"]) for r in rows)
assert sorted(sizes) == list(range(10)) and [sizes[k] for k in range(10)] == [70] * 8 + [69] * 2, sizes
assert len({r["song"] for r in rows}) == 698
for r in rows:
    p = os.path.normpath(os.path.join(root, "out", r["path"]))
    assert os.path.isfile(p) and p.endswith(".wav"), p
    folder = os.path.basename(os.path.dirname(p))
    assert r["tags"] == ("Rumba" if folder.startswith("Rumba") else folder), r
print("classes %s" % dict(cls))
EOF
cmp -s "$work/ballroom/out/files_1.csv" "$work/ballroom/out/files_1b.csv" && pass "ballroom: same seed, same folds" || failed "ballroom: same seed differs"
cmp -s "$work/ballroom/out/files_1.csv" "$work/ballroom/out/files_2.csv" && failed "ballroom: another seed gives the same folds" || pass "ballroom: another seed, other folds"
check "ballroom --stratify: every class spread evenly over the folds" $PY - "$work/ballroom" <<'EOF'
import csv, collections, os, sys
rows = list(csv.DictReader(open(os.path.join(sys.argv[1], "out", "files_strat.csv"))))
sizes = collections.Counter(int(r["fold"]) for r in rows)
assert max(sizes.values()) - min(sizes.values()) <= 1, sizes
for c in {r["tags"] for r in rows}:
    per = collections.Counter(int(r["fold"]) for r in rows if r["tags"] == c)
    assert max(per.get(k, 0) for k in range(10)) - min(per.get(k, 0) for k in range(10)) <= 1, (c, per)
EOF
fails "ballroom: a folder without class folders" "no audio files" $PY $R/ballroom.py "$work/mtat/out" --out "$work/x.csv"

# ======================================================================
# Million Song Dataset (Choi's split)
# ======================================================================
$PY - "$work/msd" <<'EOF'
import os, random, sqlite3, sys
import numpy as np
root = sys.argv[1]
split_dir, audio = os.path.join(root, "MSD_split_for_tagging"), os.path.join(root, "7digital")
os.makedirs(split_dir)
tags = ["rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
        "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
        "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock",
        "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
        "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb",
        "indie pop", "sad", "House", "happy"]
open(os.path.join(split_dir, "tags.py"), "w").write("TAGS = %r\n\n" % tags)
rng = random.Random(3)
db = sqlite3.connect(os.path.join(root, "lastfm_tags.db"))
db.execute("CREATE TABLE tids (tid TEXT)"); db.execute("CREATE TABLE tags (tag TEXT)")
db.execute("CREATE TABLE tid_tag (tid INT, tag INT, val FLOAT)")
for t in tags + ["seen live", "favorites"]:
    db.execute("INSERT INTO tags VALUES (?)", (t,))
tag_rowid = {t: i + 1 for i, t in enumerate(tags + ["seen live", "favorites"])}
n_split = {"train": 20, "valid": 5, "test": 7}
expect, k = {}, 0
for s, n in n_split.items():
    names, ids, y = [], [], []
    for i in range(n):
        d7 = str(rng.randrange(10 ** 5, 10 ** 7))
        name = "%s/%s/%s.npy" % (d7[0], d7[1], d7)
        tid = "TR%016X" % (k * 7919 + 12345)
        k += 1
        names.append(name); ids.append(tid)
        db.execute("INSERT INTO tids VALUES (?)", (tid,))
        rowid = db.execute("SELECT MAX(ROWID) FROM tids").fetchone()[0]
        row = [0] * 50
        for j in rng.sample(range(50), 4):
            val = rng.choice([20, 50, 51, 100])   # > 50 counts, 50 does not
            db.execute("INSERT INTO tid_tag VALUES (?, ?, ?)", (rowid, tag_rowid[tags[j]], val))
            row[j] = int(val > 50)
        db.execute("INSERT INTO tid_tag VALUES (?, ?, ?)", (rowid, tag_rowid["seen live"], 100))
        y.append(row)
        p = os.path.join(audio, name[:-4] + ".clip.mp3")
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if not (s == "train" and i == 3):                          # one preview missing
            open(p, "wb").write(b"" if (s == "test" and i == 0) else b"ID3 fake")   # one empty
        expect[name] = (s, [t for t, v in zip(tags, row) if v], not (s == "train" and i == 3) and not (s == "test" and i == 0))
    open(os.path.join(split_dir, "%s_x_filename.txt" % s), "w").write("\n".join(names) + "\n")
    open(os.path.join(split_dir, "%s_x_msd_id.txt" % s), "w").write("\n".join(ids) + "\n")
    open(os.path.join(split_dir, "%s_x_7d_id.txt" % s), "w").write("\n".join(n.split("/")[2][:-4] for n in names) + "\n")
    np.save(os.path.join(split_dir, "%s_y.npy" % s), np.array(y, dtype=np.float32 if s == "train" else np.int64))
db.commit()
open(os.path.join(root, "expect.txt"), "w").write(repr(expect))
bad = [n.split("/")[2][:-4] for n, v in expect.items() if v[0] == "train"][5:7]
open(os.path.join(split_dir, "train_x_7d_bad_duration_id.txt"), "w").write(bad[0] + "\n")
open(os.path.join(split_dir, "train_x_7d_invalid_audio_id.txt"), "w").write(bad[1] + "\n")
EOF
$PY $R/msd.py "$work/msd/MSD_split_for_tagging" "$work/msd/7digital" --out "$work/msd/out/files.csv" >"$work/msd/log1" 2>&1 \
  || failed "msd.py (npy labels): $(cat "$work/msd/log1")"
$PY $R/msd.py "$work/msd/MSD_split_for_tagging" "$work/msd/7digital" --lastfm "$work/msd/lastfm_tags.db" \
  --out "$work/msd/out/files_lastfm.csv" >"$work/msd/log2" 2>&1 || failed "msd.py (lastfm labels): $(cat "$work/msd/log2")"
check "msd: Choi's split files -> 7digital D/D/ID.clip.mp3, y.npy labels, missing/empty previews left out" \
  $PY - "$work/msd" <<'EOF'
import ast, csv, os, sys
root = sys.argv[1]
expect = ast.literal_eval(open(os.path.join(root, "expect.txt")).read())
rows = list(csv.DictReader(open(os.path.join(root, "out", "files.csv"))))
assert list(rows[0].keys()) == ["path", "split", "tags"]
want = {n: v for n, v in expect.items() if v[2]}
assert len(rows) == len(want) == 30, (len(rows), len(want))
for r in rows:
    p = os.path.normpath(os.path.join(root, "out", r["path"]))
    assert p.endswith(".clip.mp3") and os.path.getsize(p) > 0, p
    name = os.path.relpath(p, os.path.join(root, "7digital"))[:-len(".clip.mp3")] + ".npy"
    s, t, _ = want[name]
    assert r["split"] == s and r["tags"] == ";".join(t), (r, s, t)
cnt = [sum(r["split"] == s for r in rows) for s in ("train", "valid", "test")]
assert cnt == [19, 5, 6], cnt
print("%d/%d/%d tracks" % tuple(cnt))
EOF
cmp -s "$work/msd/out/files.csv" "$work/msd/out/files_lastfm.csv" && pass "msd: Last.fm db labels (value > 50) equal the y.npy labels" ||
  failed "msd: lastfm labels differ from y.npy: $(diff "$work/msd/out/files.csv" "$work/msd/out/files_lastfm.csv" | head -5)"
grep -q "left out 2 tracks whose preview is missing or empty" "$work/msd/log1" && pass "msd: reports the missing and empty previews" ||
  failed "msd: report: $(cat "$work/msd/log1")"
fails "msd --strict: a missing preview is an error" "missing or empty" \
  $PY $R/msd.py "$work/msd/MSD_split_for_tagging" "$work/msd/7digital" --out "$work/msd/out/x.csv" --strict
$PY $R/msd.py "$work/msd/MSD_split_for_tagging" "$work/msd/7digital" --out "$work/msd/out/drop.csv" --drop-bad >/dev/null 2>&1 &&
  [ "$(grep -c ',train,' "$work/msd/out/drop.csv")" = 17 ] && pass "msd --drop-bad leaves out the listed bad ids" ||
  failed "msd --drop-bad: $(grep -c ',train,' "$work/msd/out/drop.csv") train rows"
mv "$work/msd/MSD_split_for_tagging/train_y.npy" "$work/msd/train_y.npy"
fails "msd: without train_y.npy it asks for the Last.fm db" "--lastfm" \
  $PY $R/msd.py "$work/msd/MSD_split_for_tagging" "$work/msd/7digital" --out "$work/msd/out/x.csv"

# ======================================================================
# generic: folder + labels CSV
# ======================================================================
mkdir -p "$work/gen/audio/sub"
for i in $(seq 0 39); do echo fake >"$work/gen/audio/sub/c$i.wav"; done
echo fake >"$work/gen/audio/with, comma.wav"
{
  for i in $(seq 0 39); do echo "sub/c$i.wav,rock;t$((i % 3))"; done
  echo '"with, comma.wav","a;b"'
} >"$work/gen/labels.csv"
{
  echo "path,tags,song"
  for i in $(seq 0 39); do echo "sub/c$i.wav,k$((i % 4)),s$((i / 4))"; done
} >"$work/gen/labels_songs.csv"
$PY $R/generic.py "$work/gen/audio" "$work/gen/labels.csv" --out "$work/gen/out/files.csv" --valid 0.2 --test 0.2 --seed 5 >/dev/null 2>&1 || failed "generic.py"
$PY $R/generic.py "$work/gen/audio" "$work/gen/labels.csv" --out "$work/gen/out/files_b.csv" --valid 0.2 --test 0.2 --seed 5 >/dev/null 2>&1
$PY $R/generic.py "$work/gen/audio" "$work/gen/labels.csv" --out "$work/gen/out/files_c.csv" --valid 0.2 --test 0.2 --seed 6 >/dev/null 2>&1
$PY $R/generic.py "$work/gen/audio" "$work/gen/labels_songs.csv" --out "$work/gen/out/songs.csv" --single-label --seed 1 >/dev/null 2>&1 || failed "generic.py songs"
check "generic: all files, tags kept, split fractions (41 -> 25/8/8), quoting" $PY - "$work/gen" <<'EOF'
import csv, os, sys
root = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(root, "out", "files.csv"))))
assert len(rows) == 41
cnt = {s: sum(r["split"] == s for r in rows) for s in ("train", "valid", "test")}
assert cnt == {"train": 25, "valid": 8, "test": 8}, cnt
for r in rows:
    assert os.path.isfile(os.path.join(root, "out", r["path"])), r
comma = [r for r in rows if r["path"].endswith("with, comma.wav")]
assert comma and comma[0]["tags"] == "a;b", comma
assert all(r["tags"].startswith("rock;t") for r in rows if r not in comma)
EOF
cmp -s "$work/gen/out/files.csv" "$work/gen/out/files_b.csv" && pass "generic: same seed, same split" || failed "generic: same seed differs"
cmp -s "$work/gen/out/files.csv" "$work/gen/out/files_c.csv" && failed "generic: another seed, same split" || pass "generic: another seed, another split"
check "generic: a song's files stay in one split; song column passed on" $PY - "$work/gen" <<'EOF'
import csv, collections, os, sys
rows = list(csv.DictReader(open(os.path.join(sys.argv[1], "out", "songs.csv"))))
assert list(rows[0].keys()) == ["path", "split", "tags", "song"], rows[0].keys()
by = collections.defaultdict(set)
for r in rows:
    by[r["song"]].add(r["split"])
assert all(len(v) == 1 for v in by.values()), by
cnt = collections.Counter(next(iter(v)) for v in by.values())
assert cnt == {"train": 7, "valid": 1, "test": 2}, cnt
EOF
# --stratify: a small class is split in the asked fractions too (A 40, B 10, C 5 files; 0.2 / 0.2 each,
# rounded half up: A 24/8/8, B 6/2/2, C 3/1/1); multi-label files go with their rarest tag
{
  for i in $(seq 0 39); do echo "sub/c$i.wav,A"; done
  for i in $(seq 0 9); do echo "sub/b$i.wav,B"; done
  for i in $(seq 0 4); do echo "sub/s$i.wav,C"; done
} >"$work/gen/labels_strat.csv"
for i in $(seq 0 9); do echo fake >"$work/gen/audio/sub/b$i.wav"; done
for i in $(seq 0 4); do echo fake >"$work/gen/audio/sub/s$i.wav"; done
for seed in 1 2 3; do
  $PY $R/generic.py "$work/gen/audio" "$work/gen/labels_strat.csv" --out "$work/gen/out/strat$seed.csv" --single-label \
    --stratify --valid 0.2 --test 0.2 --seed $seed >/dev/null 2>&1 || failed "generic.py --stratify"
done
$PY $R/generic.py "$work/gen/audio" "$work/gen/labels.csv" --out "$work/gen/out/strat_multi.csv" --stratify \
  --valid 0.2 --test 0.2 --seed 1 >/dev/null 2>&1 || failed "generic.py --stratify (multi-label)"
check "generic --stratify: every class split in the asked fractions (A 24/8/8, B 6/2/2, C 3/1/1), seeded" $PY - "$work/gen" <<'EOF'
import csv, collections, os, sys
out = os.path.join(sys.argv[1], "out")
splits = []
for seed in (1, 2, 3):
    rows = list(csv.DictReader(open(os.path.join(out, "strat%d.csv" % seed))))
    cnt = collections.Counter((r["tags"], r["split"]) for r in rows)
    want = {("A", "train"): 24, ("A", "valid"): 8, ("A", "test"): 8, ("B", "train"): 6, ("B", "valid"): 2,
            ("B", "test"): 2, ("C", "train"): 3, ("C", "valid"): 1, ("C", "test"): 1}
    assert cnt == want, (seed, cnt)
    splits.append([r["split"] for r in rows])
assert splits[0] != splits[1], "another seed, another draw within each class"
rows = list(csv.DictReader(open(os.path.join(out, "strat_multi.csv"))))
# rarest tags: t0 (14 files), t1 (13), t2 (13) and the lone a;b file: each stratum is split by itself
cnt = collections.Counter(r["split"] for r in rows)
assert sum(cnt.values()) == 41 and cnt["valid"] >= 8 and cnt["test"] >= 8, cnt
EOF
fails "generic: --stratify with --keep-split" "choose one" \
  $PY $R/generic.py "$work/gen/audio" "$work/gen/labels_songs.csv" --out "$work/gen/out/x.csv" --stratify --keep-split
fails "generic --single-label: two classes on a file" "exactly one" \
  $PY $R/generic.py "$work/gen/audio" "$work/gen/labels.csv" --out "$work/gen/out/x.csv" --single-label
echo "sub/nothere.wav,x" >>"$work/gen/labels.csv"
fails "generic: a listed file that does not exist" "do not exist" \
  $PY $R/generic.py "$work/gen/audio" "$work/gen/labels.csv" --out "$work/gen/out/x.csv"

# ======================================================================
# scripts/ballroom_cv.sh on a folded synthetic cache
# ======================================================================
if [ -x "$AT" ]; then
  "$AT" synth "$work/cv" --classes 8 --songs 4 --folds 3 --train 96 --valid 8 --test 8 --seed 2 >/dev/null || failed "synth folds"
  cat >"$work/cv/exp.ini" <<EOF
include = $PWD/configs/models/pons_time.ini
[data]
train = train.h5
[train]
optimizer = adam
lr = 0.002
batch = 16
epochs = 2
EOF
  AURATAG=$AT bash scripts/ballroom_cv.sh "$work/cv/exp.ini" --folds 3 --root "$work/cv/runs" >"$work/cv/log" 2>&1 ||
    failed "ballroom_cv.sh: $(tail -5 "$work/cv/log")"
  check "ballroom_cv.sh: 3 folds, mean +- std of chunk and song accuracy equal the runs' results.json" \
    $PY - "$work/cv" <<'EOF'
import json, os, re, statistics, sys
root = sys.argv[1]
log = open(os.path.join(root, "log")).read()
s = json.load(open(os.path.join(root, "runs", "exp-cv.json")))
chunk = [json.load(open(os.path.join(root, "runs", "exp-fold%d" % k, "results.json")))["test"]["clip"]["accuracy"] for k in range(3)]
song = [json.load(open(os.path.join(root, "runs", "exp-fold%d" % k, "results.json")))["test"]["song"]["accuracy"] for k in range(3)]
assert abs(s["chunk_accuracy_mean"] - statistics.mean(chunk)) < 1e-12 and abs(s["chunk_accuracy_std"] - statistics.stdev(chunk)) < 1e-12, s
assert abs(s["song_accuracy_mean"] - statistics.mean(song)) < 1e-12, s
m = re.search(r"chunk accuracy: ([0-9.]+) % \+- ([0-9.]+)", log)
assert m and abs(float(m.group(1)) - 100 * statistics.mean(chunk)) < 0.006, log[-400:]
assert re.search(r"song accuracy \(majority vote\): [0-9.]+ % \+- [0-9.]+", log), log[-400:]
# every fold tested on its own songs: 32 chunks = 8 songs of 4
assert all(p["chunks"] == 32 and p["songs"] == 8 for p in s["per_fold"]), s["per_fold"]
print("chunk %.3f +- %.3f, song %.3f +- %.3f" % (s["chunk_accuracy_mean"], s["chunk_accuracy_std"], s["song_accuracy_mean"], s["song_accuracy_std"]))
EOF
  cp "$work/cv/runs/exp-cv.json" "$work/cv/first.json"
  AURATAG=$AT bash scripts/ballroom_cv.sh "$work/cv/exp.ini" --folds 3 --root "$work/cv/runs" >"$work/cv/log2" 2>&1 &&
    [ "$(grep -c 'exists, reused' "$work/cv/log2")" = 3 ] && cmp -s "$work/cv/first.json" "$work/cv/runs/exp-cv.json" &&
    pass "ballroom_cv.sh: a second run reuses the finished folds" || failed "ballroom_cv.sh rerun: $(tail -3 "$work/cv/log2")"
  "$AT" synth "$work/nofold" --classes 8 --train 16 --valid 8 --test 8 >/dev/null || failed "synth without folds"
  fails "ballroom_cv.sh: a cache without folds" "no /fold" \
    env AURATAG=$AT bash scripts/ballroom_cv.sh "$work/cv/exp.ini" --folds 2 --root "$work/cv/runs2" \
    --set "data.train=$work/nofold/train.h5"
else
  failed "no $AT: build first"
fi

# ======================================================================
# recipe -> prep -> cross-validation on real (tiny) audio, where prep exists
# ======================================================================
if [ -x "$AT" ] && "$AT" 2>&1 | grep -qw prep; then
  $PY - "$work/br2/BallroomData" <<'EOF'
import array, math, os, sys, wave
root = sys.argv[1]
classes = ["ChaChaCha", "Jive", "Quickstep", "Rumba-Misc", "Samba", "Tango", "VienneseWaltz", "Waltz"]
sr = 22050
for ci, c in enumerate(classes):
    os.makedirs(os.path.join(root, c))
    for i in range(3):
        n = int(sr * 4.0)
        f0 = 110 * 2 ** (ci / 2 + i / 12)
        x = array.array("h", (int(9830 * math.sin(2 * math.pi * f0 * t / sr) * (1 if (t * (2 + ci) // sr) % 2 == 0 else 0.2))
                              for t in range(n)))
        with wave.open(os.path.join(root, c, "song%d.wav" % i), "wb") as w:
            w.setnchannels(1); w.setsampwidth(2); w.setframerate(sr)
            w.writeframes(x.tobytes())
EOF
  $PY $R/ballroom.py "$work/br2/BallroomData" --out "$work/br2/files.csv" --folds 3 >/dev/null 2>&1 || failed "ballroom.py on wavs"
  if "$AT" prep configs/datasets/ballroom_pons.ini --list "$work/br2/files.csv" --out "$work/br2/cache" >"$work/br2/prep.log" 2>&1; then
    check "ballroom recipe -> prep: 80-frame chunks with song ids and the recipe's folds" $PY - "$work/br2" <<'EOF'
import csv, h5py, os, sys
root = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(root, "files.csv"))))
with h5py.File(os.path.join(root, "cache", "train.h5"), "r") as f:
    assert f["features"].shape[1:] == (40, 80), f["features"].shape
    song, fold = f["song"][:], f["fold"][:]
    assert len(set(song.tolist())) == 24, len(set(song.tolist()))
    assert set(fold.tolist()) == {0, 1, 2}, set(fold.tolist())
    n = f["features"].shape[0]
    assert n == 48, n   # 4 s at 44.1 kHz / hop 1024: 173 frames -> 2 chunks per song
print("%d chunks of %d songs" % (n, len(set(song.tolist()))))
EOF
    cat >"$work/br2/exp.ini" <<EOF
include = $PWD/configs/models/pons_time.ini
[data]
train = cache/train.h5
[train]
optimizer = adam
lr = 0.002
batch = 8
epochs = 1
EOF
    AURATAG=$AT bash scripts/ballroom_cv.sh "$work/br2/exp.ini" --folds 3 --root "$work/br2/runs" >"$work/br2/cv.log" 2>&1 &&
      grep -q "song accuracy (majority vote)" "$work/br2/cv.log" && pass "ballroom recipe -> prep -> ballroom_cv.sh" ||
      failed "ballroom cv after prep: $(tail -5 "$work/br2/cv.log")"
  else
    failed "prep of the ballroom recipe's list: $(tail -5 "$work/br2/prep.log")"
  fi
else
  echo "SKIP recipe -> prep -> cross-validation: this build has no 'auratag prep' yet"
fi

exit $fail
