#!/usr/bin/env bash
# Tour step for the gnn engine: the density split and kernel choice on Cora, then a short GCN
# training with the adaptive kernels. $GB is the gearbox binary.
set -euo pipefail
GB="${GB:-gearbox}"
"$GB" gnn plan --graph cora --dim 16
"$GB" gnn train --graph cora --model gcn --epochs 50 --hidden 16 --seed 1 --kernels auto 2>/dev/null
"$GB" gnn train --graph cora --model sage --epochs 50 --hidden 16 --seed 1 2>/dev/null
