#!/usr/bin/env python3
"""llama.cpp's logits (through llama-cpp-python) on the tiny random-weight models that
bench/serve/make_tiny_models.py writes, once, into one small JSON per model:

  - the model file's sha256 and size (the test refuses a reference made from another file);
  - per prompt: llama.cpp's prompt ids (BOS as the file's add_bos_token says, specials not
    parsed), and at every position its top-5 token ids with their logits;
  - a greedy (argmax) continuation of the first prompt, 8 tokens.

llama.cpp runs as the other references do (f16 KV cache, no flash attention, one thread).

Run: bench/serve/make_tiny_reference.sh  (makes the venvs and the models, then runs this).
  python make_tiny_reference.py MODEL.gguf... --out DIR  (writes DIR/<model>.json)
"""
import argparse
import hashlib
import json
import os

import numpy as np
from llama_cpp import Llama

PROMPTS = [
    "The capital of France is",
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
    "sun with her friends, and one day she found a shiny red ball under a big tree.",
    "def add(a, b):\n    return a + b  # numbers 12345 and 3.14",
    "naïve café, Grüße, 日本語 🙂",
]
TOP_K = 5
GREEDY = 8


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    for path in a.models:
        with open(path, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        llm = Llama(model_path=path, n_ctx=256, n_batch=256, n_threads=1, logits_all=True,
                    verbose=False, seed=0)
        add_bos = llm.metadata.get("tokenizer.ggml.add_bos_token", "false") == "true"
        prompts = []
        for text in PROMPTS:
            ids = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=False)
            llm.reset()
            llm.eval(ids)
            logits = np.array(llm.scores[: len(ids)], dtype=np.float32)
            top = []
            for row in logits:
                order = np.argsort(-row, kind="stable")[:TOP_K]
                top.append({"ids": [int(i) for i in order],
                            "logits": [round(float(row[i]), 5) for i in order]})
            prompts.append({"text": text, "ids": [int(i) for i in ids], "top5": top})
        first = prompts[0]["ids"]
        llm.reset()
        llm.eval(first)
        greedy = []
        for _ in range(GREEDY):
            nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            greedy.append(nxt)
            llm.eval([nxt])
        name = os.path.splitext(os.path.basename(path))[0]
        ref = {"model": os.path.basename(path), "sha256": sha, "bytes": os.path.getsize(path),
               "architecture": llm.metadata.get("general.architecture"),
               "llama_cpp_python": __import__("llama_cpp").__version__,
               "prompts": prompts,
               "greedy": {"prompt_ids": first, "tokens": greedy,
                          "text": llm.detokenize(greedy).decode("utf-8", "replace")}}
        out = os.path.join(a.out, f"{name}.json")
        with open(out, "w", encoding="utf-8") as f:
            json.dump(ref, f, ensure_ascii=False, separators=(",", ":"))
            f.write("\n")
        print(f"{out}: {os.path.getsize(out)} bytes, greedy {ref['greedy']['text']!r}")


if __name__ == "__main__":
    main()
