"""PyG's 2-layer GCN example on Cora: swapping the GCNConv import for gearbox_gnn's reaches
the same test accuracy (mean over three seeds within one point)."""

import importlib.util
from pathlib import Path

import pytest

pyg_nn = pytest.importorskip("torch_geometric.nn")

from gearbox_gnn import nn as gnn  # noqa: E402
from conftest import graphs_dir, require_file  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cora_gcn.py"


def _example():
    spec = importlib.util.spec_from_file_location("cora_gcn", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cora_gcn_same_accuracy_as_pyg():
    g = graphs_dir()
    for f in ("cora.adj.mtx", "cora.features.mtx", "cora.labels.txt", "cora.train.txt",
              "cora.val.txt", "cora.test.txt"):
        require_file(g / f)
    ex = _example()
    data = ex.load_cora(g)
    assert data["x"].shape == (2708, 1433) and int(data["train"].sum()) == 140
    theirs = [ex.train(pyg_nn.GCNConv, data, s) for s in range(3)]
    ours = [ex.train(gnn.GCNConv, data, s) for s in range(3)]
    mean_t, mean_o = sum(theirs) / 3, sum(ours) / 3
    assert abs(mean_o - mean_t) <= 0.01, f"gearbox {ours} vs PyG {theirs}"
    assert min(ours) > 0.75, f"gearbox {ours} (Kipf & Welling report 0.815)"
