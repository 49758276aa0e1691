"""Plans and the aggregation op.

``plan(adj, feature_width)`` builds AdaptGear's plan for A (reordering, density split, kernels
measured and chosen for the width); ``spmm(plan, x)`` is A @ x, the operator
``torch.ops.gearbox_gnn.spmm`` (registered in C++ with CPU and autograd kernels: the gradient
of x is A^T @ grad, run through the transposed plan, the same plan when A is symmetric) with
a fake implementation registered here (so ``torch.compile`` traces it). Plans are found by the
op through an integer id, so the op's arguments stay tensors and plain values.

Outputs come from a pool of blocks that the tensors of earlier outputs held and freed (never
one a live tensor holds), so their pages are not faulted in again on every call;
GEARBOX_GNN_OUTPUT_CACHE_MB bounds the free memory it keeps (default 1024, 0: off) and
``gearbox_gnn.empty_cache()`` returns it to the system.
"""

import json
from typing import Optional

import torch

from . import _C
from ._adjacency import to_coo

_REORDERS = ("lp", "metis", "degree", "none")


class Plan:
    """AdaptGear's plan for one square adjacency A (n x n): see ``plan()``."""

    def __init__(self, c_plan: "_C.Plan"):
        self._c = c_plan
        self._n = int(c_plan.num_nodes)  # plain attributes: torch.compile reads them
        self._id = int(c_plan.id)  # the op's handle (held weakly by the op's registry)

    @property
    def num_nodes(self) -> int:
        return self._c.num_nodes

    @property
    def nnz(self) -> int:
        """Entries of A (duplicates summed)."""
        return self._c.nnz

    @property
    def feature_width(self) -> int:
        """The width planned at construction (other widths are planned on first use)."""
        return self._c.feature_width

    @property
    def symmetric(self) -> bool:
        """Whether A == A^T (the backward pass then reuses this plan)."""
        return self._c.symmetric

    def explain(self, width: Optional[int] = None) -> str:
        """The text ``gearbox gnn plan`` prints: decomposition, candidates, choice and why."""
        return self._c.explain(_width(width, self))

    def explain_json(self, width: Optional[int] = None) -> dict:
        """The document ``gearbox gnn plan --json`` prints."""
        return json.loads(self._c.explain_json(_width(width, self)))

    def kernels(self) -> dict:
        """The chosen kernels per planned width."""
        return json.loads(self._c.kernels())

    def __repr__(self) -> str:
        return (f"gearbox_gnn.Plan(num_nodes={self.num_nodes}, nnz={self.nnz}, "
                f"feature_width={self.feature_width}, kernels={self.kernels()})")


def _width(width, p: Plan) -> int:
    if width is None:
        return 0
    if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= 65536:
        raise ValueError(f"Plan.explain(): argument 'width' must be an int in [1, 65536], got "
                         f"{width!r}")
    return width


def plan(adj, feature_width: int, *, num_nodes: Optional[int] = None,
         edge_weight: Optional[torch.Tensor] = None, reorder: str = "lp", block: int = 64,
         seed: int = 0, use_cache: bool = True, name: str = "adj") -> Plan:
    """Plans out = A @ x for x of width `feature_width`.

    adj: PyG's edge_index ([2, E]; with `num_nodes`, else max id + 1; `edge_weight` optional),
    EdgeIndex, a torch.sparse_csr/sparse_coo tensor or a SparseTensor (PyG's adj_t), on the
    CPU. Duplicate entries are summed. reorder: lp (label propagation), metis, degree or none;
    block: the largest diagonal block in nodes; use_cache: reuse the choice measured earlier
    for this matrix (kept in ~/.cache/gearbox/gnn-plans). Kernels run with
    torch.get_num_threads() threads.
    """
    fn = "gearbox_gnn.plan()"
    if not isinstance(feature_width, int) or isinstance(feature_width, bool) or not (
            1 <= feature_width <= 65536):
        raise ValueError(f"{fn}: argument 'feature_width' must be an int in [1, 65536], got "
                         f"{feature_width!r}")
    if reorder not in _REORDERS:
        raise ValueError(f"{fn}: argument 'reorder' must be one of {', '.join(_REORDERS)}, got "
                         f"{reorder!r}")
    if not isinstance(block, int) or not 8 <= block <= 4096:
        raise ValueError(f"{fn}: argument 'block' must be an int in [8, 4096], got {block!r}")
    coo = to_coo(adj, num_nodes, edge_weight, "adj", fn)
    w = coo.weight if coo.weight is not None else torch.ones(coo.row.numel())
    return Plan(_C.Plan(coo.row, coo.col, w, coo.num_nodes, feature_width, reorder, block, seed,
                        torch.get_num_threads(), use_cache, name))


@torch.library.register_fake("gearbox_gnn::spmm")
def _spmm_fake(x, plan_id, transpose):
    return x.new_empty(x.shape)  # A is square: out has x's shape


def _check_spmm_args(plan, x) -> None:
    """Raises the TypeError / ValueError naming spmm()'s argument that does not fit."""
    fn = "gearbox_gnn.spmm()"
    if not isinstance(plan, Plan):
        raise TypeError(f"{fn}: argument 'plan' must be a gearbox_gnn.Plan (from "
                        f"gearbox_gnn.plan()), got {type(plan).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{fn}: argument 'x' must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype != torch.float32:
        raise TypeError(f"{fn}: argument 'x' must be float32, got {x.dtype}")
    if x.device.type != "cpu":
        raise ValueError(f"{fn}: argument 'x' must be on the CPU (this gearbox_gnn runs its CPU "
                         f"kernels), got {x.device}")
    if x.dim() != 2 or x.size(0) != plan._n or x.size(1) < 1:
        raise ValueError(f"{fn}: argument 'x' must have shape [num_nodes={plan._n}, F] "
                         f"with F >= 1, got {list(x.shape)}")


def spmm(plan: Plan, x: torch.Tensor, *, transpose: bool = False) -> torch.Tensor:
    """out = A @ x (transpose: A^T @ x) for x: [num_nodes, F] float32 on the CPU.

    Differentiable in x (the gradient runs through the transposed plan); a torch.library op,
    so it works under torch.compile.
    """
    if (type(plan) is Plan and type(x) is torch.Tensor and x.is_cpu
            and not torch.compiler.is_compiling()):
        # The fast path: the same operator through the dispatcher (autograd included) minus
        # the Python operator lookup; the C++ kernel checks dtype and shape, and a failure is
        # raised again with the message naming the argument.
        try:
            return _C.spmm(x, plan._id, bool(transpose))
        except (TypeError, ValueError):
            _check_spmm_args(plan, x)
            raise
    _check_spmm_args(plan, x)
    return torch.ops.gearbox_gnn.spmm(x, plan._id, bool(transpose))
