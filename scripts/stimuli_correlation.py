#!/usr/bin/python3
"""Per-layer correlation of a model's features with musical attributes, as in
Choi, Fazekas & Sandler 2016, "Explaining deep convolutional neural networks
on music classification" (arXiv 1607.02444): "pairwise correlations per
layers with varying different musical attributes".

    scripts/stimuli_correlation.py ACT.h5 stimuli.csv [--csv OUT.csv] [--breakdown ATTRIBUTE] [--centre]

ACT.h5 comes from `auratag activations` (/layer<d> [files, features]: the mean
activation of every feature of conv block d for each file; /paths) run on the
templates of `auratag stimuli` (stimuli.csv: path,kind,key,instrument,chords,
drums).

Method. Each template is described by its attributes:
  harmonic templates: key (Bb2 Eb2 A3 G4), instrument (Sine Piano ...),
                      chords (intervals M_m sus4_M7 7_m dim_blank);
  drum templates:     pattern (4beat 8beat 16beat), fill (fill / none), read
                      from the drums column ("8beat_fill").
For a layer and an attribute A, take every pair of templates of the same kind
that differ in A and ONLY in A (all other attributes of that kind equal), and
the Pearson correlation r between the two templates' feature vectors (the
layer's per-feature mean activations). The table entry is the mean r over
those pairs. High (near 1): the layer responds to both templates alike, it is
invariant to A; low: it separates them. A pair where either vector is
constant (e.g. all features silent) has no r and is left out of the mean
(counted as "undefined"); an entry with no defined pair prints "n/a".
Harmonic: key 6 x 30, instrument 15 x 20, chords 10 x 24 pairs; drums:
pattern 3 x 2, fill 3 pairs.

Raw mean activations share a profile across all inputs (some features are
simply larger than others), which pulls every r towards 1; the differences
between attributes are what to read. --centre first subtracts, per layer and
kind, each feature's mean over that kind's templates, so that r measures
whether two templates move the features away from the average template alike
(values then spread over [-1, 1]).

Output: the table (layers x attributes) on stdout, the pair counts under it;
--breakdown A also prints, per layer, the mean r of each pair of values of A
(e.g. Sine|Piano). --csv OUT.csv writes every number in long form:
layer,layer_name,kind,attribute,values,mean_r,pairs,undefined where values is
"all" for a table entry or "V1|V2" for a pair of values of the attribute.

Needs numpy and h5py (Debian: python3-numpy python3-h5py); run with
/usr/bin/python3.
"""
import argparse
import csv
import itertools
import math
import os
import sys

import h5py
import numpy as np

ATTRIBUTES = {"harmonic": ["key", "instrument", "chords"], "drums": ["pattern", "fill"]}


def fail(msg):
    print(f"stimuli_correlation: error: {msg}", file=sys.stderr)
    sys.exit(1)


def read_stimuli(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"path", "kind", "key", "instrument", "chords", "drums"}
    if not rows:
        fail(f"{path}: no templates listed")
    missing = need - set(rows[0].keys())
    if missing:
        fail(f"{path}: the header lacks {', '.join(sorted(missing))} (expected path,kind,key,instrument,chords,drums)")
    out = []
    for r in rows:
        kind = r["kind"]
        if kind == "harmonic":
            attrs = {a: r[a] for a in ATTRIBUTES["harmonic"]}
        elif kind == "drums":
            d = r["drums"]
            fill = d.endswith("_fill")
            attrs = {"pattern": d[: -len("_fill")] if fill else d, "fill": "fill" if fill else "none"}
        else:
            fail(f"{path}: {r['path']}: kind '{kind}' is neither harmonic nor drums")
        out.append((r["path"], kind, attrs))
    return out


def read_activations(path):
    f = h5py.File(path, "r")
    if "paths" not in f:
        fail(f"{path}: no /paths (not written by `auratag activations`?)")
    paths = [p.decode() if isinstance(p, bytes) else str(p) for p in f["paths"][()]]
    n = int(f.attrs.get("n_layers", 0)) or len([k for k in f.keys() if k.startswith("layer")])
    layers = []
    for d in range(1, n + 1):
        name = f"layer{d}"
        if name not in f:
            fail(f"{path}: /{name} is missing")
        ds = f[name]
        if ds.shape[0] != len(paths):
            fail(f"{path}: /{name} has {ds.shape[0]} rows for {len(paths)} paths")
        label = ds.attrs.get("layer", name)
        layers.append((name, label.decode() if isinstance(label, bytes) else str(label), np.asarray(ds, np.float64)))
    if not layers:
        fail(f"{path}: no /layer<d> datasets")
    return paths, layers


def pearson(a, b):
    """Pearson r of two vectors, or None when either is constant."""
    a = a - a.mean()
    b = b - b.mean()
    na, nb = math.sqrt(float(a @ a)), math.sqrt(float(b @ b))
    if na == 0.0 or nb == 0.0 or not math.isfinite(na) or not math.isfinite(nb):
        return None
    return max(-1.0, min(1.0, float(a @ b) / (na * nb)))


