#!/usr/bin/python3
"""Ranking architectures without training them (Pons & Serra, "Randomly
weighted CNNs for (music) audio classification", ICASSP 2019): does the
random-weights probe (`auratag probe`) rank the shipped architectures on the
demo set as full training does?

For each architecture (its demo experiment, configs/experiments/demo_ARCH.ini):
  probe    `auratag probe` with random weights from each of --seeds: the mean
           of each feature map of the last layer of every conv block, an SVM
           on them; test macro ROC-AUC, mean over the seeds
  trained  `auratag train` of the same experiment; test macro ROC-AUC of the
           selected epoch (results.json)
Prints both rankings and their Spearman rank correlation, and the paper's
point about musically motivated filters: the tempo tags' ROC-AUC of random
temporal filters (pons_time, 1x60) against random timbral ones
(pons_frequency, 32x1), seed by seed. Writes ROOT/probe_vs_trained.csv and
ROOT/probe_vs_trained.json. Runs whose output exists are not run again.

Usage:
  scripts/probe_vs_trained.py [--archs pons_time,pons_frequency,...] [--seeds 1,2,3]
                              [--classifier svm|linear-svm|elm] [--root checkpoints/probe_vs_trained]
Standard library only.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AURATAG = os.environ.get("AURATAG", os.path.join(ROOT, "build", "auratag"))
ARCHS = ["pons_time", "pons_frequency", "pons_timefreq", "fcn3", "fcn4", "fcn5"]
GROUPS = {"tempo": ["slow", "medium", "fast"], "instruments": ["piano", "organ", "guitar", "strings", "brass", "reed"],
          "drums": ["drums"]}


def fail(msg):
    sys.stderr.write("probe_vs_trained.py: error: %s\n" % msg)
    sys.exit(1)


def run(cmd, log):
    print("+ " + " ".join(cmd) + "  > " + log, flush=True)
    with open(log, "w") as out:
        if subprocess.run(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
            fail("%s failed; see %s" % (" ".join(cmd[:3]), log))


def prepare():
    """The demo set and its caches, when missing (as scripts/demo.sh makes them)."""
    if not os.path.exists(os.path.join(ROOT, "data/demo/files.csv")):
        subprocess.run([AURATAG, "demo-data", "data/demo"], cwd=ROOT, check=True)
    if not os.path.exists(os.path.join(ROOT, "data/demo/cache/test.h5")):
        subprocess.run([AURATAG, "prep", "configs/datasets/demo.ini", "--list", "data/demo/files.csv", "--out",
                        "data/demo/cache"], cwd=ROOT, check=True)


def group_means(clip):
    auc = {t["tag"]: t["roc_auc"] for t in clip["tags"]}
    return {g: statistics.mean(auc[t] for t in tags) for g, tags in GROUPS.items()}


def probe(root, arch, seed, classifier):
    out = os.path.join(root, "probe-%s-%s-s%d.json" % (arch, classifier, seed))
    if not os.path.exists(out):
        run([AURATAG, "probe", "configs/experiments/demo_%s.ini" % arch, "--random", str(seed), "--classifier",
             classifier, "--json", out], out[:-5] + ".txt")
    r = json.load(open(out))
    clip = r["splits"][0]["test"]["clip"]
    return {"roc_auc": clip["macro_roc_auc"], "groups": group_means(clip), "seconds": r["feature_seconds"] +
            r["classifier_seconds"], "dim": r["feature_dim"]}


def trained(root, arch):
    results = os.path.join(root, "trained-" + arch, "results.json")
    if not os.path.exists(results):
        run([AURATAG, "train", "configs/experiments/demo_%s.ini" % arch, "--set", "train.root=" + root, "--set",
             "train.run=trained-" + arch], os.path.join(root, "trained-%s.txt" % arch))
    clip = json.load(open(results))["test"]["clip"]
    return {"roc_auc": clip["macro_roc_auc"], "groups": group_means(clip)}


def ranks(values):
    """1 = best (largest); ties share their mean rank."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    r = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.mean(ra), statistics.mean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    return cov / (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5


