"""The CUDA path: the same plan API's CUDA plan behind gearbox_gnn.plan/spmm and the layers.

CPU-side (always run): the package reports CUDA support exactly when its op has a CUDA kernel
registered, and asking a CPU-only build (or a machine without a GPU) for CUDA raises an
exception naming the argument. GPU tests (skipped without a visible CUDA device) compare the
CUDA plan with the CPU plan and PyG on awkward graphs, forward and backward, on torch's
current stream. The CUDA kernels are float32 (some use TF32/BF16 tensor cores where the plan
measures them faster), so the GPU is compared in float32 with tolerances of the kernels'
precision, not by gradcheck in float64.
"""

import pytest
import torch

import gearbox_gnn
from gearbox_gnn import nn as gnn
from conftest import dense_adjacency, graphs_dir, random_edge_index, require_file

EI = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
HAS_GPU = gearbox_gnn.cuda_built() and torch.cuda.is_available()
needs_gpu = pytest.mark.skipif(
    not HAS_GPU, reason="skipped: no CUDA device visible (torch.cuda.is_available() is False)"
    if gearbox_gnn.cuda_built() else "skipped: this gearbox_gnn was built without CUDA")


def test_cuda_built_matches_the_ops_cuda_kernel():
    # cuda_built() is compiled in with the CUDA sources; the dispatcher says independently
    # whether the op got a CUDA kernel from them.
    has_kernel = torch._C._dispatch_has_kernel_for_dispatch_key("gearbox_gnn::spmm", "CUDA")
    assert gearbox_gnn.cuda_built() == has_kernel
    assert torch._C._dispatch_has_kernel_for_dispatch_key("gearbox_gnn::spmm", "CPU")


def test_cuda_built_exactly_when_nvcc_compiled_device_code_into_it():
    # nvcc embeds the kernels' fat binary in a section of its own (.nv_fatbin); a CPU-only
    # build has none.
    with open(gearbox_gnn._C.__file__, "rb") as f:
        has_fatbin = b".nv_fatbin" in f.read()
    assert gearbox_gnn.cuda_built() == has_fatbin


def test_cuda_built_only_with_a_cuda_torch():
    if gearbox_gnn.cuda_built():
        assert torch.version.cuda is not None


@pytest.mark.skipif(gearbox_gnn.cuda_built(), reason="skipped: this build has CUDA")
def test_cpu_only_build_refuses_cuda_naming_the_argument():
    p = gearbox_gnn.plan(EI, 4, num_nodes=4)
    with pytest.raises(RuntimeError, match=r"Plan.to\(\): argument 'device' is on cuda.* built "
                                           r"without CUDA"):
        p.to("cuda")
    with pytest.raises(RuntimeError, match=r"argument 'device' is on cuda:0 .*without CUDA"):
        gearbox_gnn.plan(EI, 4, num_nodes=4, device="cuda:0")
    with pytest.raises(RuntimeError, match=r"argument 'device' is cuda:0 but this gearbox_gnn "
                                           r"was built without CUDA"):
        gearbox_gnn._C.Plan(EI[1], EI[0], torch.ones(4), 4, 4, "lp", 64, 0, 1, False, "x",
                            "cuda:0")


@pytest.mark.skipif(not gearbox_gnn.cuda_built() or torch.cuda.is_available(),
                    reason="skipped: needs a CUDA build on a machine without a GPU")
def test_cuda_build_without_gpu_refuses_cuda_naming_the_argument():
    p = gearbox_gnn.plan(EI, 4, num_nodes=4)
    with pytest.raises(RuntimeError, match=r"argument 'device' is on cuda.* no CUDA device"):
        p.to("cuda")


@pytest.mark.parametrize("device", ["meta", "mps", "xla", "nonsense", 3.5])
def test_plan_to_an_unsupported_device_raises(device):
    p = gearbox_gnn.plan(EI, 4, num_nodes=4)
    with pytest.raises(ValueError, match=r"Plan.to\(\): argument 'device' must be"):
        p.to(device)
    with pytest.raises(ValueError, match=r"gearbox_gnn.plan\(\): argument 'device' must be"):
        gearbox_gnn.plan(EI, 4, num_nodes=4, device=device)


