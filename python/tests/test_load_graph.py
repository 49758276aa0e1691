"""gearbox_gnn.load_graph: the graphs `gearbox gnn --graph` reads, as PyG's edge_index."""

import pytest
import torch

import gearbox_gnn
from conftest import graphs_dir, require_file


def test_generator_spec_is_undirected_simple():
    ei, n = gearbox_gnn.load_graph("sbm:n=300,block=30,din=6,dout=1,seed=2")
    assert n == 300 and ei.dtype == torch.int64 and ei.size(0) == 2 and ei.size(1) > 0
    assert bool((ei[0] != ei[1]).all())  # no self loops
    pairs = set(map(tuple, ei.T.tolist()))
    assert len(pairs) == ei.size(1)  # no duplicates
    assert all((d, s) in pairs for s, d in pairs)  # both directions


def test_shared_graph_by_name():
    require_file(graphs_dir() / "cora.adj.mtx")
    ei, n = gearbox_gnn.load_graph("cora")
    assert n == 2708 and ei.size(1) == 10556  # PyG's Planetoid Cora: 10556 directed edges


def test_bad_specs_raise():
    with pytest.raises(ValueError, match=r"no-such-graph"):
        gearbox_gnn.load_graph("no-such-graph")
    with pytest.raises(ValueError):
        gearbox_gnn.load_graph("sbm:n=-5")
    with pytest.raises(TypeError, match=r"argument 'spec' must be a str"):
        gearbox_gnn.load_graph(3)