def main():
    ap = argparse.ArgumentParser(description="random-weights probe vs full training: do they rank architectures alike?")
    ap.add_argument("--archs", default=",".join(ARCHS))
    ap.add_argument("--seeds", default="1,2,3", help="random initialisations probed per architecture")
    ap.add_argument("--classifier", default="svm", choices=["svm", "linear-svm", "elm"])
    ap.add_argument("--root", default=os.path.join(ROOT, "checkpoints", "probe_vs_trained"))
    args = ap.parse_args()
    archs = args.archs.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    if not os.access(AURATAG, os.X_OK):
        fail("%s is missing: run make first (or set AURATAG)" % AURATAG)
    for a in archs:
        if not os.path.exists(os.path.join(ROOT, "configs/experiments/demo_%s.ini" % a)):
            fail("no demo experiment for '%s' (configs/experiments/demo_%s.ini)" % (a, a))
    root = os.path.abspath(args.root)
    os.makedirs(root, exist_ok=True)
    prepare()
    probes = {a: [probe(root, a, s, args.classifier) for s in seeds] for a in archs}
    fulls = {a: trained(root, a) for a in archs}
    p = [statistics.mean(x["roc_auc"] for x in probes[a]) for a in archs]
    t = [fulls[a]["roc_auc"] for a in archs]
    rp, rt = ranks(p), ranks(t)
    rho = spearman(p, t) if len(archs) > 1 else float("nan")
    print("\ndemo set, test macro ROC-AUC over 10 tags: random-weights probe (%s, mean +- sd over seeds %s) and full "
          "training" % (args.classifier, args.seeds))
    print("%-16s %8s %18s %6s %10s %6s %10s" % ("architecture", "features", "probe", "rank", "trained", "rank", "probe s"))
    rows = []
    for i, a in enumerate(archs):
        v = [x["roc_auc"] for x in probes[a]]
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        secs = statistics.mean(x["seconds"] for x in probes[a])
        print("%-16s %8d %18s %6.1f %10.3f %6.1f %10.1f" % (a, probes[a][0]["dim"], "%.3f +- %.3f" % (p[i], sd), rp[i],
                                                           t[i], rt[i], secs))
        rows.append({"architecture": a, "features": probes[a][0]["dim"], "probe_roc_auc": p[i], "probe_sd": sd,
                     "probe_rank": rp[i], "trained_roc_auc": t[i], "trained_rank": rt[i], "probe_seconds": secs,
                     **{"probe_" + g: statistics.mean(x["groups"][g] for x in probes[a]) for g in GROUPS},
                     **{"trained_" + g: fulls[a]["groups"][g] for g in GROUPS}})
    print("Spearman rank correlation (probe vs trained): %.3f over %d architectures" % (rho, len(archs)))
    tempo = None
    if "pons_time" in archs and "pons_frequency" in archs:
        pt = [x["groups"]["tempo"] for x in probes["pons_time"]]
        pf = [x["groups"]["tempo"] for x in probes["pons_frequency"]]
        print("\ntempo tags (slow, medium, fast), test ROC-AUC of the random-weights probe, seed by seed:")
        for s, a_, b_ in zip(seeds, pt, pf):
            print("  seed %d: temporal filters (pons_time) %.3f   timbral filters (pons_frequency) %.3f   margin %+.3f"
                  % (s, a_, b_, a_ - b_))
        tempo = {"seeds": seeds, "pons_time": pt, "pons_frequency": pf,
                 "margin_mean": statistics.mean(a_ - b_ for a_, b_ in zip(pt, pf)),
                 "margin_min": min(a_ - b_ for a_, b_ in zip(pt, pf))}
        print("  mean margin %+.3f, smallest %+.3f" % (tempo["margin_mean"], tempo["margin_min"]))
    with open(os.path.join(root, "probe_vs_trained.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(root, "probe_vs_trained.json"), "w") as f:
        json.dump({"classifier": args.classifier, "seeds": seeds, "architectures": rows, "spearman": rho,
                   "tempo": tempo}, f, indent=1)
    print("results: %s" % os.path.join(root, "probe_vs_trained.csv"))


if __name__ == "__main__":
    main()
