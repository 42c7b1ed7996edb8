"""The collection archive, installed as a user installs it, runs a role and modules.

scripts/build-check.sh builds the archive and installs it with its dependency kubernetes.core
(the copy the `ansible` package ships in this venv: Galaxy is not reachable) into an empty
collections path, offline. Here a playbook outside the checkout then runs, against that path
alone (ANSIBLE_COLLECTIONS_PATH, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false, a configuration file
of its own, the checkout's ansible.cfg not read):

- the role nodesec.kubernetes.audit_logging on a copy of a real kubeadm v1.35 kube-apiserver
  manifest (no kubelet here: its health check is off), which calls our static_pod_manifest
  module and our audit_policy_validate filter;
- the module nodesec.kubernetes.pod_compliance_info against the local Kubernetes API;
- kubernetes.core.k8s_info, the dependency, against the same API.

Ansible's -vvv output names the file of every module it runs and every task it loads: all of
them must be under the new path, none in the checkout.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from ansible_adhoc import tool_env
from kubernetes import client

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MANIFEST = REPO / "tests" / "testdata" / "kubeadm" / "v1.35" / "kube-apiserver.yaml"


@pytest.fixture(scope="module")
def installed(built_collection: Path) -> Path:
    """The installed archive (the session-wide build-check run)."""
    return built_collection


def test_archive_holds_the_collection_and_no_lab(installed: Path) -> None:
    (archive,) = (installed / "dist").glob("nodesec-kubernetes-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {m.name for m in tar.getmembers()}
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    top = {n.split("/")[0] for n in names}
    assert not top & {"scripts", "molecule", "inventories", "bench", "tests"}, sorted(top)
    assert "playbooks/lab_seed.yml" not in names
    assert {"plugins", "roles", "playbooks", "meta"} <= top
    assert {"meta/runtime.yml", "meta/execution-environment.yml", "requirements.txt", "bindep.txt"} <= names
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    assert manifest["collection_info"]["dependencies"] == galaxy["dependencies"]
    assert "kubernetes.core" in galaxy["dependencies"]
    # Both collections are real copies in the new path, not links back to a checkout or venv.
    for name in ("nodesec/kubernetes", "kubernetes/core"):
        path = installed / "collections" / "ansible_collections" / name
        assert path.is_dir() and not path.is_symlink(), path
        assert (path / "MANIFEST.json").is_file()


def _privileged_pod(name: str) -> dict:
    container = {"name": "main", "image": "registry.invalid/app:1", "securityContext": {"privileged": True}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container]}}


def test_role_and_modules_run_from_the_installed_copy(
    installed: Path, tmp_path: Path, k8s_kubeconfig: str, k8s_client: client.ApiClient, k8s_namespace: str
) -> None:
    collections = installed / "collections"
    client.CoreV1Api(k8s_client).create_namespaced_pod(k8s_namespace, _privileged_pod("priv"))
    (tmp_path / "manifests").mkdir()
    manifest = tmp_path / "manifests" / "kube-apiserver.yaml"
    shutil.copyfile(MANIFEST, manifest)
    results = tmp_path / "results.json"
    play = {
        "name": "The installed collection",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {
            "ansible_python_interpreter": sys.executable,
            "audit_logging_manifest_path": str(manifest),
            "audit_logging_policy_path": str(tmp_path / "audit" / "policy.yaml"),
            "audit_logging_log_path": str(tmp_path / "log" / "audit.log"),
            "audit_logging_backup_dir": str(tmp_path / "backup"),
            "audit_logging_install_dependencies": False,
            "audit_logging_service_manage": False,
        },
        "tasks": [
            {
                "name": "The audit_logging role",
                "ansible.builtin.include_role": {"name": "nodesec.kubernetes.audit_logging"},
            },
            {
                "name": "Our module against the API",
                "nodesec.kubernetes.pod_compliance_info": {"kubeconfig": k8s_kubeconfig, "namespaces": [k8s_namespace]},
                "register": "info",
            },
            {
                "name": "The dependency against the API",
                "kubernetes.core.k8s_info": {
                    "kubeconfig": k8s_kubeconfig,
                    "kind": "Pod",
                    "namespace": k8s_namespace,
                    "name": "priv",
                },
                "register": "pods",
            },
            {
                "name": "Save the results",
                "ansible.builtin.copy": {
                    "dest": str(results),
                    "content": "{{ {'info': info, 'pods': pods} | to_json }}",
                    "mode": "0600",
                },
            },
        ],
    }
    (tmp_path / "play.yml").write_text(yaml.safe_dump([play], sort_keys=False))
    (tmp_path / "ansible.cfg").write_text("[defaults]\nretry_files_enabled = False\n")
    env = tool_env(config=tmp_path / "ansible.cfg", collections=collections, scrub_ansible_env=True, scrub_k8s_env=True)
    env.update({"ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false", "ANSIBLE_NOCOLOR": "1"})
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-vvv", "-i", "localhost,", "play.yml"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]

    # What ran, and where from.
    module_files = set(re.findall(r"Using module file (\S+)", out))
    task_files = {p.rsplit(":", 1)[0] for p in re.findall(r"task path: (\S+)", out)}
    ours = {f for f in module_files | task_files if "/ansible_collections/" in f}
    assert all(f.startswith(str(collections) + "/") for f in ours), sorted(ours)
    # ansible-core itself comes from the Python environment, which may sit inside the checkout (.venv).
    env_prefix = str(Path(sys.prefix).resolve()) + "/"
    from_checkout = sorted(f for f in module_files | task_files if str(REPO) in f and not f.startswith(env_prefix))
    assert not from_checkout, from_checkout
    ran = {Path(f).stem for f in module_files if f.startswith(str(collections))}
    assert {"static_pod_manifest", "pod_compliance_info", "k8s_info"} <= ran, sorted(ran)
    assert any("/nodesec/kubernetes/roles/audit_logging/tasks/" in f for f in task_files), sorted(task_files)

    # What it did.
    text = manifest.read_text()
    assert f"--audit-policy-file={tmp_path / 'audit' / 'policy.yaml'}" in text
    assert f"--audit-log-path={tmp_path / 'log' / 'audit.log'}" in text
    assert (tmp_path / "audit" / "policy.yaml").is_file()
    saved = json.loads(results.read_text())
    assert [p["name"] for p in saved["info"]["pods"]] == ["priv"]
    assert "privileged" in saved["info"]["pods"][0]["rules"]
    assert [r["metadata"]["name"] for r in saved["pods"]["resources"]] == ["priv"]
