#!/usr/bin/env bash
# Installs what vigil needs to build and test on Debian 12 (root or sudo). Idempotent.
# nvcc is optional: with /usr/local/cuda present the CUDA backend is built too.
set -euo pipefail
packages=(cmake ninja-build g++ libcxxopts-dev nlohmann-json3-dev libyaml-cpp-dev libgtest-dev libgmock-dev ccache
          python3-numpy python3-pandas  # the NumPy peer of `vigil bench` (bench/numpy_peer.py)
          chromium                      # the report's browser test (tests/io/report_test.sh)
          libcurl4-openssl-dev prometheus prometheus-alertmanager  # the monitoring-stack connectors and their tests
          libopenmpi-dev openmpi-bin    # the optional MPI build: `mpirun -np K vigil score` (host/dist/)
          clang libclang-rt-14-dev libomp-14-dev)  # the fuzz targets (scripts/fuzz.sh): libFuzzer, ASan, UBSan
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
