"""lm-evaluation-harness through two OpenAI-compatible servers, side by side.

For each model, starts `gearbox serve run` and then llama-cpp-python's server
(`python -m llama_cpp.server`) on loopback, runs lm-eval's `local-completions` model on the
cloze task of lm_eval_task.py against each (loglikelihood requests: completions with echo and
logprobs), stops the server by its pid, and prints the accuracies with their standard errors.

lm-eval needs a tokenizer to count context tokens; it gets the model's own GGUF vocabulary
through llama.cpp (llama-cpp-python, vocab_only), so no tokenizer is downloaded. Requests are
sent as text (tokenized_requests=False: llama-cpp-python's server takes no token ids), so both
servers tokenize the same strings themselves.

Usage (bench/serve/lm_eval.sh prepares the venvs and calls this in the lm-eval venv):
  python lm_eval_bench.py --gearbox BIN --llama-python PY --task-dir DIR --out JSON MODEL.gguf...
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import llama_cpp
import lm_eval
from lm_eval.api.registry import register_model
from lm_eval.models.openai_completions import LocalCompletionsAPI
from lm_eval.tasks import TaskManager


class GgufVocab:
    """The encode/decode lm-eval asks of a tokenizer, from a GGUF's vocabulary via llama.cpp."""

    def __init__(self, path):
        self.llm = llama_cpp.Llama(path, vocab_only=True, verbose=False)
        self.eot_token = self.llm.token_eos()

    def encode(self, text):
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def decode(self, ids):
        return self.llm.detokenize(ids).decode("utf-8", errors="replace")


@register_model("gguf-local-completions")
class GgufLocalCompletions(LocalCompletionsAPI):
    """local-completions with the tokenizer of a GGUF file (model_args gguf=PATH)."""

    def __init__(self, gguf=None, **kwargs):
        kwargs["tokenizer_backend"] = "none"
        super().__init__(**kwargs)
        self.tokenizer = GgufVocab(gguf)
        self.tokenizer_backend = "gguf"  # tok_encode then calls tokenizer.encode()

    def decode_batch(self, tokens):
        return [self.tokenizer.decode(t) for t in tokens]

    def tok_decode(self, tokens, **kwargs):
        return self.tokenizer.decode(tokens)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, proc, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server not ready after {timeout} s: {url}")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
            "max_length": 2048,
            "tokenized_requests": False,
        },
        tasks=["gearbox_cloze"],
        task_manager=tm,
        limit=limit,
        log_samples=False,
    )
    r = out["results"]["gearbox_cloze"]
    return {
        "acc": r["acc,none"],
        "acc_stderr": r["acc_stderr,none"],
        "acc_norm": r["acc_norm,none"],
        "acc_norm_stderr": r["acc_norm_stderr,none"],
    }


def run_server(argv, ready_url, env=None):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_ready(ready_url, proc)
    except Exception:
        stop(proc)
        raise
    return proc


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
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()

    results = []
    for path in args.models:
        name = os.path.splitext(os.path.basename(path))[0]
        for server in args.servers.split(","):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            if server == "gearbox":
                argv = [args.gearbox, "serve", "run", "--model", path, "--port", str(port),
                        "--threads", str(args.threads), "--max-model-len", "2048"]
            else:
                argv = [args.llama_python, "-m", "llama_cpp.server", "--model", path,
                        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "512",
                        "--n_threads", str(args.threads), "--logits_all", "true",
                        "--model_alias", name]
            t0 = time.time()
            proc = run_server(argv, base + "/v1/models")
            try:
                scores = evaluate(base, name, path, args.task_dir, args.limit, args.concurrent)
            finally:
                stop(proc)
            scores.update({"model": name, "server": server, "seconds": round(time.time() - t0, 1)})
            print(json.dumps(scores), flush=True)
            results.append(scores)

    print(f"\n{'model':32} {'server':10} {'acc':>16} {'acc_norm':>16} {'s':>7}")
    for r in results:
        print(f"{r['model']:32} {r['server']:10} "
              f"{r['acc']:.3f} +- {r['acc_stderr']:.3f}   {r['acc_norm']:.3f} +- {r['acc_norm_stderr']:.3f} "
              f"{r['seconds']:7.1f}")
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
