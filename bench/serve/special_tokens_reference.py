"""llama.cpp's token ids for text prompts that spell special tokens, for
tests/serve/engine/special_tokens_test.cpp.

llama.cpp (llama-cpp-python, vocabulary only, `tokenize(text, add_bos=False, special=True)`,
as its servers parse a text prompt) matches control, unknown and user-defined tokens whole
and encodes the text between them as separate runs; a SentencePiece vocabulary with a space
prefix (stories260K, as Llama 2 and Mistral's) gets that space in front of every run that
follows such a token, not only the first. Recorded for stories260K, Gemma 3 (no space
prefix) and SmolLM2 (byte-level BPE) on a few texts with those tokens at the start, middle
and end.

Usage (bench/serve/make_tokenizer_reference.sh runs it):
  python bench/serve/special_tokens_reference.py MODEL.gguf[...] OUT_JSON
"""

import json
import os
import sys

import llama_cpp

# {0} and {1} are two of the model's control tokens, {u} its unknown token when it has one.
TEXTS = [
    "{0}Hello world",
    "a{1}b",
    "a b{1} c",
    "Hello{0}user\nHi there{1}",
    "{1}{1}z",
    " x{0}  \u4e2d\u6587 \U0001F642{1}{1} y\n\nz",
    "x{u}y",
]

CONTROLS = {
    "stories260K": ("<s>", "</s>", "<unk>"),
    "gemma-3-270m-Q4_K_M": ("<start_of_turn>", "<end_of_turn>", "<unk>"),
    "SmolLM2-135M-Instruct-Q4_1": ("<|im_start|>", "<|im_end|>", "<|endoftext|>"),
}


def main():
    *models, out = sys.argv[1:]
    doc = {"llama_cpp_python": llama_cpp.__version__, "models": {}}
    for path in models:
        name = os.path.splitext(os.path.basename(path))[0]
        a, b, u = CONTROLS[name]
        llm = llama_cpp.Llama(path, vocab_only=True, verbose=False)
        rows = []
        for t in TEXTS:
            text = t.format(a, b, u=u)
            ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            rows.append({"text": text, "ids": ids})
        doc["models"][name] = rows
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
