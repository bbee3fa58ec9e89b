#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test (README command 2; .ci/run calls it),
# then each fuzz target for ${FUZZ_SECONDS:-30} s as a regression check on its seeds and whatever
# it finds in that time (skipped with FUZZ_SECONDS=0 or without clang).
#   bash scripts/test.sh --sanitize   the suite under ASan and UBSan instead (g++, CPU only, no
#                                     MPI, in build-asan; 10-30 minutes on 2 cores, not part of CI)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${1:-}" = "--sanitize" ]; then
  shift
  export BUILD_DIR=${BUILD_DIR:-build-asan}
  # Without MPI: OpenMPI's own allocations at MPI_Finalize show as leaks in every mpirun test.
  bash scripts/build.sh -DVIGIL_CUDA=OFF -DVIGIL_MPI=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
       "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" "$@"
  # The install test links an outside project against the sanitized library without the
  # sanitizer runtime, so it is left out here.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" -E '^install\.' --timeout 1500
  exit 0
fi
bash scripts/build.sh "$@"
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j"$(nproc)"
if [ "${FUZZ_SECONDS:-30}" != 0 ] && command -v clang++ >/dev/null; then
  bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
fi
