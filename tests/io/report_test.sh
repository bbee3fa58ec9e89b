#!/usr/bin/env bash
# The sample's report as a user gets it (`vigil sample`, then open report.html):
#   report_test.sh structure VIGIL SOURCE_DIR   the page's structure against the run's files
#   report_test.sh browser VIGIL SOURCE_DIR     a real browser (Debian's chromium) draws it
# Exit 77 (skipped) for the browser when chromium is not installed (scripts/setup.sh installs it).
set -euo pipefail
mode=$1 vigil=$2 src=$3
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "$mode" = browser ] && ! command -v chromium >/dev/null; then
  echo "chromium is not installed (bash scripts/setup.sh installs it): skipped"
  exit 77
fi
"$vigil" sample --out "$tmp/s" --backend cpu > "$tmp/sample.out"
grep -q "report: $tmp/s/report.html" "$tmp/sample.out" || { echo "FAIL: vigil sample did not print the report's path"; exit 1; }
case "$mode" in
  structure)
    "$py" "$src/tests/io/check_report.py" "$tmp/s/report.html" "$tmp/s/alarms.jsonl" "$tmp/s/scores.csv" \
      "$tmp/s/data/events.csv"
    ;;
  browser)
    mkdir "$tmp/profile"
    # No network on the page (none is needed); without the background-networking flags chromium
    # tries its own services, refused many at a time on a closed network.
    timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$tmp/profile" --enable-logging=stderr --v=0 --hide-scrollbars \
      --window-size=1040,1700 --screenshot="$tmp/shot.png" "file://$tmp/s/report.html" 2> "$tmp/chromium.log" \
      || { echo "FAIL: chromium exited with $?"; tail -5 "$tmp/chromium.log"; exit 1; }
    "$py" "$src/tests/io/check_screenshot.py" "$tmp/shot.png" "$tmp/chromium.log"
    ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
