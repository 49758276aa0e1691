"""gearbox_gnn.plan / spmm: A @ x against a dense reference, gradients (gradcheck and A^T),
the torch.library registration (opcheck, torch.compile), and every adjacency form."""

import pytest
import torch

import gearbox_gnn
from conftest import dense_adjacency, random_edge_index

# (name, n, edges, kwargs of random_edge_index): awkward sizes and shapes.
GRAPHS = [
    ("one-node-no-edge", 1, 0, {}),
    ("one-node-self-loop", 1, 1, {}),
    ("empty-graph", 7, 0, {}),
    ("empty-rows-duplicates-loops", 37, 90, {"empty_rows": 9}),
    ("directed-131", 131, 700, {}),
    ("no-loops-300", 300, 2500, {"self_loops": False}),
]


def _graph(name, n, e, kw, seed=0):
    ei = random_edge_index(n, e, seed, **kw) if e else torch.empty(2, 0, dtype=torch.int64)
    if name == "one-node-self-loop":
        ei = torch.zeros(2, 1, dtype=torch.int64)
    return ei


@pytest.mark.parametrize("reorder", ["lp", "none"])
@pytest.mark.parametrize("name,n,e,kw", GRAPHS, ids=[g[0] for g in GRAPHS])
@pytest.mark.parametrize("width", [1, 5, 16])
def test_spmm_equals_dense(name, n, e, kw, width, reorder):
    ei = _graph(name, n, e, kw)
    w = torch.rand(ei.size(1), generator=torch.Generator().manual_seed(3)) + 0.5
    p = gearbox_gnn.plan(ei, width, num_nodes=n, edge_weight=w, reorder=reorder, block=8)
    a = dense_adjacency(ei, n, w)
    x = torch.randn(n, width)
    torch.testing.assert_close(gearbox_gnn.spmm(p, x).double(), a @ x.double(), rtol=1e-5,
                               atol=1e-5)
    torch.testing.assert_close(gearbox_gnn.spmm(p, x, transpose=True).double(),
                               a.T @ x.double(), rtol=1e-5, atol=1e-5)
    assert p.num_nodes == n
    assert p.symmetric == bool(torch.equal(a, a.T))


@pytest.mark.parametrize("name,n,e,kw", GRAPHS, ids=[g[0] for g in GRAPHS])
def test_gradcheck(name, n, e, kw):
    ei = _graph(name, n, e, kw, seed=1)
    p = gearbox_gnn.plan(ei, 3, num_nodes=n, block=8)
    x = torch.randn(n, 3, requires_grad=True)
    # float32 kernels: finite differences of a linear map with a large step are exact up to
    # float rounding, hence the tolerances.
    assert torch.autograd.gradcheck(lambda t: gearbox_gnn.spmm(p, t), (x,), eps=1e-2,
                                    atol=1e-3, rtol=1e-3)
    # And the backward is A^T g exactly (through the transposed plan).
    g = torch.randn(n, 3)
    gearbox_gnn.spmm(p, x).backward(g)
    a = dense_adjacency(ei, n)
    torch.testing.assert_close(x.grad.double(), a.T @ g.double(), rtol=1e-5, atol=1e-5)


def test_double_backward():
    ei = random_edge_index(40, 150, 2)
    p = gearbox_gnn.plan(ei, 4, num_nodes=40, block=8)
    x = torch.randn(40, 4, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: gearbox_gnn.spmm(p, t) ** 2, (x,), eps=1e-2,
                                        atol=2e-2, rtol=2e-2)


def test_opcheck_registration():
    ei = random_edge_index(50, 300, 4)
    p = gearbox_gnn.plan(ei, 8, num_nodes=50, block=8)
    x = torch.randn(50, 8, requires_grad=True)
    torch.library.opcheck(torch.ops.gearbox_gnn.spmm.default, (x, p._id, False))


def test_torch_compile_fullgraph():
    ei = random_edge_index(64, 400, 5)
    p = gearbox_gnn.plan(ei, 8, num_nodes=64, block=16)
    lin = torch.nn.Linear(8, 8)

    def f(x):
        return torch.relu(gearbox_gnn.spmm(p, lin(x))).sum(dim=1)

    x = torch.randn(64, 8, requires_grad=True)
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    y = compiled(x)
    torch.testing.assert_close(y, f(x))
    (gx,) = torch.autograd.grad(y.sum(), x)
    x2 = x.detach().clone().requires_grad_()
    f(x2).sum().backward()
    torch.testing.assert_close(gx, x2.grad)


def test_adjacency_forms_agree():
    n = 45
    ei = random_edge_index(n, 260, 6)
    w = torch.rand(ei.size(1)) + 0.1
    a = dense_adjacency(ei, n, w).float()
    x = torch.randn(n, 6)
    want = a.double() @ x.double()
    forms = {
        "edge_index": gearbox_gnn.plan(ei, 6, num_nodes=n, edge_weight=w),
        "sparse_csr": gearbox_gnn.plan(a.to_sparse_csr(), 6),
        "sparse_coo": gearbox_gnn.plan(a.to_sparse(), 6),
    }
    try:
        from torch_geometric import EdgeIndex
        forms["EdgeIndex"] = gearbox_gnn.plan(EdgeIndex(ei, sparse_size=(n, n)), 6,
                                              edge_weight=w)
    except ImportError:
        pass
    try:
        from torch_sparse import SparseTensor
        forms["SparseTensor"] = gearbox_gnn.plan(
            SparseTensor(row=ei[1], col=ei[0], value=w, sparse_sizes=(n, n)), 6)
    except ImportError:
        pass
    for name, p in forms.items():
        torch.testing.assert_close(gearbox_gnn.spmm(p, x).double(), want, rtol=1e-5, atol=1e-5,
                                   msg=lambda m, name=name: f"{name}: {m}")


def test_num_nodes_inferred_from_max_id():
    ei = torch.tensor([[0, 1, 4], [1, 2, 0]])
    assert gearbox_gnn.plan(ei, 2).num_nodes == 5


def test_plan_kernels_and_repr():
    ei = random_edge_index(200, 1500, 7)
    p = gearbox_gnn.plan(ei, 16, num_nodes=200)
    assert "16" in p.kernels()
    assert "num_nodes=200" in repr(p)
