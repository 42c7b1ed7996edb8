#!/usr/bin/env bash
# Local Kubernetes API for the lab and the integration tests (etcd, kube-apiserver,
# kube-controller-manager on 127.0.0.1; no nodes, no kubelet). The logic is in k8s_lab.py.
#
#   scripts/k8s-api.sh start     # builds binaries/PKI on first use, then starts and waits ready
#   scripts/k8s-api.sh stop      # stops cleanly; no process left behind
#   scripts/k8s-api.sh restart
#   scripts/k8s-api.sh status    # exit 0 when up and ready
#   eval "$(scripts/k8s-api.sh env)"   # export KUBECONFIG=<lab>/k8s/admin.kubeconfig
#
# State: ${NODESEC_LAB_DIR:-<repo>/.lab}/k8s (pki, etcd data, kubeconfigs, logs/, run/).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 "$here/k8s_lab.py" "$@"
