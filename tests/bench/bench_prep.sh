#!/usr/bin/env bash
# Prep throughput: seconds of audio turned into features per second of wall
# time, per core, for decode + resample + mel spectrogram with the mtat_choi
# front end (12 kHz, n_fft 512, hop 256, 96 mel, dB, 29.12 s centre crop /
# pad), on 60 s of generated audio (two MP3 and two PCM16 WAV files, 15 s
# each, 44.1 kHz stereo), beside librosa doing the same work in the same run:
# librosa.load(sr=12000) (libsndfile via soundfile, soxr_hq: the same decoder
# and resampler as auratag) + crop / pad + melspectrogram + power_to_db.
#
#   auratag: `auratag prep` end to end (list, decode, resample, mel, work
#            records, caches), on 1 thread and on BENCH_THREADS threads;
#   librosa: one Python process, numeric libraries on one thread.
# Both: median of BENCH_PREP_REPEATS runs (default 5) after a warm-up.
# A second comparison isolates the front end (no decode, no resample): the
# mel spectrogram + dB of one 29.12 s signal at 12 kHz, auratag's
# frontend_compute (tests/oracle/frontend_dump --bench, one thread) against
# librosa.feature.melspectrogram + power_to_db.
#
# librosa comes from .venv-test (scripts/test-venv.sh); without it the
# librosa row says why it is missing.
# Output: PREP lines (impl=... audio_s_per_s=... per_core=...) and a summary;
# $AURATAG_BUILD/bench/prep.json.
set -u
cd "$(dirname "$0")/../.."
BUILD=${AURATAG_BUILD:-build}
THREADS=${BENCH_THREADS:-2}
REPEATS=${BENCH_PREP_REPEATS:-5}
AT=$BUILD/auratag
MK=$BUILD/tests/oracle/make_audio
VENV_PY=.venv-test/bin/python
[ -x "$AT" ] || { echo "bench_prep: $AT is not built (make)"; exit 1; }
if [ ! -x "$MK" ]; then
  make -s BUILD="$BUILD" "$MK" >/dev/null || { echo "bench_prep: cannot build $MK"; exit 1; }
fi
out=$BUILD/bench/prep
rm -rf "$out"
mkdir -p "$out/audio"
# MP3s first in the list: with two threads each takes one, then one WAV
"$MK" "$out/audio/a.mp3" --rate 44100 --seconds 15 --stereo --tone 0:15:330:0.3 --tone 0:15:2640:0.1 --noise 0.1 --seed 1
"$MK" "$out/audio/b.mp3" --rate 44100 --seconds 15 --stereo --tone 0:15:440:0.3 --tone 0:15:1320:0.1 --noise 0.1 --seed 2
"$MK" "$out/audio/c.wav" --rate 44100 --seconds 15 --stereo --tone 0:15:220:0.3 --tone 0:15:1760:0.1 --noise 0.1 --seed 3
"$MK" "$out/audio/d.wav" --rate 44100 --seconds 15 --stereo --tone 0:15:550:0.3 --tone 0:15:3300:0.1 --noise 0.1 --seed 4
printf 'path,split,tags\na.mp3,train,x\nb.mp3,train,y\nc.wav,train,x\nd.wav,train,y\n' >"$out/audio/files.csv"
FILES=("$out/audio/a.mp3" "$out/audio/b.mp3" "$out/audio/c.wav" "$out/audio/d.wav")
AUDIO_S=60
CFG=configs/datasets/mtat_choi.ini
echo "audio: $AUDIO_S s (2 MP3 + 2 PCM16 WAV, 15 s each, 44.1 kHz stereo; zero-padded to 29.12 s clips), front end $CFG"

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# auratag: wall_seconds of prep-report.json (the whole command)
declare -A AURATAG_RATE
thread_counts="1"
[ "$THREADS" != 1 ] && thread_counts="1 $THREADS"
for t in $thread_counts; do
  "$AT" prep "$CFG" --list "$out/audio/files.csv" --out "$out/warm" --threads "$t" >/dev/null 2>&1 ||
    { echo "bench_prep: auratag prep failed"; exit 1; }
  walls=()
  for r in $(seq 1 "$REPEATS"); do
    rm -rf "$out/run"
    OMP_NUM_THREADS=$t "$AT" prep "$CFG" --list "$out/audio/files.csv" --out "$out/run" --threads "$t" >/dev/null 2>&1
    walls+=("$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["wall_seconds"])' "$out/run/prep-report.json")")
  done
  wall=$(printf '%s\n' "${walls[@]}" | median)
  rate=$(awk -v a="$AUDIO_S" -v w="$wall" 'BEGIN { printf "%.1f", a / w }')
  per_core=$(awk -v a="$AUDIO_S" -v w="$wall" -v t="$t" 'BEGIN { printf "%.1f", a / w / t }')
  AURATAG_RATE[$t]=$per_core
  echo "PREP impl=auratag threads=$t wall_s=$wall audio_s_per_s=$rate per_core=$per_core (median of $REPEATS: ${walls[*]})"
