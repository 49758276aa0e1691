#!/usr/bin/env python3
"""Two KV workloads against an OpenAI-compatible server (stdlib only, loopback).

shared-prefix: every request is one shared system prompt of --prefix-len token ids followed by
  --suffix-len distinct ids (a short question), --clients concurrent clients each sending
  --per-client requests one after another, after one warm-up request (untimed) carrying the
  same system prompt; reports TTFT (time to the first streamed text),
  output tokens/s and the prompt tokens the server reported as cached.
mixed: --clients concurrent clients, each request under the next policy of --policies
  (full, streaming, quant:int8 by default) with --prompt-len ids and exactly --output-len tokens
  (min_tokens); reports completed and failed requests and output tokens/s.
Token-id prompts are drawn with a fixed seed, so both runs of a comparison send the same bytes.
Every request sets ignore_eos (and min_tokens), so each server generates exactly --output-len
tokens; a server that reports no usage (llama.cpp's llama-server) has its streamed chunks
counted as tokens. Per request, TPOT = (end - first token) / (tokens - 1).
--pid PID samples that server process's resident memory (VmRSS) with the gauges; rss_idle is
read after one warm-up request (the weights paged in), so rss_max - rss_idle bounds the KV and
every other buffer the load adds.
Prints one JSON object.
"""
import argparse
import http.client
import json
import random
import statistics
import sys
import threading
import time
import urllib.parse


def stream_request(url, body):
    """POSTs a streaming completion; returns (ttft_s, total_s, usage, error, chunks)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    t0 = time.monotonic()
    ttft = None
    usage = None
    chunks = 0
    try:
        conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
        r = conn.getresponse()
        if r.status != 200:
            return None, time.monotonic() - t0, None, f"HTTP {r.status}: {r.read()[:200]!r}", 0
        buf = b""
        while True:
            chunk = r.read1(65536) if hasattr(r, "read1") else r.read(4096)
            if not chunk:
                break
            buf += chunk
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                if not event.startswith(b"data: "):
                    continue
                data = event[6:]
                if data == b"[DONE]":
                    continue
                j = json.loads(data)
                if j.get("usage"):
                    usage = j["usage"]
                for c in j.get("choices", []):
                    if c.get("text") is not None and (c.get("text") or c.get("finish_reason") is None):
                        chunks += 1
                    if c.get("text") and ttft is None:
                        ttft = time.monotonic() - t0
        if usage is None and chunks > 0:  # a server without usage in streams: count chunks
            usage = {"completion_tokens": chunks, "prompt_tokens": len(body["prompt"])}
        return ttft, time.monotonic() - t0, usage, None, chunks
    except Exception as e:  # noqa: BLE001 - reported per request
        return None, time.monotonic() - t0, None, repr(e), chunks
    finally:
        conn.close()


def scrape(url, names):
    """The values of the named series in the server's /metrics (missing ones absent)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    out = {}
    for line in text.splitlines():
        parts = line.split(" ")
        if len(parts) == 2 and parts[0] in names:
            out[parts[0]] = float(parts[1])
    return out


