"""audit_logging with audit_logging_kubeadm_config_sync against the lab's real Kubernetes API.

The role runs on localhost (a temporary copy of the kubeadm v1.35 manifest, no kubelet: the
health check is off) and keeps kube-system/kubeadm-config in step, in four steps: check mode,
real run, check mode again (no change), real run again (no change).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import ansible_adhoc
import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
KUBEADM = REPO / "tests" / "testdata" / "kubeadm" / "v1.35"


@pytest.fixture
def kubeadm_config_map(k8s_client):
    core = client.CoreV1Api(k8s_client)
    try:
        saved = core.read_namespaced_config_map("kubeadm-config", "kube-system")
    except ApiException as exc:
        if exc.status != 404:
            raise
        saved = None
    if saved is not None:
        core.delete_namespaced_config_map("kubeadm-config", "kube-system")
    cluster = (KUBEADM / "cluster-configuration.yaml").read_text()
    core.create_namespaced_config_map(
        "kube-system",
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="kubeadm-config"), data={"ClusterConfiguration": cluster}),
    )
    try:
        yield core
    finally:
        core.delete_namespaced_config_map("kubeadm-config", "kube-system")
        if saved is not None:
            saved.metadata = client.V1ObjectMeta(name="kubeadm-config", labels=saved.metadata.labels)
            core.create_namespaced_config_map("kube-system", saved)


def _run(tmp_path: Path, kubeconfig: str, check: bool) -> dict:
    variables = {
        "audit_logging_manifest_path": str(tmp_path / "manifests" / "kube-apiserver.yaml"),
        "audit_logging_policy_host_dir": str(tmp_path / "audit"),
        "audit_logging_log_host_dir": str(tmp_path / "log"),
        "audit_logging_backup_dir": str(tmp_path / "backup"),
        "audit_logging_install_dependencies": False,
        "audit_logging_service_manage": False,
        "audit_logging_kubeadm_config_sync": True,
        "audit_logging_kubeadm_config_kubeconfig": kubeconfig,
        "ansible_python_interpreter": sys.executable,
    }
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    play = {
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "roles": ["nodesec.kubernetes.audit_logging"],
    }
    (tmp_path / "play.yml").write_text(yaml.safe_dump([play]))
    env = ansible_adhoc.ansible_env()
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        "localhost,",
        str(tmp_path / "play.yml"),
        "-e",
        f"@{REPO / 'playbooks/vars/audit_logging_cks_example.yml'}",
        "-e",
        f"@{tmp_path / 'vars.json'}",
    ] + (["--check"] if check else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False, timeout=300)
    result = json.loads(proc.stdout)
    stats = result["stats"]["localhost"]
    assert stats["failures"] == 0 and stats["unreachable"] == 0, proc.stdout[-3000:]
    return stats


def test_four_steps_keep_kubeadm_config_in_step(tmp_path, k8s_kubeconfig, kubeadm_config_map):
    (tmp_path / "manifests").mkdir()
    shutil.copyfile(KUBEADM / "kube-apiserver.yaml", tmp_path / "manifests" / "kube-apiserver.yaml")
    core = kubeadm_config_map
    before = core.read_namespaced_config_map("kubeadm-config", "kube-system").data["ClusterConfiguration"]

    assert _run(tmp_path, k8s_kubeconfig, check=True)["changed"] > 0
    assert core.read_namespaced_config_map("kubeadm-config", "kube-system").data["ClusterConfiguration"] == before
    assert _run(tmp_path, k8s_kubeconfig, check=False)["changed"] > 0
    after = yaml.safe_load(
        core.read_namespaced_config_map("kubeadm-config", "kube-system").data["ClusterConfiguration"]
    )
    args = {a["name"]: a["value"] for a in after["apiServer"]["extraArgs"]}
    assert args["audit-log-maxage"] == "10" and args["audit-log-maxbackup"] == "2"
    assert args["audit-log-path"] == "/var/log/kubernetes/audit-logs.txt"
    assert args["audit-policy-file"] == "/etc/kubernetes/audit/policy.yaml"
    assert "audit-webhook-mode" not in args
    vols = {v["name"]: v for v in after["apiServer"]["extraVolumes"]}
    assert vols["audit-policy"]["readOnly"] is True and vols["audit-policy"]["mountPath"] == "/etc/kubernetes/audit"
    assert vols["audit-log"]["hostPath"] == str(tmp_path / "log")
    assert after["networking"] == yaml.safe_load(before)["networking"]
    assert _run(tmp_path, k8s_kubeconfig, check=True)["changed"] == 0
    assert _run(tmp_path, k8s_kubeconfig, check=False)["changed"] == 0
