"""lm-evaluation-harness through two OpenAI-compatible servers, side by side.

For each model, starts `gearbox serve run` and then llama-cpp-python's server
(`llama_cpp.server`, through llama_cpp_topn.py unless --llama-stock; settings in serve_procs.py)
on loopback, one at a time, runs lm-eval's `local-completions` model on the
cloze task of lm_eval_task.py against each (loglikelihood requests: completions with echo and
logprobs), stops the server by its pid, and prints the accuracies with their standard errors.

lm-eval needs a tokenizer to count context tokens; it gets the model's own GGUF vocabulary
through llama.cpp (llama-cpp-python, vocab_only), so no tokenizer is downloaded. Requests are
sent as text (tokenized_requests=False: llama-cpp-python's server takes no token ids), so both
servers tokenize the same strings themselves.

lm-eval's `[ctxlen:-1]` slice of the echoed entries is replaced by one counted from the end
(GgufLocalCompletions.parse_logprobs says why): the same values whenever both servers list the
prompt's tokens alike.

Usage (bench/serve/lm_eval.sh prepares the venvs and calls this in the lm-eval venv):
  python lm_eval_bench.py --gearbox BIN --llama-python PY --task-dir DIR --out JSON MODEL.gguf...
"""

import argparse
import json
import os
import signal
import sys
import tempfile
import time

import llama_cpp
import lm_eval
from lm_eval.api.registry import register_model
from lm_eval.models.openai_completions import LocalCompletionsAPI
from lm_eval.tasks import TaskManager

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lm_eval_compare import agreement  # noqa: E402
from lm_eval_task import TASK_YAML  # noqa: E402
from serve_procs import N_CTX, free_port, gearbox_argv, llama_argv, run_server, stop  # noqa: E402


class GgufVocab:
    """The encode/decode lm-eval asks of a tokenizer, from a GGUF's vocabulary via llama.cpp."""

    def __init__(self, path):
        self.llm = llama_cpp.Llama(path, vocab_only=True, verbose=False)
        self.eot_token = self.llm.token_eos()

    def encode(self, text):
        # Control-token text (a task's "<|im_start|>" prefix) as both servers parse it.
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def decode(self, ids):
        # lm-eval sends text requests as decode(encode(text)): control tokens keep their text.
        return self.llm.detokenize(ids, special=True).decode("utf-8", errors="replace")


@register_model("gguf-local-completions")
class GgufLocalCompletions(LocalCompletionsAPI):
    """local-completions with the tokenizer of a GGUF file (model_args gguf=PATH)."""

    def __init__(self, gguf=None, **kwargs):
        kwargs["tokenizer_backend"] = "none"
        super().__init__(**kwargs)
        self.tokenizer = GgufVocab(gguf)
        self.tokenizer_backend = "gguf"  # tok_encode then calls tokenizer.encode()

    @staticmethod
    def parse_logprobs(outputs, tokens=None, ctxlens=None, **kwargs):
        """local-completions' reading of an echo response, with the continuation's entries
        counted from the end (the last entry is the generated token's) rather than from the
        start: servers differ in whether a BOS written in the prompt is listed (gearbox lists
        it, as OpenAI's API lists every prompt token; llama-cpp-python drops a leading BOS),
        which shifts lm-eval's `[ctxlen:-1]` by one on one of them. Same values otherwise."""
        res = []
        if not isinstance(outputs, list):
            outputs = [outputs]
        for out in outputs:
            choices = sorted(out["choices"], key=lambda c: c["index"])
            for choice, toks, ctxlen in zip(choices, tokens, ctxlens):
                n_cont = len(toks) - ctxlen
                assert n_cont > 0, "a continuation has at least one token"
                window = slice(-1 - n_cont, -1)
                values = choice["logprobs"]["token_logprobs"][window]
                tops = choice["logprobs"]["top_logprobs"][window]
                greedy = all(v == max(top.values()) for v, top in zip(values, tops))
                res.append((sum(values), greedy))
        return res

    def decode_batch(self, tokens):
        return [self.tokenizer.decode(t) for t in tokens]

    def tok_decode(self, tokens, **kwargs):
        return self.tokenizer.decode(tokens)


def explicit_bos(path):
    """The text of the model's BOS token when its GGUF says no BOS is added to prompts (SmolLM2:
    "<|im_start|>"), else "". llama-cpp-python's server pairs echoed logprobs right only after a
    leading BOS (docs/serve-eval.md); written into every context, both servers parse it into the
    BOS token and score the same tokens."""
    vocab = llama_cpp.Llama(path, vocab_only=True, verbose=False)
    if vocab._model.add_bos_token() or vocab.token_bos() < 0:
        return ""
    return vocab.detokenize([vocab.token_bos()], special=True).decode("utf-8")


