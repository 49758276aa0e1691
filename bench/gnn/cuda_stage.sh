#!/usr/bin/env bash
# Run HERE (the development machine) before a GPU session: builds the gnn CUDA targets and
# stages what bench/gnn/cuda_check.sh needs on the GPU machine into build/gnn-cuda-stage
# (binaries, the non-system shared libraries they load packed in libs.tar.gz, gzipped copies
# of the shared graphs' adjacency files). Carry that one folder: run(carry=["build/gnn-cuda-stage"], ...).
#   bench/gnn/cuda_stage.sh [BUILD_DIR]        (default build/gnn-cuda-stagebuild)
# The default build folder is configured for a portable host CPU (x86-64-v3: AVX2/FMA, no
# -march=native), since the GPU machine's CPU is not this machine's (AMD Zen 3 here).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/gnn-cuda-stagebuild}
stage=$root/build/gnn-cuda-stage
bins="gnn_cuda_plan_test gnn_cuda_kernels_test gnn_cuda_train_test gnn_cuda_bench gearbox"

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGEARBOX_WERROR=ON \
    -DGEARBOX_HAS_MARCH_NATIVE=OFF -DCMAKE_CXX_FLAGS=-march=x86-64-v3 >/dev/null
fi
cmake --build "$build" -j2 --target $bins

rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/lib" "$stage/data/graphs"
for b in $bins; do
  f=$(find "$build" -type f -name "$b" -perm -u+x | head -1)
  [ -n "$f" ] || { echo "missing $b" >&2; exit 1; }
  cp "$f" "$stage/bin/"
  strip --strip-unneeded "$stage/bin/$b"
done

# Shared libraries outside glibc/libstdc++/libgcc and outside CUDA (the GPU machine has CUDA
# 13.0 in /usr/local/cuda): OpenBLAS, gfortran, METIS, fmt, gomp... copied with their sonames.
ldd "$stage"/bin/* | awk '/=> \// {print $1, $3}' | sort -u | while read -r soname path; do
  case "$soname" in
    libc.so*|libm.so*|libstdc++*|libgcc_s*|ld-linux*|libpthread*|libdl.so*|librt.so*) ;;
    libcuda.so*|libcudart*|libcublas*|libcusparse*|libnvJitLink*) ;;
    *) cp -L "$path" "$stage/lib/$soname" ;;
  esac
done

# Packed (OpenBLAS alone is 35 MB); cuda_check.sh unpacks them into /tmp on the GPU machine.
tar -C "$stage/lib" -czf "$stage/libs.tar.gz" .
rm -rf "$stage/lib"

data=${GEARBOX_DATA:-$root/../shared/data}  # the binary's default: ../shared beside the checkout
for f in "$data"/graphs/*.adj.mtx; do gzip -9 -c "$f" >"$stage/data/graphs/$(basename "$f").gz"; done
cp "$data"/graphs/*.adj.mtx.gz "$stage/data/graphs/" 2>/dev/null || true
# Cora and Citeseer whole (features, labels, split) for the device training test.
for g in cora citeseer; do
  cp "$data/graphs/$g".{features.mtx,labels.txt,train.txt,val.txt,test.txt} "$stage/data/graphs/"
done

git -C "$root" rev-parse HEAD >"$stage/commit.txt"
du -sh "$stage" "$stage"/*
size=$(du -sm "$stage" | cut -f1)
if [ "$size" -gt 60 ]; then echo "stage is ${size} MiB: over the 64 MiB carry limit with margin" >&2; exit 1; fi
