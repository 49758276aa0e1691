"""Seconds per lm-eval loglikelihood request on gearbox and llama.cpp's server, same request.

Sends the request lm-eval's local-completions model sends for one loglikelihood (completions,
echo, logprobs 1, max_tokens 1, temperature 0) REPEAT times to each server in turn (one at a
time, settings from serve_procs.py), with a different context each time so that no prefix
cache helps, and prints each server's median seconds and the ratio to gearbox's. Servers:
gearbox, llama.cpp (llama_cpp.server through llama_cpp_topn.py), llama.cpp-stock (unchanged),
and gearbox-plain (gearbox, the same requests without echo and logprobs: what scoring costs).

Usage: python lm_eval_request_time.py --gearbox BIN --llama-python PY [--threads 2]
       [--repeat 5] [--servers gearbox,llama.cpp,llama.cpp-stock] MODEL.gguf
"""

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_procs import free_port, gearbox_argv, llama_argv, run_server, stop  # noqa: E402


def request(base, name, prompt, scored=True):
    body = {"model": name, "prompt": prompt, "max_tokens": 1, "temperature": 0, "seed": 1234}
    if scored:
        body.update(echo=True, logprobs=1)
    body = json.dumps(body).encode()
    req = urllib.request.Request(base + "/v1/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        out = json.load(r)
    if not scored:  # count the prompt's tokens as echoed ones, for the printout
        out["choices"][0]["logprobs"] = {"tokens": [None] * out["usage"]["prompt_tokens"]}
    return time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gearbox", required=True)
    ap.add_argument("--llama-python", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--servers", default="gearbox,llama.cpp,llama.cpp-stock")
    ap.add_argument("model")
    args = ap.parse_args()
    name = os.path.splitext(os.path.basename(args.model))[0]
    # A typical item of lm_eval_task.py (context and one choice), the start varied per repeat.
    prompts = [f"{s}, {s + 1}, {s + 2}, {s + 3}, {s + 4}" for s in range(11, 11 + args.repeat)]
    medians = {}
    for server in args.servers.split(","):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        if server.startswith("gearbox"):
            argv = gearbox_argv(args.gearbox, args.model, port, args.threads)
        else:
            argv = llama_argv(args.llama_python, args.model, port, args.threads, name,
                              stock=server == "llama.cpp-stock")
        proc = run_server(argv, base + "/v1/models")
        try:
            request(base, name, "0, 1, 2, 3")  # warm-up (first-touch of buffers)
            times = []
            for p in prompts:
                s, out = request(base, name, p, scored=server != "gearbox-plain")
                times.append(s)
                n = len(out["choices"][0]["logprobs"]["tokens"])
            medians[server] = statistics.median(times)
            print(f"{name} {server:16} {n} echoed tokens, s per request: "
                  + " ".join(f"{t:.2f}" for t in times)
                  + f"  median {medians[server]:.2f}", flush=True)
        finally:
            stop(proc)
    if "gearbox" in medians:
        for server, m in medians.items():
            print(f"{name} {server:16} median {m:.2f} s = {m / medians['gearbox']:.2f}x gearbox's")


if __name__ == "__main__":
    main()
