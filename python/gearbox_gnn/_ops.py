"""Plans and the aggregation op.

``plan(adj, feature_width)`` builds AdaptGear's plan for A on a device (reordering, density
split, kernels measured and chosen for the width on that device: the gnn library's one plan
API, CPU or CUDA); ``spmm(plan, x)`` is A @ x, the operator ``torch.ops.gearbox_gnn.spmm``
(registered in C++ with CPU, CUDA (builds with CUDA) and autograd kernels: the gradient
of x is A^T @ grad, run through the transposed plan, the same plan when A is symmetric) with
a fake implementation registered here (so ``torch.compile`` traces it). Plans are found by the
op through an integer id, so the op's arguments stay tensors and plain values.

CPU outputs come from a pool of blocks that the tensors of earlier outputs held and freed (never
one a live tensor holds), so their pages are not faulted in again on every call;
GEARBOX_GNN_OUTPUT_CACHE_MB bounds the free memory it keeps (default 1024, 0: off) and
``gearbox_gnn.empty_cache()`` returns it to the system. CUDA outputs come from torch's caching
allocator on the current stream.
"""

import json
from typing import Optional

import torch

from . import _C
from ._adjacency import Coo, adjacency_device, to_coo

_REORDERS = ("lp", "metis", "degree", "none")


def cuda_built() -> bool:
    """Whether this gearbox_gnn was built with the gnn CUDA kernels (nvcc and a CUDA build of
    torch were present at install time); plans on 'cuda' need it and a visible GPU."""
    return bool(_C.cuda_built())


def _resolve_device(device, fn: str, arg: str = "device") -> torch.device:
    """torch.device('cpu') or torch.device('cuda', index) for `device`, or the exception
    naming argument `arg`: ValueError for a device gearbox_gnn has no kernels for,
    RuntimeError for CUDA in a build without it or on a machine without a GPU."""
    try:
        dev = torch.device(device)
    except (TypeError, RuntimeError, ValueError):
        raise ValueError(f"{fn}: argument '{arg}' must be 'cpu', 'cuda' or 'cuda:N', got "
                         f"{device!r}") from None
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type != "cuda":
        raise ValueError(f"{fn}: argument '{arg}' must be on cpu or cuda (gearbox_gnn has CPU "
                         f"and CUDA kernels), got {dev}")
    if not cuda_built():
        raise RuntimeError(f"{fn}: argument '{arg}' is on {dev} but this gearbox_gnn was built "
                           f"without CUDA; reinstall it where nvcc and a CUDA build of torch "
                           f"are installed (python/README.md)")
    if not torch.cuda.is_available():
        raise RuntimeError(f"{fn}: argument '{arg}' is on {dev} but no CUDA device is visible "
                           f"(torch.cuda.is_available() is False)")
    return torch.device("cuda", dev.index if dev.index is not None else
                        torch.cuda.current_device())


class Plan:
    """AdaptGear's plan for one square adjacency A (n x n) on one device: see ``plan()``."""

    def __init__(self, c_plan: "_C.Plan", coo: Optional[Coo] = None,
                 options: Optional[dict] = None):
        self._c = c_plan
        self._n = int(c_plan.num_nodes)  # plain attributes: torch.compile reads them
        self._id = int(c_plan.id)  # the op's handle (held weakly by the op's registry)
        self._device = torch.device(c_plan.device)
        self._cpu = self._device.type == "cpu"
        self._coo = coo  # A as planned (CPU tensors), to plan it again for another device
        self._options = options or {}

    @property
    def device(self) -> torch.device:
        """Where the plan's kernels run: x given to spmm() must be on this device."""
        return self._device

    def to(self, device) -> "Plan":
        """The same matrix planned for `device` ('cpu', 'cuda', 'cuda:N'; this plan when it is
        already there). Planning selects kernels on that device (measured)."""
        dev = _resolve_device(device, "Plan.to()")
        if dev == self._device:
            return self
        if self._coo is None:
            raise RuntimeError("Plan.to(): this plan does not keep its matrix (made from "
                               "_C.Plan directly); plan it again with gearbox_gnn.plan()")
        return _make_plan(self._coo, self.feature_width, dev, self._options)

    def cpu(self) -> "Plan":
        return self.to("cpu")

    def cuda(self, device=None) -> "Plan":
        return self.to("cuda" if device is None else
                       device if isinstance(device, (str, torch.device)) else f"cuda:{device}")

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
                f"feature_width={self.feature_width}, device={self.device}, "
                f"kernels={self.kernels()})")


