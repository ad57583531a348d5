#!/usr/bin/env bash
# Installs the Debian packages auratag needs (build, run, and test), once.
# As root it runs apt-get (non-interactive, only for what is missing);
# otherwise it prints the exact command to run.
set -eu
PACKAGES=(
  gcc make pkg-config clang libclang-rt-14-dev
  libhdf5-dev libdnnl-dev libopenblas-openmp-dev libinih-dev
  libfluidsynth-dev fluid-soundfont-gm
  python3 python3-torch python3-h5py python3-numpy python3-sklearn
  libfftw3-dev python3-venv
  libsndfile1-dev libsoxr-dev libpng-dev
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev  # ONNX export: protoc-c on ONNX's own onnx.proto
  libzip-dev             # PyTorch export: a .pt file is a zip archive
  liblinear-dev libsvm-dev liblapacke-dev  # auratag probe: LIBLINEAR, LIBSVM, LAPACK for the ELM
  libopenmpi-dev openmpi-bin python3-matplotlib
  libcjson-dev           # auratag report reads results.json and log.jsonl
  chromium python3-websocket fonts-dejavu-core  # the report's check in a real browser (tests/report)
  sox chromium-bsu-data  # real recorded music for the tests: a game soundtrack (WAV), sox to convert it
  drascula-music extremetuxracer-data fretsonfire-songs-muldjord fretsonfire-songs-sectoid  # soundtracks: the few-data task
  python3-pip            # downloads the published musicnn models (scripts/fetch-musicnn.sh)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "auratag needs these Debian packages: ${missing[*]}" >&2
  echo "run as root:  $cmd" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
