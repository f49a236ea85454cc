# Shared by scripts/test.sh and scripts/demo.sh: bring up what Outpost needs on a Debian machine.

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# ensure_packages PKG... — install the Debian packages that are missing.
ensure_packages() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || { echo "Please install: ${missing[*]}" >&2; return 1; }
  echo "Installing ${missing[*]} …"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
    { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q "${missing[@]}" >/dev/null; }
}

# ensure_docker — use a Docker engine that answers, or start one. The engine we start has no
# default bridge and touches no iptables: tests and the demo send traffic to loopback only
# (DESIGN §3), and their containers use host networking to reach the playground on 127.0.0.1.
ensure_docker() {
  if docker info >/dev/null 2>&1; then return 0; fi
  if [ -n "${DOCKER_HOST:-}" ]; then echo "Docker at $DOCKER_HOST does not answer" >&2; return 1; fi
  command -v dockerd >/dev/null || ensure_packages docker.io
  echo "Starting the Docker engine (dockerd --bridge=none --iptables=false) …"
  as_root sh -c 'nohup dockerd --bridge=none --iptables=false >/var/log/outpost-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "The Docker engine did not start; see /var/log/outpost-dockerd.log" >&2
  return 1
}

# ensure_node_modules — npm ci when node_modules is missing or older than the lockfile.
ensure_node_modules() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "Installing npm dependencies …"
    ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
  fi
}
