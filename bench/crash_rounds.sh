#!/usr/bin/env bash
# Crash under load, 20 rounds (ctest runs 3): concurrent creates and status changes over HTTP, the
# server SIGKILLed at a random moment, restarted on the same data dir; every acknowledged change
# must be there, every history contiguous, the projection equal to the fold of the log.
# Usage: bench/crash_rounds.sh [BUILD_DIR]   (env: ROUNDS=20)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
ORDERFLOW_CRASH_ROUNDS=${ROUNDS:-20} "$build/tests/api/api_tests" \
  "crash under load: SIGKILL loses no acknowledged change and leaves the log and views consistent"
