#!/usr/bin/env bash
# The e2e environment: a private containerd (+ runc, CRI plugin) and two local registries (one open, one
# with htpasswd auth), all state under one directory, every process tracked by PID.
#
#   e2e-env.sh [--dir DIR] [--containerd-version 1.6|1.7|2.1] start|stop|status
#   e2e-env.sh [--dir DIR] restart-containerd [--kill]
#
# DIR: --dir, else $INPLACED_E2E_DIR, else /tmp/inplaced-e2e-<uid>-<hash of this checkout>. Keep it short:
# containerd's unix sockets live in it (limit 108 bytes). Several environments (e.g. one per containerd
# version) run side by side in different DIRs: each has its own root, state, sockets, ports and PIDs.
#
# --containerd-version: 1.6 is Debian bookworm's /usr/bin/containerd; 1.7 and 2.1 come from Debian's later
# releases through fetch-containerd.sh (cached in /var/cache/inplaced-e2e, fetched on first use). Start
# fails when the running containerd is not that minor. Without it: $INPLACED_E2E_CONTAINERD_BIN_DIR as is,
# else 1.6. stop and status need no version: they use the binaries that start recorded in DIR.
#
# start  writes containerd's config, starts containerd, builds and imports the test images (localhost/busybox:1,
#        localhost/pause:1), starts both registries on free loopback ports, pushes busybox:1/busybox:2 to the open
#        one and private/busybox:3 to the auth one, and writes DIR/env (KEY=VALUE lines, sourceable by bash; see
#        write_env_file). A stale environment in DIR is stopped first. Any failure prints the components' log
#        tails, tears everything down again and exits non-zero: e2e must fail, never skip.
# stop   removes all containers (tasks) of the private containerd, stops containerd, any shim of ours (and its
#        containers), both registries (all by recorded PID, or for shims by a /proc scan for our socket),
#        unmounts leftovers under DIR and deletes DIR. Idempotent; safe after a failed or partial start.
# status prints DIR/env and which of our processes are alive; exit 0 only when all are.
# restart-containerd  stops our containerd (TERM, or KILL with --kill, as a crash) by its recorded PID and
#        starts it again with the same binaries and config; shims and containers keep running, as with a
#        runtime restart on a node. Returns once CRI answers again. The previous log is kept as
#        containerd.log.<n>.
#
# start checks that the CRI plugin is loaded (1.x: io.containerd.grpc.v1 cri; 2.x also io.containerd.cri.v1
# runtime and images) and that CRI v1 answers Version on the socket, and prints the runtime's name and
# version as CRI reports them. A version=2 config is migrated by containerd 2.x itself (it logs a warning).
#
# Environment knobs: INPLACED_E2E_CONTAINERD_BIN_DIR (directory holding containerd, containerd-shim-runc-v2
# and ctr; default /usr/bin = Debian bookworm's containerd 1.6; --containerd-version overrides it),
# INPLACED_E2E_SNAPSHOTTER (overlayfs|native; default: overlayfs when an overlay mount works in DIR, else
# native), INPLACED_E2E_START_TIMEOUT (seconds, default 30), INPLACED_E2E_CACHE_DIR (default
# /var/cache/inplaced-e2e: fetched containerd versions and the built test images, shared by all DIRs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../../.." && pwd)

# ---------------------------------------------------------------------------------------------- options

dir=${INPLACED_E2E_DIR:-}
cmd=""
want_version=""
restart_signal=TERM
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --dir=*) dir=${1#--dir=}; shift ;;
    --containerd-version) want_version=$2; shift 2 ;;
    --containerd-version=*) want_version=${1#--containerd-version=}; shift ;;
    start|stop|status|restart-containerd) cmd=$1; shift ;;
    --kill) restart_signal=KILL; shift ;;
    -h|--help) sed -n '2,39p' "$0"; exit 0 ;;
    *) echo "e2e-env: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$cmd" ] || {
  echo "e2e-env: usage: e2e-env.sh [--dir DIR] [--containerd-version 1.6|1.7|2.1]" \
    "start|stop|status|restart-containerd [--kill]" >&2
  exit 2
}
case "$want_version" in
  ""|1.6|1.7|2.1) ;;
  *) echo "e2e-env: unsupported --containerd-version '$want_version' (1.6, 1.7 or 2.1)" >&2; exit 2 ;;
