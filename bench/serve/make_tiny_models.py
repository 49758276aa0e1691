#!/usr/bin/env python3
"""Tiny random-weight GGUF models, one per architecture family that `gearbox serve` runs
(qwen2, llama3, qwen3, phi3, gemma2, mistral), each with the tensor names and metadata keys
llama.cpp reads for that architecture, and a real tokenizer: the first 1024 entries of a real
vocabulary (SmolLM2's GPT-2 byte-level BPE with its first merges, or Gemma 3's SentencePiece
pieces with byte fallback) or the whole 512-piece Llama SentencePiece vocabulary of
stories260K. Deterministic: the same inputs and seed give the same bytes (numpy's PCG64).

Set-up (scripts/make-tiny-models.sh) writes the models into the model cache's tiny/ folder
(about 250 KB each; never committed: they carry vocabularies taken from other models) and checks
their sha256 against the committed references, which bench/serve/make_tiny_reference.py made
once with llama.cpp's logits on the same files.

Run: bench/serve/make_tiny_reference.sh  (makes both venvs, runs this, then the reference).
  python make_tiny_models.py --smollm S.gguf --gemma G.gguf --stories stories260K.gguf --out DIR
"""
import argparse
import os

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader, GGUFWriter
from gguf.quants import quantize

VOCAB = 1024  # entries kept from the 49152 (SmolLM2) and 262144 (Gemma 3) vocabularies

# What differs between the families, as data. Fields:
#   arch: general.architecture; tok: which vocabulary; pre: tokenizer.ggml.pre;
#   shape: n_embd, n_layer, n_head, n_head_kv, n_ff, head_dim (None: n_embd / n_head);
#   theta: RoPE base; tied: no output.weight; bias: Q/K/V biases; qk_norm; fused: attn_qkv
#   and ffn_up holding [gate; up]; post_norms (gemma2); window: sliding window written;
#   softcap: (attention, final); llama3: (factor, low_freq_factor, high_freq_factor,
#   original context) from which rope_freqs is made; quant: {tensor suffix: type}.
FAMILIES = {
    # Qwen2/2.5: Q/K/V biases, NeoX RoPE, base 1e6, tied embeddings, ChatML vocabulary.
    "qwen2": dict(arch="qwen2", tok="smollm", pre="qwen2", shape=(64, 2, 4, 2, 128, None),
                  theta=1e6, eps=1e-6, tied=True, bias=True, quant={"token_embd": Q.Q8_0}),
    # Llama 3.x: its RoPE rule as llama.cpp runs it, per-frequency factors in rope_freqs
    # (small original context so the rule changes angles within a short prompt); tied
    # embeddings as Llama 3.2 1B/3B.
    "llama3": dict(arch="llama", tok="smollm", pre="llama-bpe", shape=(64, 2, 4, 2, 128, None),
                   theta=10000.0, eps=1e-5, tied=True, llama3=(8.0, 1.0, 4.0, 32),
                   add_bos=True, quant={"ffn_down": Q.Q4_0}),
    # Qwen3: QK-norm, head size set apart from the width (4 x 24 over 64), no biases.
    "qwen3": dict(arch="qwen3", tok="smollm", pre="qwen2", shape=(64, 2, 4, 2, 128, 24),
                  theta=1e6, eps=1e-6, tied=True, qk_norm=True, quant={"ffn_up": Q.Q5_0}),
    # Phi-3: fused QKV and fused gate/up, untied output, a sliding window llama.cpp ignores.
    "phi3": dict(arch="phi3", tok="stories", pre="default", shape=(64, 2, 4, 4, 128, None),
                 theta=10000.0, eps=1e-5, tied=False, fused=True, window=8,
                 quant={"attn_qkv": Q.Q8_0}),
    # Gemma 2: norms after attention and MLP, GELU, scaled embeddings, layer 0 of each pair
    # sliding (window 16 < prompt lengths), attention and final logit soft-capping (caps
    # small enough to bend these random logits).
    "gemma2": dict(arch="gemma2", tok="gemma", pre="default", shape=(64, 2, 4, 2, 128, 32),
                   theta=10000.0, eps=1e-6, tied=True, post_norms=True, window=16,
                   softcap=(4.0, 10.0), add_bos=True, quant={"attn_output": Q.Q4_1}),
    # Mistral 7B's shape (4:1 grouped-query attention, base 1e6, untied output), as its GGUFs
    # carry it: architecture `llama` with llama.attention.sliding_window, which llama.cpp's
    # llama graph never reads (full attention).
    "mistral": dict(arch="llama", tok="stories", pre="default", shape=(64, 2, 4, 1, 128, None),
                    theta=1e6, eps=1e-5, tied=False, window=8, add_bos=True,
                    quant={"ffn_gate": Q.Q5_1}),
}


