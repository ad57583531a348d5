#!/usr/bin/env bash
# The published musicnn models (Pons & Serra 2019; the musicnn package 0.1.0
# on PyPI, ISC licence) as auratag weights in models/ (git-ignored):
#   models/musicnn-mtt.h5  models/musicnn-msd.h5  models/vgg-mtt.h5  models/vgg-msd.h5
# The wheel is downloaded once into .cache/ (pip download --no-deps) and its
# TensorFlow checkpoints converted by `auratag import musicnn` (no TensorFlow
# needed). Nothing of the wheel is committed.
#   bash scripts/fetch-musicnn.sh            download if needed, convert
#   bash scripts/fetch-musicnn.sh --package  download if needed, print the unpacked package folder
set -eu
cd "$(dirname "$0")/.."
VERSION=0.1.0
cache=$(pwd)/.cache/musicnn-$VERSION
package=$cache/musicnn
fail() { echo "fetch-musicnn: $*" >&2; exit 1; }
if [ ! -f "$cache/.complete" ]; then
  py=/usr/bin/python3  # Debian's python3-pip downloads (it installs nothing)
  "$py" -m pip --version >/dev/null 2>&1 || fail "python3 -m pip is missing (bash scripts/install-deps.sh installs python3-pip)"
  rm -rf "$cache" && mkdir -p "$cache"
  "$py" -m pip download --no-deps --disable-pip-version-check -q "musicnn==$VERSION" -d "$cache" >&2 ||
    fail "pip download musicnn==$VERSION failed (PyPI unreachable?)"
  "$py" -m zipfile -e "$cache/musicnn-$VERSION-py3-none-any.whl" "$cache" || fail "cannot unpack the wheel"
  for m in MTT_musicnn MSD_musicnn MTT_vgg MSD_vgg; do
    [ -f "$package/$m/.index" ] || fail "the wheel lacks $m/.index"
  done
  touch "$cache/.complete"
fi
if [ "${1:-}" = --package ]; then
  echo "$package"
  exit 0
fi
AT=${AURATAG:-./auratag}
[ -x "$AT" ] || fail "no auratag binary at $AT (make auratag)"
mkdir -p models
for pair in musicnn-mtt:MTT_musicnn musicnn-msd:MSD_musicnn vgg-mtt:MTT_vgg vgg-msd:MSD_vgg; do
  "$AT" import musicnn "$package/${pair#*:}" -o "models/${pair%%:*}.h5"
done
