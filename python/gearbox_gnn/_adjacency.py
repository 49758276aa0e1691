"""Turns the adjacencies PyG users hold into one form: COO of A with out = A @ x.

Accepted: ``edge_index`` (a [2, E] integer tensor, source row 0, target row 1, as PyG's
MessagePassing reads it; ``EdgeIndex`` too), a ``torch.sparse_csr``/``sparse_coo`` tensor (A
itself) and torch_sparse's ``SparseTensor`` (PyG's ``adj_t``: A itself), on the CPU or a GPU
(plans are built on the host: a GPU adjacency is copied to the CPU once per plan). Returned as
(row = target, col = source, weight or None, num_nodes) with int64 CPU indices checked against
num_nodes; errors name the caller's argument.
"""

from typing import NamedTuple, Optional

import torch


class Coo(NamedTuple):
    row: torch.Tensor  # target node of each entry (the row of A)
    col: torch.Tensor  # source node (the column of A)
    weight: Optional[torch.Tensor]  # entry values, None = all ones
    num_nodes: int


def _is_sparse_tensor(adj) -> bool:
    # torch_sparse.SparseTensor, without importing torch_sparse (it is optional).
    return type(adj).__name__ == "SparseTensor" and hasattr(adj, "coo") and hasattr(
        adj, "sparse_sizes")


def adjacency_device(adj) -> torch.device:
    """The device `adj` lives on (the CPU for anything that is not a tensor)."""
    if _is_sparse_tensor(adj):
        return torch.device(adj.device())
    if isinstance(adj, torch.Tensor):
        return adj.device
    return torch.device("cpu")


def _square(n_rows: int, n_cols: int, arg: str, fn: str) -> int:
    if n_rows != n_cols:
        raise ValueError(f"{fn}: argument '{arg}' must be a square adjacency, got "
                         f"{n_rows} x {n_cols}")
    return int(n_rows)


def to_coo(adj, num_nodes: Optional[int] = None, edge_weight: Optional[torch.Tensor] = None,
           arg: str = "adj", fn: str = "gearbox_gnn.plan()") -> Coo:
    """The COO of `adj` (see the module's doc); `num_nodes` is needed for edge_index unless
    it can be read from the adjacency (EdgeIndex's sparse size, else max id + 1)."""
    if num_nodes is not None and (not isinstance(num_nodes, int) or isinstance(num_nodes, bool)
                                  or num_nodes < 0):
        raise ValueError(f"{fn}: argument 'num_nodes' must be a non-negative int, got "
                         f"{num_nodes!r}")
    weight = None
    device = adjacency_device(adj)
    if (edge_weight is not None and isinstance(edge_weight, torch.Tensor)
            and edge_weight.device != device):
        raise ValueError(f"{fn}: argument 'edge_weight' is on {edge_weight.device} but "
                         f"'{arg}' is on {device}")
    if _is_sparse_tensor(adj):
        row, col, weight = adj.coo()
        row, col = row.cpu(), col.cpu()
        weight = None if weight is None else weight.cpu()
        n = _square(*adj.sparse_sizes(), arg, fn)
    elif isinstance(adj, torch.Tensor) and adj.layout in (torch.sparse_csr, torch.sparse_coo):
        adj = adj.cpu()
        if adj.dim() != 2:
            raise ValueError(f"{fn}: argument '{arg}' must be a 2-D sparse matrix, got "
                             f"{adj.dim()}-D")
        n = _square(adj.size(0), adj.size(1), arg, fn)
        if adj.layout == torch.sparse_csr:
            crow = adj.crow_indices().to(torch.int64)
            row = torch.repeat_interleave(torch.arange(n, dtype=torch.int64), crow.diff())
            col = adj.col_indices()
        else:
            a = adj.coalesce()
            row, col = a.indices()[0], a.indices()[1]
            adj = a
        weight = adj.values()
    elif isinstance(adj, torch.Tensor):
        if adj.dim() != 2 or adj.size(0) != 2:
            raise ValueError(f"{fn}: argument '{arg}' must be edge_index of shape [2, E], a "
                             f"torch.sparse_csr tensor or a SparseTensor; got a tensor of "
                             f"shape {list(adj.shape)}")
        if adj.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"{fn}: argument '{arg}' (edge_index) must be int64 or int32, got "
                            f"{adj.dtype}")
        if num_nodes is None and type(adj).__name__ == "EdgeIndex":
            sizes = adj.sparse_size()
            if sizes[0] is not None and sizes[1] is not None:
                num_nodes = _square(sizes[0], sizes[1], arg, fn)
        ei = (adj.as_tensor() if hasattr(adj, "as_tensor") else adj).cpu()
        col, row = ei[0], ei[1]
        if num_nodes is None:
            num_nodes = int(ei.max()) + 1 if ei.numel() > 0 else 0
        n = num_nodes
    else:
        raise TypeError(f"{fn}: argument '{arg}' must be edge_index (a [2, E] integer tensor), "
                        f"a torch.sparse_csr tensor or a SparseTensor, got {type(adj).__name__}")
    if num_nodes is not None and num_nodes != n:
        raise ValueError(f"{fn}: argument 'num_nodes' is {num_nodes} but '{arg}' is {n} x {n}")
    row = row.to(torch.int64).contiguous()
    col = col.to(torch.int64).contiguous()
    if row.numel() > 0:
        lo = int(torch.minimum(row.min(), col.min()))
        hi = int(torch.maximum(row.max(), col.max()))
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{fn}: argument '{arg}' has node id {bad} out of range for "
                             f"num_nodes={n}")
    if edge_weight is not None:
        if weight is not None:
            raise ValueError(f"{fn}: argument 'edge_weight' given with a weighted sparse "
                             f"adjacency; pass one or the other")
        if not isinstance(edge_weight, torch.Tensor) or not edge_weight.is_floating_point():
            raise TypeError(f"{fn}: argument 'edge_weight' must be a floating-point tensor")
        if edge_weight.shape != (row.numel(),):
            raise ValueError(f"{fn}: argument 'edge_weight' must have shape [{row.numel()}], "
                             f"got {list(edge_weight.shape)}")
        weight = edge_weight.cpu()
    if weight is not None:
        if not weight.is_floating_point():
            weight = weight.to(torch.float32)
        weight = weight.detach().to(torch.float32).contiguous()
    return Coo(row, col, weight, int(n))
