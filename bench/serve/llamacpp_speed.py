#!/usr/bin/env python3
"""llama.cpp's prefill and decode speed through llama-cpp-python, measured as engine_bench
does: `prefill` pseudo-random tokens in one batch, then `decode` tokens one at a time; median
tok/s over reps after a warm-up, and the median process CPU time per token (all threads,
spinning ones too). Prints one JSON object.
Usage: llamacpp_speed.py MODEL THREADS [PREFILL] [DECODE] [REPS]"""
import json
import random
import statistics
import sys
import time

from llama_cpp import Llama

path, threads = sys.argv[1], int(sys.argv[2])
n_pp = int(sys.argv[3]) if len(sys.argv) > 3 else 512
n_tg = int(sys.argv[4]) if len(sys.argv) > 4 else 128
reps = int(sys.argv[5]) if len(sys.argv) > 5 else 3
llm = Llama(model_path=path, n_ctx=n_pp + n_tg, n_batch=n_pp, n_ubatch=n_pp, n_threads=threads,
            n_threads_batch=threads, logits_all=False, verbose=False)
rng = random.Random(1)
n_vocab = llm.n_vocab()
prompt = [rng.randrange(100, n_vocab) for _ in range(n_pp)]
pp, tg, pp_cpu, tg_cpu = [], [], [], []
for r in range(reps + 1):
    llm.reset()
    t, c = time.perf_counter(), time.process_time()
    llm.eval(prompt)
    t_pp, c_pp = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    for _ in range(n_tg):
        llm.eval([rng.randrange(100, n_vocab)])
    t_tg, c_tg = time.perf_counter() - t, time.process_time() - c
    if r:
        pp.append(n_pp / t_pp)
        tg.append(n_tg / t_tg)
        pp_cpu.append(1e3 * c_pp / n_pp)
        tg_cpu.append(1e3 * c_tg / n_tg)
print(json.dumps({"engine": "llama.cpp", "threads": threads, "prefill_tokens": n_pp,
                  "decode_tokens": n_tg, "prefill_tok_s": statistics.median(pp),
                  "decode_tok_s": statistics.median(tg),
                  "prefill_cpu_ms_per_tok": statistics.median(pp_cpu),
                  "decode_cpu_ms_per_tok": statistics.median(tg_cpu)}))
