#!/usr/bin/env bash
# Behaviour check between two vigil binaries (say, before and after a refactoring): both score the
# built-in sample and two generated cubes on the CPU, and their alarms, ledger and scores must be
# byte-identical. Exits non-zero on any difference.
#   scripts/compare-outputs.sh BEFORE_BIN AFTER_BIN
set -euo pipefail
before=$(realpath "$1") after=$(realpath "$2")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The inputs, made once by the "before" binary, so both score the very same files.
"$before" sample --out "$tmp/sample" --backend cpu >/dev/null
"$before" generate --out "$tmp/cube-a" --shape metric=2,stack=3,device=3,region=4 --days 21 --seed 5 --quiet
"$before" generate --out "$tmp/cube-b" --shape metric=3,stack=2,device=4,region=3 --days 14 --seed 11 --quiet

status=0
for input in sample/data cube-a cube-b; do
  d=$tmp/$input
  for side in before after; do
    bin=$before
    [ "$side" = after ] && bin=$after
    out=$tmp/out/$input/$side
    mkdir -p "$out"
    "$bin" score --input "$d" --config "$d/config.json" --events "$d/events.csv" --backend cpu \
      --alarms "$out/alarms.jsonl" --ledger "$out/ledger.jsonl" --scores "$out/scores.csv" >/dev/null
  done
  for f in alarms.jsonl ledger.jsonl scores.csv; do
    if cmp -s "$tmp/out/$input/before/$f" "$tmp/out/$input/after/$f"; then
      echo "same       $input/$f ($(wc -l <"$tmp/out/$input/after/$f") lines)"
    else
      echo "DIFFERENT  $input/$f"
      status=1
    fi
  done
done
exit $status
