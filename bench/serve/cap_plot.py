#!/usr/bin/env python3
"""Plots a `gearbox serve cap-eval --json` report: accuracy against length per policy, and the
C/A/P frontier (KV bytes per token against KL to full attention, marker size by decode speed).

usage: cap_plot.py REPORT.json OUT_PREFIX   (writes OUT_PREFIX-accuracy.png, OUT_PREFIX-frontier.png)
Needs matplotlib (bench/serve/cap_requirements.txt; scripts/python-env.sh makes the venv).
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    doc = json.load(open(sys.argv[1]))
    prefix = sys.argv[2]
    rows = doc["results"]
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    use_passkey = any(r["passkey_accuracy"] is not None for r in rows)

    panels = [("ppl", "perplexity of the policy (lower = better)"),
              ("top1_agreement", "top-1 agreement with full attention")]
    if use_passkey:
        panels.append(("passkey_accuracy", "passkey retrieval accuracy"))
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels):
        for p in policies:
            pts = sorted((r["length"], r[key]) for r in rows
                         if r["policy"] == p and r["served"] and r[key] is not None)
            ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", label=p)
        if key == "ppl":
            ref = {}
            for r in rows:
                if r["served"] and r["ppl_full"] is not None:
                    ref.setdefault(r["length"], r["ppl_full"])
            pts = sorted(ref.items())
            ax.plot([x for x, _ in pts], [y for _, y in pts], "k--",
                    label="full attention, no limit (reference)")
            ax.set_yscale("log")
        else:
            ax.set_ylim(-0.05, 1.05)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("sequence length (tokens); missing = not served")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{doc['model']}: accuracy against length per policy")
    fig.tight_layout()
    fig.savefig(prefix + "-accuracy.png", dpi=120)

    fig, ax = plt.subplots(figsize=(7, 5))
    longest = max(r["length"] for r in rows)
    for p in policies:
        served = [r for r in rows if r["policy"] == p and r["served"]]
        if not served:
            continue
        r = max(served, key=lambda r: r["length"])
        bpt = r["kv_bytes"] / r["length"]
        size = 20 + 10 * (r["decode_tok_s"] or 0) ** 0.5
        ax.scatter(bpt, max(r["kl"], 1e-6), s=size, alpha=0.7)
        ax.annotate(f"{p}\nC={r['length']}{'' if r['length'] == longest else ' (max)'}",
                    (bpt, max(r["kl"], 1e-6)), fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("KV bytes per token at the longest length served (C: lower = more context)")
    ax.set_ylabel("KL to full attention (A: lower = better)")
    ax.set_title(f"{doc['model']}: C/A/P frontier (marker area ~ decode tok/s, P)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(prefix + "-frontier.png", dpi=120)


if __name__ == "__main__":
    main()
