#!/usr/bin/env python3
"""PyG anchor on the GPU: a 2-layer GCN (GCNConv, F -> hidden -> classes) full-batch training
step (forward, cross-entropy, backward, Adam step) on the graphs that gnn_cuda_bench dumped
with --dump-edges, through both of PyG's paths: edge_index (message passing, scatter) and a
sparse adjacency (torch.sparse CSR: cuSPARSE SpMM). Times are medians of CUDA-event timings.

  python3 bench/gnn/cuda_pyg.py --edges DIR [--dims 32,128] [--hidden 128] [--reps 30]
                                [--json-out FILE]

Runs with the torch and torch-geometric already installed on the GPU machine (see
../shared/docs/gpu.md); a path that cannot run is reported as null with the reason.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

DEVICE = torch.device("cuda")


def load_graph(edges_dir, entry, device):
    pairs = np.fromfile(os.path.join(edges_dir, entry["file"]), dtype=np.int32).reshape(-1, 2)
    edge_index = torch.from_numpy(pairs.T.astype(np.int64)).to(device)
    return int(entry["nodes"]), edge_index


def time_steps(step, reps, warmup=3):
    """Median ms of reps calls after warmup: CUDA events on the GPU, perf_counter on the CPU."""
    for _ in range(warmup):
        step()
    times = []
    if torch.cuda.is_available() and DEVICE.type == "cuda":
        torch.cuda.synchronize()
        for _ in range(reps):
            start = torch.cuda.Event(enable_timing=True)
            stop = torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
    else:
        for _ in range(reps):
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def with_tf32(fn):
    """fn() with torch's CUDA matmuls on TF32 tensor cores (allow_tf32), restored after."""
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        return fn()
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def gcn_step_ms(n, edge_index, f, hidden, classes, reps, sparse):
    from torch_geometric.nn import GCNConv

    device = edge_index.device
    torch.manual_seed(0)
    x = torch.randn(n, f, device=device)
    y = torch.randint(0, classes, (n,), device=device)
    conv1 = GCNConv(f, hidden, cached=True).to(device)
    conv2 = GCNConv(hidden, classes, cached=True).to(device)
    params = list(conv1.parameters()) + list(conv2.parameters())
    opt = torch.optim.Adam(params, lr=0.01, weight_decay=5e-4)
    if sparse:
        from torch_geometric.utils import to_torch_csr_tensor

        graph = to_torch_csr_tensor(edge_index, size=(n, n))
    else:
        graph = edge_index

    def step():
        opt.zero_grad(set_to_none=True)
        h = torch.relu(conv1(x, graph))
        h = torch.nn.functional.dropout(h, p=0.5, training=True)
        out = conv2(h, graph)
        loss = torch.nn.functional.cross_entropy(out, y)
        loss.backward()
        opt.step()

    return time_steps(step, reps)


def spmm_ms(n, edge_index, f, reps):
    """torch.sparse.mm (cuSPARSE) on the GCN-normalised adjacency, for reference."""
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    from torch_geometric.utils import to_torch_csr_tensor

    ei, w = gcn_norm(edge_index, None, n, add_self_loops=True)
    adj = to_torch_csr_tensor(ei, w, size=(n, n))
    x = torch.randn(n, f, device=edge_index.device)
    return time_steps(lambda: torch.sparse.mm(adj, x), reps)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edges", required=True, help="directory written by gnn_cuda_bench --dump-edges")
    ap.add_argument("--dims", default="32,128")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--classes", type=int, default=16)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--json-out")
    ap.add_argument("--device", default="cuda", help="cuda (the benchmark) or cpu (a dry run)")
    args = ap.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device visible to torch", file=sys.stderr)
        return 1
    device = DEVICE
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    with open(os.path.join(args.edges, "graphs.json")) as fh:
        index = json.load(fh)
    dims = [int(d) for d in args.dims.split(",") if d]
    rows = []
    print(f"torch {torch.__version__} on {name}", file=sys.stderr)
    print(f"{'graph':28s} {'nodes':>9s} {'F':>4s} | {'spmm ms':>9s} | {'step sparse':>11s} {'step e_idx':>11s}")
    for entry in index:
        n, edge_index = load_graph(args.edges, entry, device)
        for f in dims:
            row = {"graph": entry["graph"], "nodes": n, "edges": entry["edges"], "dim": f, "hidden": args.hidden}
            steps = [
                ("spmm_ms", lambda: spmm_ms(n, edge_index, f, args.reps)),
                ("train_step_sparse_ms", lambda: gcn_step_ms(n, edge_index, f, args.hidden, args.classes, args.reps, True)),
                ("train_step_edge_index_ms", lambda: gcn_step_ms(n, edge_index, f, args.hidden, args.classes, args.reps, False)),
            ]
            if f == dims[-1] and device.type == "cuda":
                # Beside gearbox's TF32 train step: the sparse path with torch's TF32 matmuls.
                steps.append(("train_step_sparse_tf32_ms", lambda: with_tf32(
                    lambda: gcn_step_ms(n, edge_index, f, args.hidden, args.classes, args.reps, True))))
            for key, fn in steps:
                try:
                    row[key] = fn()
                except Exception as e:  # a path that cannot run is reported, not fatal
                    row[key] = None
                    row[key + "_error"] = f"{type(e).__name__}: {e}"[:300]
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            fmt = lambda v: f"{v:9.3f}" if v is not None else "     null"
            tf32 = (f" | step sparse TF32 {fmt(row['train_step_sparse_tf32_ms'])}"
                    if "train_step_sparse_tf32_ms" in row else "")
            print(f"{entry['graph'][:28]:28s} {n:9d} {f:4d} | {fmt(row['spmm_ms'])} | "
                  f"{fmt(row['train_step_sparse_ms']):>11s} {fmt(row['train_step_edge_index_ms']):>11s}"
                  f"{tf32}", flush=True)
            rows.append(row)
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump({"torch": torch.__version__, "device": name, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
