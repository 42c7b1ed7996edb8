#!/usr/bin/env bash
# The kubeadm lab: a real Kubernetes cluster in Docker "nodes" of our locally built images,
# each with its own containerd and kubelet, made by `kubeadm init` and `kubeadm join`.
#
#   nodesec-kcp1    Debian 12, hostname cp1, control plane (kubeadm init), 10.77.0.11
#   nodesec-knode1  Debian 13, hostname node1, worker (kubeadm join),      10.77.0.12
#
#   scripts/lab-kubeadm.sh up        # images, nodes, cluster, pod network (idempotent)
#   scripts/lab-kubeadm.sh down      # remove nodes, network, state, cgroups; restore sysctls
#   scripts/lab-kubeadm.sh status    # nodes and their readiness; exit 1 unless all Ready
#   scripts/lab-kubeadm.sh env       # eval "$(scripts/lab-kubeadm.sh env)": KUBECONFIG
#
# Addresses (nothing is bridged or routed to the host's interfaces, nothing is masqueraded):
#   - the host: 127.0.0.1:${NODESEC_KUBEADM_PORT:-16444} only, a forward (lab_forward.py)
#     into cp1's network namespace to its API server at 127.0.0.1:6443;
#   - the lab's own network namespace "nodesec-lab": a bridge without an address, one veth to
#     each node; the nodes: 10.77.0.0/24 on their eth0 (no other interface but lo);
#   - pods: 10.244.0.0/24 on cp1, 10.244.1.0/24 on node1 (CNI bridge cni0 in the node), routed
#     between the two nodes over 10.77.0.0/24; Services 10.96.0.0/12 (no kube-proxy: not
#     reachable, as no pod needs them).
# The fast API of scripts/k8s-api.sh (127.0.0.1:16443) is separate and untouched.
#
# Falco on a node (the falco role, falco_install_method package_file) reads the host's /proc,
# bind-mounted read-only at /host/proc (HOST_ROOT=/host in its unit: the node has its own PID
# namespace, the kernel's events carry the host's PIDs); with HOST_ROOT the container plugin
# looks for the runtime's socket under /host, where /host/run/containerd leads to the node's own
# containerd (a symlink in the node image).
#
# Host side effects, all undone by `down`: the kubelet sets vm.overcommit_memory,
# kernel.panic and kernel.panic_on_oops host-wide (recorded before the first node starts,
# restored); cgroups under <controller>/nodesec-lab/; state under ${NODESEC_LAB_DIR}/kubeadm.
set -euo pipefail

LOG_TAG=lab-kubeadm
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/common.sh
source "$HERE/lib/common.sh"

LAB_DIR="${NODESEC_LAB_DIR:-$NODESEC_REPO/.lab}"
STATE="$LAB_DIR/kubeadm"
PORT="${NODESEC_KUBEADM_PORT:-16444}"
NETNS=nodesec-lab
BRIDGE=br-lab
CGROUP_PARENT=nodesec-lab
K8S_VERSION="${K8S_VERSION:-1.35.4}"
KUBECONFIG_OUT="$STATE/admin.kubeconfig"
SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops)
READY_TIMEOUT="${NODESEC_KUBEADM_READY_TIMEOUT:-300}"
LABEL=org.nodesec.lab=kubeadm
WORKLOADS="$NODESEC_REPO/inventories/lab-kubeadm/files/sample-workloads.yaml"

# name image hostname address pod-subnet role
NODES=(
  "nodesec-kcp1 nodesec-kube:debian12 cp1 10.77.0.11 10.244.0.0/24 control-plane"
  "nodesec-knode1 nodesec-kube:debian13 node1 10.77.0.12 10.244.1.0/24 worker"
)
CP=nodesec-kcp1
CP_ADDR=10.77.0.11
# A fixed bootstrap token: the lab is local and rebuilt from nothing; the token expires.
TOKEN="nodesc.labjoin012345678"

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
  exit 2
}

state_of() {
  local s
  s=$(docker container inspect --format '{{.State.Status}}' "$1" 2>/dev/null) || s=""
  echo "${s:-absent}"
}
pid_of() { docker container inspect --format '{{.State.Pid}}' "$1"; }
in_node() { local n=$1; shift; docker exec "$n" "$@"; }
logged() { # logfile command...: output to the file (its end shown on failure), progress stays on stderr
  local f=$1; shift
  "$@" >"$f" 2>&1 || { local rc=$?; tail -n 40 "$f" >&2; return "$rc"; }
}
write_in_node() { docker exec -i "$1" sh -c "umask 077 && cat >'$2.tmp' && mv '$2.tmp' '$2'"; } # name path <content

