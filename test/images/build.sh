#!/usr/bin/env bash
# Builds outpost-test-base:latest — busybox-static in an otherwise empty image — with no registry:
# everything comes from this machine (DESIGN §3). Tests derive small images from it.
set -euo pipefail
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "busybox-static is not installed" >&2; exit 1; }
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/bin"
cp "$busybox" "$ctx/bin/busybox"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/busybox", "mkdir", "-p", "/tmp", "/workspace"]
ENV PATH=/bin
CMD ["/bin/sh"]
DOCKERFILE
docker build -q -t outpost-test-base:latest "$ctx" >"$ctx/build.log" 2>&1 || { cat "$ctx/build.log" >&2; exit 1; }
echo "built outpost-test-base:latest"