def rss_bytes(pid):
    """VmRSS of process `pid` in bytes (None when unreadable)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", choices=["shared-prefix", "mixed"])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--per-client", type=int, default=2)
    ap.add_argument("--prefix-len", type=int, default=2000)
    ap.add_argument("--suffix-len", type=int, default=16)
    ap.add_argument("--prompt-len", type=int, default=256)
    ap.add_argument("--output-len", type=int, default=16)
    ap.add_argument("--policies", default='null;{"policy":"streaming","window":256};{"policy":"quant:int8"}')
    ap.add_argument("--vocab-low", type=int, default=100)
    ap.add_argument("--vocab-high", type=int, default=40000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--pid", type=int, default=0, help="server process whose VmRSS to sample")
    a = ap.parse_args()

    rng = random.Random(a.seed)
    ids = lambda n: [rng.randrange(a.vocab_low, a.vocab_high) for _ in range(n)]  # noqa: E731
    prefix = ids(a.prefix_len)
    policies = [json.loads(p) for p in a.policies.split(";")]
    bodies = []
    for c in range(a.clients):
        mine = []
        for k in range(a.per_client):
            body = {"max_tokens": a.output_len, "min_tokens": a.output_len, "temperature": 0,
                    "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}
            if a.workload == "shared-prefix":
                body["prompt"] = prefix + ids(a.suffix_len)
            else:
                body["prompt"] = ids(a.prompt_len)
                cap = policies[(c * a.per_client + k) % len(policies)]
                if cap is not None:
                    body["cap"] = cap
            mine.append(body)
        bodies.append(mine)

    results = []
    lock = threading.Lock()

    def client(mine):
        for body in mine:
            r = stream_request(a.url, body)
            with lock:
                results.append(r)

    warm = dict(bodies[0][0])
    if a.workload == "shared-prefix":  # one request first, as a server that has seen the
        warm["prompt"] = prefix + ids(a.suffix_len)  # system prompt before (both modes get it)
    else:  # a short one, so that the weights are paged in before the idle RSS is read
        warm.update(prompt=ids(8), max_tokens=2, min_tokens=2)
        warm.pop("cap", None)
    stream_request(a.url, warm)

    samples = []
    rss = []
    rss_idle = rss_bytes(a.pid) if a.pid else None  # after the warm-up: weights resident
    done = threading.Event()

    def sampler():  # running sequences, resident KV bytes and the server's RSS, every 0.2 s
        while not done.wait(0.2):
            if a.pid:
                r = rss_bytes(a.pid)
                if r is not None:
                    rss.append(r)
            try:
                samples.append(scrape(a.url, {"gearbox_requests_running", "gearbox_kv_bytes_in_use",
                                              "gearbox_kv_bytes_budget"}))
            except (OSError, http.client.HTTPException):
                pass

    t0 = time.monotonic()
    watch = threading.Thread(target=sampler)
    watch.start()
    threads = [threading.Thread(target=client, args=(m,)) for m in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    done.set()
    watch.join()
    running = [x["gearbox_requests_running"] for x in samples if "gearbox_requests_running" in x]
    resident = [x["gearbox_kv_bytes_in_use"] for x in samples if "gearbox_kv_bytes_in_use" in x]
    ok = [r for r in results if r[3] is None and r[2] is not None]
    failed = [r for r in results if r not in ok]
    ttfts = [r[0] for r in ok if r[0] is not None]
    tpots = [(r[1] - r[0]) / (r[2]["completion_tokens"] - 1) for r in ok
             if r[0] is not None and r[2]["completion_tokens"] > 1]
    out_tokens = sum(r[2]["completion_tokens"] for r in ok)
    cached = sum(r[2].get("prompt_tokens_details", {}).get("cached_tokens", 0) for r in ok)
    prompt_tokens = sum(r[2]["prompt_tokens"] for r in ok)
    print(json.dumps({
        "workload": a.workload, "clients": a.clients, "requests": len(results),
        "completed": len(ok), "failed": len(failed),
        "first_failure": failed[0][3] if failed else None,
        "wall_s": round(wall, 2),
        "ttft_median_s": round(statistics.median(ttfts), 3) if ttfts else None,
        "ttft_p90_s": round(pct(ttfts, 90), 3) if ttfts else None,
        "output_tok_s": round(out_tokens / wall, 1),
        "output_tokens": out_tokens,
        "tpot_median_ms": round(1e3 * statistics.median(tpots), 1) if tpots else None,
        "prompt_tokens": prompt_tokens, "cached_prompt_tokens": cached,
        "running_mean": round(statistics.mean(running), 1) if running else None,
        "running_max": max(running) if running else None,
        "kv_bytes_in_use_max": max(resident) if resident else None,
        "kv_bytes_budget": samples[-1].get("gearbox_kv_bytes_budget") if samples else None,
        "rss_idle_bytes": rss_idle,
        "rss_max_bytes": max(rss) if rss else None,
    }))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
