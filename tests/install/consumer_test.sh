#!/usr/bin/env bash
# Installs the build into a temporary prefix, builds examples/consumer against it with
# find_package(vigil), and checks that it scores the built-in sample as `vigil score` does.
#   consumer_test.sh BUILD_DIR CONSUMER_SOURCE_DIR VIGIL_BINARY
set -euo pipefail
build=$1 consumer=$2 vigil=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }
# Only the engine's headers are installed: nothing of the CLI or the tools.
test -f "$tmp/prefix/include/vigil/run.hpp" && test -f "$tmp/prefix/include/vigil/math/forecast.hpp"
if [ -e "$tmp/prefix/include/vigil/tools" ]; then echo "tools headers were installed"; exit 1; fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$consumer" -B "$tmp/build" "${generator[@]}" "${launcher[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }

"$vigil" sample --out "$tmp/sample" --backend cpu >/dev/null
data=$tmp/sample/data
got=$("$tmp/build/vigil_consumer" "$data" "$data/config.json")
echo "consumer: $got"
"$vigil" score --input "$data" --config "$data/config.json" --backend cpu --alarms "$tmp/alarms.jsonl" >/dev/null
alarms=$(grep -c . "$tmp/alarms.jsonl" || true)
[[ $got =~ ^series\ [1-9][0-9]*\ episodes\ [0-9]+\ alarms\ ([0-9]+)$ ]] || { echo "unexpected output"; exit 1; }
if [ "${BASH_REMATCH[1]}" != "$alarms" ]; then
  echo "consumer found ${BASH_REMATCH[1]} alarms, vigil score $alarms"
  exit 1
fi
echo "ok: $alarms alarms, as vigil score"
