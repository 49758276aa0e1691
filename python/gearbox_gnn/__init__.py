"""gearbox_gnn: AdaptGear's adaptive GNN aggregation kernels for PyTorch.

    import gearbox_gnn
    p = gearbox_gnn.plan(edge_index, feature_width=16, num_nodes=n)
    print(p.explain())                 # the same report as `gearbox gnn plan`
    y = gearbox_gnn.spmm(p, x)         # A @ x, differentiable, torch.compile-able
    pc = p.to("cuda")                  # the same matrix planned on the GPU (builds with CUDA:
                                       # gearbox_gnn.cuda_built()); spmm(pc, x.cuda())

and drop-in layers for PyG's: ``from gearbox_gnn.nn import GCNConv, SAGEConv, GINConv``.
"""

import torch  # noqa: F401  (loads libtorch before the extension)

from ._ops import Plan, cuda_built, plan, spmm
from . import nn
from . import _C


def load_graph(spec: str):
    """(edge_index, num_nodes) of the graph `gearbox gnn --graph spec` reads: a shared graph
    by name (cora, pubmed, ...), a path (.mtx, edge list) or an sbm:/rmat: generator spec;
    undirected (both directions), without self loops."""
    if not isinstance(spec, str):
        raise TypeError(f"gearbox_gnn.load_graph(): argument 'spec' must be a str, got "
                        f"{type(spec).__name__}")
    return _C.load_graph(spec)


def empty_cache() -> int:
    """Returns the free output blocks gearbox_gnn.spmm keeps for reuse to the system (as
    torch.cuda.empty_cache does for the GPU); the bytes released. Tensors still alive are
    untouched. GEARBOX_GNN_OUTPUT_CACHE_MB (read at the first call) bounds what is kept:
    default 1024, 0 keeps nothing."""
    return _C.empty_cache()


__all__ = ["Plan", "plan", "spmm", "cuda_built", "nn", "load_graph", "empty_cache"]
__version__ = "0.1.0"
