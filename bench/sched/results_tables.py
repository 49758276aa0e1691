#!/usr/bin/env python3
"""Markdown tables for docs/sched-results.md from `gearbox sched simulate --json` output.

Usage:  python3 bench/sched/results_tables.py RUN.json [RUN.json ...]
Each RUN.json is one simulate run with crius among its policies (the reference). Per run it
prints Crius's line and, per baseline: finished jobs, average JCT (hours), JCT reduction of
Crius over the baseline on its finished jobs (avg_jct_s), on the jobs every policy finished
(avg_jct_common_s) and by the artifact's padded rule (avg_jct_padded_s), and Crius's average
and peak throughput over the baseline's. Standard library only.
"""
import json
import os
import sys


def reduction(ours, theirs):
    """Crius's JCT reduction over a baseline, in percent (negative: Crius is slower)."""
    return 100.0 * (1.0 - ours / theirs) if theirs > 0 else float("nan")


def ratio(ours, theirs):
    return ours / theirs if theirs > 0 else float("nan")


def table(path):
    with open(path) as f:
        run = json.load(f)
    pol = run["policies"]
    if "crius" not in pol:
        sys.exit(f"{path}: field 'policies': expected a 'crius' entry, found {sorted(pol)}")
    c = pol["crius"]
    hours = 3600.0
    out = [f"### {os.path.basename(path)}", ""]
    out.append(
        f"Crius: {c['finished']} finished, average JCT {c['avg_jct_s'] / hours:.2f} h "
        f"(common {c['avg_jct_common_s'] / hours:.2f} h over {run['common_jobs']} jobs every "
        f"policy finished), average throughput {c['avg_throughput']:.0f} samples/s, peak "
        f"{c['peak_throughput']:.0f}."
    )
    out.append("")
    out.append(
        "| baseline | finished | avg JCT h | JCT red. (finished) | JCT red. (common) "
        "| JCT red. (all, padded) | throughput ratio | peak ratio |"
    )
    out.append("|---|---|---|---|---|---|---|---|")
    for name, b in pol.items():
        if name == "crius":
            continue
        out.append(
            f"| {name} | {b['finished']} | {b['avg_jct_s'] / hours:.2f} "
            f"| {reduction(c['avg_jct_s'], b['avg_jct_s']):.1f}% "
            f"| {reduction(c['avg_jct_common_s'], b['avg_jct_common_s']):.1f}% "
            f"| {reduction(c['avg_jct_padded_s'], b['avg_jct_padded_s']):.1f}% "
            f"| {ratio(c['avg_throughput'], b['avg_throughput']):.2f}x "
            f"| {ratio(c['peak_throughput'], b['peak_throughput']):.2f}x |"
        )
    out.append("")
    return "\n".join(out)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("\n".join(table(p) for p in sys.argv[1:]))


if __name__ == "__main__":
    main()