done

# librosa, same work, one thread
LIBROSA_PER_CORE=""
DECODE_CEILING=""
librosa_note=""
if [ ! -x "$VENV_PY" ]; then
  librosa_note="librosa not available: $VENV_PY does not exist (create it with: bash scripts/test-venv.sh)"
elif ! why=$("$VENV_PY" -c 'import librosa, soxr, soundfile' 2>&1); then
  librosa_note="librosa not available: importing it in $VENV_PY failed: $(echo "$why" | tail -1)"
fi
if [ -z "$librosa_note" ]; then
  line=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
    "$VENV_PY" - "$REPEATS" "${FILES[@]}" <<'EOF'
import statistics, sys, time
import numpy as np
import librosa

SR, N_FIT = 12000, 349440  # Choi: 29.12 s at 12 kHz

def features(path):
    y, _ = librosa.load(path, sr=SR, mono=True)  # res_type soxr_hq (librosa >= 0.10)
    n = len(y)
    y = y[(n - N_FIT) // 2:(n + N_FIT) // 2] if n >= N_FIT else np.pad(y, (0, N_FIT - n))
    s = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=512, hop_length=256, n_mels=96)
    return librosa.power_to_db(s, ref=1.0, amin=1e-10, top_db=80.0)

repeats, files = int(sys.argv[1]), sys.argv[2:]
for f in files:
    assert features(f).shape == (96, 1366)  # warm-up (imports, caches)
walls = []
for _ in range(repeats):
    t0 = time.perf_counter()
    for f in files:
        features(f)
    walls.append(time.perf_counter() - t0)
w = statistics.median(walls)
print("PREP impl=librosa-%s threads=1 wall_s=%.4f audio_s_per_s=%.1f per_core=%.1f (median of %d: %s)"
      % (librosa.__version__, w, 60 / w, 60 / w, repeats, " ".join("%.4f" % x for x in walls)))
# The decoder alone (libsndfile + mpg123, the one auratag calls too): no
# implementation that decodes with it can beat librosa by more than
# total / decode, however fast its resampler and front end.
import soundfile
decode = []
for _ in range(repeats):
    t0 = time.perf_counter()
    for f in files:
        soundfile.read(f, dtype="float32")
    decode.append(time.perf_counter() - t0)
d = statistics.median(decode)
print("PREP stage=decode impl=libsndfile threads=1 wall_s=%.4f ceiling=%.2f (librosa total / decode alone)" % (d, w / d))
EOF
  ) || line=""
  if [ -n "$line" ]; then
    echo "$line"
    LIBROSA_PER_CORE=$(echo "$line" | sed -n 's/.*impl=librosa.* per_core=\([0-9.]*\).*/\1/p')
    DECODE_CEILING=$(echo "$line" | sed -n 's/.*stage=decode.* ceiling=\([0-9.]*\).*/\1/p')
  else
    librosa_note="librosa not available: the librosa run failed"
  fi
fi
[ -n "$librosa_note" ] && echo "PREP impl=librosa $librosa_note"

