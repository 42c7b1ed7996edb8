"""End to end: the audit_logging role on the kubeadm lab's control plane, under its real kubelet.

The lab (scripts/lab-kubeadm.sh) is a kubeadm cluster in Docker nodes: cp1's kubelet runs the
kube-apiserver static pod from /etc/kubernetes/manifests/kube-apiserver.yaml, as on any kubeadm
node, and restarts it when the role changes the manifest. The API is reached from here on
127.0.0.1:16444 (a forward into cp1's network namespace), TLS verified with the cluster CA.

1. The CKS task (playbooks/vars/audit_logging_cks_example.yml): the real API server writes the
   audit log the task asks for (namespaces at RequestResponse, secrets without bodies, no
   RequestReceived stage, the rest at Metadata; maxage 10, maxbackup 2); a second run changes
   nothing.
2. A policy kube-apiserver refuses: the new API server crash-loops, the role sees its first
   exit, rolls back manifest and policy (byte for byte), the API comes back, the role fails
   naming what it rolled back; well before the configured timeout.
3. A flag that makes the API server crash-loop: rolled back the same way.
4. The kubelet slow to pick up the change (stopped): the old API server still answers, but the
   role does not call that success; it fails at its deadline, rolls back, and the API serves.

The lab is brought up when missing (conftest's kubeadm_lab: 15 s warm, about 90 s from a removed
lab with binaries and images cached) and removed at the session's end if the session brought it
up. NODESEC_KUBEADM_LAB=0 skips.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from audit_lab import BACKUPS, LOG, MANIFEST, POLICY, node, run_role

pytestmark = [
    pytest.mark.integration,
    pytest.mark.kubeadm_lab,
    pytest.mark.skipif(os.environ.get("NODESEC_KUBEADM_LAB") == "0", reason="NODESEC_KUBEADM_LAB=0"),
]


def state() -> tuple[str, str]:
    return node("cat", MANIFEST), node("cat", POLICY, check=False)


def test_cks_task_in_the_real_audit_log_then_unchanged(kubeadm_lab):
    from kubernetes import client, config

    run = run_role()
    assert run.returncode == 0, run.explain()
    manifest = node("cat", MANIFEST)
    assert "--audit-log-maxage=10" in manifest and "--audit-log-maxbackup=2" in manifest
    assert node("stat", "-c", "%a %U:%G", MANIFEST).strip() == "600 root:root"
    assert sorted(node("ls", "/etc/kubernetes/manifests").split()) == [
        "etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml",
    ]  # fmt: skip
    # The running API server is the new one: its command line has the audit flags.
    running = node("sh", "-c", "tr '\\0' ' ' </proc/$(pgrep -xo kube-apiserver)/cmdline")
    assert "--audit-log-path=/var/log/kubernetes/audit-logs.txt" in running

    api = config.new_client_from_config(config_file=kubeadm_lab.kubeconfig)
    core = client.CoreV1Api(api)
    meta = client.V1ObjectMeta
    name = f"audit-e2e-{int(time.time())}"
    core.create_namespace(client.V1Namespace(metadata=meta(name=name)))
    core.patch_namespace(name, {"metadata": {"labels": {"audit": "e2e"}}})
    core.create_namespaced_secret(name, client.V1Secret(metadata=meta(name="s"), string_data={"pw": "s3cr3t-e2e"}))
    core.create_namespaced_config_map(name, client.V1ConfigMap(metadata=meta(name="c"), data={"k": "v"}))
    core.list_namespaced_pod(name)
    core.delete_namespace(name)

    def ours():
        events = [json.loads(line) for line in node("cat", LOG).splitlines() if line.strip()]
        return [e for e in events if e.get("objectRef", {}).get("namespace") == name
                or e.get("objectRef", {}).get("name") == name]  # fmt: skip

    deadline = time.monotonic() + 30  # the log backend writes in batches
    while len({e["verb"] for e in ours() if e["objectRef"]["resource"] == "namespaces"}) < 3:
        assert time.monotonic() < deadline, "namespace create/patch/delete not in the audit log"
        time.sleep(1)
    events = ours()
    assert "s3cr3t-e2e" not in node("cat", LOG)
    assert all(e["stage"] != "RequestReceived" for e in events)
    for e in events:
        resource = e["objectRef"]["resource"]
        if resource == "namespaces" and e["verb"] in ("create", "patch", "delete"):
            assert e["level"] == "RequestResponse", e
            assert "responseObject" in e
        elif resource in ("secrets", "configmaps"):
            assert e["level"] == "Metadata" and "requestObject" not in e and "responseObject" not in e, e
        elif resource == "pods":
            assert e["level"] == "Metadata", e

    again = run_role()
    assert again.returncode == 0, again.explain()
    assert again.stats["cp1"]["changed"] == 0


def _assert_rolled_back(lab, run, before, seconds_max):
    assert run.returncode != 0
    out = run.messages()
    assert "Rolled back" in out and f"restored from {BACKUPS}/kube-apiserver.yaml." in out, out[-3000:]
    assert "The API server is ready again." in out, out[-3000:]
    assert state() == before  # manifest and policy as they were, byte for byte
    assert lab.readyz_ok()
    assert "kube-apiserver.yaml" in node("ls", "/etc/kubernetes/manifests")
    assert node("ls", "/etc/kubernetes/audit").split() == ["policy.yaml"]  # no backup beside it
    assert run.seconds < seconds_max, f"{run.seconds:.0f}s"


def test_refused_policy_is_rolled_back_at_the_first_crash(kubeadm_lab):
    assert run_role().returncode == 0
    before = state()
    run = run_role(
        {
            "audit_logging_policy_validate": False,
            "audit_logging_policy_rules": [{"level": "Everything"}],
            "audit_logging_health_timeout": 170,
        }
    )
    assert "crash-loops" in run.messages(), run.explain()
    # The old API server's 30 s grace period and the kubelet's backoff come first; the rollback
    # starts at the new container's first exit, not at the 170 s deadline.
    _assert_rolled_back(kubeadm_lab, run, before, 150)


def test_crash_looping_flag_is_rolled_back(kubeadm_lab):
    before = state()
    # kube-apiserver refuses a negative --audit-log-maxsize at start: it exits, again and again
    run = run_role({"audit_logging_log_maxsize": -5, "audit_logging_health_timeout": 170})
    assert "crash-loops" in run.messages(), run.explain()
    _assert_rolled_back(kubeadm_lab, run, before, 150)


def test_slow_kubelet_is_no_false_success(kubeadm_lab):
    before = state()
    node("systemctl", "stop", "kubelet")
    try:
        run = run_role({"audit_logging_log_maxbackup": 3, "audit_logging_health_timeout": 20})
    finally:
        node("systemctl", "start", "kubelet")
    # The old API server answered all along: no success without the new pod.
    assert "has not started a kube-apiserver pod from the new manifest" in run.messages(), run.explain()
    assert run.returncode != 0
    assert state() == before
    kubeadm_lab.wait_ready()
