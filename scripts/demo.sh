#!/usr/bin/env bash
# One command: set up Outpost and run it against the local playground (no account needed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/system.sh

ensure_packages docker.io busybox-static
ensure_docker
ensure_node_modules
npm run --silent build
bash test/images/build.sh >/dev/null
# The demo's stand-in session: prints what a session sees and leaves a file in its workspace.
docker build -q -t outpost-demo-session:latest - >/dev/null <<'DOCKERFILE'
FROM outpost-test-base:latest
ENTRYPOINT ["/bin/sh", "-c", "echo \"session $ANTHROPIC_SESSION_ID (work $ANTHROPIC_WORK_ID) starting in $(pwd)\"; for step in 1 2 3; do echo \"  step $step\"; sleep 1; done; echo done > /workspace/result.txt; echo \"session $ANTHROPIC_SESSION_ID finished\""]
DOCKERFILE
exec node --import tsx playground/demo.ts "$@"