def prefixed_task(task_dir, prefix, out_dir):
    """A copy of the task in `out_dir` with `prefix` before every context."""
    src = os.path.join(task_dir, "gearbox_cloze.jsonl")
    dst = os.path.join(os.path.abspath(out_dir), "gearbox_cloze.jsonl")
    os.makedirs(out_dir, exist_ok=True)
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as g:
        for line in f:
            item = json.loads(line)
            item["context"] = prefix + item["context"]
            g.write(json.dumps(item) + "\n")
    with open(os.path.join(out_dir, "gearbox_cloze.yaml"), "w", encoding="utf-8") as f:
        f.write(TASK_YAML.format(data=dst))
    return out_dir


def evaluate(base, name, model_path, task_dir, limit, concurrent):
    tm = TaskManager(include_path=task_dir)
    out = lm_eval.simple_evaluate(
        model="gguf-local-completions",
        model_args={
            "model": name,
            "base_url": base + "/v1/completions",
            "gguf": model_path,
            "num_concurrent": concurrent,
            "max_retries": 3,
            "max_length": N_CTX,
            "tokenized_requests": False,
        },
        tasks=["gearbox_cloze"],
        task_manager=tm,
        limit=limit,
        log_samples=True,
    )
    r = out["results"]["gearbox_cloze"]
    # Each item's choice loglikelihoods, to compare the two servers item by item.
    items = [
        {"doc_id": s["doc_id"], "label": s["target"],
         "ll": [float(resp[0]) for resp in s["filtered_resps"]]}
        for s in out["samples"]["gearbox_cloze"]
    ]
    items.sort(key=lambda it: it["doc_id"])
    return {
        "acc": r["acc,none"],
        "acc_stderr": r["acc_stderr,none"],
        "acc_norm": r["acc_norm,none"],
        "acc_norm_stderr": r["acc_norm_stderr,none"],
        "items": items,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gearbox", required=True)
    ap.add_argument("--llama-python", required=True)
    ap.add_argument("--task-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--concurrent", type=int, default=1)
    ap.add_argument("--servers", default="gearbox,llama.cpp", help="comma-separated")
    ap.add_argument("--llama-stock", action="store_true",
                    help="llama_cpp.server unchanged, without llama_cpp_topn.py's top-N pick")
    ap.add_argument("--no-explicit-bos", action="store_true",
                    help="do not write the BOS of a model that adds none before each context")
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()
    # SIGTERM stops the servers this started (the finally blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    results = []
    scratch = tempfile.TemporaryDirectory()
    for path in args.models:
        name = os.path.splitext(os.path.basename(path))[0]
        prefix = "" if args.no_explicit_bos else explicit_bos(path)
        task_dir = args.task_dir
        if prefix:
            task_dir = prefixed_task(args.task_dir, prefix, os.path.join(scratch.name, name))
        per_server = {}
        for server in args.servers.split(","):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            if server == "gearbox":
                argv = gearbox_argv(args.gearbox, path, port, args.threads)
            else:
                argv = llama_argv(args.llama_python, path, port, args.threads, name,
                                  stock=args.llama_stock)
            t0 = time.time()
            proc = run_server(argv, base + "/v1/models")
            try:
                scores = evaluate(base, name, path, task_dir, args.limit, args.concurrent)
            finally:
                stop(proc)
            scores.update({"model": name, "server": server, "context_prefix": prefix,
                           "threads": args.threads, "seconds": round(time.time() - t0, 1)})
            if server != "gearbox":
                scores["llama_cpp_topn"] = not args.llama_stock
            print(json.dumps({k: v for k, v in scores.items() if k != "items"}), flush=True)
            results.append(scores)
            per_server[server] = scores
            with open(args.out, "w") as f:  # after each run, so a cut-short session keeps it
                json.dump(results, f, indent=1)
        if len(per_server) == 2:
            a, b = per_server.values()
            agree = agreement(a, b)
            agree.update({"model": name, "servers": list(per_server)})
            print(json.dumps(agree), flush=True)
            results.append({"agreement": agree})
            with open(args.out, "w") as f:
                json.dump(results, f, indent=1)

    print(f"\n{'model':32} {'server':10} {'acc':>16} {'acc_norm':>16} {'s':>7}")
    for r in results:
        if "agreement" in r:
            g = r["agreement"]
            print(f"{g['model']:32} same choice on {g['same_choice']}/{g['items']} items, "
                  f"|ll difference| median {g['median_abs_ll_diff']:.4f} max {g['max_abs_ll_diff']:.4f}")
            continue
        print(f"{r['model']:32} {r['server']:10} "
              f"{r['acc']:.3f} +- {r['acc_stderr']:.3f}   {r['acc_norm']:.3f} +- {r['acc_norm_stderr']:.3f} "
              f"{r['seconds']:7.1f}")


if __name__ == "__main__":
    sys.exit(main())
