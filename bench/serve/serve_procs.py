"""The two OpenAI-compatible servers of the lm-eval bench, started and stopped by pid.

gearbox_argv and llama_argv give both servers the same settings (threads, context length), so
lm_eval_bench.py and lm_eval_request_time.py run them alike. llama.cpp's server is
llama-cpp-python's `llama_cpp.server`, by default through llama_cpp_topn.py (the same server
with its whole-vocabulary logprobs sort replaced by an exact top-N pick; stock=True runs it
unchanged).
"""

import os
import signal
import socket
import subprocess
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
N_CTX = 512  # both servers' context length: the task's prompts are under 64 tokens


def gearbox_argv(binary, model, port, threads):
    return [binary, "serve", "run", "--model", model, "--port", str(port),
            "--threads", str(threads), "--max-model-len", str(N_CTX)]


def llama_argv(python, model, port, threads, name, stock=False):
    """llama_cpp.server as a user runs it for logprobs (logits_all), at `threads` for prompt
    and generation alike, the default n_batch/n_ubatch (512: one batch per prompt)."""
    launcher = ["-m", "llama_cpp.server"] if stock else [os.path.join(HERE, "llama_cpp_topn.py")]
    return [python, *launcher, "--model", model, "--host", "127.0.0.1", "--port", str(port),
            "--n_ctx", str(N_CTX), "--n_threads", str(threads),
            "--n_threads_batch", str(threads), "--logits_all", "true", "--model_alias", name]


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


def run_server(argv, ready_url, env=None):
    """Starts argv and returns the process once ready_url answers 200; stops it on failure."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_ready(ready_url, proc)
    except Exception:
        stop(proc)
        raise
    return proc
