"""gearbox_gnn.nn layers against PyG's, with the same weights (load_state_dict of the PyG
layer's): outputs and gradients equal within 1e-5 relative, on awkward graphs."""

import pytest
import torch

pyg_nn = pytest.importorskip("torch_geometric.nn")

import gearbox_gnn  # noqa: E402
from gearbox_gnn import nn as gnn  # noqa: E402
from conftest import random_edge_index  # noqa: E402

GRAPHS = {
    "one-node": (1, torch.zeros(2, 1, dtype=torch.int64)),
    "isolated-nodes": (9, torch.tensor([[0, 1, 1], [1, 0, 2]])),
    "loops-duplicates-empty-rows": (61, random_edge_index(61, 300, 11, empty_rows=7)),
    "directed-257": (257, random_edge_index(257, 2000, 12)),
}


def _compare(ours, theirs, x, *args):
    ours.load_state_dict(theirs.state_dict())
    xa = x.clone().requires_grad_()
    xb = x.clone().requires_grad_()
    ya, yb = ours(xa, *args), theirs(xb, *args)
    torch.testing.assert_close(ya, yb, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(ya)
    ya.backward(g)
    yb.backward(g)
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-5, atol=1e-5)
    theirs_grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, theirs_grads[name].grad, rtol=1e-5, atol=1e-5,
                                   msg=lambda m, name=name: f"grad of {name}: {m}")


@pytest.mark.parametrize("graph", list(GRAPHS))
@pytest.mark.parametrize("opts", [{}, {"improved": True}, {"add_self_loops": False},
                                  {"normalize": False, "add_self_loops": False},
                                  {"bias": False}], ids=str)
@pytest.mark.parametrize("weighted", [False, True])
def test_gcnconv_equals_pyg(graph, opts, weighted):
    n, ei = GRAPHS[graph]
    w = torch.rand(ei.size(1)) + 0.5 if weighted else None
    x = torch.randn(n, 12)
    args = (ei,) if w is None else (ei, w)
    _compare(gnn.GCNConv(12, 5, **opts), pyg_nn.GCNConv(12, 5, **opts), x, *args)


@pytest.mark.parametrize("graph", list(GRAPHS))
@pytest.mark.parametrize("opts", [{}, {"aggr": "sum"}, {"normalize": True},
                                  {"root_weight": False}, {"bias": False}], ids=str)
@pytest.mark.parametrize("widths", [(12, 5), (4, 9)], ids=str)
def test_sageconv_equals_pyg(graph, opts, widths):
    n, ei = GRAPHS[graph]
    x = torch.randn(n, widths[0])
    _compare(gnn.SAGEConv(*widths, **opts), pyg_nn.SAGEConv(*widths, **opts), x, ei)


@pytest.mark.parametrize("graph", list(GRAPHS))
@pytest.mark.parametrize("opts", [{}, {"eps": 0.3}, {"eps": 0.1, "train_eps": True}], ids=str)
def test_ginconv_equals_pyg(graph, opts):
    n, ei = GRAPHS[graph]
    x = torch.randn(n, 6)

    def mlp():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))

    _compare(gnn.GINConv(mlp(), **opts), pyg_nn.GINConv(mlp(), **opts), x, ei)


def test_same_parameter_names_as_pyg():
    pairs = [(gnn.GCNConv(3, 2), pyg_nn.GCNConv(3, 2)), (gnn.SAGEConv(3, 2), pyg_nn.SAGEConv(3, 2)),
             (gnn.GINConv(torch.nn.Linear(3, 2), train_eps=True),
              pyg_nn.GINConv(torch.nn.Linear(3, 2), train_eps=True))]
    for ours, theirs in pairs:
        assert set(ours.state_dict()) == set(theirs.state_dict())


def test_layers_accept_sparse_adjacency():
    n, ei = GRAPHS["directed-257"]
    x = torch.randn(n, 8)
    conv = gnn.GCNConv(8, 4)
    want = conv(x, ei)
    adj = torch.sparse_coo_tensor(torch.stack([ei[1], ei[0]]), torch.ones(ei.size(1)),
                                  (n, n)).coalesce()
    # The coalesced matrix sums duplicate edges into weights: the same normalised matrix only
    # when there are no duplicates, so compare against the weighted edge_index form.
    idx = adj.indices()
    torch.testing.assert_close(conv(x, adj.to_sparse_csr()),
                               conv(x, torch.stack([idx[1], idx[0]]), adj.values()),
                               rtol=1e-5, atol=1e-5)
    assert want.shape == (n, 4)


def test_plan_is_cached_across_layers_and_calls():
    n, ei = GRAPHS["directed-257"]
    gearbox_gnn._cache.plans.clear()
    built = []
    real = gnn.plan

    def counting(*a, **k):
        built.append(1)
        return real(*a, **k)

    gnn.plan = counting
    try:
        c1, c2 = gnn.GCNConv(8, 6), gnn.GCNConv(6, 3)
        x = torch.randn(n, 8)
        for _ in range(3):
            c2(c1(x, ei), ei)
        c1(x, ei.clone())  # equal contents, another tensor: found again
        assert len(built) == 1
        c1(x, ei[:, :-1])  # another graph: planned
        assert len(built) == 2
    finally:
        gnn.plan = real


def test_plan_cache_evicts_and_survives_failed_builds():
    # More graphs than the cache holds, with a failing plan (bad edge_index) in between.
    gearbox_gnn._cache.plans.clear()
    conv = gnn.GCNConv(4, 2)
    sage = gnn.SAGEConv(4, 2)
    for k in range(12):
        ei = random_edge_index(20, 40, 100 + k)
        x = torch.randn(20, 4)
        with pytest.raises(ValueError):
            sage(x, torch.tensor([[0], [99]]))
        torch.testing.assert_close(conv(x, ei), _pyg_gcn(conv, x, ei), rtol=1e-5, atol=1e-5)


def _pyg_gcn(conv, x, ei):
    ref = pyg_nn.GCNConv(4, 2)
    ref.load_state_dict(conv.state_dict())
    return ref(x, ei)