def field(r, key):
    return r.fields[key].contents() if key in r.fields else None


def vocabulary(kind, paths):
    """Tokenizer metadata copied from a real GGUF: dict of key -> value (lists cut to VOCAB)."""
    r = GGUFReader(paths[kind])
    toks = field(r, "tokenizer.ggml.tokens")
    types = field(r, "tokenizer.ggml.token_type")
    v = {"model": field(r, "tokenizer.ggml.model"), "tokens": toks[:VOCAB],
         "types": types[:VOCAB]}
    if kind == "smollm":
        # BPE: tokens after the 252 initial ones are the merges' results, in merge order, so
        # the first VOCAB - 252 merges make exactly the kept tokens.
        merges = field(r, "tokenizer.ggml.merges")
        n_base = len(toks) - len(merges)
        keep = merges[: VOCAB - n_base]
        ids = {t: i for i, t in enumerate(v["tokens"])}
        for m in keep:
            assert m.replace(" ", "", 1) in ids, m
        v["merges"] = keep
        v["bos"], v["eos"], v["unk"] = 1, 2, 0
        v["template"] = field(r, "tokenizer.chat_template")
    elif kind == "gemma":
        v["scores"] = field(r, "tokenizer.ggml.scores")[:VOCAB]
        v["bos"], v["eos"], v["unk"], v["pad"] = 2, 1, 3, 0
        v["space_prefix"] = False
    else:  # stories260K: the whole Llama SentencePiece vocabulary
        v["tokens"], v["types"] = toks, types
        v["scores"] = field(r, "tokenizer.ggml.scores")
        v["bos"], v["eos"], v["unk"] = 1, 2, 0
    return v


