"""Drop-in replacements for PyG's GCNConv, SAGEConv and GINConv on gearbox's kernels.

Same constructor arguments (those that matter for full-graph training), the same parameter
names (so ``load_state_dict`` takes a PyG layer's weights) and ``forward(x, edge_index,
...)``. Each layer derives its matrix from the graph (GCN: D^-1/2 (A + I) D^-1/2 as PyG's
gcn_norm; SAGE: mean over in-neighbours; GIN: sum), plans it once and caches the plan (shared
by every layer that uses the same graph and matrix on the same device), then aggregates with
gearbox_gnn.spmm. x must be float32, on the CPU or (in a build with CUDA) a GPU, with the
adjacency on the same device, as in PyG: ``model.to('cuda')`` and CUDA tensors run the CUDA
plan of the same plan API. After a forward pass, ``layer.last_plan`` is the plan used
(``.explain()``, ``.kernels()``, ``.device``).
"""

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ._adjacency import Coo, adjacency_device
from ._cache import plans
from ._ops import _resolve_device, plan, spmm


# _ADD_IN_PLACE: the layers add bias and root terms into the output of spmm() (or of a linear
# layer) in place. Neither op keeps its output for the backward pass, so autograd is unchanged,
# and the sums are the same float additions as out + b. What it saves is one N x F tensor per
# add: each is a fresh allocation that glibc hands back to the system between epochs and faults
# in again (measured with the default OpenMP wait policy, GCN epoch on 2 threads: page faults
# 66 -> 0, 108 -> 13, 2124 -> 81 per epoch and the epoch 1.04x, 1.07x, 1.17x faster on cora,
# citeseer, pubmed; docs/gnn-bench.md).


def _glorot(w: Tensor) -> None:
    a = math.sqrt(6.0 / (w.size(-2) + w.size(-1)))
    with torch.no_grad():
        w.uniform_(-a, a)


def _reset(module) -> None:
    # As PyG's inits.reset: every submodule that can reset itself does.
    for m in module.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()


def _plan_of(coo: Coo, weight: Optional[Tensor], width: int, device: torch.device):
    return plan(torch.stack([coo.col, coo.row]), width, num_nodes=coo.num_nodes,
                edge_weight=weight, device=device)


def _num_nodes(x: Tensor, edge_index, fn: str) -> int:
    """x's node count, after checking x (2-D float32, on a device gearbox_gnn has kernels
    for in this build) and that the adjacency is on x's device."""
    if not isinstance(x, Tensor) or x.dim() != 2:
        raise ValueError(f"{fn}: argument 'x' must be a 2-D tensor [num_nodes, F]")
    if x.dtype != torch.float32:
        raise TypeError(f"{fn}: argument 'x' must be float32, got {x.dtype}")
    dev = adjacency_device(edge_index)
    if dev != x.device:
        raise ValueError(f"{fn}: argument 'edge_index' is on {dev} but argument 'x' is on "
                         f"{x.device}")
    _resolve_device(x.device, fn, "x")
    return x.size(0)


def gcn_norm_weights(coo: Coo, improved: bool, add_self_loops: bool):
    """(row, col, weight) of D^-1/2 (A + I) D^-1/2 as PyG's gcn_norm makes it: self loops
    replaced by one per node (weight: the existing loop's, else 1, or 2 when improved and
    edge weights are given),
    degrees summed over targets."""
    n = coo.num_nodes
    row, col = coo.row, coo.col
    w = coo.weight if coo.weight is not None else torch.ones(row.numel())
    if add_self_loops:
        mask = row != col
        # PyG (2.8) fills the loops with 2 under improved only when edge weights are given.
        fill = 2.0 if improved and coo.weight is not None else 1.0
        loop_w = torch.full((n,), fill)
        if coo.weight is not None:
            inv = ~mask
            loop_w[row[inv]] = w[inv]
        loops = torch.arange(n, dtype=torch.int64)
        row = torch.cat([row[mask], loops])
        col = torch.cat([col[mask], loops])
        w = torch.cat([w[mask], loop_w])
    deg = torch.zeros(n).index_add_(0, row, w)
    dis = deg.pow(-0.5)
    dis.masked_fill_(dis == float("inf"), 0.0)
    return row, col, dis[col] * w * dis[row]


class GCNConv(torch.nn.Module):
    """PyG's GCNConv (Kipf & Welling): out = D^-1/2 (A + I) D^-1/2 (x W^T) + b."""

    def __init__(self, in_channels: int, out_channels: int, improved: bool = False,
                 cached: bool = False, add_self_loops: Optional[bool] = None,
                 normalize: bool = True, bias: bool = True, **kwargs):
        super().__init__()
        if add_self_loops is None:
            add_self_loops = normalize
        if add_self_loops and not normalize:
            raise ValueError("GCNConv: argument 'add_self_loops' is True but 'normalize' is "
                             "False (self loops are added by the normalisation)")
        for k in ("aggr", "flow", "node_dim"):
            if k in kwargs and kwargs[k] not in ("add", "source_to_target", -2, 0):
                raise NotImplementedError(f"GCNConv: argument '{k}'={kwargs[k]!r} is not "
                                          f"supported by gearbox_gnn")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.improved, self.cached = improved, cached  # the plan is always cached
        self.add_self_loops, self.normalize = add_self_loops, normalize
        self.lin = torch.nn.Linear(in_channels, out_channels, bias=False)
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _glorot(self.lin.weight)
        if self.bias is not None:
            torch.nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, edge_index, edge_weight: Optional[Tensor] = None) -> Tensor:
        fn = "GCNConv.forward()"
        n = _num_nodes(x, edge_index, fn)
        dev = x.device
        if edge_weight is not None and edge_weight.requires_grad:
            raise ValueError(f"{fn}: argument 'edge_weight' requires grad; gearbox_gnn does not "
                             f"differentiate through edge weights")
        x = self.lin(x)

        def build(coo: Coo):
            if not self.normalize:
                return _plan_of(coo, coo.weight, self.out_channels, dev)
            row, col, w = gcn_norm_weights(coo, self.improved, self.add_self_loops)
            return _plan_of(Coo(row, col, None, coo.num_nodes), w, self.out_channels, dev)

        kind = ("gcn", self.normalize, self.improved, self.add_self_loops, str(dev))
        p, _ = plans.get(kind, edge_index, n, edge_weight, build, fn)
        self.last_plan = p
        out = spmm(p, x)
        if self.bias is not None:
            out.add_(self.bias)  # in place: see _ADD_IN_PLACE
        return out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels})"


