#!/usr/bin/env bash
# The longer fuzz run: each libFuzzer target for FUZZ_SECONDS (default 300) from its seed corpus.
# Usage: bench/fuzz.sh [BUILD_DIR]. Prints executions, coverage and speed per target; any crash
# input is kept under BUILD_DIR/tests/fuzz/work/<target>/ (copy it into tests/fuzz/corpus/<target>/
# with the fix, so it stays a regression test). Exit status: non-zero if a target found a crash.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
seconds=${FUZZ_SECONDS:-300}
status=0
for target in dto codec http; do
  work="$build/tests/fuzz/work/$target"
  mkdir -p "$work"
  printf '\n== fuzz_%s for %ss ==\n' "$target" "$seconds"
  if ! "$build/tests/fuzz/standalone/fuzz_$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$work/" "$work" "$here/../tests/fuzz/corpus/$target" \
      > "$work/run.log" 2>&1; then
    status=1
    echo "fuzz_$target FOUND A CRASH: see $work/run.log"
  fi
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)|^#[0-9]+.*DONE' "$work/run.log" || true
done
exit $status