def pairs_differing_in(items, attribute, kind):
    """(i, j) with i < j, both of `kind`, differing in `attribute` and only in it."""
    others = [a for a in ATTRIBUTES[kind] if a != attribute]
    groups = {}
    for i, (_, k, attrs) in enumerate(items):
        if k == kind:
            groups.setdefault(tuple(attrs[a] for a in others), []).append(i)
    out = []
    for members in groups.values():
        for i, j in itertools.combinations(members, 2):
            if items[i][2][attribute] != items[j][2][attribute]:
                out.append((i, j))
    return out


def summarise(rs):
    defined = [r for r in rs if r is not None]
    return (sum(defined) / len(defined) if defined else float("nan")), len(rs), len(rs) - len(defined)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("activations", help="ACT.h5 from `auratag activations`")
    ap.add_argument("stimuli", help="stimuli.csv from `auratag stimuli`")
    ap.add_argument("--csv", help="write every number here (long form)")
    ap.add_argument("--breakdown", choices=[a for v in ATTRIBUTES.values() for a in v],
                    help="also print the mean r of each pair of values of this attribute")
    ap.add_argument("--centre", action="store_true",
                    help="subtract each feature's mean over the kind's templates before correlating")
    args = ap.parse_args()

    listed = read_stimuli(args.stimuli)
    paths, layers = read_activations(args.activations)
    index = {p: i for i, p in enumerate(paths)}
    by_base = {os.path.basename(p): i for i, p in enumerate(paths)}
    items, rows = [], []
    missing = []
    for p, kind, attrs in listed:
        i = index.get(p, by_base.get(os.path.basename(p)))
        if i is None:
            missing.append(p)
            continue
        items.append((p, kind, attrs))
        rows.append(i)
    if missing:
        fail(f"{len(missing)} template(s) of {args.stimuli} are not in {args.activations}, e.g. {missing[0]}")

    columns = [(kind, a) for kind, attrs in ATTRIBUTES.items() for a in attrs
               if any(k == kind for _, k, _ in items)]
    pairs = {c: pairs_differing_in(items, c[1], c[0]) for c in columns}
    results = []  # (layer, label, kind, attribute, values, mean, n, undefined)
    table = {}
    kinds = [k for _, k, _ in items]
    for name, label, x in layers:
        x = x[rows].copy()
        if args.centre:
            for kind in ATTRIBUTES:
                sel = [i for i, k in enumerate(kinds) if k == kind]
                if sel:
                    x[sel] -= x[sel].mean(axis=0)
        for kind, attribute in columns:
            rs = [pearson(x[i], x[j]) for i, j in pairs[(kind, attribute)]]
            mean, n, undef = summarise(rs)
            table[(name, attribute)] = (mean, n, undef)
            results.append((name, label, kind, attribute, "all", mean, n, undef))
            by_values = {}
            for (i, j), r in zip(pairs[(kind, attribute)], rs):
                v = tuple(sorted((items[i][2][attribute], items[j][2][attribute])))
                by_values.setdefault(v, []).append(r)
            for v in sorted(by_values):
                m, n2, u2 = summarise(by_values[v])
                results.append((name, label, kind, attribute, "|".join(v), m, n2, u2))

    width = max(len(f"{n} ({l})") for n, l, _ in layers)
    print("mean Pearson r between the feature vectors of templates that differ only in the attribute"
          + (" (features centred on each kind's mean template)" if args.centre else ""))
    print("(high: the layer is invariant to it; low: it separates it)")
    print(f"{'layer':<{width}s} " + " ".join(f"{a:>10s}" for _, a in columns))
    for name, label, _ in layers:
        cells = []
        for _, a in columns:
            m = table[(name, a)][0]
            cells.append(f"{m:10.3f}" if math.isfinite(m) else f"{'n/a':>10s}")
        print(f"{name + ' (' + label + ')':<{width}s} " + " ".join(cells))
    print("pairs: " + ", ".join(f"{a} {len(pairs[(k, a)])}" for k, a in columns))
    undefined = sum(r[7] for r in results if r[4] == "all")
    if undefined:
        print(f"({undefined} pair(s) over all layers had a constant feature vector: left out of the means)")

    if args.breakdown:
        attr = args.breakdown
        for name, label, _ in layers:
            print(f"\n{name} ({label}), {attr}: mean r per pair of values")
            for r in results:
                if r[0] == name and r[3] == attr and r[4] != "all":
                    print(f"  {r[4]:<34s} {r[5]:7.3f}  ({r[6]} pairs)" if math.isfinite(r[5])
                          else f"  {r[4]:<34s}     n/a  ({r[6]} pairs)")

    if args.csv:
        tmp = args.csv + ".tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["layer", "layer_name", "kind", "attribute", "values", "mean_r", "pairs", "undefined"])
            for r in results:
                w.writerow([r[0], r[1], r[2], r[3], r[4], f"{r[5]:.6f}" if math.isfinite(r[5]) else "", r[6], r[7]])
        os.replace(tmp, args.csv)
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
