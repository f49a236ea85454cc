# Shared by scripts/test.sh and scripts/demo.sh: bring up what Outpost needs on a Debian machine.

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# What `npm ci` needs on Debian: keytar's install script builds it with node-gyp when it cannot download a
# prebuilt binary (a machine that reaches only the npm registry), and its binding.gyp asks `pkg-config` for
# libsecret-1. libsecret-1-dev also brings libsecret-1-0, which keytar loads at run time.
NPM_CI_PACKAGES=(libsecret-1-dev pkg-config python3 make g++)

# ensure_packages PKG... — install the Debian packages that are missing. Quiet when it works; when it
# fails, says which packages and shows the end of apt-get's output.
ensure_packages() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || { echo "Please install: ${missing[*]}" >&2; return 1; }
  echo "Installing ${missing[*]} …"
  local log
  log=$(mktemp)
  if ! apt_install "$log" "${missing[@]}"; then
    echo "Could not install ${missing[*]}. The end of apt-get's output:" >&2
    tail -n 20 "$log" | sed 's/^/  /' >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

# apt_install LOG PKG... — apt-get install, updating the package lists when there are none or they are stale.
apt_install() {
  local log=$1 lists updated=
  shift
  eval "$(apt-config shell lists Dir::State::Lists/d)"
  # A fresh machine (or a slim image) has no package lists, so install would find nothing: update first.
  if ! compgen -G "${lists:-/var/lib/apt/lists/}*_Packages*" >/dev/null; then
    apt_get "$log" update || return 1
    updated=1
  fi
  apt_get "$log" install -y "$@" && return 0
  [ -z "$updated" ] || return 1
  # The lists may be stale (a version gone from the mirror): update once and retry.
  apt_get "$log" update && apt_get "$log" install -y "$@"
}

# apt_get LOG ARGS... — apt-get as root (sudo resets the environment, hence env), output appended to LOG.
apt_get() {
  local log=$1
  shift
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -q "$@" >>"$log" 2>&1
}

# ensure_docker — use a Docker engine that answers, or start one. The engine we start has no
# default bridge and touches no iptables: tests and the demo send traffic to loopback only
# (DESIGN §3), and their containers use host networking to reach the playground on 127.0.0.1.
ensure_docker() {
  if docker info >/dev/null 2>&1; then return 0; fi
  if [ -n "${DOCKER_HOST:-}" ]; then echo "Docker at $DOCKER_HOST does not answer" >&2; return 1; fi
  command -v dockerd >/dev/null || ensure_packages docker.io
  echo "Starting the Docker engine (dockerd --bridge=none --iptables=false) …"
  start_dockerd
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "The Docker engine did not start; see /var/log/outpost-dockerd.log" >&2
  return 1
}

# Where start_dockerd records the pid of the engine it started: the soak's --docker-restarts restarts
# that engine and no other (on a laptop, the one that answers may be the user's own).
OUTPOST_DOCKERD_PIDFILE=${OUTPOST_DOCKERD_PIDFILE:-/run/outpost-dockerd.pid}

# start_dockerd — start the test engine in the background and record its pid (nohup execs dockerd: $! is its pid).
start_dockerd() {
  as_root sh -c 'nohup dockerd --bridge=none --iptables=false >/var/log/outpost-dockerd.log 2>&1 & echo $! >"$1"' sh "$OUTPOST_DOCKERD_PIDFILE"
}

# ensure_node_modules — npm ci when node_modules is missing or older than the lockfile.
ensure_node_modules() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "Installing npm dependencies …"
    ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
  fi
}

