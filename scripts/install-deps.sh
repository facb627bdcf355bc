#!/usr/bin/env bash
# Installs every Debian and npm package orderflow needs to build, run, test and benchmark.
# Idempotent: packages already present are skipped by apt; swagger-ui-dist is unpacked only once.
# Runs as root on a bare Debian 12 (sudo is used when not root and available).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

packages=(
  g++ make cmake ninja-build ccache git pkg-config curl ca-certificates
  libboost1.81-dev librocksdb-dev nlohmann-json3-dev catch2 libspdlog-dev libfmt-dev
  librabbitmq-dev amqp-tools rabbitmq-server libssl-dev libjwt-dev
  libpq-dev postgresql-15
  wrk prometheus chromium clang-14 libclang-rt-14-dev clang-format python3
  nodejs npm
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# node/npm may come from elsewhere (a preinstalled Node); do not fight it.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all Debian packages present"
fi

# Swagger UI from npm (no CDN at run time). `npm pack` runs no install scripts.
swagger_version=5.35.0
ui_dir="$top/.cache/swagger-ui"
if [ ! -f "$ui_dir/swagger-ui-bundle.js" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "swagger-ui-dist@$swagger_version" >/dev/null)
  mkdir -p "$ui_dir"
  tar xzf "$tmp"/swagger-ui-dist-*.tgz --strip-components=1 -C "$ui_dir" \
    package/swagger-ui-bundle.js package/swagger-ui-standalone-preset.js package/swagger-ui.css
  rm -rf "$tmp"
  echo "install-deps: swagger-ui-dist $swagger_version unpacked into $ui_dir"
fi

# Test-only npm packages (the OpenAPI linter; real clients), pinned by tests/node/package-lock.json.
# --ignore-scripts: nothing runs at install time.
node_dir="$top/tests/node"
if [ ! -f "$node_dir/node_modules/.package-lock.json" ] || [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]; then
  (cd "$node_dir" && npm ci --ignore-scripts --no-audit --no-fund --silent)
  echo "install-deps: test npm packages installed into $node_dir/node_modules"
fi
