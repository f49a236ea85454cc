#!/usr/bin/env bash
# One command: set up Outpost and run it against the local playground (no account needed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/system.sh

ensure_packages docker.io busybox-static ripgrep unzip "${NPM_CI_PACKAGES[@]}"
ensure_docker
ensure_node_modules
npm run --silent build
# Outpost's session image. Built offline here (no registry needed); `outpost image build` builds it from node:22 instead.
docker image inspect outpost-session:latest >/dev/null 2>&1 || node dist/electron/core/cli.js image build --offline
# A small busybox image for the Bridge playground's scripts.
bash test/images/build.sh >/dev/null
exec node --import tsx playground/demo.ts "$@"
