#!/usr/bin/env bash
# One command: set up everything the tests need on a fresh Debian machine, then run them all.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/system.sh

ensure_packages docker.io busybox-static
ensure_docker
ensure_node_modules

npm run --silent typecheck
npm run --silent lint
npm run --silent build
bash test/images/build.sh
npm run --silent test:only
