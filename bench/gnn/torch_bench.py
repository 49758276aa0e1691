"""Per-epoch time of PyG's 2-layer GCN against the same model on gearbox_gnn's layers.

Both models: GCNConv(F -> F) + ReLU + GCNConv(F -> 16), cached, Adam, on random features
(F = 128 by default) and labels, all nodes in training, in the same process with the same
torch thread count, epochs interleaved (PyG, gearbox, PyG, ...) so load hits both alike.
PyG runs its fastest CPU path: the adjacency as adj_t (a torch.sparse_csr tensor), which
PyG normalises once (cached=True) and aggregates with torch.sparse.mm. gearbox_gnn's layers
take edge_index and plan once (reordering + selection, reported separately). The aggregation
alone (torch.sparse.mm on the normalised adjacency against gearbox_gnn.spmm) is timed too,
both as single calls in turn ("x") and as back-to-back loops paired round by round ("x loops").

    python bench/gnn/torch_bench.py --graph cora --graph sbm:n=20000,block=64 --threads 2 [--json]
    python bench/gnn/torch_bench.py --aggregation-only ...   (aggregation and overhead only)
"""

import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

import gearbox_gnn
from gearbox_gnn import nn as gnn
from gearbox_gnn.nn import gcn_norm_weights
from gearbox_gnn._adjacency import to_coo
from torch_geometric import nn as pyg_nn


class GCN(torch.nn.Module):
    def __init__(self, conv, f, classes):
        super().__init__()
        self.conv1 = conv(f, f, cached=True)
        self.conv2 = conv(f, classes, cached=True)

    def forward(self, x, adj):
        return self.conv2(self.conv1(x, adj).relu(), adj)


def epoch(model, opt, x, adj, y):
    opt.zero_grad()
    F.cross_entropy(model(x, adj), y).backward()
    opt.step()


def interleaved_ms(fns, warmup, reps):
    """Median ms of each function, run in turn (round r runs fns[0], fns[1], ...)."""
    for _ in range(warmup):
        for f in fns:
            f()
    ms = [[] for _ in fns]
    for _ in range(reps):
        for i, f in enumerate(fns):
            t = time.perf_counter()
            f()
            ms[i].append((time.perf_counter() - t) * 1e3)
    return [statistics.median(m) for m in ms]


