#!/usr/bin/env bash
# The README's run command: the demo. On a Debian bookworm machine, as root: installs what is missing, builds,
# starts a private containerd + two local registries, and shows inplaced's CRI client at work on a real
# runtime. Everything it starts is stopped again (by PID) when it ends, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export CCACHE_BASEDIR=$repo CCACHE_NOHASHDIR=true  # cache hits across clones (see scripts/test.sh)

bash scripts/install-deps.sh
mkdir -p build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >build/configure.log 2>&1 ||
  { cat build/configure.log; exit 1; }
cmake --build build -j "$(nproc)" --target inplaced inplacectl kubelet_standin

inplaced=$repo/build/daemon/inplaced
inplacectl=$repo/build/cli/inplacectl
standin=$repo/build/tests/tools/kubelet_standin
buf=$repo/.tools/node_modules/.bin/buf
env_dir=/tmp/inplaced-demo-$$
standin_pid=""
daemon_pid=""

stop_pid() {  # stop_pid PID: SIGTERM one process we started, and reap it
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then kill -TERM "$1" && wait "$1" || true; fi
}
cleanup() {
  stop_pid "$daemon_pid"
  stop_pid "$standin_pid"
  bash tests/e2e/env/e2e-env.sh --dir "$env_dir" stop || true
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*" | sed "s|$repo/build/cli/||; s|$env_dir|\$DEMO|g"; "$@"; }

step "Start a private containerd and two local registries (one with htpasswd auth)"
bash tests/e2e/env/e2e-env.sh --dir "$env_dir" start
# shellcheck disable=SC1091
. "$env_dir/env"
export INPLACED_RUNTIME_ENDPOINT=$INPLACED_E2E_CONTAINERD_ENDPOINT

step "The runtime, as inplaced's CRI client finds it"
show "$inplacectl" runtime version

step "A demo pod, created the way kubelet does it (kubelet's labels and annotations, host network)"
"$standin" --runtime-endpoint "$INPLACED_E2E_CONTAINERD_ENDPOINT" --pod demo/web --grace-period 5 \
  --container "app=$INPLACED_E2E_BUSYBOX_IMAGE=sleep 3600" \
  --container "sidecar=$INPLACED_E2E_BUSYBOX_IMAGE=trap 'exit 0' TERM; while true; do sleep 1; done" \
  >"$env_dir/standin.out" &
standin_pid=$!
for _ in $(seq 100); do grep -q '^ready' "$env_dir/standin.out" 2>/dev/null && break; sleep 0.1; done
grep '^ready' "$env_dir/standin.out" || { echo "the demo pod did not start"; exit 1; }
show "$inplacectl" runtime ps -n demo

step "Start inplaced against this containerd (control API on a private unix socket)"
sock=$env_dir/run/inplaced.sock
"$inplaced" --runtime-endpoint "$INPLACED_E2E_CONTAINERD_ENDPOINT" --socket "$sock" \
  --state-dir "$env_dir/state" --probe-address 127.0.0.1:0 \
  >"$env_dir/inplaced.out" 2>"$env_dir/inplaced.log" &
daemon_pid=$!
for _ in $(seq 100); do grep -q 'inplaced ready' "$env_dir/inplaced.out" 2>/dev/null && break; sleep 0.1; done
grep 'inplaced ready' "$env_dir/inplaced.out" || { cat "$env_dir/inplaced.log"; exit 1; }
export INPLACED_SOCKET=$sock  # inplacectl's way to the daemon (or --socket)
show "$inplacectl" health
show "$inplacectl" version
echo "\$ buf curl --protocol grpc --http2-prior-knowledge --unix-socket \$DEMO/run/inplaced.sock --list-services http://localhost"
"$buf" curl --protocol grpc --http2-prior-knowledge --unix-socket "$sock" --list-services http://localhost

step "Recreate the pod's two containers in order, with inplacectl"
show "$inplacectl" recreate web -n demo -c app,sidecar --ordered --grace 5 --deadline 120 --name upgrade-web \
  --wait --timeout 120 || { echo "the recreate did not succeed"; cat "$env_dir/inplaced.log"; exit 1; }
show "$inplacectl" list -n demo -o wide
show "$inplacectl" runtime ps -n demo
echo "\$ grep -E 'container_(killed|restart_observed)' inplaced.log   # each kill, and how each restart was noticed"
grep -E 'container_(killed|restart_observed)' "$env_dir/inplaced.log" | sed -E 's/ id=([0-9a-f]{13})[0-9a-f]*/ id=\1/; s/ new_id=([0-9a-f]{13})[0-9a-f]*/ new_id=\1/'

step "The same with OpenKruise YAML: a ContainerRecreateRequest applied as it is"
cat >"$env_dir/crr.yaml" <<YAML
apiVersion: apps.kruise.io/v1alpha1
kind: ContainerRecreateRequest
metadata:
  namespace: demo
  name: restart-sidecar
spec:
  podName: web
  containers:
  - name: sidecar
  strategy:
    failurePolicy: Fail
    terminationGracePeriodSeconds: 5
  activeDeadlineSeconds: 120
  ttlSecondsAfterFinished: 600
YAML
show cat "$env_dir/crr.yaml"
show "$inplacectl" apply -f "$env_dir/crr.yaml"
show "$inplacectl" watch restart-sidecar -n demo --until-done --timeout 120 ||
  { echo "the recreate did not succeed"; cat "$env_dir/inplaced.log"; exit 1; }

step "Pre-pull images through inplaced's NodeImage API (open registry, and the auth registry with a pull secret)"
printf '{"auths":{"%s":{"username":"%s","password":"%s"}}}' \
  "$INPLACED_E2E_AUTH_REGISTRY" "$INPLACED_E2E_AUTH_USER" "$INPLACED_E2E_AUTH_PASSWORD" >"$env_dir/auth.json"
chmod 600 "$env_dir/auth.json"
show "$inplacectl" images set "$INPLACED_E2E_REGISTRY/busybox:2" "$INPLACED_E2E_AUTH_REGISTRY/private/busybox:3" \
  --pull-secret-file "$env_dir/auth.json"
show "$inplacectl" images watch --until-done --timeout 300 ||
  { echo "the pre-pull did not succeed"; cat "$env_dir/inplaced.log"; exit 1; }
show "$inplacectl" images get -o wide
if "$inplacectl" images get -o json | grep -q "$INPLACED_E2E_AUTH_PASSWORD"; then echo "the secret leaked into the status"; exit 1; fi
show "$inplacectl" images pull "$INPLACED_E2E_REGISTRY/busybox:2" --pull-policy Always --timeout 300
show "$inplacectl" runtime image "$INPLACED_E2E_REGISTRY_BUSYBOX2_IMAGE"
show "$inplacectl" runtime image "$INPLACED_E2E_AUTH_BUSYBOX_IMAGE"

step "Done: stopping the demo pod, containerd and the registries"
