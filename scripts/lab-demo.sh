#!/usr/bin/env bash
# The seed's walkthrough on the kubeadm lab (scripts/lab-kubeadm.sh), from the real cluster:
#   1. the cluster: nodes Ready;
#   2. audit logging on cp1 (playbooks/audit_logging.yml, the CKS task), the kubelet restarts
#      the API server;
#   3. `kubectl run nginx`, `kubectl exec nginx -- echo a`, what the node's runtime saw of it
#      (crictl on the node; the Sysdig/Falco view comes with the Falco work);
#   4. the audit log lines of a namespace change, at RequestResponse;
#   5. the pod compliance report, with what delete mode would remove.
# A second run changes nothing (the role reports no change; nginx is kept).
set -euo pipefail
LOG_TAG=lab-demo
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/common.sh
source "$HERE/lib/common.sh"
cd "$NODESEC_REPO"
export PATH="$NODESEC_REPO/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$NODESEC_REPO/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$NODESEC_REPO/.build/collections"
INV=inventories/lab-kubeadm

t0=$SECONDS
step "kubeadm lab up" "$HERE/lab-kubeadm.sh" up
eval "$("$HERE/lab-kubeadm.sh" env)"
export KUBECONFIG
BIN="$(K8S_NODE=1 "$HERE/k8s-binaries.sh")"
k() { "$BIN/kubectl" "$@"; }
banner() { printf '\n=== %s\n' "$*"; }

banner "nodes"
k get nodes -o wide

banner "audit logging on cp1 (the CKS task), under the real kubelet"
step "playbooks/audit_logging.yml" ansible-playbook -i "$INV" playbooks/audit_logging.yml \
  -e @playbooks/vars/audit_logging_cks_example.yml | grep -E 'ready after|changed=|WARNING' || true

banner "kubectl run nginx; kubectl exec nginx -- echo a"
k get pod nginx >/dev/null 2>&1 || k run nginx --image=nodesec.local/nginx:1.22 --image-pull-policy=Never
k wait --for=condition=Ready pod/nginx --timeout=120s >/dev/null
k get pod nginx -o wide
k exec nginx -- echo a
node=$(k get pod nginx -o jsonpath='{.spec.nodeName}')
banner "what the runtime on $node saw (crictl)"
docker exec "nodesec-k$node" crictl ps --name nginx

banner "audit log: a namespace change at RequestResponse"
ns="demo-$(date +%s)"
k create namespace "$ns" >/dev/null
k label namespace "$ns" demo=walkthrough >/dev/null
k delete namespace "$ns" --wait=false >/dev/null
sleep 2
docker exec nodesec-kcp1 grep -F "\"name\":\"$ns\"" /var/log/kubernetes/audit-logs.txt \
  | python3 -c 'import json,sys
for line in sys.stdin:
    e = json.loads(line)
    if e["objectRef"].get("resource") == "namespaces":
        print(e["level"], e["verb"], e["objectRef"]["name"], "by", e["user"]["username"],
              "request body" if "requestObject" in e else "", "response body" if "responseObject" in e else "")'

banner "pod compliance report (delete mode would remove the offenders listed)"
ansible-playbook -i "$INV" playbooks/pod_compliance.yml | grep -vE '^\s*$' | tail -n 25
log "walkthrough done in $((SECONDS - t0))s"
