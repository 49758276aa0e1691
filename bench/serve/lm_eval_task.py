"""A small multiple-choice cloze task for lm-evaluation-harness, made here (no dataset download).

Each item is a short context whose continuation a language model should know, with N_CHOICES
choices (default 4: the right one and three distractors of the same kind): counting, days of the week,
months, letters, capitals, opposites. lm-eval scores every choice by its loglikelihood after the
context (a `loglikelihood` request each: completions with echo and logprobs) and counts an item
right when the right choice has the highest one. Deterministic: the same seed gives the same
items.

Usage: python bench/serve/lm_eval_task.py OUT_DIR [N_ITEMS] [--seed S] [--choices N] [--prefix TEXT]
(--prefix: text put before every context, e.g. a model's BOS token spelled out, "<|im_start|>"
for SmolLM2, so that a server which pairs echoed logprobs right only after a BOS scores it right;
docs/serve-eval.md)
writes OUT_DIR/gearbox_cloze.jsonl and OUT_DIR/gearbox_cloze.yaml (the task, for --include_path).
"""

import argparse
import json
import os
import random
import sys

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
CAPITALS = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid",
    "Japan": "Tokyo", "China": "Beijing", "Russia": "Moscow", "Egypt": "Cairo",
    "England": "London", "Greece": "Athens", "Portugal": "Lisbon", "Austria": "Vienna",
    "Poland": "Warsaw", "Ireland": "Dublin", "Norway": "Oslo", "Sweden": "Stockholm",
    "Finland": "Helsinki", "Denmark": "Copenhagen", "Hungary": "Budapest", "Canada": "Ottawa",
    "Kenya": "Nairobi", "Peru": "Lima", "Cuba": "Havana", "Thailand": "Bangkok",
}
OPPOSITES = {
    "hot": "cold", "big": "small", "up": "down", "day": "night", "fast": "slow",
    "happy": "sad", "old": "young", "open": "closed", "light": "dark", "early": "late",
    "rich": "poor", "full": "empty", "hard": "soft", "high": "low", "strong": "weak",
    "wet": "dry", "thick": "thin", "loud": "quiet", "clean": "dirty", "long": "short",
}


def sequence_item(rng, names, kind):
    start = rng.randrange(len(names) - 4) if kind != "cyclic" else rng.randrange(len(names))
    seq = [names[(start + i) % len(names)] for i in range(4)]
    answer = names[(start + 4) % len(names)]
    pool = [n for n in names if n != answer and n != seq[-1]]
    return ", ".join(seq) + ",", answer, pool


def make_item(rng, category, n_choices, prefix):
    if category == "counting":
        start = rng.randrange(1, 90)
        seq = [str(start + i) for i in range(4)]
        answer = str(start + 4)
        pool = [str(start + d) for d in (-2, -1, 1, 2, 3, 5, 6, 10) if start + d > 0]
        context = ", ".join(seq) + ","
    elif category == "days":
        context, answer, pool = sequence_item(rng, DAYS, "cyclic")
    elif category == "months":
        context, answer, pool = sequence_item(rng, MONTHS, "cyclic")
    elif category == "letters":
        context, answer, pool = sequence_item(rng, LETTERS, "linear")
    elif category == "capitals":
        country = rng.choice(sorted(CAPITALS))
        answer = CAPITALS[country]
        pool = [c for c in CAPITALS.values() if c != answer]
        context = f"The capital of {country} is"
    else:  # opposites
        word = rng.choice(sorted(OPPOSITES))
        answer = OPPOSITES[word]
        pool = [o for o in OPPOSITES.values() if o != answer]
        context = f"The opposite of {word} is"
    distractors = rng.sample(sorted(set(pool)), n_choices - 1)
    choices = [" " + c for c in distractors + [answer]]
    rng.shuffle(choices)
    return {
        "category": category,
        "context": prefix + context,
        "choices": choices,
        "label": choices.index(" " + answer),
    }


TASK_YAML = """task: gearbox_cloze
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{context}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: label
target_delimiter: ""
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("n_items", nargs="?", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--choices", type=int, default=4, choices=[2, 3, 4])
    ap.add_argument("--prefix", default="")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    categories = ["counting", "days", "months", "letters", "capitals", "opposites"]
    os.makedirs(args.out_dir, exist_ok=True)
    data = os.path.join(os.path.abspath(args.out_dir), "gearbox_cloze.jsonl")
    with open(data, "w", encoding="utf-8") as f:
        for i in range(args.n_items):
            item = make_item(rng, categories[i % len(categories)], args.choices, args.prefix)
            f.write(json.dumps(item) + "\n")
    with open(os.path.join(args.out_dir, "gearbox_cloze.yaml"), "w", encoding="utf-8") as f:
        f.write(TASK_YAML.format(data=data))
    print(data)


if __name__ == "__main__":
    main()