def _width(width, p: Plan) -> int:
    if width is None:
        return 0
    if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= 65536:
        raise ValueError(f"Plan.explain(): argument 'width' must be an int in [1, 65536], got "
                         f"{width!r}")
    return width


def plan(adj, feature_width: int, *, num_nodes: Optional[int] = None,
         edge_weight: Optional[torch.Tensor] = None, reorder: str = "lp", block: int = 64,
         seed: int = 0, use_cache: bool = True, name: str = "adj", device=None) -> Plan:
    """Plans out = A @ x for x of width `feature_width`.

    adj: PyG's edge_index ([2, E]; with `num_nodes`, else max id + 1; `edge_weight` optional),
    EdgeIndex, a torch.sparse_csr/sparse_coo tensor or a SparseTensor (PyG's adj_t). Duplicate
    entries are summed. device: where spmm() will run ('cpu', 'cuda', 'cuda:N'); default: the
    adjacency's device, as PyG's layers run where edge_index is (a CUDA adjacency gives a
    CUDA plan, which needs a build with CUDA: see cuda_built()). The plan itself is built on
    the host. reorder: lp (label propagation), metis, degree or none; block: the largest
    diagonal block in nodes; use_cache: reuse the choice measured earlier for this matrix
    (CPU plans; kept in ~/.cache/gearbox/gnn-plans). CPU kernels run with
    torch.get_num_threads() threads; CUDA kernels on torch's current stream.
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
    dev = (_resolve_device(adjacency_device(adj), fn, "adj") if device is None else
           _resolve_device(device, fn))
    coo = to_coo(adj, num_nodes, edge_weight, "adj", fn)
    options = {"reorder": reorder, "block": block, "seed": seed, "use_cache": use_cache,
               "name": name}
    return _make_plan(coo, feature_width, dev, options)


def _make_plan(coo: Coo, feature_width: int, device: torch.device, options: dict) -> Plan:
    w = coo.weight if coo.weight is not None else torch.ones(coo.row.numel())
    c = _C.Plan(coo.row, coo.col, w, coo.num_nodes, feature_width, options["reorder"],
                options["block"], options["seed"], torch.get_num_threads(),
                options["use_cache"], options["name"], str(device))
    return Plan(c, coo, options)


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
    if x.device != plan._device:
        raise ValueError(f"{fn}: argument 'x' is on {x.device} but argument 'plan' was built "
                         f"for {plan._device} (plan.to(x.device) plans the same matrix there)")
    if x.dtype != torch.float32:
        raise TypeError(f"{fn}: argument 'x' must be float32, got {x.dtype}")
    if x.dim() != 2 or x.size(0) != plan._n or x.size(1) < 1:
        raise ValueError(f"{fn}: argument 'x' must have shape [num_nodes={plan._n}, F] "
                         f"with F >= 1, got {list(x.shape)}")


def spmm(plan: Plan, x: torch.Tensor, *, transpose: bool = False) -> torch.Tensor:
    """out = A @ x (transpose: A^T @ x) for x: [num_nodes, F] float32 on the plan's device
    (plan.device; on CUDA the kernels run on torch's current stream, out stays on the GPU).

    Differentiable in x (the gradient runs through the transposed plan); a torch.library op
    (CPU and CUDA dispatch keys), so it works under torch.compile.
    """
    if (type(plan) is Plan and type(x) is torch.Tensor
            and (x.is_cpu if plan._cpu else x.device == plan._device)
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
