#!/usr/bin/env bash
# The GPU verification in one call, for a machine that has the CUDA toolkit (nvcc, cmake, ninja,
# compute-sanitizer) and a GPU but reaches no package registry.
#
#   Here, with a registry:   bash scripts/gpu-check.sh fetch    # Debian .debs into .debs/
#   There, in the repo root: bash scripts/gpu-check.sh [OUTDIR] # build, test, sanitize, bench
#
#   There, without the GPU parts: bash scripts/gpu-check.sh --configure-only  # the prefix and cmake
#
# The .debs (headers of cxxopts and nlohmann-json, yaml-cpp, GoogleTest, libcurl for the
# Prometheus and Alertmanager connectors with the libraries libcurl4 links) are unpacked into a
# private prefix, never into /. OUTDIR (default bench/results) receives the logs and the benchmark
# JSON, named by date and GPU. Budget on an H100/H200 (16 cores), never yet timed there: build
# about 3 min, suite about 1 min, sanitizers on the small CUDA cases about 1.5 min, benches about
# 4 min; each step is capped (cap below), so the whole stays under 10 minutes. The .debs
# directory is git-ignored: a runner that copies the tree must carry it.
set -euo pipefail
cd "$(dirname "$0")/.."
debs=.debs
# libcurl4 with its whole runtime closure (apt-cache depends --recurse, less libc6, libgcc-s1 and
# gcc-12-base): only the libraries the GPU machine's image lacks are put on the library path.
packages=(libcxxopts-dev nlohmann-json3-dev libyaml-cpp-dev libyaml-cpp0.7 libgtest-dev libgmock-dev googletest
  libcurl4-openssl-dev libcurl4 libbrotli1 libcom-err2 libdb5.3 libffi8 libgmp10 libgnutls30 libgssapi-krb5-2
  libhogweed6 libidn2-0 libk5crypto3 libkeyutils1 libkrb5-3 libkrb5support0 libldap-2.5-0 libnettle8
  libnghttp2-14 libp11-kit0 libpsl5 librtmp1 libsasl2-2 libsasl2-modules-db libssh2-1 libssl3 libtasn1-6
  libunistring2 libzstd1 zlib1g)

if [ "${1:-}" = fetch ]; then
  mkdir -p "$debs"
  (cd "$debs" && apt-get download "${packages[@]}")
  ls -l "$debs"
  exit 0
fi