# ensure_podman — Podman's Docker-compatible API (rootful) on OUTPOST_PODMAN_SOCKET, for podman.test.ts: a second
# engine whose attach once garbled the session's handover. Best effort: where Podman cannot be installed or does not
# start, it says so and the Podman tests are skipped with the reason. No systemd and cgroup v1 on these machines, and
# root lacks CAP_SYS_RESOURCE (DESIGN §3): hence cgroupfs, the file events log and these ulimits, in a containers.conf
# of its own (the machine's is left alone). catatonit is the init Podman gives a container that asks for one (Init).
OUTPOST_PODMAN_SOCKET=${OUTPOST_PODMAN_SOCKET:-/run/podman-test.sock}
ensure_podman() {
  local conf=/run/outpost-podman/containers.conf
  if podman --url "unix://$OUTPOST_PODMAN_SOCKET" version >/dev/null 2>&1; then return 0; fi
  ensure_packages podman catatonit || { echo "Podman could not be installed: the Podman tests are skipped" >&2; return 0; }
  as_root mkdir -p "$(dirname "$conf")"
  printf '%s\n' '[containers]' 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]' \
    '[engine]' 'cgroup_manager = "cgroupfs"' 'events_logger = "file"' | as_root tee "$conf" >/dev/null
  echo "Starting Podman's API on $OUTPOST_PODMAN_SOCKET …"
  as_root env CONTAINERS_CONF="$conf" sh -c 'nohup podman system service --time=0 "unix://$1" >/var/log/outpost-podman.log 2>&1 &' sh "$OUTPOST_PODMAN_SOCKET"
  for _ in $(seq 1 60); do
    podman --url "unix://$OUTPOST_PODMAN_SOCKET" version >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "Podman's API did not start (see /var/log/outpost-podman.log): the Podman tests are skipped" >&2
}

# ensure_rootless_engines — rootless Docker and rootless Podman for a desktop user (OUTPOST_DESKTOP_USER,
# made if missing, in the docker group, with subordinate uid and gid ranges), as rootless.test.ts runs
# Outpost against them. Each engine's socket is in the user's XDG_RUNTIME_DIR (/run/user/UID):
# docker.sock and podman/podman.sock. Best effort, as for rootful Podman: where one cannot be installed or
# does not start, it says so and its tests are skipped with the reason. Rootless Docker starts as
# DESIGN §3 says (--bridge=none --iptables=false: sessions reach loopback through the egress proxy only);
# rootless Podman with cgroupfs and the file events log (no systemd here) and native overlay storage.
OUTPOST_DESKTOP_USER=${OUTPOST_DESKTOP_USER:-outposttest}
ensure_rootless_engines() {
  local user=$OUTPOST_DESKTOP_USER uid home run
  ensure_packages rootlesskit uidmap slirp4netns podman catatonit || { echo "rootless engines could not be installed: their tests are skipped" >&2; return 0; }
  id -u "$user" >/dev/null 2>&1 || as_root useradd -m -G docker "$user"
  uid=$(id -u "$user")
  home=$(getent passwd "$user" | cut -d: -f6)
  run=/run/user/$uid
  grep -q "^$user:" /etc/subuid || echo "$user:100000:65536" | as_root tee -a /etc/subuid >/dev/null
  grep -q "^$user:" /etc/subgid || echo "$user:100000:65536" | as_root tee -a /etc/subgid >/dev/null
  as_root install -d -m 0700 -o "$user" -g "$(id -g "$user")" "$run"
  local as_user=(as_root setpriv "--reuid=$uid" "--regid=$(id -g "$user")" --init-groups env -i "HOME=$home" "USER=$user" "XDG_RUNTIME_DIR=$run" "PATH=/usr/share/docker.io/contrib:/usr/sbin:/sbin:/usr/bin:/bin")
  if ! DOCKER_HOST="unix://$run/docker.sock" docker version >/dev/null 2>&1; then
    echo "Starting rootless Docker for $user …"
    (cd / && "${as_user[@]}" sh -c 'nohup dockerd-rootless.sh --bridge=none --iptables=false >"$HOME/rootless-docker.log" 2>&1 &')
  fi
  if ! podman --url "unix://$run/podman/podman.sock" version >/dev/null 2>&1; then
    echo "Starting rootless Podman's API for $user …"
    (cd / && "${as_user[@]}" sh -c 'mkdir -p "$HOME/.config/containers" "$XDG_RUNTIME_DIR/podman" &&
      printf "%s\n" "[engine]" "cgroup_manager = \"cgroupfs\"" "events_logger = \"file\"" >"$HOME/.config/containers/containers.conf" &&
      printf "%s\n" "[storage]" "driver = \"overlay\"" >"$HOME/.config/containers/storage.conf" &&
      nohup podman system service --time=0 "unix://$XDG_RUNTIME_DIR/podman/podman.sock" >"$HOME/rootless-podman.log" 2>&1 &')
  fi
  for _ in $(seq 1 60); do
    DOCKER_HOST="unix://$run/docker.sock" docker version >/dev/null 2>&1 && podman --url "unix://$run/podman/podman.sock" version >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "a rootless engine did not start (see $home/rootless-docker.log, $home/rootless-podman.log): its tests are skipped" >&2
}
