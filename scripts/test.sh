#!/usr/bin/env bash
# One command: set up everything the tests need on a fresh Debian machine, then run them all.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/system.sh

ensure_packages docker.io busybox-static ripgrep unzip
ensure_docker
ensure_node_modules

npm run --silent typecheck
npm run --silent lint
npm run --silent build
bash test/images/build.sh
# Outpost's session image, built with no registry (DESIGN §3).
node dist/electron/core/cli.js image build --offline >/dev/null
npm run --silent test:only