configure_only=0
if [ "${1:-}" = --configure-only ]; then configure_only=1; shift; fi
case "${1:-}" in -*) echo "usage: bash scripts/gpu-check.sh [fetch | --configure-only] [OUTDIR]" >&2; exit 2 ;; esac
ls "$debs"/*.deb > /dev/null 2>&1 || { echo "gpu-check: no .debs in $debs: run 'bash scripts/gpu-check.sh fetch' where a registry is reachable" >&2; exit 2; }
out=${1:-bench/results}
mkdir -p "$out"
prefix=/tmp/vigil-prefix
mkdir -p "$prefix"
for f in "$debs"/*.deb; do dpkg -x "$f" "$prefix"; done
# A library the image has is used from the image (its own build of it matches its libc); the
# prefix's copy is linked into $missing only where the image lacks that soname, and only that
# directory goes on the library path, so cmake, ninja and nvcc keep the image's libraries.
libdir=$prefix/usr/lib/x86_64-linux-gnu
missing=$prefix/missing
rm -rf "$missing" && mkdir -p "$missing"
known=$(ldconfig -p 2>/dev/null | awk '{print $1}' | sort -u)
for lib in "$libdir"/*.so.* "$prefix"/lib/x86_64-linux-gnu/*.so.*; do
  [ -e "$lib" ] || continue
  name=$(basename "$lib")
  grep -qxF "$name" <<< "$known" || ln -sf "$lib" "$missing/$name"
done
echo "gpu-check: from the prefix: $(ls "$missing" | grep -E '\.so\.[0-9]+$' | tr '\n' ' ')"
export LD_LIBRARY_PATH="$missing${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PATH=/usr/local/cuda/bin:$PATH
build=build-gpu
# One architecture (the GPU's own when nvidia-smi can say, else Hopper), -j16.
arch=90
if command -v nvidia-smi > /dev/null && compute_cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1); then
  [ -n "$compute_cap" ] && arch=${compute_cap//./}
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix/usr" \
  -DCMAKE_CUDA_ARCHITECTURES="$arch" -DCXXOPTS_INCLUDE_DIR="$prefix/usr/include" -DVIGIL_MPI=OFF \
  -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$missing" \
  -DCURL_LIBRARY="$prefix/usr/lib/x86_64-linux-gnu/libcurl.so" -DCURL_INCLUDE_DIR="$prefix/usr/include/x86_64-linux-gnu" \
  > "$out/configure.log" 2>&1 || { tail -20 "$out/configure.log"; exit 1; }
grep -E "vigil: CUDA backend|Found CURL" "$out/configure.log" || true
if [ "$configure_only" = 1 ]; then exit 0; fi
if ! nvidia-smi > /dev/null 2>&1; then
  echo "gpu-check: no usable GPU here (nvidia-smi fails); --configure-only checks the rest" >&2
  exit 2
fi

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr -c 'A-Za-z0-9\n' '-' | tr -s '-' | sed 's/-$//')
stamp=$(date -u +%Y-%m-%d)
start=$SECONDS
# Every step after the build gets at most its own cap and never more than what is left of 580 s.
deadline=$((start + 580))
cap() { local left=$((deadline - SECONDS)); if [ "$left" -lt "$1" ]; then echo $((left > 10 ? left : 10)); else echo "$1"; fi; }
cmake --build "$build" -j16 2>&1 | tail -3
echo "gpu-check: built in $((SECONDS - start)) s"

status=0
# The whole suite, the CUDA parity tests included (they run, not skip, when a GPU is present);
# a skipped CUDA case here means the device was not usable: that fails the check.
(cd "$build" && timeout "$(cap 150)" ./vigil_tests 2>&1) > "$out/tests-$stamp-$gpu.log" || status=1
tail -5 "$out/tests-$stamp-$gpu.log"
grep -E "FAILED" "$out/tests-$stamp-$gpu.log" | head -20 || true
if grep -q "no CUDA device" "$out/tests-$stamp-$gpu.log"; then echo "gpu-check: CUDA tests skipped" >&2; status=1; fi
echo "gpu-check: suite done at $((SECONDS - start)) s"

# compute-sanitizer memcheck and racecheck on the small CUDA cases.
small='CudaBatchParity.*:*BackendParity*cuda*:*PeerParity*cuda*:*EvidenceParity*cuda*'
for tool in memcheck racecheck; do
  timeout "$(cap 120)" compute-sanitizer --tool "$tool" --error-exitcode 3 "$build/vigil_tests" --gtest_filter="$small" \
    > "$out/sanitizer-$tool-$stamp-$gpu.log" 2>&1 || status=1
  echo "compute-sanitizer $tool: $(grep -E 'ERROR SUMMARY' "$out/sanitizer-$tool-$stamp-$gpu.log" | tail -1)"
done
echo "gpu-check: sanitizers done at $((SECONDS - start)) s"

# The benchmark at 1M series x 2,016 points (a week at 5 minutes) on the GPU in batches of 250,000
# series (about 26 GB on the device), then the CPU backend on the same generated data in its own
# cache-sized batches (one bench per backend: a batch size forced for both would give each CPU
# thread a 250,000-series batch); then 10M x 288 from a cube on disk, end to end, on the GPU.
timeout "$(cap 150)" "$build/vigil" bench --backend cuda --series 1000000 --points 2016 --batch-series 250000 \
  --peer-series 0 --quiet --json "$out/bench-$stamp-$gpu-1M-x-2016-cuda.json" || status=1
timeout "$(cap 120)" "$build/vigil" bench --backend cpu --series 1000000 --points 2016 \
  --peer-series 0 --quiet --json "$out/bench-$stamp-$gpu-1M-x-2016-cpu.json" || status=1
echo "gpu-check: 1M x 2016 done at $((SECONDS - start)) s"
if [ "$(df --output=avail -B1G . | tail -1)" -ge 30 ]; then
  cube=$(mktemp -d "$PWD/.cube10m.XXXX")
  timeout "$(cap 120)" "$build/vigil" generate --out "$cube/c" --shape region=1000,stack=5,device=50,metric=40 --days 1 --step 5m \
    --incidents 20 --quiet || status=1
  cat "$cube/c/values.npy" > /dev/null  # into the page cache
  timeout "$(cap 200)" "$build/vigil" bench --input "$cube/c" --backend cuda --batch-series 2000000 --peer-series 0 \
    --processes false --quiet --json "$out/bench-$stamp-$gpu-10M-x-288-from-cube.json" || status=1
  rm -rf "$cube"
else
  echo "gpu-check: less than 30 GB free: 10M x 288 skipped" >&2
  status=1
fi
echo "gpu-check: finished in $((SECONDS - start)) s, status $status"
exit $status
