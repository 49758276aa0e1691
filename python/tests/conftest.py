"""Shared fixtures: a private gearbox cache per test session (plans and the machine profile
are written there, never in the user's cache), graph builders and the shared data folder."""

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    old = os.environ.get("GEARBOX_CACHE")
    os.environ["GEARBOX_CACHE"] = str(tmp_path_factory.mktemp("gearbox-cache"))
    yield
    if old is None:
        os.environ.pop("GEARBOX_CACHE", None)
    else:
        os.environ["GEARBOX_CACHE"] = old


def require_file(path: Path) -> Path:
    """The file, or a skip when it is absent (a failure under GEARBOX_REQUIRE_DATA=1)."""
    if not path.is_file():
        if os.environ.get("GEARBOX_REQUIRE_DATA") == "1":
            pytest.fail(f"required file absent: {path}")
        pytest.skip(f"skipped: {path} not found")
    return path


def graphs_dir() -> Path:
    if os.environ.get("GEARBOX_DATA"):
        return Path(os.environ["GEARBOX_DATA"]) / "graphs"
    for p in [REPO, *REPO.parents]:
        if (p / "shared" / "data" / "graphs").is_dir():
            return p / "shared" / "data" / "graphs"
    return REPO.parent / "shared" / "data" / "graphs"


def random_edge_index(n: int, e: int, seed: int, self_loops: bool = True,
                      duplicates: bool = True, empty_rows: int = 0) -> torch.Tensor:
    """[2, e] random edges on n nodes; the last `empty_rows` nodes receive no edge (empty rows
    of A); self loops and repeated pairs kept unless turned off."""
    g = torch.Generator().manual_seed(seed)
    targets = max(n - empty_rows, 1)
    src = torch.randint(0, n, (e,), generator=g)
    dst = torch.randint(0, targets, (e,), generator=g)
    if not self_loops:
        keep = src != dst
        src, dst = src[keep], dst[keep]
    if duplicates and src.numel() > 2:
        src = torch.cat([src, src[:2]])
        dst = torch.cat([dst, dst[:2]])
    return torch.stack([src, dst])


def dense_adjacency(edge_index: torch.Tensor, n: int, weight=None) -> torch.Tensor:
    """A (float64) with A[target, source] summed over repeated edges."""
    a = torch.zeros(n, n, dtype=torch.float64)
    w = torch.ones(edge_index.size(1), dtype=torch.float64) if weight is None else weight.double()
    a.index_put_((edge_index[1], edge_index[0]), w, accumulate=True)
    return a