esac
if [ -z "$dir" ]; then
  dir=/tmp/inplaced-e2e-$(id -u)-$(printf '%s' "$repo_root" | sha256sum | cut -c1-8)
fi
case "$dir" in
  /*) ;;
  *) dir=$(pwd)/$dir ;;
esac
dir=${dir%/}
# Refuse anything that could make `stop` delete or unmount something that is not ours.
case "$dir" in
  ""|/|/tmp|/var|/var/tmp|/root|/home|/usr|/etc|/run) echo "e2e-env: refusing dir '$dir'" >&2; exit 2 ;;
esac

# The one place that says which containerd runs. start records it in DIR so that stop and status use the
# same binaries (ctr of the version that runs) without being told the version again.
bin_dir_record="$dir/containerd-bin-dir"
if [ "$cmd" != start ] && [ -s "$bin_dir_record" ]; then
  containerd_bin_dir=$(cat "$bin_dir_record")
elif [ "$cmd" = start ] && [ -n "$want_version" ]; then
  containerd_bin_dir=$(bash "$here/fetch-containerd.sh" "$want_version") || {
    echo "e2e-env: *** START FAILED: containerd $want_version is not available (see above) ***" >&2
    exit 1
  }
else
  containerd_bin_dir=${INPLACED_E2E_CONTAINERD_BIN_DIR:-/usr/bin}
fi
start_timeout=${INPLACED_E2E_START_TIMEOUT:-30}
export PATH="$containerd_bin_dir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

cd_dir="$dir/containerd"
sock="$cd_dir/containerd.sock"
ctr_bin="$containerd_bin_dir/ctr"
env_file="$dir/env"
log_dir="$dir/pod-logs"
registry_dir="$dir/registry"
auth_registry_dir="$dir/auth-registry"
# The test images depend only on this checkout's image scripts (and busybox): built once per machine into
# the project cache, shared by every environment (build-images.sh skips work when its stamp matches).
cache_dir=${INPLACED_E2E_CACHE_DIR:-/var/cache/inplaced-e2e}
images_dir="$cache_dir/images-$(cat "$here/build-images.sh" "$here/pause.c" | sha256sum | cut -c1-12)"

log() { echo "e2e-env: $*" >&2; }

ctr_() { "$ctr_bin" --address "$sock" "$@"; }

# ---------------------------------------------------------------------------------------------- processes

# pid_of NAME: the PID recorded in DIR/NAME.pid, if that process is alive and its command line names DIR
# (so a recycled PID is never signalled).
pid_of() {
  local f="$dir/$1.pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  names_our_dir "$pid" || return 1
  echo "$pid"
}

# names_our_dir PID: true when /proc/PID/cmdline mentions DIR.
names_our_dir() {
  local cmdline
  cmdline=$(tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline") || return 1
  [[ "$cmdline" == *"$dir/"* ]]
}

# stop_pid PID WHAT: TERM, wait up to 10 s, then KILL.
stop_pid() {
  local pid=$1 what=$2 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    # A zombie (our own child in this shell) counts as gone.
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
    sleep 0.05
  done
  log "$what (pid $pid) ignored TERM for 10 s: KILL"
  kill -KILL "$pid" 2>/dev/null || true
}

# descendants PID: PID's children, recursively (one `ps` listing of pid/ppid pairs).
descendants() {
  ps -e -o pid= -o ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END {
      for (p in parent) {
        q = p
        while ((q in parent) && q != root && q > 1) q = parent[q]
        if (q == root && p != root) print p
      }
    }'
}

# all_gone PID...: true when none of the processes is alive (zombies count as gone).
all_gone() {
  local p
  for p in "$@"; do
    [ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && return 1
  done
  return 0
}

# our_shims: PIDs of containerd shims whose command line names our containerd socket.
our_shims() {
  ps -ww -e -o pid= -o args= | awk -v sock="$sock" '
    index($0, "containerd-shim") && index($0, " " sock) { print $1 }'
}

# start_bg NAME LOGFILE CMD...: starts CMD in its own session with no inherited stdio (ctest waits on its
# test's pipes), records its PID in DIR/NAME.pid.
start_bg() {
  local name=$1 logfile=$2; shift 2
  setsid "$@" </dev/null >"$logfile" 2>&1 &
  echo $! > "$dir/$name.pid"
}

# started_pid_alive NAME: the process recorded in DIR/NAME.pid by start_bg exists and is no zombie.
started_pid_alive() {
  local pid
  pid=$(cat "$dir/$1.pid" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}

# wait_for SECONDS DESCRIPTION PIDNAME CMD...: polls CMD until it succeeds; fails when the time is up or the
# process recorded as PIDNAME died.
wait_for() {
  local seconds=$1 what=$2 pidname=$3; shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    # Not pid_of: right after start_bg the child may not have exec'd yet, and its command line is
    # still this script's. The PID was recorded a moment ago: it is ours while it exists.
    if ! started_pid_alive "$pidname"; then
      log "$what: process died"
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "$what: no answer after ${seconds} s"
      return 1
    fi
    sleep 0.05
  done
}

# ---------------------------------------------------------------------------------------------- start

port_is_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
  local i p
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    if port_is_free "$p"; then echo "$p"; return 0; fi
  done
  log "no free loopback port found"
  return 1
}

write_containerd_config() {
  local snapshotter=$1 major_minor=$2
  mkdir -p "$cd_dir/root" "$cd_dir/state" "$cd_dir/cni-conf" "$cd_dir/certs.d" "$cd_dir/opt" "$cd_dir/runc"
  cat > "$cd_dir/config.toml" <<EOT
# Written by tests/e2e/env/e2e-env.sh: a private containerd for inplaced's e2e tests.
version = 2
root = "$cd_dir/root"
state = "$cd_dir/state"
disabled_plugins = []
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  level = "info"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$cd_dir/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "localhost/pause:1"
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    # No AppArmor in this kernel.
    disable_apparmor = true
    # The machine lacks CAP_SYS_RESOURCE: with false every RunPodSandbox fails (sandbox oom_score_adj -998).
    restrict_oom_score_adj = true
    tolerate_missing_hugetlb_controller = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "$snapshotter"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          # systemd is not PID 1 here.
          SystemdCgroup = false
          Root = "$cd_dir/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      # Empty on purpose: e2e pods use the host network only.
      conf_dir = "$cd_dir/cni-conf"
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "$cd_dir/certs.d"
EOT
  # NRI (1.7+; enabled by default from 2.0) listens on the machine-wide /var/run/nri/nri.sock: two
  # environments side by side would fight over it, and the tests do not use it.
  if [ "$major_minor" != 1.6 ]; then
    cat >> "$cd_dir/config.toml" <<EOT
  [plugins."io.containerd.nri.v1.nri"]
    disable = true
EOT
  fi
}

# write_hosts_toml HOST:PORT: plain-HTTP access to a local registry for CRI pulls.
write_hosts_toml() {
  local host=$1
  mkdir -p "$cd_dir/certs.d/$host"
  cat > "$cd_dir/certs.d/$host/hosts.toml" <<EOT
server = "http://$host"
[host."http://$host"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
EOT
}

choose_snapshotter() {
  if [ -n "${INPLACED_E2E_SNAPSHOTTER:-}" ]; then
    echo "$INPLACED_E2E_SNAPSHOTTER"
    return
  fi
  local probe="$dir/overlay-probe"
  mkdir -p "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
  if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" \
      "$probe/merged" 2>/dev/null; then
    umount "$probe/merged"
    rm -rf "$probe"
    echo overlayfs
  else
    rm -rf "$probe"
    log "overlay mount does not work in $dir: using the native snapshotter"
    echo native
  fi
}

# binary_major_minor: "1.6", "1.7", "2.1"... of $containerd_bin_dir/containerd (from --version, before
# starting it: the config differs by version).
binary_major_minor() {
  "$containerd_bin_dir/containerd" --version 2>/dev/null |
    awk '{ v = $3; sub(/^v/, "", v); split(v, p, "."); if (p[1] != "" && p[2] != "") print p[1] "." p[2] }'
}

# check_cri_plugins MAJOR: every CRI plugin that version registers is loaded ("ok").
check_cri_plugins() {
  local major=$1 plugins want
  plugins=$(ctr_ plugins ls 2>/dev/null) || { log "ctr plugins ls failed"; return 1; }
  if [ "$major" -ge 2 ]; then
    want=("io.containerd.cri.v1 runtime" "io.containerd.cri.v1 images" "io.containerd.grpc.v1 cri")
  else
    want=("io.containerd.grpc.v1 cri")
  fi
  local w
  for w in "${want[@]}"; do
    if ! awk -v t="${w% *}" -v id="${w#* }" '$1 == t && $2 == id && $NF == "ok" { f = 1 } END { exit !f }' \
        <<<"$plugins"; then
      log "containerd's CRI plugin '$w' is not ok:"
      grep -i cri <<<"$plugins" >&2 || true
      return 1
    fi
  done
}

# cri_version: the CRI Version answer on our socket (JSON), through buf curl with our own proto.
buf_bin=${INPLACED_TOOLS_DIR:-$repo_root/.tools}/node_modules/.bin/buf
cri_version() {
  "$buf_bin" curl --schema "$repo_root/api/cri/runtime_v1.proto" --protocol grpc --http2-prior-knowledge \
    --unix-socket "$sock" http://localhost/runtime.v1.RuntimeService/Version -d '{}'
}

start_containerd() {
  local snapshotter=$1
  [ -x "$containerd_bin_dir/containerd" ] || { log "no containerd in $containerd_bin_dir"; return 1; }
  [ -x "$ctr_bin" ] || { log "no ctr in $containerd_bin_dir"; return 1; }
  command -v runc >/dev/null || { log "runc not found on PATH"; return 1; }
  local major_minor
  major_minor=$(binary_major_minor)
  [ -n "$major_minor" ] || { log "$containerd_bin_dir/containerd --version does not run"; return 1; }
  if [ -n "$want_version" ] && [ "$major_minor" != "$want_version" ]; then
    log "asked for containerd $want_version, but $containerd_bin_dir/containerd is $major_minor"
    return 1
  fi
  write_containerd_config "$snapshotter" "$major_minor"
  start_bg containerd "$cd_dir/containerd.log" "$containerd_bin_dir/containerd" --config "$cd_dir/config.toml"
  wait_for "$start_timeout" "containerd at $sock" containerd ctr_ version || return 1
  check_cri_plugins "${major_minor%%.*}" || return 1
  # CRI v1 answers on the socket before any test connects.
  wait_for "$start_timeout" "CRI Version at $sock" containerd cri_version || return 1
}

# start_registry NAME DATADIR [AUTH_HTPASSWD]: starts docker-registry on a free loopback port, prints host:port.
start_registry() {
  local name=$1 rdir=$2 htpasswd=${3:-} attempt port
  mkdir -p "$rdir/data"
  for ((attempt = 0; attempt < 5; attempt++)); do
    port=$(pick_port) || return 1
    {
      echo "version: 0.1"
      echo "log: {level: info}"
      echo "storage:"
      echo "  filesystem: {rootdirectory: $rdir/data}"
      echo "  delete: {enabled: true}"
      echo "http:"
      echo "  addr: 127.0.0.1:$port"
      echo "  headers: {X-Content-Type-Options: [nosniff]}"
      if [ -n "$htpasswd" ]; then
        echo "auth:"
        echo "  htpasswd: {realm: inplaced-e2e, path: $htpasswd}"
      fi
    } > "$rdir/config.yml"
    start_bg "$name" "$rdir/registry.log" docker-registry serve "$rdir/config.yml"
    # /v2/ answers 200 (open) or 401 (auth): any HTTP answer means it is up.
    if wait_for 15 "$name on 127.0.0.1:$port" "$name" \
        curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/v2/"; then
      echo "127.0.0.1:$port"
      return 0
    fi
    if grep -q "address already in use" "$rdir/registry.log" 2>/dev/null; then
      log "$name: port $port was taken meanwhile, trying another"
      continue
    fi
    return 1
  done
  log "$name: could not bind a port"
  return 1
}

push() {  # push LAYOUT:TAG DEST [skopeo args...]
  local src=$1 dest=$2; shift 2
  skopeo --insecure-policy copy --quiet --dest-tls-verify=false "$@" "oci:$src" "docker://$dest" >&2
}

write_env_file() {
  local snapshotter=$1 registry=$2 auth_registry=$3 user=$4 password=$5 version=$6
  # Images are distinct where a test may remove them: CRI RemoveImage drops every tag of an image.
  # REGISTRY_BUSYBOX_IMAGE is the same image as BUSYBOX_IMAGE (never remove it: pods need it);
  # REGISTRY_BUSYBOX2_IMAGE (/etc/version 2) and AUTH_BUSYBOX_IMAGE (/etc/version 3) are not imported.
  cat > "$env_file.tmp" <<EOT
INPLACED_E2E_DIR=$dir
INPLACED_E2E_CONTAINERD_SOCK=$sock
INPLACED_E2E_CONTAINERD_ENDPOINT=unix://$sock
INPLACED_E2E_CONTAINERD_VERSION=$version
INPLACED_E2E_CONTAINERD_BIN_DIR=$containerd_bin_dir
INPLACED_E2E_CTR=$ctr_bin
INPLACED_E2E_SNAPSHOTTER=$snapshotter
INPLACED_E2E_REGISTRY=$registry
INPLACED_E2E_AUTH_REGISTRY=$auth_registry
INPLACED_E2E_AUTH_USER=$user
INPLACED_E2E_AUTH_PASSWORD=$password
INPLACED_E2E_BUSYBOX_IMAGE=localhost/busybox:1
INPLACED_E2E_PAUSE_IMAGE=localhost/pause:1
INPLACED_E2E_REGISTRY_BUSYBOX_IMAGE=$registry/busybox:1
INPLACED_E2E_REGISTRY_BUSYBOX2_IMAGE=$registry/busybox:2
INPLACED_E2E_AUTH_BUSYBOX_IMAGE=$auth_registry/private/busybox:3
INPLACED_E2E_LOG_DIR=$log_dir
INPLACED_E2E_ENV_SCRIPT=$here/e2e-env.sh
EOT
  mv "$env_file.tmp" "$env_file"
}

print_logs() {
  local f
  for f in "$cd_dir/containerd.log" "$registry_dir/registry.log" "$auth_registry_dir/registry.log"; do
    [ -s "$f" ] || continue
    echo "==================== tail of $f ====================" >&2
    tail -n 40 "$f" >&2
  done
}

do_start() {
  [ "$(id -u)" = 0 ] || { log "must run as root (containerd, runc, mounts)"; return 1; }
  if [ -e "$dir" ]; then
    log "cleaning a previous environment in $dir"
    do_stop
  fi
  mkdir -p "$dir" "$log_dir"
  chmod 0755 "$dir"
  echo "$containerd_bin_dir" > "$bin_dir_record"

  local snapshotter
  snapshotter=$(choose_snapshotter)
  log "starting containerd ($containerd_bin_dir/containerd, snapshotter $snapshotter) at $sock"
  start_containerd "$snapshotter" || return 1
  local version
  version=$(ctr_ version | awk '/^Server:/ {s=1} s && $1 == "Version:" {print $2; exit}')
  [ -n "$version" ] || { log "cannot read containerd's version"; return 1; }
  # What the tests will see: the runtime's own answer to CRI Version.
  local cri
  cri=$(cri_version | tr -d ' \n')
  log "runtime: CRI Version says $cri"

  log "building test images in $images_dir"
  mkdir -p "$cache_dir"
  # Parallel starts (one per containerd version) build once, the others wait and reuse.
  flock "$images_dir.lock" bash "$here/build-images.sh" "$images_dir" ||
    { log "building the test images failed"; return 1; }
  local img
  for img in busybox-1 pause-1; do
    ctr_ -n k8s.io images import --snapshotter "$snapshotter" "$images_dir/$img.tar" >/dev/null ||
      { log "ctr images import $img failed"; return 1; }
  done

  log "starting registries"
  local registry auth_registry user=inplaced-e2e password
  password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  registry=$(start_registry registry "$registry_dir") || return 1
  mkdir -p "$auth_registry_dir"
  htpasswd -Bbn "$user" "$password" > "$auth_registry_dir/htpasswd"
  auth_registry=$(start_registry auth-registry "$auth_registry_dir" "$auth_registry_dir/htpasswd") || return 1
  write_hosts_toml "$registry"
  write_hosts_toml "$auth_registry"

  push "$images_dir/busybox-1:1" "$registry/busybox:1" || { log "push to $registry failed"; return 1; }
  push "$images_dir/busybox-2:2" "$registry/busybox:2" || { log "push to $registry failed"; return 1; }
  push "$images_dir/busybox-3:3" "$auth_registry/private/busybox:3" --dest-creds "$user:$password" ||
    { log "push to $auth_registry failed"; return 1; }

  write_env_file "$snapshotter" "$registry" "$auth_registry" "$user" "$password" "$version"
  log "ready: containerd $version ($containerd_bin_dir), registry $registry, auth registry $auth_registry; env: $env_file"
}

# ---------------------------------------------------------------------------------------------- stop

remove_all_tasks() {
  # Only while our containerd answers; the shim scan below is the backstop.
  pid_of containerd >/dev/null || return 0
  timeout 5 "$ctr_bin" --address "$sock" version >/dev/null 2>&1 || return 0
  local ns id
  for ns in $(timeout 10 "$ctr_bin" --address "$sock" namespaces ls -q 2>/dev/null); do
    for id in $(timeout 10 "$ctr_bin" --address "$sock" -n "$ns" tasks ls -q 2>/dev/null); do
      # The CRI plugin deletes exited tasks itself and may win the race ("not found"): only what is
      # still listed afterwards counts as a failure.
      timeout 20 "$ctr_bin" --address "$sock" -n "$ns" tasks rm -f "$id" >/dev/null 2>&1 || true
    done
    for id in $(timeout 10 "$ctr_bin" --address "$sock" -n "$ns" tasks ls -q 2>/dev/null); do
      log "task $ns/$id survived removal (the shim scan will kill it)"
    done
    for id in $(timeout 10 "$ctr_bin" --address "$sock" -n "$ns" containers ls -q 2>/dev/null); do
      timeout 20 "$ctr_bin" --address "$sock" -n "$ns" containers rm "$id" >/dev/null 2>&1 || true
    done
  done
}

kill_shims() {
  local shim p victims=() cgroups=() i
  for shim in $(our_shims); do
    # The shim is the subreaper of its containers: take its whole tree down with it.
    for p in $(descendants "$shim") "$shim"; do
      victims+=("$p")
      # runc would have removed the containers' cgroups: remember their (leaf) paths.
      cgroups+=($(cut -d: -f3 2>/dev/null < "/proc/$p/cgroup" | grep -v '^/$' || true))
      kill -KILL "$p" 2>/dev/null || true
    done
    log "killed leftover shim $shim and its containers"
  done
  [ ${#victims[@]} -gt 0 ] || return 0
  for ((i = 0; i < 40; i++)); do
    all_gone "${victims[@]}" && break
    sleep 0.05
  done
  # Only the exact leaf paths, never a parent another environment may share; rmdir keeps busy ones.
  local cg mnt
  for cg in $(printf '%s\n' "${cgroups[@]}" | sort -u); do
    for mnt in /sys/fs/cgroup /sys/fs/cgroup/*; do
      [ -d "$mnt$cg" ] && rmdir "$mnt$cg" 2>/dev/null || true
    done
  done
}

unmount_leftovers() {
  local mp
  # Deepest first; mountinfo field 5 is the mount point.
  for mp in $(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r -u); do
    umount -l "$mp" 2>/dev/null || log "could not unmount $mp"
  done
}

do_stop() {
  [ -d "$dir" ] || return 0
  remove_all_tasks
  local pid
  if pid=$(pid_of containerd); then stop_pid "$pid" containerd; fi
  kill_shims
  for name in registry auth-registry; do
    if pid=$(pid_of "$name"); then stop_pid "$pid" "$name"; fi
  done
  unmount_leftovers
  rm -rf --one-file-system "$dir" 2>/dev/null || {
    # A mount that went busy between the unmount and rm: once more.
    unmount_leftovers
    rm -rf --one-file-system "$dir"
  }
}

# ---------------------------------------------------------------------------------------------- restart

do_restart_containerd() {
  local signal=$1 pid i n
  [ -f "$cd_dir/config.toml" ] || { log "no environment in $dir"; return 1; }
  pid=$(pid_of containerd) || { log "our containerd is not running"; return 1; }
  kill "-$signal" "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    all_gone "$pid" && break
    sleep 0.05
  done
  if ! all_gone "$pid"; then
    log "containerd (pid $pid) ignored $signal for 10 s: KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do all_gone "$pid" && break; sleep 0.05; done
  fi
  for ((n = 1; ; n++)); do [ -e "$cd_dir/containerd.log.$n" ] || break; done
  mv "$cd_dir/containerd.log" "$cd_dir/containerd.log.$n"
  local major_minor
  major_minor=$(binary_major_minor)
  start_bg containerd "$cd_dir/containerd.log" "$containerd_bin_dir/containerd" --config "$cd_dir/config.toml"
  if ! wait_for "$start_timeout" "containerd at $sock" containerd ctr_ version ||
     ! check_cri_plugins "${major_minor%%.*}" ||
     ! wait_for "$start_timeout" "CRI Version at $sock" containerd cri_version; then
    print_logs
    return 1
  fi
}

# ---------------------------------------------------------------------------------------------- status

do_status() {
  [ -d "$dir" ] || { echo "e2e-env: no environment in $dir"; return 1; }
  [ -f "$env_file" ] && cat "$env_file"
  local rc=0 name pid
  for name in containerd registry auth-registry; do
    if pid=$(pid_of "$name"); then echo "$name: running (pid $pid)"; else echo "$name: not running"; rc=1; fi
  done
  echo "shims: $(our_shims | tr '\n' ' ')"
  return $rc
}

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

on_start_exit() {
  local rc=$?
  [ $rc -eq 0 ] && return
  print_logs
  echo "e2e-env: *** START FAILED (exit $rc) in $dir: see the logs above; tearing it down ***" >&2
  trap - EXIT
  do_stop || true
  exit "$rc"
}

case "$cmd" in
  start)
    t0=$(date +%s.%N)
    # With set -e any failing step ends the script; the trap then reports and cleans up.
    trap on_start_exit EXIT
    do_start
    trap - EXIT
    log "start took $(elapsed "$t0") s"
    ;;
  stop)
    t0=$(date +%s.%N)
    do_stop
    log "stopped ($dir removed) in $(elapsed "$t0") s"
    ;;
  status) do_status ;;
  restart-containerd)
    t0=$(date +%s.%N)
    do_restart_containerd "$restart_signal"
    log "containerd restarted (after $restart_signal) in $(elapsed "$t0") s"
    ;;
esac
