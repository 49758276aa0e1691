"""Two lm_eval_bench.py runs on the same items, compared item by item.

lm_eval_bench.py writes each run's items (the loglikelihood of every choice); this prints, for
two runs (e.g. gearbox and llama.cpp's server on one model, in one --out file or two), on the
items both scored: how often they pick the same choice, and the median and largest absolute
difference of a choice's loglikelihood. No lm-eval import: any Python 3 runs it.

Usage: python bench/serve/lm_eval_compare.py A.json[:SERVER] B.json[:SERVER]
(SERVER picks a run when a file holds several; default: the file's first run.)
"""

import json
import sys


def agreement(a, b):
    """How two servers' runs on the same items compare: the share of items where they pick the
    same choice, and the largest and median absolute difference of a choice's loglikelihood."""
    by_id = {it["doc_id"]: it for it in b["items"]}
    same, diffs, n = 0, [], 0
    for it in a["items"]:
        other = by_id.get(it["doc_id"])
        if other is None:
            continue
        n += 1
        pick = max(range(len(it["ll"])), key=lambda k: it["ll"][k])
        pick_other = max(range(len(other["ll"])), key=lambda k: other["ll"][k])
        same += pick == pick_other
        diffs += [abs(x - y) for x, y in zip(it["ll"], other["ll"])]
    diffs.sort()
    return {"items": n, "same_choice": same,
            "max_abs_ll_diff": diffs[-1] if diffs else None,
            "median_abs_ll_diff": diffs[len(diffs) // 2] if diffs else None}


def load(spec):
    path, _, server = spec.partition(":")
    with open(path, encoding="utf-8") as f:
        runs = [r for r in json.load(f) if "items" in r]
    for r in runs:
        if not server or r["server"] == server:
            return r
    sys.exit(f"lm_eval_compare.py: no run of server '{server}' in {path}")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = load(sys.argv[1]), load(sys.argv[2])
    g = agreement(a, b)
    print(f"{a['model']}: {a['server']} ({len(a['items'])} items, acc {a['acc']:.3f}) vs "
          f"{b['server']} ({len(b['items'])} items, acc {b['acc']:.3f}): same choice on "
          f"{g['same_choice']}/{g['items']} items, |loglikelihood difference| median "
          f"{g['median_abs_ll_diff']:.4f}, max {g['max_abs_ll_diff']:.4f}")


if __name__ == "__main__":
    main()
