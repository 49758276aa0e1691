"""PyG's GCN example (examples/gcn.py: 2 layers, hidden 16, dropout 0.5, Adam lr 0.01,
weight decay 5e-4 on the first layer, 200 epochs, row-normalised features, test accuracy at
the best validation accuracy) on Cora read from the shared data folder. The only difference
between the two runs is the import of GCNConv:

    python examples/cora_gcn.py            # from torch_geometric.nn import GCNConv
    python examples/cora_gcn.py --gearbox  # from gearbox_gnn.nn import GCNConv

--device cuda runs both on the GPU (model and data moved there, as PyG's example does).
"""

import argparse
import os
from pathlib import Path

import numpy as np
import scipy.io
import torch
import torch.nn.functional as F


def find_graphs() -> Path:
    if os.environ.get("GEARBOX_DATA"):
        return Path(os.environ["GEARBOX_DATA"]) / "graphs"
    here = Path(__file__).resolve()
    for p in here.parents:
        if (p / "shared" / "data" / "graphs").is_dir():
            return p / "shared" / "data" / "graphs"
    raise FileNotFoundError("shared/data/graphs not found beside the repository; set "
                            "GEARBOX_DATA")


def load_cora(graphs: Path) -> dict:
    """Cora as PyG's Planetoid gives it: edge_index (both directions), x (row-normalised, as
    T.NormalizeFeatures), y, and the public train/val/test masks."""
    adj = scipy.io.mmread(graphs / "cora.adj.mtx").tocoo()
    edge_index = torch.tensor(np.vstack([adj.row, adj.col]), dtype=torch.int64)
    feats = scipy.io.mmread(graphs / "cora.features.mtx").toarray().astype(np.float32)
    x = torch.from_numpy(feats)
    x = x / x.sum(dim=1, keepdim=True).clamp(min=1)
    y = torch.tensor(np.loadtxt(graphs / "cora.labels.txt", dtype=np.int64))
    n = x.size(0)
    masks = {}
    for split in ("train", "val", "test"):
        m = torch.zeros(n, dtype=torch.bool)
        m[torch.tensor(np.loadtxt(graphs / f"cora.{split}.txt", dtype=np.int64))] = True
        masks[split] = m
    return {"edge_index": edge_index, "x": x, "y": y, "num_classes": int(y.max()) + 1, **masks}


class GCN(torch.nn.Module):
    def __init__(self, conv, in_channels, hidden_channels, out_channels):
        super().__init__()
        self.conv1 = conv(in_channels, hidden_channels, cached=True)
        self.conv2 = conv(hidden_channels, out_channels, cached=True)

    def forward(self, x, edge_index):
        x = F.dropout(x, p=0.5, training=self.training)
        x = self.conv1(x, edge_index).relu()
        x = F.dropout(x, p=0.5, training=self.training)
        return self.conv2(x, edge_index)


def train(conv, data: dict, seed: int, epochs: int = 200, device: str = "cpu") -> float:
    """Test accuracy at the best validation accuracy."""
    torch.manual_seed(seed)
    data = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in data.items()}
    model = GCN(conv, data["x"].size(1), 16, data["num_classes"]).to(device)
    opt = torch.optim.Adam([dict(params=model.conv1.parameters(), weight_decay=5e-4),
                            dict(params=model.conv2.parameters(), weight_decay=0)], lr=0.01)
    best_val = test_acc = 0.0
    for _ in range(epochs):
        model.train()
        opt.zero_grad()
        out = model(data["x"], data["edge_index"])
        F.cross_entropy(out[data["train"]], data["y"][data["train"]]).backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            pred = model(data["x"], data["edge_index"]).argmax(dim=-1)
        accs = [float((pred[data[s]] == data["y"][data[s]]).float().mean()) for s in
                ("val", "test")]
        if accs[0] > best_val:
            best_val, test_acc = accs
    return test_acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gearbox", action="store_true", help="use gearbox_gnn.nn.GCNConv")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    args = ap.parse_args()
    if args.gearbox:
        from gearbox_gnn.nn import GCNConv
    else:
        from torch_geometric.nn import GCNConv
    data = load_cora(find_graphs())
    accs = [train(GCNConv, data, s, device=args.device) for s in range(args.seeds)]
    print(f"test accuracy per seed: {', '.join(f'{a:.4f}' for a in accs)}; "
          f"mean {sum(accs) / len(accs):.4f}")


if __name__ == "__main__":
    main()
