#!/usr/bin/env bash
# The one device check of issue 8, run ON THE GPU MACHINE from the repository root with the
# stage carried (it builds nothing): device tests, then our kernels vs cusparseSpMM, then PyG.
# Writes everything under $OUT and prints a short summary last. Sized for one 600 s call:
# phases have their own time limits and are skipped when too little time is left.
#   (here)   bench/gnn/cuda_stage.sh
#   (device) run(carry=["build/gnn-cuda-stage"], timeout_s=600,
#                command="bash bench/gnn/cuda_check.sh")
#   phases:  bash bench/gnn/cuda_check.sh [tests] [cli] [bench] [pyg] [quick]   (default: all
#            four; quick = cora, pubmed and sbm 200k instead of every graph; cli = `gearbox gnn
#            train/plan/bench --device cuda` on cora and pubmed)
set -uo pipefail
stage=${STAGE:-build/gnn-cuda-stage}
out=${OUT:-/tmp/gnn-cuda-out}
mkdir -p "$out"
start=$(date +%s)
budget_s=${BUDGET:-570}  # seconds this script may take in all (keep under the call's timeout_s)
left() { echo $((budget_s - ($(date +%s) - start))); }
phases="$*"
case " $phases " in *" tests "* | *" cli "* | *" bench "* | *" pyg "*) ;; *) phases="$phases tests cli bench pyg" ;; esac
want() { case " $phases " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

libdir=/tmp/gnn-cuda-lib
mkdir -p "$libdir" && tar -C "$libdir" -xzf "$stage/libs.tar.gz"
export LD_LIBRARY_PATH="$libdir:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export GEARBOX_DATA="$PWD/$stage/data" GEARBOX_CACHE=/tmp/gearbox-cache
edges=/tmp/gnn-cuda-edges

{
  date -u
  cat "$stage/commit.txt" 2>/dev/null
  nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem,power.limit --format=csv
  nproc
} >"$out/machine.txt" 2>&1
ldd "$stage"/bin/* | grep "not found" >"$out/ldd-missing.txt"

if want tests; then
  timeout 60 "$stage/bin/gnn_cuda_plan_test" >"$out/plan_test.log" 2>&1
  echo "plan_test rc=$?" >>"$out/summary.txt"
  timeout 150 "$stage/bin/gnn_cuda_kernels_test" >"$out/kernels_test.log" 2>&1
  echo "kernels_test rc=$?" >>"$out/summary.txt"
  timeout 90 "$stage/bin/gnn_cuda_train_test" >"$out/train_test.log" 2>&1
  echo "train_test rc=$?" >>"$out/summary.txt"
fi

if want cli; then
  gb="$stage/bin/gearbox"
  timeout 60 "$gb" gnn train --device cuda --graph cora --epochs 200 --seed 1 --json \
    >"$out/cli_train.json" 2>"$out/cli_train.err"
  echo "cli train rc=$?" >>"$out/summary.txt"
  timeout 60 "$gb" gnn train --device cuda --tf32 --graph cora --epochs 200 --seed 1 --json \
    >"$out/cli_train_tf32.json" 2>"$out/cli_train_tf32.err"
  echo "cli train --tf32 rc=$?" >>"$out/summary.txt"
  timeout 60 "$gb" gnn plan --device cuda --graph pubmed --dim 64 >"$out/cli_plan.txt" 2>&1
  echo "cli plan rc=$?" >>"$out/summary.txt"
  timeout 60 "$gb" gnn bench --device cuda --graph cora --dim 64 >"$out/cli_bench.txt" 2>&1
  echo "cli bench rc=$?" >>"$out/summary.txt"
  timeout 20 "$gb" gnn train --device cuda --graph cora --epochs 5 --kernels csr \
    >>"$out/cli_plan.txt" 2>&1
  echo "cli train --kernels csr rc=$?" >>"$out/summary.txt"
fi

graphs_all="cora;citeseer;pubmed;sbm:n=1000000,block=512,din=25,dout=6,seed=0;rmat:scale=20,ef=16,seed=0;musae-facebook;ego-facebook;email-enron;blogcatalog;musae-github;cond-mat-2005;soc-slashdot0902;ego-twitter"
graphs_quick="cora;pubmed;sbm:n=200000,block=256,din=24,dout=6,seed=0"
graphs=$graphs_all
want quick && graphs=$graphs_quick
if want bench && [ "$(left)" -gt 120 ]; then
  reserve=10
  want pyg && reserve=130  # PyG gets the last ~2 minutes
  budget=$(($(left) - reserve))
  timeout "$budget" "$stage/bin/gnn_cuda_bench" --graphs "$graphs" --dims "32;128" --reps 30 \
    --json-out "$out/bench.json" --dump-edges "$edges" >"$out/bench.txt" 2>"$out/bench.err"
  echo "bench rc=$? (limit ${budget}s)" >>"$out/summary.txt"
fi

if want pyg && [ -f "$edges/graphs.json" ] && [ "$(left)" -gt 30 ]; then
  timeout $(($(left) - 10)) python3 bench/gnn/cuda_pyg.py --edges "$edges" --dims 32,128 \
    --hidden 128 --reps 30 --json-out "$out/pyg.json" >"$out/pyg.txt" 2>"$out/pyg.err"
  echo "pyg rc=$?" >>"$out/summary.txt"
fi

echo "== elapsed $(($(date +%s) - start)) s; machine:"
cat "$out/machine.txt"
echo "== missing libraries:"; cat "$out/ldd-missing.txt"
echo "== tests:"; grep -hE "PASSED|FAILED|tests ran|max relative error|cora GCN" "$out"/*_test.log 2>/dev/null | head -30
grep -h "Failure\|Expected\|Which is" "$out"/*_test.log 2>/dev/null | head -10
echo "== cli:"; for j in cli_train cli_train_tf32; do python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('train', d['device'], 'tf32', d['config'].get('tf32'), 'test acc', d['test_accuracy'], 'epoch ms', d['epoch_ms_median'], 'kernels', json.dumps(d['kernels'])[:300])" "$out/$j.json" 2>&1 | head -3; done
tail -3 "$out/cli_train.err" 2>/dev/null; cat "$out/cli_plan.txt" "$out/cli_bench.txt" 2>/dev/null | tail -25
echo "== bench:"; head -1 "$out/bench.err" 2>/dev/null; cat "$out/bench.txt" 2>/dev/null
grep -h "CHECK FAILED\|error" "$out/bench.err" 2>/dev/null | head
echo "== pyg:"; cat "$out/pyg.txt" 2>/dev/null; tail -3 "$out/pyg.err" 2>/dev/null
echo "== summary:"; cat "$out/summary.txt"