def overhead_paired(plan, x, rounds, loop_ms=20.0):
    """The extension against the same calls from C++, paired round by round.

    The C++ side is what a C++ training loop pays: MatrixPlan::run on the same X into a Y it
    allocated once and reuses, called back to back and timed in C++ around the loop
    (Plan._c.run_loop_ms; same plan, same threads). The extension's side is the same number
    of back-to-back gearbox_gnn.spmm calls from Python (each output freed before the next call,
    as in a training loop), timed around the loop. Each loop lasts about `loop_ms`. Each round
    runs both loops in both orders and takes the geometric mean of the two ratios (single
    alternating calls, measured before, let each side's output evict the other's X and Y on
    graphs that fit the caches: a cache effect of 10-25%, not the extension's cost). Returns
    the median C++ ms per call and the medians over rounds of (gearbox_gnn.spmm / C++),
    (gearbox_gnn.spmm on an x that requires grad / C++) and (Plan._c.run / C++): the whole
    Python call (argument checks, dispatcher, autograd kernel, output allocation, freeing it;
    with grad: also the autograd node each call records, freed with the output) and the
    binding alone."""
    y = torch.empty_like(x)
    one = plan._c.run_loop_ms(x, y, False, 3)  # faults Y's pages in; sizes the loops
    calls = max(1, min(100000, int(loop_ms / max(one, 1e-4))))

    def ext():
        t = time.perf_counter()
        for _ in range(calls):
            gearbox_gnn.spmm(plan, x)
        return (time.perf_counter() - t) * 1e3 / calls

    x_grad = x.detach().requires_grad_()

    def ext_grad():
        t = time.perf_counter()
        for _ in range(calls):
            gearbox_gnn.spmm(plan, x_grad)
        return (time.perf_counter() - t) * 1e3 / calls

    def binding():
        t = time.perf_counter()
        for _ in range(calls):
            plan._c.run(x, False)
        return (time.perf_counter() - t) * 1e3 / calls

    def cpp():
        return plan._c.run_loop_ms(x, y, False, calls)

    cpp_ms, ratios = [], []
    for fn in (ext, ext_grad, binding):
        ratio = []
        for _ in range(max(rounds // 2, 1)):
            a1, c1 = fn(), cpp()
            c2, a2 = cpp(), fn()
            cpp_ms += [c1, c2]
            ratio.append(math.sqrt((a1 / c1) * (a2 / c2)))  # the order's effect cancels
        ratios.append(statistics.median(ratio))
    return statistics.median(cpp_ms), ratios[0], ratios[1], ratios[2]


def loops_paired(fa, fb, rounds, loop_ms=20.0):
    """fa and fb each called back to back in loops of about `loop_ms`, the loops paired round
    by round (a, b, b, a: the order's effect cancels in the geometric mean of the two ratios).
    Returns the median ms per call of each and the median over rounds of (fa / fb). Back to
    back, each side keeps its own operands in the caches; single alternating calls
    (interleaved_ms) let each evict the other's, which on graphs that fit the caches slows
    both sides by different amounts."""
    t = time.perf_counter()
    fa(), fb()
    one = max((time.perf_counter() - t) * 1e3 / 2, 1e-4)
    calls = max(1, min(100000, int(loop_ms / one)))

    def loop(fn):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - t) * 1e3 / calls

    ms_a, ms_b, ratio = [], [], []
    for _ in range(max(rounds // 2, 1)):
        a1, b1 = loop(fa), loop(fb)
        b2, a2 = loop(fb), loop(fa)
        ms_a += [a1, a2]
        ms_b += [b1, b2]
        ratio.append(math.sqrt((a1 / b1) * (a2 / b2)))
    return statistics.median(ms_a), statistics.median(ms_b), statistics.median(ratio)


def fixed_call_cost_us(calls=20000, rounds=7):
    """The extension's own cost per call, apart from the kernel: back-to-back calls on a 2-node
    graph (the kernel then takes well under a microsecond) of gearbox_gnn.spmm (x without and
    with requires_grad: the second records an autograd node per call), of the binding
    alone (Plan._c.run) and of the C++ loop (Plan._c.run_loop_ms, timed inside C++); median
    microseconds per call over interleaved rounds."""
    p = gearbox_gnn.plan(torch.tensor([[0, 1], [1, 0]]), 8, num_nodes=2, use_cache=False)
    x = torch.randn(2, 8)
    y = torch.empty_like(x)

    def loop(fn):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - t) * 1e6 / calls

    x_grad = x.detach().requires_grad_()
    us = {"extension": [], "extension_with_grad": [], "binding": [], "cpp": []}
    for _ in range(rounds):
        us["extension"].append(loop(lambda: gearbox_gnn.spmm(p, x)))
        us["extension_with_grad"].append(loop(lambda: gearbox_gnn.spmm(p, x_grad)))
        us["binding"].append(loop(lambda: p._c.run(x, False)))
        us["cpp"].append(p._c.run_loop_ms(x, y, False, calls) * 1e3)
    return {k: statistics.median(v) for k, v in us.items()}


def bench_graph(spec, f, classes, warmup, reps, epochs=True):
    edge_index, n = gearbox_gnn.load_graph(spec)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, f, generator=gen)
    y = torch.randint(0, classes, (n,), generator=gen)
    # PyG's adj_t: A with rows = targets, as torch.sparse_csr.
    adj_t = torch.sparse_coo_tensor(torch.stack([edge_index[1], edge_index[0]]),
                                    torch.ones(edge_index.size(1)), (n, n)).coalesce()
    adj_t = adj_t.to_sparse_csr()

    # Aggregation alone: A_hat @ X at width f.
    row, col, w = gcn_norm_weights(to_coo(edge_index, n), improved=False, add_self_loops=True)
    ahat = torch.sparse_coo_tensor(torch.stack([row, col]), w, (n, n)).coalesce().to_sparse_csr()
    t = time.perf_counter()
    plan = gearbox_gnn.plan(torch.stack([col, row]), f, num_nodes=n, edge_weight=w, name=spec)
    plan_s = time.perf_counter() - t
    agg_pyg, agg_ours = interleaved_ms(
        [lambda: torch.sparse.mm(ahat, x), lambda: gearbox_gnn.spmm(plan, x)], 25, reps * 2)
    # The same two, each in back-to-back loops, paired round by round.
    loop_pyg, loop_ours, loop_x = loops_paired(lambda: torch.sparse.mm(ahat, x),
                                               lambda: gearbox_gnn.spmm(plan, x), max(2 * reps, 22))
    # The extension's overhead: gearbox_gnn.spmm against the same call from C++
    # (MatrixPlan::run on the same plan, X and Y in the caller's order), paired round by round.
    cpp_ms, overhead, overhead_grad, binding = overhead_paired(plan, x, max(2 * reps, 22))
    row = {"graph": spec, "nodes": n, "edges": int(edge_index.size(1)), "dim": f,
           "aggregation": {"pyg_sparse_mm_ms": agg_pyg, "gearbox_ms": agg_ours,
                           "cpp_call_ms": cpp_ms, "extension_over_cpp_paired": overhead,
                           "extension_with_grad_over_cpp_paired": overhead_grad,
                           "binding_over_cpp_paired": binding,
                           "speedup": agg_pyg / agg_ours, "pyg_sparse_mm_loop_ms": loop_pyg,
                           "gearbox_loop_ms": loop_ours, "speedup_loops_paired": loop_x,
                           "plan_seconds": plan_s,
                           "kernels": plan.kernels()}}
    if not epochs:
        return row

    torch.manual_seed(0)
    m_pyg = GCN(pyg_nn.GCNConv, f, classes)
    torch.manual_seed(0)
    m_ours = GCN(gnn.GCNConv, f, classes)
    o_pyg = torch.optim.Adam(m_pyg.parameters(), lr=0.01)
    o_ours = torch.optim.Adam(m_ours.parameters(), lr=0.01)
    t = time.perf_counter()
    epoch(m_ours, o_ours, x, edge_index, y)  # plans (one-off), reported apart
    first_ours_s = time.perf_counter() - t
    ep_pyg, ep_ours = interleaved_ms([lambda: epoch(m_pyg, o_pyg, x, adj_t, y),
                                      lambda: epoch(m_ours, o_ours, x, edge_index, y)],
                                     warmup, reps)
    with torch.no_grad():
        m_ours.load_state_dict(m_pyg.state_dict())
        diff = float((m_ours(x, edge_index) - m_pyg(x, adj_t)).abs().max())
    layer_plan = m_ours.conv1.last_plan
    row["epoch"] = {"pyg_ms": ep_pyg, "gearbox_ms": ep_ours, "speedup": ep_pyg / ep_ours,
                    "first_gearbox_epoch_seconds": first_ours_s,
                    "kernels": layer_plan.kernels()}
    row["max_abs_diff_same_weights"] = diff
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--graph", action="append",
                    help="a shared graph's name, a path or an sbm:/rmat: spec (repeatable; "
                         "default: cora, citeseer, pubmed)")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--classes", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=15)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--aggregation-only", action="store_true",
                    help="time the aggregation and the extension's overhead, not the epochs")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    # A dense GEMM first, as any PyG training script runs one (its Linear layers) before it
    # aggregates: on an AMD EPYC (torch 2.15, oneMKL 2024.0; 2026-12-07) torch.sparse.mm on cora
    # took 1.0-1.2 ms in a process that had not yet run an MKL GEMM and 0.20 ms after one.
    torch.mm(torch.randn(512, 512), torch.randn(512, 512))
    rows = []
    for spec in a.graph or ["cora", "citeseer", "pubmed"]:
        print(f"torch_bench: {spec}", file=sys.stderr)
        rows.append(bench_graph(spec, a.dim, a.classes, a.warmup, a.reps,
                                not a.aggregation_only))
    doc = {"threads": a.threads, "torch": torch.__version__, "dim": a.dim, "results": rows,
           "call_cost_us_2_nodes": fixed_call_cost_us()}
    try:
        import torch_geometric
        doc["torch_geometric"] = torch_geometric.__version__
    except ImportError:
        pass
    if a.json:
        print(json.dumps(doc, indent=2))
        return
    print(f"torch {torch.__version__}, {a.threads} threads, F = {a.dim} (median ms; "
          f"speedup = PyG / gearbox)")
    print(f"{'graph':<28}{'nodes':>9}{'edges':>11} | {'agg PyG':>9}{'agg ours':>9}{'x':>6}"
          f"{'x loops':>8}"
          f"{'C++':>8}{'ext/C++':>8}{'grad/C++':>9}{'bind/C++':>9} | {'epoch PyG':>10}{'epoch ours':>11}"
          f"{'x':>6} | kernels (F)")
    for r in rows:
        ag, ep = r["aggregation"], r.get("epoch")
        epoch_cols = (f"{ep['pyg_ms']:>10.2f}{ep['gearbox_ms']:>11.2f}{ep['speedup']:>6.2f}"
                      if ep else f"{'-':>10}{'-':>11}{'-':>6}")
        print(f"{r['graph']:<28}{r['nodes']:>9}{r['edges']:>11} | {ag['pyg_sparse_mm_ms']:>9.2f}"
              f"{ag['gearbox_ms']:>9.2f}{ag['speedup']:>6.2f}{ag['speedup_loops_paired']:>8.2f}"
              f"{ag['cpp_call_ms']:>8.3f}"
              f"{ag['extension_over_cpp_paired']:>8.3f}"
              f"{ag['extension_with_grad_over_cpp_paired']:>9.3f}{ag['binding_over_cpp_paired']:>9.3f} | "
              f"{epoch_cols} | {ag['kernels']}")
    c = doc["call_cost_us_2_nodes"]
    print(f"per call on a 2-node graph (the extension's own cost): gearbox_gnn.spmm "
          f"{c['extension']:.2f} us ({c['extension_with_grad']:.2f} us on an x requiring grad), "
          f"binding {c['binding']:.2f} us, C++ loop {c['cpp']:.2f} us")


if __name__ == "__main__":
    main()
