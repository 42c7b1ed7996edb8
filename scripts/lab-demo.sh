#!/usr/bin/env bash
# `make demo`: the seed's walkthrough on the kubeadm lab (scripts/lab-kubeadm.sh), from nothing,
# everything printed from the real cluster:
#   1. the lab: kubeadm init/join, nodes Ready, the sample workloads Running;
#   2. `kubectl run nginx` (the lab's own image, never pulled) and its pod Running;
#   3. playbooks/site.yml against inventories/lab-kubeadm (Sysdig, Falco, audit logging with the
#      CKS task under cp1's real kubelet, the pod compliance report), its recap;
#   4. `kubectl exec nginx -- /bin/echo a` and what the node's tools saw of it: Falco's alert
#      (rule shell_in_container of playbooks/vars/falco_example.yml; Falco is the package
#      scripts/falco-build.sh builds; without that alert the demo exits non-zero at the end),
#      the runtime's view (crictl);
#   5. the audit log lines of a namespace change, at RequestResponse;
#   6. the pod compliance report, with what delete mode would remove.
# A second run changes nothing: site.yml's recap shows changed=0 (nginx and the lab are kept).
set -euo pipefail
LOG_TAG=demo
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/common.sh
source "$HERE/lib/common.sh"
cd "$NODESEC_REPO"
export PATH="$NODESEC_REPO/.venv/bin:$PATH" ANSIBLE_CONFIG="$NODESEC_REPO/ansible.cfg" \
  ANSIBLE_COLLECTIONS_PATH="$NODESEC_REPO/.build/collections" ANSIBLE_FORCE_COLOR=0
INV=inventories/lab-kubeadm

t0=$SECONDS
# Falco's package, built from source (cached; the first build takes 30-40 min on 2 cores).
falco_dir=$(step "Falco package (scripts/falco-build.sh)" "$HERE/falco-build.sh")
NODESEC_FALCO_DEB=$(sed -n 's/^DEB=//p' "$falco_dir/env")
[[ -s "$NODESEC_FALCO_DEB" ]] || die "no Falco package in $falco_dir/env"
export NODESEC_FALCO_DEB
step "kubeadm lab up" "$HERE/lab-kubeadm.sh" up
eval "$("$HERE/lab-kubeadm.sh" env)"
export KUBECONFIG
BIN="$(K8S_NODE=1 "$HERE/k8s-binaries.sh")"
k() { "$BIN/kubectl" "$@"; }
banner() { printf '\n=== %s\n' "$*"; }

banner "the cluster: nodes and the sample workloads"
k get nodes -o wide
k get pods -A -l app.kubernetes.io/part-of=nodesec-lab -o wide

banner "kubectl run nginx --image=nodesec.local/nginx:1.22 --image-pull-policy=Never"
k get pod nginx >/dev/null 2>&1 || k run nginx --image=nodesec.local/nginx:1.22 --image-pull-policy=Never
k wait --for=condition=Ready pod/nginx --timeout=120s >/dev/null
k get pod nginx -o wide

banner "ansible-playbook -i $INV playbooks/site.yml -e @playbooks/vars/audit_logging_cks_example.yml"
site_log="$NODESEC_REPO/.lab/demo-site.log"
s=$SECONDS
if ! ansible-playbook -i "$INV" playbooks/site.yml -e @playbooks/vars/audit_logging_cks_example.yml >"$site_log" 2>&1; then
  tail -n 60 "$site_log" >&2
  die "playbooks/site.yml failed (whole output: $site_log)"
fi
restart=$(grep -A1 'msg: kube-apiserver pod .* ready after' "$site_log" | sed 's/^ *//; s/^msg: //' | paste -sd' ' || true)
echo "audit logging on cp1: ${restart:-no change, the API server was not restarted}"
sed -n '/PLAY RECAP/,$p' "$site_log"
log "site.yml done in $((SECONDS - s))s (whole output: $site_log)"

