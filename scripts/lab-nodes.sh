#!/usr/bin/env bash
# The lab's Docker "nodes" (inventories/lab/hosts.yml), from the locally built images:
#
#   nodesec-cp1    Debian 12, hostname cp1, control plane: /etc/kubernetes/manifests/
#                  kube-apiserver.yaml as kubeadm v1.35 writes it (0600 root:root)
#   nodesec-node1  Debian 13, hostname node1, worker
#
#   scripts/lab-nodes.sh up               # engine + images + running nodes (idempotent)
#   scripts/lab-nodes.sh down             # remove the nodes
#   scripts/lab-nodes.sh status           # one line per node; exit 1 unless all are ready
#   scripts/lab-nodes.sh reset-manifest   # put the pristine kubeadm manifest back on cp1
#
# `up` keeps running nodes as they are and never overwrites a manifest a play has changed.
# systemd is PID 1 in every node; the containers share the host's network namespace (there is
# no Docker bridge) and the images mask every unit that could touch the host from there.
set -euo pipefail

LOG_TAG=lab-nodes
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/common.sh
source "$HERE/lib/common.sh"

# name image hostname role
NODES=(
  "nodesec-cp1 nodesec-node:debian12 cp1 control-plane"
  "nodesec-node1 nodesec-node:debian13 node1 worker"
)
CONTROL_PLANE=nodesec-cp1
MANIFEST_SRC="$NODESEC_REPO/tests/testdata/kubeadm/v1.35/kube-apiserver.yaml"
MANIFEST_DIR=/etc/kubernetes/manifests
MANIFEST="$MANIFEST_DIR/kube-apiserver.yaml"
BOOT_TIMEOUT="${NODESEC_BOOT_TIMEOUT:-90}"
MANIFEST_WAIT="${NODESEC_MANIFEST_WAIT:-600}"
LABEL=org.nodesec.lab=node

usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

state_of() {
  local state
  state=$(docker container inspect --format '{{.State.Status}}' "$1" 2>/dev/null) || state=""
  echo "${state:-absent}"
}

systemd_state() { docker exec "$1" systemctl is-system-running 2>/dev/null || true; }

run_node() { # name image hostname role
  docker run -d --name "$1" --hostname "$3" \
    --label "$LABEL" --label "org.nodesec.lab.role=$4" \
    --network host --cgroupns host --cap-add SYS_ADMIN \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
    --stop-signal SIGRTMIN+3 --restart unless-stopped \
    "$2" >/dev/null
}

ensure_node() { # name image hostname role
  local name=$1 image=$2 state want have
  state=$(state_of "$name")
  case "$state" in
    running)
      want=$(docker image inspect --format '{{.Id}}' "$image")
      have=$(docker container inspect --format '{{.Image}}' "$name")
      if [[ "$want" != "$have" ]]; then
        log "$name runs an older $image; kept as is ('$0 down && $0 up' recreates it)"
      fi
      log "$name is running (kept)"
      ;;
    absent)
      step "$name: start from $image (hostname $3, $4)" run_node "$@"
      ;;
    *)
      step "$name: start the existing $state container" docker start "$name" >/dev/null
      ;;
  esac
}

wait_booted() { # name
  local name=$1 state="" deadline=$((SECONDS + BOOT_TIMEOUT))
  while ((SECONDS < deadline)); do
    state=$(systemd_state "$name")
    case "$state" in
      running) return 0 ;;
      degraded)
        log "$name: systemd is degraded (fine in a container); failed units:"
        docker exec "$name" systemctl --failed --no-legend --plain >&2 || true
        return 0
        ;;
    esac
    sleep 1
  done
  log "$name: systemd did not finish booting within ${BOOT_TIMEOUT}s (state: ${state:-none})"
  docker logs --tail 30 "$name" >&2 || true
  return 1
}

# The manifest is committed by the kubeadm test data; wait for it rather than invent one.
wait_manifest_source() {
  local deadline=$((SECONDS + MANIFEST_WAIT))
  until [[ -s "$MANIFEST_SRC" ]]; do
    ((SECONDS < deadline)) || die "missing $MANIFEST_SRC (the kubeadm v1.35 test data)"
    log "waiting for $MANIFEST_SRC ..."
    sleep 10
  done
}

install_manifest() { # force: 0|1
  local force=$1
  wait_manifest_source
  # kubeadm nodes installed from packages: /etc/kubernetes/manifests 0755 (kubelet package),
  # static pod manifests 0600 root:root (kubeadm).
  docker exec "$CONTROL_PLANE" install -d -m 0755 -o root -g root /etc/kubernetes "$MANIFEST_DIR"
  if ((force == 0)) && docker exec "$CONTROL_PLANE" test -e "$MANIFEST"; then
    log "$CONTROL_PLANE: $MANIFEST present (kept)"
    return 0
  fi
  docker cp "$MANIFEST_SRC" "$CONTROL_PLANE:$MANIFEST.nodesec-tmp"
  docker exec "$CONTROL_PLANE" sh -c \
    "chown root:root '$MANIFEST.nodesec-tmp' && chmod 0600 '$MANIFEST.nodesec-tmp' && mv '$MANIFEST.nodesec-tmp' '$MANIFEST'"
  log "$CONTROL_PLANE: installed $MANIFEST (kubeadm v1.35, 0600 root:root)"
}

cmd_up() {
  local start=$SECONDS node
  "$HERE/docker-engine.sh"
  "$HERE/build-images.sh" debian12 debian13
  # Several scripts may bring the lab up at once (test stages, engineers): one at a time.
  mkdir -p "$NODESEC_CACHE"
  exec 8>"$NODESEC_CACHE/lab-nodes.lock"
  flock 8
  for node in "${NODES[@]}"; do
    # shellcheck disable=SC2086 # the fields of a NODES entry
    ensure_node $node
  done
  for node in "${NODES[@]}"; do
    wait_booted "${node%% *}"
  done
  install_manifest 0
  log "lab nodes up in $((SECONDS - start))s"
}

cmd_down() {
  local node name
  for node in "${NODES[@]}"; do
    name=${node%% *}
    if [[ "$(state_of "$name")" != absent ]]; then
      step "$name: remove" docker rm -f "$name" >/dev/null
    fi
  done
}

cmd_status() {
  local node name state rc=0
  for node in "${NODES[@]}"; do
    name=${node%% *}
    state=$(state_of "$name")
    if [[ "$state" == running ]]; then
      state="running, systemd $(systemd_state "$name"), hostname $(docker exec "$name" hostname)"
      [[ "$name" == "$CONTROL_PLANE" ]] &&
        state+=", manifest $(docker exec "$name" stat -c '%a %U:%G' "$MANIFEST" 2>/dev/null || echo missing)"
    else
      rc=1
    fi
    printf '%-14s %s\n' "$name" "$state"
  done
  return "$rc"
}

command -v docker >/dev/null 2>&1 || [[ "${1:-}" == up ]] || die "docker is not installed (run '$0 up')"
case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  reset-manifest)
    [[ "$(state_of "$CONTROL_PLANE")" == running ]] || die "$CONTROL_PLANE is not running (run '$0 up')"
    install_manifest 1
    ;;
  *) usage ;;
esac
