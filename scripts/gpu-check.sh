#!/usr/bin/env bash
# The GPU verification in one call, for a machine that has the CUDA toolkit (nvcc, cmake, ninja,
# compute-sanitizer) and a GPU but reaches no package registry.
#
#   Here, with a registry:   bash scripts/gpu-check.sh fetch    # Debian .debs into .debs/
#   There, in the repo root: bash scripts/gpu-check.sh [OUTDIR] # build, test, sanitize, bench
#
# The .debs (headers of cxxopts and nlohmann-json, GoogleTest) are unpacked into a private
# prefix, never into /. OUTDIR (default bench/results) receives the logs and the benchmark JSON,
# named by date and GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
debs=.debs
packages=(libcxxopts-dev nlohmann-json3-dev libyaml-cpp-dev libyaml-cpp0.7 libgtest-dev libgmock-dev googletest)

if [ "${1:-}" = fetch ]; then
  mkdir -p "$debs"
  (cd "$debs" && apt-get download "${packages[@]}")
  ls -l "$debs"
  exit 0
fi

out=${1:-bench/results}
mkdir -p "$out"
prefix=/tmp/vigil-prefix
mkdir -p "$prefix"
for f in "$debs"/*.deb; do dpkg -x "$f" "$prefix"; done
export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"  # libyaml-cpp
export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr -c 'A-Za-z0-9\n' '-' | tr -s '-' | sed 's/-$//')
stamp=$(date -u +%Y-%m-%d)

build=build-gpu
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix/usr" \
  -DCXXOPTS_INCLUDE_DIR="$prefix/usr/include" 2>&1 | tail -3
cmake --build "$build" -j"$(nproc)" 2>&1 | tail -3

status=0
# The whole suite, the CUDA parity tests included (they run, not skip, when a GPU is present).
(cd "$build" && ./vigil_tests 2>&1) > "$out/tests-$stamp-$gpu.log" || status=1
tail -5 "$out/tests-$stamp-$gpu.log"
grep -E "SKIPPED|FAILED" "$out/tests-$stamp-$gpu.log" | head -20 || true

# compute-sanitizer on the GPU tests: memcheck, racecheck, initcheck, synccheck.
for tool in memcheck racecheck initcheck synccheck; do
  compute-sanitizer --tool "$tool" --error-exitcode 3 "$build/vigil_tests" --gtest_filter='*cuda*' \
    > "$out/sanitizer-$tool-$stamp-$gpu.log" 2>&1 || status=1
  echo "compute-sanitizer $tool: $(grep -E 'ERROR SUMMARY' "$out/sanitizer-$tool-$stamp-$gpu.log" | tail -1)"
done

# The benchmark, both backends on the same data (and the NumPy peer on 20,000 series), as JSON.
"$build/vigil" bench --backend all --series 1000000 --points 288 --quiet \
  --json "$out/bench-$stamp-$gpu.json" || status=1
# Issue 6's scale target: 10,000,000 series x 288 points from a cube in page cache, streamed in
# batches (11.5 GB of values). Skipped when the disk has less than 30 GB free.
if [ "$(df --output=avail -B1G . | tail -1)" -ge 30 ]; then
  cube=$(mktemp -d "$PWD/.cube10m.XXXX")
  "$build/vigil" generate --out "$cube/c" --shape region=1000,stack=5,device=50,metric=40 --days 1 --step 5m \
    --incidents 20 --quiet || status=1
  cat "$cube/c/values.npy" > /dev/null  # into the page cache
  timeout 500 "$build/vigil" bench --input "$cube/c" --backend cuda --peer-series 0 --quiet \
    --json "$out/bench-$stamp-$gpu-10M-from-cube.json" || status=1
  rm -rf "$cube"
fi
exit $status