node=$(k get pod nginx -o jsonpath='{.spec.nodeName}')
container="nodesec-k$node"
# Only the alerts Falco appends after the exec count: the events file's size before it is the
# mark. Not Falco's event time against the wall clock: Falco stamps events with the boot time
# it read at its start plus the kernel's boot clock, which drifts from the wall clock whenever
# that is stepped (a resumed VM, NTP); measured here, 3 s behind, 24 s after a pause.
events=/var/log/falco-events.log # the role's file output on the node
mark=$(docker exec "$container" sh -c 'stat -c %s "$1" 2>/dev/null || echo 0' sh "$events")
banner "kubectl exec nginx -- /bin/echo a"
k exec nginx -- /bin/echo a

banner "what Falco on $node saw (rule shell_in_container, $events)"
found=""
for _ in $(seq 1 20); do
  # (a file smaller than the mark was rotated: all of it is new)
  found=$(docker exec "$container" sh -c '[ -f "$1" ] || exit 0
    if [ "$(stat -c %s "$1")" -ge "$2" ]; then tail -c +"$(($2 + 1))" "$1"; else cat "$1"; fi' sh "$events" "$mark" | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        e = json.loads(line)
    except ValueError:
        continue
    f = e.get("output_fields", {})
    if e.get("rule") == "shell_in_container" and f.get("proc.cmdline") == "echo a":
        print(e["time"], e["priority"], e["rule"] + ":", e["output"])
        break' || true)
  [[ -n "$found" ]] && break
  sleep 1
done
echo "${found:-no alert of rule shell_in_container for echo a within 20 s: docker exec $container systemctl status falco-modern-bpf}"
# without it the walkthrough goes on (the other tools' views help to see why), then exits non-zero

banner "what the runtime on $node saw (crictl)"
docker exec "$container" crictl ps --label io.kubernetes.pod.namespace=default --label io.kubernetes.pod.name=nginx

banner "audit log on cp1: a namespace change, at RequestResponse"
ns="demo-$(date +%s)"
k create namespace "$ns" >/dev/null
k label namespace "$ns" demo=walkthrough >/dev/null
k delete namespace "$ns" --wait=false >/dev/null
sleep 2 # the log backend writes in batches
docker exec nodesec-kcp1 grep -F "\"name\":\"$ns\"" /var/log/kubernetes/audit-logs.txt \
  | python3 -c 'import json,sys
for line in sys.stdin:
    e = json.loads(line)
    if e["objectRef"].get("resource") == "namespaces":
        print(e["level"], e["stage"], e["verb"], "namespace/" + e["objectRef"]["name"], "by", e["user"]["username"],
              "+request body" if "requestObject" in e else "", "+response body" if "responseObject" in e else "")'

banner "pod compliance: the report of site.yml's run"
report_md=$(ls -t "$NODESEC_REPO"/.lab/reports/*-pod-compliance-report.md | head -n 1)
sed -n '/^- Pods scanned/,/^- Actions/p' "$report_md"
echo "(whole report: $report_md and its .json)"

banner "pod compliance: what delete mode would remove (-e pod_compliance_delete=true, here with --check)"
ANSIBLE_STDOUT_CALLBACK=ansible.posix.json ANSIBLE_LOAD_CALLBACK_PLUGINS=1 ansible-playbook -i "$INV" \
  playbooks/pod_compliance.yml -e pod_compliance_delete=true -e pod_compliance_all_namespaces=true \
  -e pod_compliance_report_dir= --check >"$NODESEC_REPO/.lab/demo-delete-check.json" \
  || die "pod_compliance.yml --check failed ($NODESEC_REPO/.lab/demo-delete-check.json)"
python3 - "$NODESEC_REPO/.lab/demo-delete-check.json" <<'EOF'
import json, sys
out = json.load(open(sys.argv[1]))
(result,) = [h for play in out["plays"] for t in play["tasks"]
             if t["task"]["name"] == "Delete the pods that are not stateless or not immutable"
             for h in t["hosts"].values()]
for p in result["pods"]:
    owner = p.get("owner")
    fate = f'{owner["kind"]}/{owner["name"]} recreates it' if owner else "a bare pod: gone for good"
    print(f'{p["action"]:>13}  {p["namespace"]}/{p["name"]}  [{", ".join(p["rules"])}]  {fate}')
print(f'{len(result["deleted"])} pods would be deleted (server-side dry run; nothing was deleted)')
EOF
log "walkthrough done in $((SECONDS - t0))s"
[[ -n "$found" ]] || die "Falco on $node raised no shell_in_container alert for the exec (see above)"
