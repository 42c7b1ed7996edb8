"""The kubeadm lab's sample workloads run, and pod compliance handles running pods as a cluster does.

On the real cluster (scripts/lab-kubeadm.sh; workloads of
inventories/lab-kubeadm/files/sample-workloads.yaml):

1. every sample pod is Running and Ready on a node (the DaemonSet's on both nodes), from the
   lab's own images;
2. pod_compliance_info reports the running offenders and not the compliant pod;
3. pod_compliance deletes them: the bare pods stay gone, the Deployment's and the
   StatefulSet's come back (new pods, new UIDs, Running again), as owners do in any cluster;
   then `lab-kubeadm.sh up` puts the bare pods back (the lab as it was).
NODESEC_KUBEADM_LAB=0 skips.
"""

from __future__ import annotations

import os
import time

import ansible_adhoc
import pytest
from lab_fixtures import lab_kubeadm

pytestmark = [
    pytest.mark.integration,
    pytest.mark.kubeadm_lab,
    pytest.mark.skipif(os.environ.get("NODESEC_KUBEADM_LAB") == "0", reason="NODESEC_KUBEADM_LAB=0"),
]

NAMESPACES = ["lab-apps", "front-apps", "lab-system"]
BARE_OFFENDERS = {"privileged-debug", "cache-emptydir", "log-reader-hostpath", "db-pvc", "node-debugger"}
LABEL = "app.kubernetes.io/part-of=nodesec-lab"


def lab_pods(core) -> list:
    return [p for ns in NAMESPACES for p in core.list_namespaced_pod(ns, label_selector=LABEL).items]


def ready(pod) -> bool:
    conditions = {c.type: c.status for c in pod.status.conditions or []}
    return (
        pod.status.phase == "Running" and conditions.get("Ready") == "True" and pod.metadata.deletion_timestamp is None
    )


def test_sample_workloads_run_and_pod_compliance_deletes_running_pods(kubeadm_lab):
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=kubeadm_lab.kubeconfig)
    core = client.CoreV1Api(api)
    pods = lab_pods(core)
    assert len(pods) == 12, sorted(p.metadata.name for p in pods)
    assert all(ready(p) for p in pods), [(p.metadata.name, p.status.phase) for p in pods if not ready(p)]
    shippers = [p for p in pods if p.metadata.name.startswith("log-shipper-")]
    assert sorted(p.spec.node_name for p in shippers) == ["cp1", "node1"]
    assert {p.spec.containers[0].image for p in pods} <= {"nodesec.local/shell:1.35", "nodesec.local/nginx:1.22"}

    args = {"kubeconfig": kubeadm_lab.kubeconfig, "namespaces": NAMESPACES}
    info = ansible_adhoc.run_module("pod_compliance_info", args, scrub_k8s_env=True)
    assert not info.get("failed"), info
    found = {p["name"] for p in info["pods"]}
    assert found >= BARE_OFFENDERS and "compliant-web" not in found, sorted(found)
    owned_before = {p.metadata.name: p.metadata.uid for p in pods if p.metadata.owner_references}

    deleted = ansible_adhoc.run_module(
        "pod_compliance", {**args, "max_deletions": 20, "grace_period": 1}, scrub_k8s_env=True
    )
    assert deleted.get("changed") and not deleted.get("failed"), deleted
    gone = {entry.split("/", 1)[1] for entry in deleted["deleted"]}
    assert gone >= BARE_OFFENDERS, sorted(gone)

    # Bare pods stay gone; every owner brings its pods back, running.
    deadline = time.monotonic() + 120
    while True:
        now = lab_pods(core)
        names = {p.metadata.name for p in now}
        owned = [p for p in now if p.metadata.owner_references]
        uids = {p.metadata.uid for p in owned}
        if (
            not names & BARE_OFFENDERS
            and len(owned) == len(owned_before)
            and all(ready(p) for p in owned)
            and not uids & {uid for name, uid in owned_before.items() if name in gone}
        ):
            break
        assert time.monotonic() < deadline, sorted((p.metadata.name, p.status.phase) for p in now)
        time.sleep(1)
    assert "compliant-web" in names

    # The lab as it was: up applies the sample workloads again.
    up = lab_kubeadm("up")
    assert up.returncode == 0, up.stderr[-3000:]
    assert len(lab_pods(core)) == 12 and all(ready(p) for p in lab_pods(core))
