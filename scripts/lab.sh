#!/usr/bin/env bash
# The built-in lab: Docker "nodes" from the locally built Debian images plus a real local
# Kubernetes API seeded with sample workloads.
#   scripts/lab.sh up       # engine, images, binaries, API, nodes, sample workloads (idempotent)
#   scripts/lab.sh down     # remove the nodes, stop the API
#   scripts/lab.sh status
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export PATH="$repo/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$repo/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$repo/.build/collections"

step() { printf '[lab] %s\n' "$*" >&2; }

case "${1:-up}" in
  up)
    t0=$SECONDS
    s=$SECONDS; scripts/host-packages.sh; scripts/docker-engine.sh; step "engine ready ($((SECONDS - s))s)"
    s=$SECONDS; scripts/build-images.sh; step "node images ready ($((SECONDS - s))s)"
    s=$SECONDS; scripts/k8s-binaries.sh >/dev/null; step "Kubernetes binaries ready ($((SECONDS - s))s)"
    s=$SECONDS; scripts/k8s-api.sh start; step "Kubernetes API up ($((SECONDS - s))s)"
    s=$SECONDS; scripts/lab-nodes.sh up; step "lab nodes up ($((SECONDS - s))s)"
    s=$SECONDS; ansible-playbook scripts/lab/lab_seed.yml; step "sample workloads seeded ($((SECONDS - s))s)"
    step "lab up in $((SECONDS - t0))s; kubeconfig: $repo/.lab/k8s/admin.kubeconfig"
    ;;
  down)
    # The kubeadm lab too (scripts/lab-kubeadm.sh): it restores the sysctls its kubelets set.
    scripts/lab-kubeadm.sh down || true
    scripts/lab-nodes.sh down || true
    scripts/k8s-api.sh stop || true
    ;;
  status)
    rc=0
    scripts/k8s-api.sh status || rc=1
    scripts/lab-nodes.sh status || rc=1
    exit "$rc"
    ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
