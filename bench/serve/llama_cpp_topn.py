"""llama-cpp-python's server with its logprobs top-N picked by numpy instead of a full sort.

Why: llama-cpp-python 0.3.36's `Llama._create_completion` (what `llama_cpp.server` serves) builds
each echoed or generated token's `top_logprobs` as `sorted(zip(row, range(n_vocab)),
reverse=True)[:logprobs]`: a Python sort of the whole vocabulary (262,144 numpy scalars for
Gemma 3) for every token, whatever `logprobs` asks. On a 2-core Xeon that is 0.7 s per token
and 85% of an lm-eval loglikelihood request (docs/serve-eval.md has the profile); no server
setting (threads, n_batch, n_ubatch, n_ctx, cache) avoids it.

What: `install()` puts a `sorted` into the `llama_cpp.llama` module that, for exactly that call
(a zip of one vocabulary row with its range, reverse=True, inside `_create_completion`),
returns only the first `logprobs` entries of the full sort: the same (value, index) tuples, the
same values and types, in the same order (ties broken by the larger index first, as the tuple
sort does), picked by np.partition. Everything else goes to the builtin sort unchanged, so the
server's responses are the same bytes; `--check` verifies that against the builtin sort.

Usage:
  python llama_cpp_topn.py [llama_cpp.server arguments]   # the server, patched
  python llama_cpp_topn.py --check MODEL.gguf             # patched == stock on random rows
                                                          # and on echo requests to the model
"""

import builtins
import json
import runpy
import sys

import numpy as np
import llama_cpp.llama as llama_module

_builtin_sorted = builtins.sorted
fast_calls = 0  # how many sorts top_pairs answered (the check requires some)


def top_pairs(seq, k):
    """The first k entries of sorted(zip(seq, range(len(seq))), reverse=True), for a sequence of
    numbers without NaN: (seq[i], i) tuples, largest value first, equal values larger index
    first. Costs one np.partition and a sort of the entries tied with the k-th largest."""
    n = len(seq)
    k = min(k, n)
    if k <= 0:
        return []
    values = np.asarray(seq)
    kth = np.partition(values, n - k)[n - k]
    candidates = np.flatnonzero(values >= kth)
    return _builtin_sorted(((seq[i], i) for i in candidates.tolist()), reverse=True)[:k]


def _vocab_row(iterable):
    """The sequence s when `iterable` is a fresh zip(s, range(len(s))), else None."""
    if type(iterable) is not zip:
        return None
    parts = iterable.__reduce__()[1]
    if len(parts) != 2:
        return None
    first, second = (p.__reduce__() for p in parts)
    if len(first) != 3 or len(second) != 3 or first[2] != 0 or second[2] != 0:
        return None
    seq, span = first[1][0], second[1][0]
    if not isinstance(span, range) or span != range(len(seq)):
        return None
    return seq


def _sorted(iterable, /, *, key=None, reverse=False):
    frame = sys._getframe(1)
    k = frame.f_locals.get("logprobs")
    if (key is None and reverse and isinstance(k, int)
            and frame.f_code is llama_module.Llama._create_completion.__code__):
        seq = _vocab_row(iterable)
        if seq is not None and not np.isnan(np.asarray(seq)).any():
            global fast_calls
            fast_calls += 1
            return top_pairs(seq, k)
    return _builtin_sorted(iterable, key=key, reverse=reverse)


def install():
    """Route llama_cpp.llama's calls of sorted() through _sorted."""
    llama_module.sorted = _sorted


def uninstall():
    llama_module.__dict__.pop("sorted", None)


def check(model_path):
    """top_pairs against the builtin sort on random rows with ties, and stock against patched
    echo responses on the model; exits 1 on any difference."""
    rng = np.random.default_rng(7)
    for trial in range(200):
        n = int(rng.integers(1, 3000))
        row = rng.integers(-20, 3, size=n).astype(np.float32)  # many ties
        row[rng.random(n) < 0.05] = -np.inf
        seq = row if trial % 2 else row.tolist()
        k = int(rng.integers(0, 25))
        want = _builtin_sorted(zip(seq, range(len(seq))), reverse=True)[:k]
        got = top_pairs(seq, k)
        if want != got or [type(v) for v, _ in want] != [type(v) for v, _ in got]:
            sys.exit(f"llama_cpp_topn: top_pairs differs from the sort (n={n}, k={k})")
    llm = llama_cpp_llama(model_path)
    prompts = ["57, 58, 59, 60, 61", "The capital of France is Paris"]
    for prompt in prompts:
        for logprobs in (1, 5):
            stock = completion(llm, prompt, logprobs)
            install()
            try:
                fast = completion(llm, prompt, logprobs)
            finally:
                uninstall()
            if stock != fast:
                sys.exit(f"llama_cpp_topn: responses differ on {prompt!r}, logprobs={logprobs}")
    if fast_calls == 0:
        sys.exit("llama_cpp_topn: the patched sort was never called: llama-cpp-python changed?")
    print(f"llama_cpp_topn: top_pairs equals the builtin sort on 200 random rows; "
          f"{2 * len(prompts)} echo responses on {model_path} identical to stock "
          f"({fast_calls} sorts answered by top_pairs)")


def llama_cpp_llama(path):
    return llama_module.Llama(path, n_ctx=512, n_threads=1, logits_all=True, verbose=False)


def completion(llm, prompt, logprobs):
    llm.reset()  # both runs evaluate the prompt from scratch
    out = llm.create_completion(prompt, max_tokens=1, echo=True, logprobs=logprobs,
                                temperature=0)
    out.pop("id"), out.pop("created")
    return json.dumps(out, default=float)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        return check(sys.argv[2])
    install()
    sys.argv = ["llama_cpp.server"] + sys.argv[1:]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    sys.exit(main())