def test_plan_to_its_own_device_is_the_same_plan():
    p = gearbox_gnn.plan(EI, 4, num_nodes=4)
    assert p.device == torch.device("cpu")
    assert p.to("cpu") is p and p.cpu() is p


# GPU tests ------------------------------------------------------------------------------

GRAPHS = [  # (name, n, edges, kwargs of random_edge_index)
    ("one-node-self-loop", 1, 1, {}),
    ("empty-graph", 7, 0, {}),
    ("empty-rows-duplicates-loops", 37, 90, {"empty_rows": 9}),
    ("directed-1000", 1000, 9000, {}),
]


def _graph(name, n, e, kw):
    if name == "one-node-self-loop":
        return torch.zeros(2, 1, dtype=torch.int64)
    return random_edge_index(n, e, 5, **kw) if e else torch.empty(2, 0, dtype=torch.int64)


def _close(got, want, tol=1e-2):
    # Relative to the largest entry: the kernels' precision (TF32 1e-3, BF16 1e-2) bounds
    # the error by the size of the operands, not of each output entry.
    scale = max(float(want.abs().max()), 1.0)
    torch.testing.assert_close(got.double().cpu(), want.double().cpu(), rtol=0, atol=tol * scale)


@needs_gpu
@pytest.mark.parametrize("name,n,e,kw", GRAPHS, ids=[g[0] for g in GRAPHS])
@pytest.mark.parametrize("width", [1, 16, 33])
def test_cuda_spmm_forward_and_backward_equal_the_reference(name, n, e, kw, width):
    ei = _graph(name, n, e, kw)
    w = torch.rand(ei.size(1), generator=torch.Generator().manual_seed(2)) + 0.5
    p = gearbox_gnn.plan(ei.cuda(), width, num_nodes=n, edge_weight=w.cuda(), block=16,
                         use_cache=False)
    assert p.device.type == "cuda"
    a = dense_adjacency(ei, n, w)
    x = torch.randn(n, width, device="cuda", requires_grad=True)
    y = gearbox_gnn.spmm(p, x)
    assert y.device == x.device and y.dtype == torch.float32
    _close(y, a @ x.detach().double().cpu())
    g = torch.randn(n, width, device="cuda")
    y.backward(g)
    _close(x.grad, a.T @ g.double().cpu())
    _close(gearbox_gnn.spmm(p, x.detach(), transpose=True), a.T @ x.detach().double().cpu())


@needs_gpu
def test_cuda_plan_equals_the_cpu_plan_moved_with_to():
    n = 500
    ei = random_edge_index(n, 4000, 9)
    cpu = gearbox_gnn.plan(ei, 32, num_nodes=n, use_cache=False)
    gpu = cpu.to("cuda")
    assert gpu.device == torch.device("cuda", torch.cuda.current_device())
    assert gpu.num_nodes == cpu.num_nodes and gpu.nnz == cpu.nnz
    x = torch.randn(n, 32)
    _close(gearbox_gnn.spmm(gpu, x.cuda()), gearbox_gnn.spmm(cpu, x))
    assert gpu.to("cpu").device.type == "cpu"


@needs_gpu
def test_cuda_spmm_runs_on_the_current_stream():
    n = 2000
    ei = random_edge_index(n, 20000, 4)
    p = gearbox_gnn.plan(ei.cuda(), 64, num_nodes=n, use_cache=False)
    a = dense_adjacency(ei, n)
    x = torch.randn(n, 64, device="cuda")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        # Queued behind a long producer on the side stream: a kernel on another stream would
        # read x2 before it is written.
        x2 = x * 2.0
        for _ in range(20):
            x2 = x2 + 0.0
        y = gearbox_gnn.spmm(p, x2)
    torch.cuda.current_stream().wait_stream(side)
    _close(y, a @ (2.0 * x).double().cpu())