# --- node image ----------------------------------------------------------------------------
image_recipe() { # base
  {
    echo "$1"
    docker image inspect --format '{{.Id}}' "nodesec-node:${1}"
    declare -f build_node_image
    cat "$HERE"/images/kube/containerd-config.toml "$HERE"/images/kube/kubelet.service \
      "$HERE"/images/kube/containerd-override.conf
    sha256sum "$NODE_BIN"/{kubelet,kubeadm,kubectl,crictl} | cut -d' ' -f1
  } | sha256sum | cut -c1-16
}

build_node_image() { # debian12|debian13
  local base=$1 ref="nodesec-kube:$1" hash have name
  hash=$(image_recipe "$base")
  have=$(docker image inspect --format '{{ index .Config.Labels "org.nodesec.recipe" }}' "$ref" 2>/dev/null || true)
  [[ "$have" == "$hash" ]] && return 0
  name="nodesec-kube-build-$base"
  docker rm -f "$name" >/dev/null 2>&1 || true
  # Network only for apt (the host's mirror); the image itself runs with --network none.
  docker run -d --name "$name" --network host --entrypoint sleep "nodesec-node:$base" infinity >/dev/null
  docker exec -e DEBIAN_FRONTEND=noninteractive "$name" sh -c \
    'apt-get -q update >/dev/null && apt-get install -y -q --no-install-recommends containerd runc containernetworking-plugins iptables conntrack >/dev/null && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin'
  local f
  for f in kubelet kubeadm kubectl crictl; do docker cp "$NODE_BIN/$f" "$name:/usr/local/bin/$f"; done
  docker exec "$name" mkdir -p /etc/containerd /etc/systemd/system/containerd.service.d /etc/cni/net.d \
    /etc/kubernetes/manifests
  docker cp "$HERE/images/kube/containerd-config.toml" "$name:/etc/containerd/config.toml"
  docker cp "$HERE/images/kube/containerd-override.conf" "$name:/etc/systemd/system/containerd.service.d/nodesec.conf"
  docker cp "$HERE/images/kube/kubelet.service" "$name:/etc/systemd/system/kubelet.service"
  docker exec "$name" sh -c 'printf "runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\n" >/etc/crictl.yaml
    systemctl enable containerd.service kubelet.service >/dev/null 2>&1
    chown root:root /usr/local/bin/*
    mkdir -p /host/run && ln -sfn /run/containerd /host/run/containerd'
  # The build ran `sleep`: systemd becomes the entry point again (PID 1).
  docker commit --change 'ENV container=docker' --change 'ENTRYPOINT ["/lib/systemd/systemd"]' \
    --change 'CMD ["--log-level=info"]' --change "LABEL org.nodesec.recipe=$hash" "$name" "$ref" >/dev/null
  docker rm -f "$name" >/dev/null
  docker image prune -f --filter "label=org.nodesec.recipe" >/dev/null
}

# --- host side effects ---------------------------------------------------------------------
record_sysctls() {
  mkdir -p "$LAB_DIR"
  local f="$LAB_DIR/kubeadm-sysctls.orig" s
  [[ -s "$f" ]] && return 0
  for s in "${SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")"; done >"$f.tmp"
  mv "$f.tmp" "$f"
}

restore_sysctls() {
  local f="$LAB_DIR/kubeadm-sysctls.orig" line
  [[ -s "$f" ]] || return 0
  while read -r line; do sysctl -q -w "$line" >/dev/null; done <"$f"
  rm -f "$f"
  log "restored ${SYSCTLS[*]}"
}

# The kubelet's cgroupfs driver wants its cgroup root in every mounted v1 hierarchy, and the
# nodes' systemd mounts some the host has not (hugetlb, perf_event, net_cls,net_prio): they are
# made, and removed, from inside the node. One root per node, so the kubelets never see (and
# never clean up) each other's pods.
CGROUP_SH='for m in $(findmnt -rn -t cgroup,cgroup2 -o TARGET); do'

make_cgroups() { # name hostname
  in_node "$1" sh -c "$CGROUP_SH mkdir -p \$m/$CGROUP_PARENT/$2; done"
}

remove_node_cgroups() { # name: leaves first; a cgroup still holding a task stays
  in_node "$1" sh -c "$CGROUP_SH [ -d \$m/$CGROUP_PARENT ] && find \$m/$CGROUP_PARENT -depth -type d -exec rmdir {} + 2>/dev/null; done; true"
}

remove_cgroups() { # what is left in the hierarchies the host has mounted
  local m dir rc=0
  for m in $(findmnt -rn -t cgroup,cgroup2 -o TARGET); do
    dir="$m/$CGROUP_PARENT"
    [[ -d "$dir" ]] || continue
    find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
    if [[ -d "$dir" ]]; then log "cgroup $dir is still in use"; rc=1; fi
  done
  return "$rc"
}

# --- network -------------------------------------------------------------------------------
ensure_hub() {
  if ! ip netns list | grep -qw "$NETNS"; then
    ip netns add "$NETNS"
    ip -n "$NETNS" link set lo up
    ip -n "$NETNS" link add "$BRIDGE" type bridge
    ip -n "$NETNS" link set "$BRIDGE" up
  fi
}

wire_node() { # name hostname address
  local name=$1 host=$2 addr=$3 pid
  pid=$(pid_of "$name")
  if nsenter -t "$pid" -n ip link show eth0 >/dev/null 2>&1; then return 0; fi
  ip -n "$NETNS" link del "lab-$host" >/dev/null 2>&1 || true
  # Created in the lab namespace, the peer moved straight into the node: never on the host.
  ip -n "$NETNS" link add "lab-$host" type veth peer name eth0 netns "$pid"
  ip -n "$NETNS" link set "lab-$host" master "$BRIDGE" up
  nsenter -t "$pid" -n sh -c "ip link set lo up && ip addr add $addr/24 dev eth0 && ip link set eth0 up \
    && ip route add default dev eth0 && sysctl -q -w net.ipv4.ip_forward=1"
}

route_pods() { # every node reaches the other nodes' pod subnets through their address
  local a b na nb
  for a in "${NODES[@]}"; do
    read -r na _ _ _ _ _ <<<"$a"
    for b in "${NODES[@]}"; do
      read -r nb _ _ addr_b subnet_b _ <<<"$b"
      [[ "$na" == "$nb" ]] && continue
      nsenter -t "$(pid_of "$na")" -n ip route replace "$subnet_b" via "$addr_b" dev eth0
    done
  done
}

write_cni() { # name subnet
  local conf
  conf=$(cat <<EOF
{
  "cniVersion": "1.0.0",
  "name": "nodesec-lab",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$2"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "loopback"}
  ]
}
EOF
)
  write_in_node "$1" /etc/cni/net.d/10-nodesec-lab.conflist <<<"$conf"
}

# --- nodes ---------------------------------------------------------------------------------
run_node() { # name image hostname address
  local name=$1 image=$2 host=$3 d="$STATE/$3"
  mkdir -p "$d/containerd" "$d/kubelet" "$d/etcd" "$d/log"
  docker run -d --name "$name" --hostname "$host" --label "$LABEL" \
    --network none --add-host cp1:10.77.0.11 --add-host node1:10.77.0.12 \
    --cap-add ALL --cap-drop SYS_RESOURCE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined \
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --device /dev/kmsg \
    --tmpfs /run --tmpfs /run/lock \
    -v "$d/containerd:/var/lib/containerd" -v "$d/kubelet:/var/lib/kubelet" -v "$d/etcd:/var/lib/etcd" \
    -v "$d/log:/var/log/pods" -v "$IMAGES:/opt/nodesec/images:ro" -v /proc:/host/proc:ro \
    --stop-signal SIGRTMIN+3 "$image" >/dev/null
}

wait_unit() { # name unit
  local deadline=$((SECONDS + 60))
  until in_node "$1" systemctl is-active -q "$2" 2>/dev/null; do
    ((SECONDS < deadline)) || { in_node "$1" systemctl status "$2" --no-pager >&2 || true; die "$1: $2 did not start"; }
    sleep 1
  done
}

import_images() { # name role
  local f want=(pause shell nginx)
  [[ "$2" == control-plane ]] && want+=(kube-apiserver kube-controller-manager kube-scheduler etcd)
  local have
  have=$(in_node "$1" ctr -n k8s.io images ls -q 2>/dev/null || true)
  for f in "${want[@]}"; do
    local tar tag
    tar=$(cd "$IMAGES" && ls "$f"-*.tar)
    tag=$(tar -xOf "$IMAGES/$tar" manifest.json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["RepoTags"][0])')
    grep -qxF "$tag" <<<"$have" && continue
    in_node "$1" ctr -n k8s.io images import --no-unpack=false "/opt/nodesec/images/$tar" >/dev/null
  done
}

# The nodeRegistration block of kubeadm's InitConfiguration and JoinConfiguration (the same
# for every node but its name and address): our containerd, images imported (never pulled),
# the checks a node in a container cannot pass, the kubelet's address and cgroup root.
node_registration() { # hostname address
  cat <<EOF
nodeRegistration:
  name: $1
  criSocket: unix:///run/containerd/containerd.sock
  imagePullPolicy: Never
  ignorePreflightErrors: [FileContent--proc-sys-net-bridge-bridge-nf-call-iptables, SystemVerification, Swap, Mem, NumCPU]
  kubeletExtraArgs:
    - {name: node-ip, value: "$2"}
    - {name: cgroup-root, value: "/$CGROUP_PARENT/$1"}
EOF
}

kubeadm_init_config() {
  cat <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: "$TOKEN"
    ttl: 24h0m0s
localAPIEndpoint:
  advertiseAddress: $CP_ADDR
  bindPort: 6443
$(node_registration cp1 "$CP_ADDR")
skipPhases: [addon/coredns, addon/kube-proxy]
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: nodesec-lab
kubernetesVersion: v$K8S_VERSION
imageRepository: registry.k8s.io
controlPlaneEndpoint: "$CP_ADDR:6443"
etcd:
  local:
    imageTag: 3.6.5-0
apiServer:
  certSANs: [127.0.0.1, localhost, cp1, $CP_ADDR]
networking:
  serviceSubnet: 10.96.0.0/12
  dnsDomain: cluster.local
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
EOF
}

kubeadm_join_config() { # hostname address
  cat <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: "$CP_ADDR:6443"
    token: "$TOKEN"
    unsafeSkipCAVerification: false
    caCertHashes: ["$CA_HASH"]
$(node_registration "$1" "$2")
EOF
}

ensure_forward() {
  local pidfile="$STATE/forward.pid"
  if [[ -s "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then return 0; fi
  setsid python3 "$HERE/lab_forward.py" --listen "127.0.0.1:$PORT" --container "$CP" \
    --target 127.0.0.1:6443 --pidfile "$pidfile" >>"$STATE/forward.log" 2>&1 </dev/null 8>&- &
  local deadline=$((SECONDS + 10))
  until [[ -s "$pidfile" ]]; do ((SECONDS < deadline)) || die "the API forward did not start ($STATE/forward.log)"; sleep 0.2; done
}

write_kubeconfig() {
  local tmp="$KUBECONFIG_OUT.tmp"
  in_node "$CP" cat /etc/kubernetes/admin.conf | sed "s#server: https://.*#server: https://127.0.0.1:$PORT#" >"$tmp"
  chmod 0600 "$tmp"
  mv "$tmp" "$KUBECONFIG_OUT"
}

kubectl_() { "$NODE_BIN/kubectl" --kubeconfig "$KUBECONFIG_OUT" "$@"; }

wait_nodes_ready() { # every node of NODES registered and Ready, one deadline
  local deadline=$((SECONDS + READY_TIMEOUT)) ready
  while :; do
    ready=$(kubectl_ get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l)
    ((ready == ${#NODES[@]})) && return 0
    ((SECONDS < deadline)) || { kubectl_ get nodes >&2 || true; return 1; }
    sleep 1
  done
}

node_up() { # name image hostname address subnet role
  local name=$1 image=$2 host=$3 addr=$4 subnet=$5 role=$6 st
  st=$(state_of "$name")
  case "$st" in
    running) ;;
    absent) step "$name: start from $image ($host, $addr)" run_node "$name" "$image" "$host" "$addr" ;;
    *) docker start "$name" >/dev/null ;;
  esac
  wire_node "$name" "$host" "$addr"
  wait_unit "$name" containerd
  make_cgroups "$name" "$host"
  write_cni "$name" "$subnet"
  step "$name: import images" import_images "$name" "$role"
}

# The sample workloads (inventories/lab-kubeadm/files/sample-workloads.yaml): applied (again:
# kubectl apply is idempotent), then every pod Running and Ready, the controllers' too.
seed_workloads() {
  local deadline=$((SECONDS + 60)) t ns what
  # A new namespace refuses pods until its default ServiceAccount exists: apply again.
  until kubectl_ apply -f "$WORKLOADS" >"$STATE/seed.log" 2>&1; do
    ((SECONDS < deadline)) || { cat "$STATE/seed.log" >&2; return 1; }
    sleep 1
  done
  for t in "front-apps deployment/frontend" "front-apps statefulset/web-store" "lab-system daemonset/log-shipper"; do
    read -r ns what <<<"$t"
    kubectl_ -n "$ns" rollout status "$what" --timeout="${READY_TIMEOUT}s" >/dev/null \
      || { kubectl_ -n "$ns" get pods -o wide >&2; return 1; }
  done
  kubectl_ -n lab-apps wait --for=condition=Ready pod --all --timeout="${READY_TIMEOUT}s" >/dev/null \
    || { kubectl_ -n lab-apps get pods -o wide >&2; return 1; }
}

cmd_up() {
  local start=$SECONDS node
  command -v docker >/dev/null || die "docker is not installed (scripts/docker-engine.sh)"
  "$HERE/docker-engine.sh"
  "$HERE/build-images.sh" debian12 debian13
  NODE_BIN="$(K8S_NODE=1 "$HERE/k8s-binaries.sh")"
  IMAGES="$("$HERE/k8s-images.sh")"
  mkdir -p "$STATE"
  exec 8>"$NODESEC_CACHE/lab-kubeadm.lock"
  flock 8
  step "node image nodesec-kube:debian12" build_node_image debian12
  step "node image nodesec-kube:debian13" build_node_image debian13
  record_sysctls
  ensure_hub
  for node in "${NODES[@]}"; do
    # shellcheck disable=SC2086 # the fields of a NODES entry
    node_up $node
  done
  route_pods
  if ! in_node "$CP" test -s /etc/kubernetes/admin.conf; then
    kubeadm_init_config | write_in_node "$CP" /etc/kubernetes/kubeadm-config.yaml
    step "cp1: kubeadm init" logged "$STATE/kubeadm-init.log" in_node "$CP" kubeadm init \
      --config /etc/kubernetes/kubeadm-config.yaml || die "kubeadm init failed"
  fi
  ensure_forward
  write_kubeconfig
  CA_HASH="sha256:$(in_node "$CP" cat /etc/kubernetes/pki/ca.crt | openssl x509 -pubkey -noout \
    | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)"
  for node in "${NODES[@]}"; do
    read -r name _ host addr _ role <<<"$node"
    [[ "$role" == worker ]] || continue
    in_node "$name" test -s /etc/kubernetes/kubelet.conf && continue
    kubeadm_join_config "$host" "$addr" | write_in_node "$name" /etc/kubernetes/kubeadm-join.yaml
    step "$host: kubeadm join" logged "$STATE/kubeadm-join-$host.log" in_node "$name" kubeadm join \
      --config /etc/kubernetes/kubeadm-join.yaml || die "kubeadm join failed"
  done
  step "nodes Ready" wait_nodes_ready
  step "sample workloads Running" seed_workloads
  log "kubeadm lab up in $((SECONDS - start))s; kubeconfig: $KUBECONFIG_OUT (API https://127.0.0.1:$PORT)"
}

cmd_down() {
  local node name pidfile="$STATE/forward.pid"
  if [[ -s "$pidfile" ]]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi
  for node in "${NODES[@]}"; do
    name=${node%% *}
    if [[ "$(state_of "$name")" != absent ]]; then
      # Stop the pods first: their cgroups and shim processes go with the node's containerd.
      docker exec "$name" sh -c 'systemctl stop kubelet; crictl rmp -af; systemctl stop containerd' >/dev/null 2>&1 || true
      remove_node_cgroups "$name" || true
      step "$name: remove" docker rm -f "$name" >/dev/null
    fi
  done
  ip netns list | grep -qw "$NETNS" && ip netns del "$NETNS"
  remove_cgroups || true
  restore_sysctls
  rm -rf "$STATE"
  log "kubeadm lab removed"
}

cmd_status() {
  local node name rc=0
  for node in "${NODES[@]}"; do
    name=${node%% *}
    printf '%-15s %s\n' "$name" "$(state_of "$name")"
    [[ "$(state_of "$name")" == running ]] || rc=1
  done
  ((rc == 0)) || return 1
  NODE_BIN="$(K8S_NODE=1 "$HERE/k8s-binaries.sh")"
  kubectl_ get nodes -o wide || return 1
  [[ -z "$(kubectl_ get nodes --no-headers | awk '$2 != "Ready"')" ]]
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) echo "export KUBECONFIG=$KUBECONFIG_OUT" ;;
  *) usage ;;
esac
