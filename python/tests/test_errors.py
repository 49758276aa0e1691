"""Bad inputs raise a Python exception naming the argument, never a crash."""

import pytest
import torch

import gearbox_gnn
from gearbox_gnn import _C
from gearbox_gnn.nn import GCNConv, GINConv, SAGEConv

EI = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])


@pytest.fixture(scope="module")
def plan4():
    return gearbox_gnn.plan(EI, 4, num_nodes=4)


def test_x_wrong_dtype(plan4):
    with pytest.raises(TypeError, match=r"argument 'x' must be float32, got torch.float64"):
        gearbox_gnn.spmm(plan4, torch.randn(4, 4, dtype=torch.float64))


def test_x_wrong_device(plan4):
    with pytest.raises(ValueError, match=r"argument 'x' is on meta but argument 'plan' was "
                                         r"built for cpu"):
        gearbox_gnn.spmm(plan4, torch.randn(4, 4, device="meta"))


def test_x_wrong_shape(plan4):
    with pytest.raises(ValueError, match=r"argument 'x' must have shape \[num_nodes=4, F\]"):
        gearbox_gnn.spmm(plan4, torch.randn(5, 4))
    with pytest.raises(ValueError, match=r"argument 'x'"):
        gearbox_gnn.spmm(plan4, torch.randn(4))


def test_plan_not_a_plan():
    with pytest.raises(TypeError, match=r"argument 'plan' must be a gearbox_gnn.Plan"):
        gearbox_gnn.spmm("cora", torch.randn(4, 4))


@pytest.mark.parametrize("bad,num_nodes,found", [
    (torch.tensor([[0, 1], [1, 4]]), 4, "4"),
    (torch.tensor([[0, -1], [1, 2]]), 4, "-1"),
    (torch.tensor([[0, 2**40], [1, 2]]), 4, str(2**40)),
])
def test_edge_index_out_of_range(bad, num_nodes, found):
    with pytest.raises(ValueError, match=rf"argument 'adj' has node id {found} out of range "
                                         rf"for num_nodes={num_nodes}"):
        gearbox_gnn.plan(bad, 4, num_nodes=num_nodes)


def test_edge_index_wrong_dtype_shape_device():
    with pytest.raises(TypeError, match=r"argument 'adj' \(edge_index\) must be int64 or int32"):
        gearbox_gnn.plan(EI.float(), 4)
    with pytest.raises(ValueError, match=r"argument 'adj' must be edge_index of shape \[2, E\]"):
        gearbox_gnn.plan(torch.zeros(3, 4, dtype=torch.int64), 4)
    with pytest.raises(ValueError, match=r"argument 'adj' must be on cpu or cuda .*got meta"):
        gearbox_gnn.plan(EI.to("meta"), 4, num_nodes=4)
    with pytest.raises(ValueError, match=r"argument 'edge_weight' is on meta but 'adj' is on"):
        gearbox_gnn.plan(EI, 4, num_nodes=4, edge_weight=torch.ones(4, device="meta"))
    with pytest.raises(TypeError, match=r"argument 'adj' must be edge_index"):
        gearbox_gnn.plan([[0, 1], [1, 0]], 4)


def test_plan_arguments():
    with pytest.raises(ValueError, match=r"argument 'feature_width' must be an int"):
        gearbox_gnn.plan(EI, 0)
    with pytest.raises(ValueError, match=r"argument 'reorder' must be one of"):
        gearbox_gnn.plan(EI, 4, reorder="rcm")
    with pytest.raises(ValueError, match=r"argument 'num_nodes' must be a non-negative int"):
        gearbox_gnn.plan(EI, 4, num_nodes=-3)
    with pytest.raises(ValueError, match=r"argument 'edge_weight' must have shape \[4\]"):
        gearbox_gnn.plan(EI, 4, edge_weight=torch.ones(3))
    with pytest.raises(TypeError, match=r"argument 'edge_weight' must be a floating-point"):
        gearbox_gnn.plan(EI, 4, edge_weight=torch.ones(4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"argument 'adj' must be a square adjacency"):
        gearbox_gnn.plan(torch.ones(3, 4).to_sparse_csr(), 4)


def test_extension_checks_its_own_inputs():
    # The C++ layer is the last line: out-of-range ids and bad tensors raise, never crash.
    ones = torch.ones(2)
    with pytest.raises(ValueError, match=r"adjacency index out of range"):
        _C.Plan(torch.tensor([0, 9]), torch.tensor([1, 0]), ones, 4, 4, "lp", 64, 0, 1, False, "x",
                "cpu")
    with pytest.raises(TypeError, match=r"int64"):
        _C.Plan(torch.tensor([0, 1], dtype=torch.int32), torch.tensor([1, 0]), ones, 4, 4, "lp",
                64, 0, 1, False, "x", "cpu")
    with pytest.raises(ValueError, match=r"reorder"):
        _C.Plan(torch.tensor([0, 1]), torch.tensor([1, 0]), ones, 4, 4, "zz", 64, 0, 1, False,
                "x", "cpu")
    with pytest.raises(ValueError, match=r"argument 'device' must be cpu or cuda:N, got meta"):
        _C.Plan(torch.tensor([0, 1]), torch.tensor([1, 0]), ones, 4, 4, "lp", 64, 0, 1, False,
                "x", "meta")
    p = _C.Plan(torch.tensor([0, 1]), torch.tensor([1, 0]), ones, 4, 4, "lp", 64, 0, 1, False,
                "x", "cpu")
    with pytest.raises(TypeError, match=r"x must be float32"):
        p.run(torch.ones(4, 2, dtype=torch.float64), False)
    with pytest.raises(ValueError, match=r"x must have shape"):
        p.run(torch.ones(3, 2), False)


def test_dead_plan_id():
    x = torch.randn(4, 4)
    with pytest.raises(ValueError, match=r"argument 'plan' \(id 999999\) is no longer alive"):
        torch.ops.gearbox_gnn.spmm(x, 999999, False)


@pytest.mark.parametrize("layer", [GCNConv(4, 3), SAGEConv(4, 3),
                                   GINConv(torch.nn.Linear(4, 3))])
def test_layers_name_bad_arguments(layer):
    x = torch.randn(4, 4)
    with pytest.raises(ValueError, match=r"argument 'edge_index' has node id 7 out of range"):
        layer(x, torch.tensor([[0, 7], [1, 2]]))
    with pytest.raises(TypeError, match=r"argument 'x' must be float32"):
        layer(x.double(), EI)
    with pytest.raises(ValueError, match=r"argument 'edge_index' is on cpu but argument 'x' "
                                         r"is on meta"):
        layer(x.to("meta"), EI)
    with pytest.raises(ValueError, match=r"argument 'x' must be on cpu or cuda .*got meta"):
        layer(x.to("meta"), EI.to("meta"))


def test_unsupported_layer_options():
    with pytest.raises(NotImplementedError, match=r"argument 'aggr'='max'"):
        SAGEConv(4, 3, aggr="max")
    with pytest.raises(ValueError, match=r"argument 'add_self_loops'"):
        GCNConv(4, 3, normalize=False, add_self_loops=True)
    with pytest.raises(ValueError, match=r"argument 'edge_weight' requires grad"):
        GCNConv(4, 3)(torch.randn(4, 4), EI, torch.ones(4, requires_grad=True))
