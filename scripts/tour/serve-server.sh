#!/usr/bin/env bash
# Tour step: the OpenAI-compatible server on the embedded stories260K model, on loopback.
# Starts `gearbox serve run`, sends one streaming chat request with curl, prints the answer
# and the server's metrics, and stops the server. $GB is the gearbox binary.
set -euo pipefail
GB="${GB:-build/release/apps/gearbox}"
printf '\n==> %s\n' "gearbox serve run: an OpenAI-compatible server (stories260K, loopback)"

log="$(mktemp)"
"$GB" serve run --model stories260K --host 127.0.0.1 --port 0 --parallel 4 2>"$log" &
pid=$!
cleanup() {
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

url=""
for _ in $(seq 1 300); do  # up to 30 s for the model to load and the port to open
  url="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -n1 || true)"
  [ -n "$url" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then cat "$log" >&2; exit 1; fi
  sleep 0.1
done
[ -n "$url" ] || { echo "server did not start" >&2; cat "$log" >&2; exit 1; }
head -n1 "$log"

body='{"model":"stories260K","messages":[{"role":"user","content":"Once upon a time, there was a little dog"}],
       "max_tokens":48,"temperature":0,"stream":true}'
echo "\$ curl -N $url/v1/chat/completions -d '{... \"stream\": true}'   (first events)"
stream="$(curl -sS -N --max-time 60 "$url/v1/chat/completions" -H 'Content-Type: application/json' -d "$body")"
printf '%s\n' "$stream" | grep '^data:' | head -n 3
echo "..."
printf '%s\n' "$stream" | grep '^data:' | tail -n 2
printf 'answer: '
printf '%s\n' "$stream" | python3 -c '
import json, sys
out = []
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("data: ") or line == "data: [DONE]":
        continue
    for c in json.loads(line[6:]).get("choices", []):
        out.append(c.get("delta", {}).get("content") or "")
print("".join(out))'

echo "\$ curl $url/metrics   (gearbox_ series, histograms summarised by _count and _sum)"
curl -sS --max-time 10 "$url/metrics" | grep '^gearbox_' | grep -v '_bucket{'
