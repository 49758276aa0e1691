#!/usr/bin/env python3
"""A stock OpenAI client against `gearbox serve run`: chat and completions, streaming and not,
the `cap` extension through extra_body, logprobs (whole, echoed and streamed), and the error a
bad request gets. Exits non-zero when
any answer is malformed. Usage: server_openai_client.py http://127.0.0.1:PORT [--clients N]"""
import argparse
import concurrent.futures as cf
import sys
import time

import openai


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--clients", type=int, default=8, help="concurrent streaming chats")
    ap.add_argument("--max-tokens", type=int, default=32)
    a = ap.parse_args()
    client = openai.OpenAI(base_url=a.url.rstrip("/") + "/v1", api_key="unused", max_retries=0,
                           timeout=120)
    failures = []

    models = client.models.list()
    model = models.data[0].id
    print(f"models: {[m.id for m in models.data]}")

    chat = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Once upon a time"}],
        max_tokens=a.max_tokens, temperature=0)
    print(f"chat: finish={chat.choices[0].finish_reason} usage={chat.usage.prompt_tokens}+"
          f"{chat.usage.completion_tokens} text={chat.choices[0].message.content!r}")
    if chat.usage.completion_tokens < 1 or chat.choices[0].finish_reason not in ("stop", "length"):
        failures.append("chat")

    comp = client.completions.create(model=model, prompt="The little dog", max_tokens=a.max_tokens,
                                     temperature=0.8, top_p=0.9, seed=7, stop=["\n\n"])
    print(f"completion: finish={comp.choices[0].finish_reason} text={comp.choices[0].text!r}")

    # The `cap` extension rides in extra_body.
    capped = client.completions.create(model=model, prompt="Lily liked", max_tokens=8,
                                       extra_body={"cap": {"policy": "streaming", "sink": 4,
                                                           "window": 256}})
    print(f"cap streaming: usage={capped.usage.completion_tokens} text={capped.choices[0].text!r}")

    def stream_one(i: int):
        t0 = time.perf_counter()
        ttft = None
        text = []
        finish = None
        s = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": f"Tell story {i}"}],
            max_tokens=a.max_tokens, temperature=0.7, seed=i, stream=True,
            stream_options={"include_usage": True})
        usage = None
        for chunk in s:
            if chunk.usage is not None:
                usage = chunk.usage
            if not chunk.choices:
                continue
            c = chunk.choices[0]
            if c.delta.content:
                if ttft is None:
                    ttft = time.perf_counter() - t0
                text.append(c.delta.content)
            if c.finish_reason:
                finish = c.finish_reason
        return i, ttft, time.perf_counter() - t0, finish, usage, "".join(text)

    with cf.ThreadPoolExecutor(a.clients) as ex:
        results = list(ex.map(stream_one, range(a.clients)))
    for i, ttft, e2e, finish, usage, text in results:
        ok = finish in ("stop", "length") and usage is not None and ttft is not None
        if not ok:
            failures.append(f"stream {i}")
    print(f"{a.clients} concurrent streams: "
          f"{sum(1 for r in results if r[3] in ('stop', 'length'))} finished, "
          f"median ttft {sorted(r[1] or 0 for r in results)[len(results) // 2] * 1e3:.1f} ms, "
          f"max e2e {max(r[2] for r in results) * 1e3:.1f} ms")

    # Logprobs as evaluation clients read them: completions logprobs=N, echo with prompt
    # logprobs (max_tokens 0, as a loglikelihood request), chat logprobs + top_logprobs.
    lp = client.completions.create(model=model, prompt="The little dog", max_tokens=4,
                                   temperature=0, logprobs=2)
    l = lp.choices[0].logprobs
    ok = (l is not None and len(l.tokens) == len(l.token_logprobs) == len(l.top_logprobs) ==
          len(l.text_offset) == lp.usage.completion_tokens and
          all(len(t) == 2 and max(t.values()) >= v - 1e-6 for t, v in zip(l.top_logprobs, l.token_logprobs)))
    print(f"completion logprobs=2: tokens={l.tokens if l else None} "
          f"logprobs={[round(v, 3) for v in l.token_logprobs] if l else None}")
    if not ok:
        failures.append("completion logprobs")
    echo = client.completions.create(model=model, prompt="The little dog ran home", max_tokens=0,
                                     echo=True, logprobs=1, temperature=0)
    e = echo.choices[0]
    ok = (e.text == "The little dog ran home" and e.logprobs.token_logprobs[0] is None and
          all(v is not None and v <= 0 for v in e.logprobs.token_logprobs[1:]) and
          echo.usage.completion_tokens == 0)
    print(f"echo max_tokens=0: text={e.text!r} tokens={e.logprobs.tokens} "
          f"logprobs={[None if v is None else round(v, 3) for v in e.logprobs.token_logprobs]}")
    if not ok:
        failures.append("echo logprobs")
    chat_lp = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Once upon a time"}], max_tokens=4,
        temperature=0, logprobs=True, top_logprobs=3)
    content = chat_lp.choices[0].logprobs.content
    ok = (len(content) == chat_lp.usage.completion_tokens and
          all(len(c.top_logprobs) == 3 and bytes(c.bytes).decode("utf-8", "replace") == c.token
              for c in content if c.bytes is not None))
    print(f"chat logprobs top_logprobs=3: {[(c.token, round(c.logprob, 3)) for c in content]}")
    if not ok:
        failures.append("chat logprobs")

    # Streamed logprobs: each chunk carries its tokens' records; joined, they are those of the
    # same greedy request served whole (above).
    tokens, values = [], []
    for chunk in client.completions.create(model=model, prompt="The little dog", max_tokens=4,
                                           temperature=0, logprobs=2, stream=True):
        cl = chunk.choices[0].logprobs if chunk.choices else None
        if cl is not None:
            tokens += cl.tokens
            values += cl.token_logprobs
    ok = (l is not None and tokens == l.tokens and
          all(abs(a - b) < 2e-3 for a, b in zip(values, l.token_logprobs)))
    print(f"streamed completion logprobs=2: tokens={tokens} logprobs={[round(v, 3) for v in values]}")
    if not ok:
        failures.append("streamed completion logprobs")
    streamed = []
    for chunk in client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Once upon a time"}], max_tokens=4,
            temperature=0, logprobs=True, top_logprobs=3, stream=True):
        if chunk.choices and chunk.choices[0].logprobs is not None:
            streamed += chunk.choices[0].logprobs.content
    ok = ([c.token for c in streamed] == [c.token for c in content] and
          all(len(c.top_logprobs) == 3 and abs(c.logprob - w.logprob) < 2e-3
              for c, w in zip(streamed, content)))
    print(f"streamed chat logprobs top_logprobs=3: {[(c.token, round(c.logprob, 3)) for c in streamed]}")
    if not ok:
        failures.append("streamed chat logprobs")

    try:
        client.completions.create(model=model, prompt="x", max_tokens=-1)
        failures.append("negative max_tokens accepted")
    except openai.BadRequestError as e:
        print(f"bad request: HTTP {e.status_code}, param={e.body.get('param') if isinstance(e.body, dict) else e.body}")

    if failures:
        print("FAILED: " + ", ".join(failures))
        return 1
    print("openai client: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
