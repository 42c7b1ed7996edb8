"""nodesec.kubernetes.static_pod_manifest through Ansible: the four-step pattern.

check mode -> real run -> check mode again (unchanged) -> real run again (unchanged), and the
check-mode diff equals the real diff. Runs ``ansible`` ad hoc on localhost (local connection)
against copies of real kubeadm manifests in a temporary folder; no Kubernetes API needed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import ansible_adhoc
import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TESTDATA = REPO / "tests" / "testdata"
MODULE = "static_pod_manifest"


def run_module(args: dict, check: bool = False) -> dict:
    return ansible_adhoc.run_module(MODULE, args, check=check, diff=True, timeout=120)


@pytest.fixture
def node(tmp_path):
    """A fake control-plane node folder layout: manifests/ and a backup folder next to it."""
    manifests = tmp_path / "etc" / "kubernetes" / "manifests"
    manifests.mkdir(parents=True)
    return tmp_path, manifests


def _install(manifests: Path, source: Path) -> Path:
    target = manifests / "kube-apiserver.yaml"
    shutil.copyfile(source, target)
    target.chmod(0o600)
    return target


def _task_args(target: Path, backup_dir: Path) -> dict:
    return {
        "path": str(target),
        "flags": {
            "audit-policy-file": "/etc/kubernetes/audit/policy.yaml",
            "audit-log-path": "/var/log/kubernetes/audit-logs.txt",
            "audit-log-maxage": 10,
            "audit-log-maxbackup": 2,
            "audit-log-maxsize": 100,
        },
        "volumes": yaml.safe_load((TESTDATA / "static_pods" / "cks_task_volumes.yaml").read_text()),
        "backup": True,
        "backup_dir": str(backup_dir),
    }


@pytest.mark.parametrize(
    "source",
    [
        TESTDATA / "kubeadm" / "v1.35" / "kube-apiserver.yaml",
        TESTDATA / "kubeadm" / "v1.31" / "kube-apiserver.yaml",
        TESTDATA / "static_pods" / "kube-apiserver-audit-partial.yaml",
        TESTDATA / "static_pods" / "kube-apiserver-args.yaml",
    ],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_four_steps(node, source):
    root, manifests = node
    target = _install(manifests, source)
    original = target.read_bytes()
    backup_dir = root / "var" / "backups" / "static-pods"
    args = _task_args(target, backup_dir)

    # 1. check mode: reports the change and its diff, touches nothing
    check1 = run_module(args, check=True)
    assert not check1.get("failed"), check1
    assert check1["changed"] is True
    assert target.read_bytes() == original
    assert not backup_dir.exists()

    # 2. real run: same change, same diff; backup outside the manifests folder; mode kept
    real1 = run_module(args)
    assert not real1.get("failed"), real1
    assert real1["changed"] is True
    assert real1["diff"] == check1["diff"]
    assert real1["changes"] == check1["changes"]
    assert real1["diff"]["before"] == original.decode()
    assert real1["diff"]["after"] == target.read_text()
    backup = Path(real1["backup_file"])
    assert backup.parent == backup_dir and backup.read_bytes() == original
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert sorted(os.listdir(manifests)) == ["kube-apiserver.yaml"]
    pod = yaml.safe_load(target.read_text())
    ctr = pod["spec"]["containers"][0]
    tokens = (ctr.get("command") or []) + (ctr.get("args") or [])
    for expected in (
        "--audit-log-maxage=10",
        "--audit-log-maxbackup=2",
        "--audit-log-path=/var/log/kubernetes/audit-logs.txt",
    ):
        assert tokens.count(expected) == 1
    assert real1["flags"]["audit-log-maxage"] == ["10"]

    # 3. check mode again: nothing to do
    check2 = run_module(args, check=True)
    assert check2["changed"] is False and check2["changes"] == []
    assert check2["diff"]["before"] == check2["diff"]["after"]

    # 4. real run again: nothing changes, no second backup, file untouched
    after_first = (target.read_bytes(), target.stat().st_mtime_ns)
    real2 = run_module(args)
    assert real2["changed"] is False and "backup_file" not in real2
    assert (target.read_bytes(), target.stat().st_mtime_ns) == after_first
    assert len(os.listdir(backup_dir)) == 1


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda a: a["volumes"].pop(0), "--audit-policy-file"),
        (
            lambda a: a["volumes"][0].update(mount_path="/etc/kubernetes/pki"),
            "already mounted in container 'kube-apiserver' from volume 'k8s-certs'",
        ),
        (lambda a: a.update(backup_dir=a["path"].rsplit("/", 1)[0]), "second pod"),
    ],
    ids=["policy-not-mounted", "mount-path-taken", "backup-in-manifests"],
)
def test_refusal_through_ansible_leaves_file_identical(node, mutate, needle):
    root, manifests = node
    target = _install(manifests, TESTDATA / "kubeadm" / "v1.35" / "kube-apiserver.yaml")
    before = (target.read_bytes(), target.stat().st_mtime_ns)
    args = _task_args(target, root / "backups")
    mutate(args)
    for check in (True, False):
        result = run_module(args, check=check)
        assert result.get("failed") is True
        assert needle in result["msg"] and str(target) in result["msg"]
    assert (target.read_bytes(), target.stat().st_mtime_ns) == before
    assert sorted(os.listdir(manifests)) == ["kube-apiserver.yaml"]


def test_invalid_manifest_through_ansible(node):
    root, manifests = node
    target = manifests / "kube-apiserver.yaml"
    broken = (
        (TESTDATA / "kubeadm" / "v1.35" / "kube-apiserver.yaml").read_text().replace("\n  volumes:\n", "\n  volume:\n")
    )
    target.write_text(broken)
    result = run_module(_task_args(target, root / "backups"))
    assert result.get("failed") is True
    assert "spec.volume is not a known field; did you mean spec.volumes?" in result["msg"]
    assert result["field"] == "spec.volume"
    assert target.read_text() == broken
