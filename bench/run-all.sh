#!/usr/bin/env bash
# Runs every benchmark and prints its figures (what `make bench` does). Usage: bench/run-all.sh [BUILD_DIR]
# Each benchmark documents its own flags; BENCHMARKS.md records the figures measured, with the commands.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)

section() { printf '\n==== %s ====\n' "$1"; }

section "event store: group commit (bench/eventstore_bench)"
"$build/bench/eventstore_bench"

section "HTTP: order API against the machine's HTTP ceiling (bench/http_load.sh)"
"$here/http_load.sh" "$build"

# Benchmarks of the other areas, when built.
for b in clients_bench relay_bench replay_bench; do
  if [ -x "$build/bench/$b" ]; then
    section "$b"
    "$build/bench/$b"
  fi
done