class SAGEConv(torch.nn.Module):
    """PyG's SAGEConv: out = lin_l(mean_{j -> i} x_j) + lin_r(x_i) (aggr 'mean' or 'sum')."""

    def __init__(self, in_channels: int, out_channels: int, aggr: str = "mean",
                 normalize: bool = False, root_weight: bool = True, project: bool = False,
                 bias: bool = True, **kwargs):
        super().__init__()
        if not isinstance(in_channels, int):
            raise NotImplementedError("SAGEConv: argument 'in_channels' must be an int "
                                      "(bipartite graphs are not supported by gearbox_gnn)")
        if aggr not in ("mean", "sum", "add"):
            raise NotImplementedError(f"SAGEConv: argument 'aggr'={aggr!r} is not supported "
                                      f"by gearbox_gnn (mean or sum)")
        if project:
            raise NotImplementedError("SAGEConv: argument 'project'=True is not supported by "
                                      "gearbox_gnn")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.aggr = "sum" if aggr == "add" else aggr
        self.normalize, self.root_weight = normalize, root_weight
        self.lin_l = torch.nn.Linear(in_channels, out_channels, bias=bias)
        if root_weight:
            self.lin_r = torch.nn.Linear(in_channels, out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # As PyG's Linear without a weight initializer (torch.nn.Linear's own scheme).
        torch.nn.init.kaiming_uniform_(self.lin_l.weight, a=math.sqrt(5))
        if self.lin_l.bias is not None:
            bound = 1.0 / math.sqrt(self.in_channels) if self.in_channels > 0 else 0
            torch.nn.init.uniform_(self.lin_l.bias, -bound, bound)
        if self.root_weight:
            torch.nn.init.kaiming_uniform_(self.lin_r.weight, a=math.sqrt(5))

    def forward(self, x: Tensor, edge_index) -> Tensor:
        fn = "SAGEConv.forward()"
        n = _num_nodes(x, edge_index, fn)
        dev = x.device

        def build(coo: Coo):  # edge values are ignored, as in PyG's SAGEConv
            w = torch.ones(coo.row.numel())
            if self.aggr == "mean":
                deg = torch.zeros(coo.num_nodes).index_add_(0, coo.row, torch.ones_like(w))
                w = w / deg.clamp(min=1)[coo.row]
            return _plan_of(coo, w, min(self.in_channels, self.out_channels), dev)

        p, _ = plans.get(("sage", self.aggr, str(dev)), edge_index, n, None, build, fn)
        self.last_plan = p
        # lin_l commutes with the aggregation: aggregate at the narrower width.
        if self.out_channels < self.in_channels:
            out = spmm(p, F.linear(x, self.lin_l.weight))
            if self.lin_l.bias is not None:
                out.add_(self.lin_l.bias)  # in place: see _ADD_IN_PLACE
        else:
            out = self.lin_l(spmm(p, x))
        if self.root_weight:
            out.add_(self.lin_r(x))
        if self.normalize:
            out = F.normalize(out, p=2.0, dim=-1)
        return out

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"aggr={self.aggr})")


class GINConv(torch.nn.Module):
    """PyG's GINConv: out = nn((1 + eps) x_i + sum_{j -> i} x_j)."""

    def __init__(self, nn: torch.nn.Module, eps: float = 0.0, train_eps: bool = False,
                 **kwargs):
        super().__init__()
        self.nn = nn
        self.initial_eps = eps
        if train_eps:
            self.eps = torch.nn.Parameter(torch.empty(1))
        else:
            self.register_buffer("eps", torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset(self.nn)
        self.eps.data.fill_(self.initial_eps)

    def forward(self, x: Tensor, edge_index) -> Tensor:
        fn = "GINConv.forward()"
        n = _num_nodes(x, edge_index, fn)
        dev = x.device

        def build(coo: Coo):  # edge values are ignored, as in PyG's GINConv
            return _plan_of(coo, None, x.size(1), dev)

        p, _ = plans.get(("gin", str(dev)), edge_index, n, None, build, fn)
        self.last_plan = p
        out = spmm(p, x)
        out.add_((1 + self.eps) * x)  # in place: see _ADD_IN_PLACE
        return self.nn(out)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(nn={self.nn})"


__all__ = ["GCNConv", "SAGEConv", "GINConv", "gcn_norm_weights"]
