"""auratag's taggrams with the imported musicnn models equal the musicnn
package's own (its extractor, run by TensorFlow) on the same recordings: the
same patches, every probability within TOL; and `auratag embed` gives the
package's named features (extract_features=True: timbral, temporal, cnn1-3,
mean_pool, max_pool, penultimate) within TOL of their scale.

  python musicnn_taggram_check.py PACKAGE_PARENT AURATAG MODEL=WEIGHTS... -- AUDIO...
(PACKAGE_PARENT holds the unpacked musicnn package; MODEL is the package's
name: MTT_musicnn, MSD_vgg, ...)
"""
import json
import os
import subprocess
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # the package's tf.compat.v1.layers need Keras 2
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import warnings

warnings.filterwarnings("ignore")
import numpy as np

TOL = 1e-3
STALE = ("cnn1", "cnn2", "cnn3", "penultimate")
parent, auratag = sys.argv[1], sys.argv[2]
split = sys.argv.index("--")
models = [a.split("=", 1) for a in sys.argv[3:split]]
audio = sys.argv[split + 1:]
sys.path.insert(0, parent)
from musicnn.extractor import extractor  # noqa: E402

fail = 0
for model, weights in models:
    out = subprocess.run([auratag, "tag", weights, *audio, "--taggram", "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"FAIL {model}: auratag tag exited {out.returncode}: {out.stderr.strip()[-300:]}")
        fail = 1
        continue
    ours = {f["path"]: f for f in json.loads(out.stdout)["files"]}
    package = {}  # path -> the package's (taggram, features), for the files whose taggram compares
    for path in audio:
        taggram, tags, features = extractor(path, model=model, input_length=3, input_overlap=False,
                                            extract_features=True)
        got = ours[path]["taggram"]
        p = np.array(got["probabilities"], dtype=np.float64)
        if got["tags"] != list(tags) or p.shape != taggram.shape:
            print(f"FAIL {model} {os.path.basename(path)}: tags or shape {p.shape} vs the package's {taggram.shape}")
            fail = 1
            continue
        package[path] = taggram, features
        err = float(np.abs(p - taggram).max())
        starts = np.array(got["starts"])
        same_starts = np.allclose(starts, np.arange(len(starts)) * 187 * 256 / 16000, atol=1e-9)
        ok = err <= TOL and same_starts
        fail |= not ok
        print(f"{'PASS' if ok else 'FAIL'} {model} {os.path.basename(path)}: {p.shape[0]} patches x {p.shape[1]} tags, "
              f"largest difference from the package's taggram {err:.2e} (<= {TOL:g}); starts every 2.992 s: {same_starts}")
    if "vgg" in model:
        continue
    # one `auratag embed` of every file per layer (its rows name their file); each file compared on its own
    for layer in ("timbral", "temporal", "cnn1", "cnn2", "cnn3", "mean_pool", "max_pool", "penultimate"):
        emb = os.path.join(os.path.dirname(audio[0]), f"emb-{model}-{layer}.h5")
        out = subprocess.run([auratag, "embed", weights, *audio, "--layer", layer, "-o", emb], capture_output=True,
                             text=True)
        if out.returncode != 0:
            print(f"FAIL embed {model} {layer}: {out.stderr.strip()[-300:]}")
            fail = 1
            continue
        import h5py
        with h5py.File(emb, "r") as f:
            rows_of_file = f["file"][()]
            embeddings = f["embeddings"][()]
            c, h, w = map(int, f["embeddings"].attrs["shape"].split("x"))
        for i, path in enumerate(audio):
            if path not in package:
                continue
            taggram, features = package[path]
            e = embeddings[rows_of_file == i]
            if w > 1:  # per frame: the package's [patches * time, channels]
                e = e.reshape(-1, c, h * w).transpose(0, 2, 1).reshape(-1, c)
            want = np.asarray(features[layer], dtype=np.float64).reshape(e.shape) if np.size(features[layer]) == e.size else None
            if want is None:
                print(f"FAIL embed {model} {layer}: shape {e.shape} vs the package's {np.shape(features[layer])}")
                fail = 1
                continue
            rows = len(want)
            if layer in STALE and len(taggram) > 1:
                # the package's extractor (0.1.0) appends, for every patch after the first, the first patch's
                # cnn1, cnn2, cnn3 and penultimate again (it reuses the first batch's variables): compare the
                # first patch, and check that the package does repeat it
                rows = len(want) // len(taggram)
                if not np.array_equal(want[:rows], want[rows:2 * rows]):
                    print(f"FAIL embed {model} {layer}: the package no longer repeats the first patch; compare all")
                    fail = 1
            err = float(np.abs(e[:rows] - want[:rows]).max() / max(1.0, np.abs(want[:rows]).max()))
            ok = err <= TOL
            fail |= not ok
            print(f"{'PASS' if ok else 'FAIL'} embed {model} {os.path.basename(path)} {layer}: {e.shape}, largest "
                  f"difference {err:.2e} of the scale (<= {TOL:g})")
sys.exit(fail)