def llama3_factors(theta, n_rot, factor, low, high, orig):
    """Llama 3's per-frequency RoPE divisors (as Meta's reference and llama.cpp's converter
    compute them): high frequencies kept, low ones divided by `factor`, a smooth ramp between."""
    out = []
    low_wavelen, high_wavelen = orig / low, orig / high
    for i in range(n_rot // 2):
        freq = 1.0 / theta ** (2 * i / n_rot)
        wavelen = 2 * np.pi / freq
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (orig / wavelen - low) / (high - low)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def write_family(name, spec, vocab, out_dir, seed):
    rng = np.random.default_rng([seed, sum(name.encode())])
    n_embd, n_layer, n_head, n_head_kv, n_ff, head_dim = spec["shape"]
    head_dim = head_dim or n_embd // n_head
    q_dim, kv_dim = n_head * head_dim, n_head_kv * head_dim
    n_vocab = len(vocab["tokens"])
    arch = spec["arch"]
    path = os.path.join(out_dir, f"{name}.gguf")
    w = GGUFWriter(path, arch)
    # A neutral name: llama.cpp sets token attributes by name (a name containing "phi3" needs
    # Phi-3's own special tokens in the vocabulary).
    w.add_name("gearbox tiny random-weight model")
    w.add_context_length(4096)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_layer_norm_rms_eps(spec["eps"])
    w.add_rope_freq_base(spec["theta"])
    w.add_rope_dimension_count(head_dim)
    if spec["shape"][5]:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    if "window" in spec:
        w.add_sliding_window(spec["window"])
    if "softcap" in spec:
        w.add_attn_logit_softcapping(spec["softcap"][0])
        w.add_final_logit_softcapping(spec["softcap"][1])
    w.add_file_type(1)  # mostly F16
    # Tokenizer.
    w.add_tokenizer_model(vocab["model"])
    w.add_tokenizer_pre(spec["pre"])
    w.add_token_list(vocab["tokens"])
    w.add_token_types(vocab["types"])
    if "scores" in vocab:
        w.add_token_scores(vocab["scores"])
    if "merges" in vocab:
        w.add_token_merges(vocab["merges"])
    w.add_bos_token_id(vocab["bos"])
    w.add_eos_token_id(vocab["eos"])
    w.add_unk_token_id(vocab["unk"])
    if "pad" in vocab:
        w.add_pad_token_id(vocab["pad"])
    w.add_add_bos_token(bool(spec.get("add_bos", False)))
    w.add_add_eos_token(False)
    if "space_prefix" in vocab:
        w.add_add_space_prefix(vocab["space_prefix"])
    if vocab.get("template") and arch.startswith("qwen"):
        w.add_chat_template(vocab["template"])

    quant = spec.get("quant", {})

    def tensor(tname, rows, cols, std):
        data = (rng.standard_normal((rows, cols)) * std).astype(np.float32)
        suffix = tname.split(".")[-2] if tname.startswith("blk.") else tname.split(".")[0]
        if suffix in quant:
            w.add_tensor(tname, quantize(data, quant[suffix]), raw_dtype=quant[suffix])
        else:
            w.add_tensor(tname, data.astype(np.float16))

    def vector(tname, n, mean, std):
        w.add_tensor(tname, (mean + rng.standard_normal(n) * std).astype(np.float32))

    # Layers' outputs outweigh the token's own embedding in the residual stream (else a tied
    # model predicts its input token); Gemma's embeddings are scaled by sqrt(width) first, and
    # its large output norm gives logits of the size the others have.
    gemma = arch.startswith("gemma")
    tensor("token_embd.weight", n_vocab, n_embd, 0.1 if gemma else 0.5)
    vector("output_norm.weight", n_embd, 2.0 if gemma else 1.0, 0.1)
    if not spec["tied"]:
        tensor("output.weight", n_vocab, n_embd, 0.5)
    if "llama3" in spec:
        w.add_tensor("rope_freqs.weight", llama3_factors(spec["theta"], head_dim,
                                                          *spec["llama3"]))
    s_in, s_ff = 1.0 / np.sqrt(n_embd), 1.0 / np.sqrt(n_ff)
    for l in range(n_layer):
        p = f"blk.{l}."
        vector(p + "attn_norm.weight", n_embd, 1.0, 0.1)
        if spec.get("fused"):
            tensor(p + "attn_qkv.weight", q_dim + 2 * kv_dim, n_embd, s_in)
        else:
            tensor(p + "attn_q.weight", q_dim, n_embd, s_in)
            tensor(p + "attn_k.weight", kv_dim, n_embd, s_in)
            tensor(p + "attn_v.weight", kv_dim, n_embd, s_in)
        if spec.get("bias"):
            vector(p + "attn_q.bias", q_dim, 0.0, 0.5)
            vector(p + "attn_k.bias", kv_dim, 0.0, 0.5)
            vector(p + "attn_v.bias", kv_dim, 0.0, 0.5)
        if spec.get("qk_norm"):
            vector(p + "attn_q_norm.weight", head_dim, 1.0, 0.1)
            vector(p + "attn_k_norm.weight", head_dim, 1.0, 0.1)
        tensor(p + "attn_output.weight", n_embd, q_dim, 2.0 / np.sqrt(q_dim))
        if spec.get("post_norms"):
            vector(p + "post_attention_norm.weight", n_embd, 1.0, 0.1)
        vector(p + "ffn_norm.weight", n_embd, 1.0, 0.1)
        if spec.get("fused"):
            tensor(p + "ffn_up.weight", 2 * n_ff, n_embd, s_in)  # [gate; up]
        else:
            tensor(p + "ffn_gate.weight", n_ff, n_embd, s_in)
            tensor(p + "ffn_up.weight", n_ff, n_embd, s_in)
        tensor(p + "ffn_down.weight", n_embd, n_ff, 2.0 * s_ff)
        if spec.get("post_norms"):
            vector(p + "post_ffw_norm.weight", n_embd, 1.0, 0.1)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smollm", required=True, help="SmolLM2-135M-Instruct GGUF (BPE vocabulary)")
    ap.add_argument("--gemma", required=True, help="gemma-3-270m GGUF (SentencePiece vocabulary)")
    ap.add_argument("--stories", required=True, help="stories260K GGUF (Llama SentencePiece)")
    ap.add_argument("--out", required=True, help="folder for <family>.gguf")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--family", action="append", choices=sorted(FAMILIES))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    paths = {"smollm": a.smollm, "gemma": a.gemma, "stories": a.stories}
    vocabs = {}
    for name in a.family or FAMILIES:
        spec = FAMILIES[name]
        if spec["tok"] not in vocabs:
            vocabs[spec["tok"]] = vocabulary(spec["tok"], paths)
        path = write_family(name, spec, vocabs[spec["tok"]], a.out, a.seed)
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