# front end alone, on the same 29.12 s signal
/usr/bin/python3 -c 'import numpy as np, sys; np.random.seed(1); t = np.arange(349440) / 12000.0
x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.random.uniform(-1, 1, t.size)
x.astype("<f4").tofile(sys.argv[1])' "$out/signal.f32"
FE_AURATAG_MS=""
FE_LIBROSA_MS=""
FD=$BUILD/tests/oracle/frontend_dump
if [ -x "$FD" ]; then
  FE_AURATAG_MS=$("$FD" --bench 50 "$out/signal.f32" sample_rate=12000 n_fft=512 hop=256 window=hann center=true \
    pad=reflect power=2 representation=mel n_bins=96 mel_scale=slaney mel_norm=slaney compression=db db_ref=1.0 \
    db_amin=1e-10 db_top_db=80 | sed -n 's/^\([0-9.]*\) ms per call.*/\1/p')
  echo "PREP stage=mel impl=auratag threads=1 ms_per_clip=$FE_AURATAG_MS (29.12 s at 12 kHz -> 96 x 1366)"
else
  echo "PREP stage=mel impl=auratag: $FD is not built (make test builds it)"
fi
if [ -z "$librosa_note" ]; then
  FE_LIBROSA_MS=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 "$VENV_PY" -c '
import statistics, sys, time
import numpy as np, librosa
y = np.fromfile(sys.argv[1], dtype="<f4")
f = lambda: librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=12000, n_fft=512, hop_length=256, n_mels=96),
                                ref=1.0, amin=1e-10, top_db=80.0)
assert f().shape == (96, 1366)
ms = []
for _ in range(50):
    t0 = time.perf_counter(); f(); ms.append(1000 * (time.perf_counter() - t0))
print("%.4f" % statistics.median(ms))' "$out/signal.f32" 2>/dev/null)
  echo "PREP stage=mel impl=librosa threads=1 ms_per_clip=${FE_LIBROSA_MS:-failed}"
fi

echo
echo "SUMMARY prep (seconds of audio per second of wall time, per core; decode + resample + mel, mtat_choi)"
for t in $thread_counts; do
  ratio="-"
  [ -n "$LIBROSA_PER_CORE" ] && ratio=$(awk -v a="${AURATAG_RATE[$t]}" -v b="$LIBROSA_PER_CORE" 'BEGIN { printf "%.2fx", a / b }')
  echo "  auratag, $t thread(s): ${AURATAG_RATE[$t]} s/s per core; vs librosa (1 thread): $ratio"
done
[ -n "$LIBROSA_PER_CORE" ] && echo "  librosa, 1 thread:      $LIBROSA_PER_CORE s/s"
[ -n "$DECODE_CEILING" ] && echo "  ceiling with the same decoder (librosa total / libsndfile decode alone): ${DECODE_CEILING}x"
[ -n "$librosa_note" ] && echo "  $librosa_note"
if [ -n "$FE_AURATAG_MS" ] && [ -n "$FE_LIBROSA_MS" ]; then
  echo "  front end alone (mel + dB of 29.12 s): auratag $FE_AURATAG_MS ms, librosa $FE_LIBROSA_MS ms:" \
    "$(awk -v a="$FE_AURATAG_MS" -v b="$FE_LIBROSA_MS" 'BEGIN { printf "%.1fx", b / a }')"
fi
{
  printf '{"audio_seconds": %s, "config": "%s", "auratag_per_core": {' "$AUDIO_S" "$CFG"
  sep=""
  for t in $thread_counts; do printf '%s"%s": %s' "$sep" "$t" "${AURATAG_RATE[$t]}"; sep=", "; done
  printf '}, "librosa_per_core": %s, "mel_ms_auratag": %s, "mel_ms_librosa": %s, "decode_ceiling": %s}\n' \
    "${LIBROSA_PER_CORE:-null}" "${FE_AURATAG_MS:-null}" "${FE_LIBROSA_MS:-null}" "${DECODE_CEILING:-null}"
} >"$BUILD/bench/prep.json"
echo "JSON: $BUILD/bench/prep.json"