@needs_gpu
def test_cuda_mixed_devices_name_the_argument():
    p = gearbox_gnn.plan(EI, 4, num_nodes=4)
    pc = p.to("cuda")
    with pytest.raises(ValueError, match=r"argument 'x' is on cuda.* 'plan' was built for cpu"):
        gearbox_gnn.spmm(p, torch.randn(4, 4, device="cuda"))
    with pytest.raises(ValueError, match=r"argument 'x' is on cpu but argument 'plan' was built "
                                         r"for cuda"):
        gearbox_gnn.spmm(pc, torch.randn(4, 4))
    with pytest.raises(TypeError, match=r"argument 'x' must be float32"):
        gearbox_gnn.spmm(pc, torch.randn(4, 4, device="cuda", dtype=torch.float64))
    with pytest.raises(ValueError, match=r"argument 'edge_weight' is on cpu but 'adj' is on "
                                         r"cuda"):
        gearbox_gnn.plan(EI.cuda(), 4, num_nodes=4, edge_weight=torch.ones(4))
    with pytest.raises(ValueError, match=r"argument 'edge_index' is on cpu but argument 'x' is "
                                         r"on cuda"):
        gnn.GCNConv(4, 3).cuda()(torch.randn(4, 4, device="cuda"), EI)


@needs_gpu
def test_cuda_layers_equal_pyg_on_the_gpu():
    pyg_nn = pytest.importorskip("torch_geometric.nn")
    n = 300
    ei = random_edge_index(n, 2400, 8).cuda()
    x = torch.randn(n, 24, device="cuda")
    pairs = [(gnn.GCNConv(24, 16), pyg_nn.GCNConv(24, 16)),
             (gnn.SAGEConv(24, 16), pyg_nn.SAGEConv(24, 16)),
             (gnn.GINConv(torch.nn.Linear(24, 16)), pyg_nn.GINConv(torch.nn.Linear(24, 16)))]
    for ours, theirs in pairs:
        ours, theirs = ours.cuda(), theirs.cuda()
        ours.load_state_dict(theirs.state_dict())
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = ours(xa, ei), theirs(xb, ei)
        assert ya.device == x.device and ours.last_plan.device.type == "cuda"
        _close(ya, yb)
        g = torch.randn_like(ya)
        ya.backward(g)
        yb.backward(g)
        _close(xa.grad, xb.grad)


@needs_gpu
def test_cuda_spmm_under_torch_compile():
    n = 64
    ei = random_edge_index(n, 400, 1)
    p = gearbox_gnn.plan(ei.cuda(), 8, num_nodes=n, use_cache=False)
    x = torch.randn(n, 8, device="cuda")
    f = torch.compile(lambda t: gearbox_gnn.spmm(p, t) * 2.0, fullgraph=True)
    _close(f(x), 2.0 * gearbox_gnn.spmm(p, x))


@needs_gpu
def test_cora_gcn_on_the_gpu_same_accuracy_as_pyg():
    # PyG's example with model and data on the GPU: swapping the import keeps test accuracy
    # (mean over three seeds) within one point.
    import importlib.util
    from pathlib import Path
    pyg_nn = pytest.importorskip("torch_geometric.nn")
    g = graphs_dir()
    for f in ("cora.adj.mtx", "cora.features.mtx", "cora.labels.txt", "cora.train.txt",
              "cora.val.txt", "cora.test.txt"):
        require_file(g / f)
    spec = importlib.util.spec_from_file_location(
        "cora_gcn", Path(__file__).resolve().parents[1] / "examples" / "cora_gcn.py")
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    data = ex.load_cora(g)
    theirs = [ex.train(pyg_nn.GCNConv, data, s, device="cuda") for s in range(3)]
    ours = [ex.train(gnn.GCNConv, data, s, device="cuda") for s in range(3)]
    assert abs(sum(ours) / 3 - sum(theirs) / 3) <= 0.01, f"gearbox {ours} vs PyG {theirs}"
