"""A/B of gearbox_gnn.nn.GCNConv's bias add: in place into the aggregation's output (the layer
as shipped) against a fresh tensor (`out + bias`, the layer before), in one process, alternating
the two in rounds; per GCN epoch (the 2-layer model of torch_bench.py, F = 128): median time,
minor page faults (getrusage) and the paired ratio.

  python bench/gnn/layer_add_ab.py cora [--rounds 9] [--epochs 30] [--threads 2]
"""
import argparse
import os
import resource
import statistics
import sys
import time

import torch

import gearbox_gnn
from gearbox_gnn import nn as gnn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bench import GCN, epoch  # noqa: E402

_SHIPPED = gnn.GCNConv.forward


def _out_of_place(self, x, edge_index, edge_weight=None):
    """The layer with its bias added as a new tensor (as before the in-place add)."""
    bias, self.bias = self.bias, None
    try:
        out = _SHIPPED(self, x, edge_index, edge_weight)
    finally:
        self.bias = bias
    return out + bias if bias is not None else out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("graph")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    edge_index, n = gearbox_gnn.load_graph(a.graph)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 128, generator=gen)
    y = torch.randint(0, 16, (n,), generator=gen)
    variants = {"in_place": _SHIPPED, "out_of_place": _out_of_place}
    models, ms, faults = {}, {k: [] for k in variants}, {k: [] for k in variants}
    for k in variants:
        torch.manual_seed(0)
        m = GCN(gnn.GCNConv, 128, 16)
        models[k] = (m, torch.optim.Adam(m.parameters(), lr=0.01))

    def run(k, epochs):
        gnn.GCNConv.forward = variants[k]
        m, opt = models[k]
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        for _ in range(epochs):
            epoch(m, opt, x, edge_index, y)
        ms[k].append((time.perf_counter() - t0) / epochs * 1e3)
        faults[k].append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / epochs)

    for k in variants:  # warm-up: plans, allocator
        run(k, 10)
        ms[k].clear()
        faults[k].clear()
    for r in range(a.rounds):
        for k in (("in_place", "out_of_place") if r % 2 else ("out_of_place", "in_place")):
            run(k, a.epochs)
    gnn.GCNConv.forward = _SHIPPED
    for k in variants:
        print(f"{a.graph} {k:13s} epoch {statistics.median(ms[k]):.3f} ms, "
              f"{statistics.median(faults[k]):.0f} minor page faults per epoch")
    ratio = statistics.median(o / i for o, i in zip(ms["out_of_place"], ms["in_place"]))
    print(f"{a.graph} out_of_place / in_place (paired median): {ratio:.3f}")


if __name__ == "__main__":
    main()
