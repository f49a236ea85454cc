#!/usr/bin/env bash
# One command: set up everything the tests need on a fresh Debian machine, then run them all.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/system.sh

# chromium: the window's end-to-end tests drive Debian's Chromium through playwright-core (DESIGN §3).
# tini: the worker image's init (tini-static), copied in by `outpost image build --worker`.
# bindfs: a FUSE view of a data folder, as Docker Desktop's file share shows it to the engine (desktop-share.test.ts).
ensure_packages docker.io busybox-static ripgrep unzip tini gnome-keyring dbus-x11 chromium bindfs "${NPM_CI_PACKAGES[@]}"
ensure_docker
# A second engine: Outpost's sessions on Podman's Docker-compatible API (skipped where it cannot run).
ensure_podman
# A desktop user's own engines: rootless Docker and rootless Podman (rootless.test.ts; skipped where they cannot run).
ensure_rootless_engines
ensure_node_modules

npm run --silent typecheck
npm run --silent lint
npm run --silent build
bash test/images/build.sh
# Outpost's session image, built with no registry (DESIGN §3).
node dist/electron/core/cli.js image build --offline >/dev/null
# The headless worker's image (outpost-worker), the same way: the worker-image test and the fleet soak run it.
node dist/electron/core/cli.js image build --worker --offline >/dev/null
# The chaos soak, CI-sized: fails on any item lost, served twice, orphaned or leaked.
npm run --silent soak -- --sessions 200
# …and hostile (about 2 minutes): Retry-After storms, slow-loris and 50 MiB answers, work for another environment, of an
# unknown type or with an id like `..`, a Bridge server that hands out running work again and fails acks, SIGTERM at the
# worst moment (each answered within drain + grace + 5 s).
npm run --silent soak -- --hostile --sessions 60
# The fleet soak, CI-sized (about a minute and a half): three outpost-worker containers on one environment, one killed
# with SIGKILL and one docker-restarted mid-run; fails on anything lost, doubled, orphaned, leaked or unfair.
node --import tsx bench/soak.ts --workers 3 --sessions 60 --baseline 20
# A real keychain: a private D-Bus session with gnome-keyring's Secret Service, unlocked (DESIGN §3).
# Its keyring lives in a throwaway folder: the tests never touch the developer's own keychain.
keyring_home=$(mktemp -d)
trap 'rm -rf "$keyring_home"' EXIT
XDG_DATA_HOME="$keyring_home" dbus-run-session -- bash -c \
  'echo -n outpost-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && npm run --silent test:only'
