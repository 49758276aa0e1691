"""spmm's outputs come from a pool of freed output blocks: a block is reused only after the
tensor that held it is gone (never aliasing a live tensor), a reused block is fully
overwritten, GEARBOX_GNN_OUTPUT_CACHE_MB bounds (or turns off) what is kept, and
gearbox_gnn.empty_cache() gives it back."""

import gc
import os
import subprocess
import sys

import pytest
import torch

import gearbox_gnn
from gearbox_gnn import _C
from conftest import dense_adjacency, random_edge_index

PY_DIR = os.path.dirname(os.path.dirname(gearbox_gnn.__file__))


def _empty_pool() -> None:
    gc.collect()  # outputs held by earlier tests' garbage come back now, not mid-test
    gearbox_gnn.empty_cache()


def _run_python(code: str, **env) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter (this package importable) with extra environment."""
    full = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [PY_DIR, os.environ.get("PYTHONPATH", "")]), **env)
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                          text=True, timeout=300)


def test_live_outputs_never_share_memory_and_freed_blocks_are_reused():
    ei = random_edge_index(300, 2000, 11)
    p = gearbox_gnn.plan(ei, 32, num_nodes=300)
    x = torch.randn(300, 32)
    _empty_pool()
    ys = [gearbox_gnn.spmm(p, x) for _ in range(4)]
    ptrs = {y.data_ptr() for y in ys}
    assert len(ptrs) == 4  # four live outputs, four blocks
    freed = ys.pop().data_ptr()
    assert _C.cached_output_bytes() == 300 * 32 * 4  # the freed block is kept
    y = gearbox_gnn.spmm(p, x)
    assert y.data_ptr() == freed  # and handed out again
    assert _C.cached_output_bytes() == 0
    for other in ys:
        torch.testing.assert_close(other, y)  # the live ones were not written over


def test_reused_block_is_fully_overwritten():
    # Empty rows of A must come out as zeros even when the block held other values.
    n, w = 60, 8
    ei = random_edge_index(n, 200, 12, empty_rows=15)
    p = gearbox_gnn.plan(ei, w, num_nodes=n)
    _empty_pool()
    stale = gearbox_gnn.spmm(p, torch.full((n, w), 1e30))
    stale.fill_(float("nan"))
    del stale
    x = torch.randn(n, w)
    y = gearbox_gnn.spmm(p, x)
    torch.testing.assert_close(y.double(), dense_adjacency(ei, n) @ x.double(), rtol=1e-5,
                               atol=1e-5)
    g = gearbox_gnn.spmm(p, x, transpose=True)
    torch.testing.assert_close(g.double(), dense_adjacency(ei, n).T @ x.double(), rtol=1e-5,
                               atol=1e-5)


def test_pooled_output_behaves_as_a_tensor():
    ei = random_edge_index(50, 300, 13)
    p = gearbox_gnn.plan(ei, 4, num_nodes=50)
    y = gearbox_gnn.spmm(p, torch.randn(50, 4))
    want = y.clone()
    y.resize_(200, 8)  # a resizable storage, as torch.empty gives
    assert y.shape == (200, 8)
    torch.testing.assert_close(y.view(-1)[:200], want.view(-1))
    z = torch.from_numpy(gearbox_gnn.spmm(p, torch.ones(50, 4)).numpy())
    assert z.shape == (50, 4)


def test_empty_cache_returns_the_free_blocks():
    ei = random_edge_index(100, 500, 14)
    p = gearbox_gnn.plan(ei, 16, num_nodes=100)
    _empty_pool()
    del_me = [gearbox_gnn.spmm(p, torch.randn(100, 16)) for _ in range(3)]
    del del_me
    assert _C.cached_output_bytes() == 3 * 100 * 16 * 4
    assert gearbox_gnn.empty_cache() == 3 * 100 * 16 * 4
    assert _C.cached_output_bytes() == 0


def test_cache_limit_from_the_environment():
    code = ("import torch, gearbox_gnn\n"
            "from gearbox_gnn import _C\n"
            "p = gearbox_gnn.plan(torch.tensor([[0, 1], [1, 0]]), 4, num_nodes=2, "
            "use_cache=False)\n"
            "y = gearbox_gnn.spmm(p, torch.ones(2, 4)); del y\n"
            "print(_C.output_cache_limit(), _C.cached_output_bytes())\n")
    off = _run_python(code, GEARBOX_GNN_OUTPUT_CACHE_MB="0")
    assert off.returncode == 0, off.stderr
    assert off.stdout.split() == ["0", "0"]  # nothing kept
    if "GEARBOX_GNN_OUTPUT_CACHE_MB" not in os.environ:
        assert _C.output_cache_limit() == 1024 << 20  # the default


def test_bad_cache_limit_names_the_variable():
    bad = _run_python("import torch, gearbox_gnn\n"
                      "p = gearbox_gnn.plan(torch.tensor([[0, 1], [1, 0]]), 4, num_nodes=2, "
                      "use_cache=False)\n"
                      "gearbox_gnn.spmm(p, torch.ones(2, 4))\n",
                      GEARBOX_GNN_OUTPUT_CACHE_MB="lots")
    assert bad.returncode == 1
    assert "ValueError: GEARBOX_GNN_OUTPUT_CACHE_MB must be a whole number of MiB, got 'lots'" \
        in bad.stderr


def test_fast_path_and_operator_agree():
    ei = random_edge_index(80, 400, 15)
    p = gearbox_gnn.plan(ei, 8, num_nodes=80)
    x = torch.randn(80, 8, requires_grad=True)
    y_fast = gearbox_gnn.spmm(p, x)
    y_op = torch.ops.gearbox_gnn.spmm(x, p._id, False)
    torch.testing.assert_close(y_fast, y_op)
    g = torch.randn(80, 8)
    (gx_fast,) = torch.autograd.grad(y_fast, x, g)
    (gx_op,) = torch.autograd.grad(y_op, x, g)
    torch.testing.assert_close(gx_fast, gx_op)
    with pytest.raises(ValueError, match=r"argument 'plan' \(id 999999\) is no longer alive"):
        _C.spmm(x, 999999, False)
