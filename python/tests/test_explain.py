"""Plan.explain() is `gearbox gnn plan`'s report: same text (up to measured numbers) and the
same JSON document for Cora planned from Python as the CLI plans it, plus what only a plan over
the caller's node order has: "caller_order" ("fused", "copied" or "given": how X and Y reach the
kernels) with "caller_order_measured" (the reordered plan against plain CSR on the matrix as
given) and its line at the end of the text."""

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import gearbox_gnn
from gearbox_gnn.nn import gcn_norm_weights
from gearbox_gnn._adjacency import to_coo
from conftest import REPO, graphs_dir, require_file

scipy_io = pytest.importorskip("scipy.io")


def _binary() -> Path:
    return Path(os.environ.get("GEARBOX_BINARY", REPO / "build" / "release" / "apps" / "gearbox"))


def _mask(line: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "#", line)).strip()


def test_explain_is_the_cli_report():
    binary = require_file(_binary())
    adj = require_file(graphs_dir() / "cora.adj.mtx")
    threads = torch.get_num_threads()
    run = [str(binary), "gnn", "plan", "--graph", "cora", "--dim", "16", "--threads",
           str(threads)]
    cli_text = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    cli_doc = json.loads(subprocess.run(run + ["--json"], capture_output=True, text=True,
                                        check=True).stdout)

    m = scipy_io.mmread(adj).tocoo()
    edge_index = torch.tensor(np.vstack([m.row, m.col]), dtype=torch.int64)
    coo = to_coo(edge_index, 2708)
    row, col, w = gcn_norm_weights(coo, improved=False, add_self_loops=True)
    p = gearbox_gnn.plan(torch.stack([col, row]), 16, num_nodes=2708, edge_weight=w,
                         name="cora")
    py_text = p.explain()
    py_doc = p.explain_json()

    # The keys only a plan over the caller's node order has: how X and Y reach the kernels,
    # chosen by measurement against plain CSR on the matrix as given.
    assert set(py_doc) - {"caller_order", "caller_order_measured"} == set(cli_doc)
    measured = py_doc["caller_order_measured"]
    assert measured["choice"] in ("given", "reordered")
    assert py_doc["caller_order"] == ("given" if measured["choice"] == "given" else "fused")
    assert measured["reordered_ms"] > 0 and measured["given_csr_ms"] > 0
    assert measured["rounds"] >= 7
    for k in ("graph", "nodes", "nnz", "dim", "threads"):
        assert py_doc[k] == cli_doc[k], k
    # The decomposition's per-class part follows the chosen thresholds (a measured choice).
    for k in set(cli_doc["decomposition"]) - {"classes", "thresholds"}:
        assert py_doc["decomposition"][k] == cli_doc["decomposition"][k], k
    assert py_doc["reorder"]["communities"] == cli_doc["reorder"]["communities"]
    assert [c["label"] for c in py_doc["candidates"]] == [c["label"] for c in
                                                          cli_doc["candidates"]]

    cli_lines, py_lines = cli_text.splitlines(), py_text.splitlines()
    assert py_lines[-1].startswith("caller's order: "), py_lines[-1]
    py_lines = py_lines[:-1]
    assert len(py_lines) == len(cli_lines)
    for a, b in zip(py_lines, cli_lines):
        if b.startswith("choice: "):
            assert a.startswith("choice: ")  # the measured choice may differ by noise
        elif b.startswith("graph "):
            assert _mask(a) == _mask(b)
        else:
            # The candidate rows hold measured times; kernels and labels must agree.
            assert _mask(a) == _mask(b) or (len(a.split()) == len(b.split()) and
                                            a.split()[:4] == b.split()[:4]), (a, b)
