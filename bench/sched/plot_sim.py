#!/usr/bin/env python3
"""Plot `gearbox sched simulate --dump DIR` results: cluster throughput over time and the JCT
CDF, one line per policy, to PNG files.

Usage:  python plot_sim.py DIR [OUT_PREFIX]
Writes OUT_PREFIX-throughput.png and OUT_PREFIX-jct-cdf.png (OUT_PREFIX defaults to DIR/plot).
Make the interpreter with:  scripts/python-env.sh sched-plot bench/sched/requirements.txt
"""
import csv
import glob
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_column(path, col):
    with open(path, newline="") as f:
        return [float(row[col]) for row in csv.DictReader(f)]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    prefix = sys.argv[2] if len(sys.argv) > 2 else os.path.join(d, "plot")
    thr_files = sorted(glob.glob(os.path.join(d, "*_thr.csv")))
    if not thr_files:
        sys.exit(f"no *_thr.csv in {d}")
    fig, ax = plt.subplots(figsize=(8, 4))
    for path in thr_files:
        name = os.path.basename(path)[: -len("_thr.csv")]
        thr = read_column(path, "throughput")
        hours = [i * 300 / 3600 for i in range(len(thr))]
        ax.plot(hours, thr, label=name, linewidth=0.8)
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel("cluster throughput (samples/s)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(prefix + "-throughput.png", dpi=120)

    fig, ax = plt.subplots(figsize=(6, 4))
    for path in sorted(glob.glob(os.path.join(d, "*_jct.csv"))):
        name = os.path.basename(path)[: -len("_jct.csv")]
        jct = sorted(v / 3600 for v in read_column(path, "jct_s"))
        if not jct:
            continue
        ax.plot(jct, [(i + 1) / len(jct) for i in range(len(jct))], label=name)
    ax.set_xscale("log")
    ax.set_xlabel("job completion time (h)")
    ax.set_ylabel("CDF of finished jobs")
    ax.legend()
    fig.tight_layout()
    fig.savefig(prefix + "-jct-cdf.png", dpi=120)
    print(prefix + "-throughput.png", prefix + "-jct-cdf.png")


if __name__ == "__main__":
    main()
