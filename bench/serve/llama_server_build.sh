#!/usr/bin/env bash
# llama_server_build.sh: builds (once, cached) llama.cpp's own `llama-server` from the llama.cpp
# source vendored in the llama-cpp-python sdist on PyPI, and prints the binary's path.
# The sdist comes through pip (`pip download --no-binary llama-cpp-python --no-deps`: only the
# package itself as source; `:all:` would also build pip's build backends from source), the build is CMake's
# target llama-server with -DLLAMA_CURL=OFF, -j2. On CPUs that report AMX, ggml's AMX kernels
# are left out (a fixed AVX-512 build instead of -march=native), as the issue asks, so the
# anchor runs the same vector units as gearbox's kernels.
# Usage: bench/serve/llama_server_build.sh   (env: LLAMA_CPP_PYTHON_VERSION, GEARBOX_CACHE)
set -euo pipefail
version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
cache="${GEARBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gearbox}"
root="$cache/llama-server/$version"
bin="$root/build/bin/llama-server"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$root"
sdist="$(ls "$root"/llama_cpp_python-"$version".tar.gz 2>/dev/null || true)"
if [ -z "$sdist" ]; then
  echo "llama_server_build: downloading the llama-cpp-python $version sdist" >&2
  python3 -m pip download -q --no-binary llama-cpp-python --no-deps --dest "$root" \
    "llama-cpp-python==$version" >&2
  sdist="$(ls "$root"/llama_cpp_python-"$version".tar.gz)"
fi
src="$root/src"
if [ ! -f "$src/vendor/llama.cpp/CMakeLists.txt" ]; then
  rm -rf "$src" "$root/unpack"
  mkdir -p "$root/unpack"
  tar -xzf "$sdist" -C "$root/unpack"
  mv "$root/unpack/llama_cpp_python-$version" "$src"
  rmdir "$root/unpack"
fi
flags=(-DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON)
if grep -qw amx_tile /proc/cpuinfo 2>/dev/null || grep -qi amx /proc/cpuinfo 2>/dev/null; then
  echo "llama_server_build: AMX CPU, building with AMX off" >&2
  flags+=(-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON
    -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF)
fi
echo "llama_server_build: configuring in $root/build" >&2
cmake -S "$src/vendor/llama.cpp" -B "$root/build" "${flags[@]}" >&2
echo "llama_server_build: building llama-server (-j2, many minutes)" >&2
cmake --build "$root/build" -j2 --target llama-server >&2
test -x "$bin"
echo "$bin"
