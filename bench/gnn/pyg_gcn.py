"""PyG baseline for `gearbox gnn bench`: GCNConv on torch CPU, same graph, width and threads.

Reads the graph as raw little-endian int32 (row, col) pairs (both directions, no self loops,
the given node order) and prints one JSON object: aggregation_ms (one propagate with the GCN
normalisation, self loops included: the same A_hat x as gearbox), epoch_ms (2-layer GCN
F -> F -> 16, ReLU, dropout 0.5, cross-entropy on all nodes, Adam step), medians.
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch
import torch_geometric
from torch_geometric.nn import GCNConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm


def median_ms(fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edges", required=True)
    ap.add_argument("--nodes", type=int, required=True)
    ap.add_argument("--dim", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--classes", type=int, default=16)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    pairs = np.fromfile(a.edges, dtype=np.int32).reshape(-1, 2)
    edge_index = torch.from_numpy(pairs.T.astype(np.int64)).contiguous()
    n, f = a.nodes, a.dim
    x = torch.randn(n, f)
    ei, w = gcn_norm(edge_index, None, n, add_self_loops=True)
    conv = GCNConv(f, f, cached=True)
    with torch.no_grad():
        agg_ms = median_ms(lambda: conv.propagate(ei, x=x, edge_weight=w), a.reps)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = GCNConv(f, f, cached=True)
            self.c2 = GCNConv(f, a.classes, cached=True)

        def forward(self, x, ei):
            h = torch.nn.functional.dropout(x, 0.5, self.training)
            h = torch.relu(self.c1(h, ei))
            h = torch.nn.functional.dropout(h, 0.5, self.training)
            return self.c2(h, ei)

    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    y = torch.randint(0, a.classes, (n,))

    def epoch():
        model.train()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x, edge_index), y)
        loss.backward()
        opt.step()

    epoch_ms = median_ms(epoch, a.reps)
    json.dump({"aggregation_ms": agg_ms, "epoch_ms": epoch_ms, "torch": torch.__version__,
               "torch_geometric": torch_geometric.__version__,
               "threads": torch.get_num_threads()}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
