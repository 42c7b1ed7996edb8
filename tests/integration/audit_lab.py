"""What the audit_logging tests on the kubeadm lab share: the lab's control-plane node, its
paths, and the role run through the example CKS vars (test_audit_logging_e2e.py and
test_audit_logging_safety.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import ansible_adhoc

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventories" / "lab-kubeadm" / "hosts.yml"
PLAYBOOK = REPO / "playbooks" / "audit_logging.yml"
EXAMPLE_VARS = f"@{REPO / 'playbooks' / 'vars' / 'audit_logging_cks_example.yml'}"
CP = "nodesec-kcp1"
MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"
POLICY = "/etc/kubernetes/audit/policy.yaml"
LOG = "/var/log/kubernetes/audit-logs.txt"
BACKUPS = "/var/backups/nodesec/static-pods"


def node(*argv: str, check: bool = True) -> str:
    """``argv`` run on cp1 (``docker exec``): its standard output."""
    return subprocess.run(["docker", "exec", CP, *argv], capture_output=True, text=True, check=check).stdout


def run_role(*extra) -> ansible_adhoc.PlaybookResult:
    """playbooks/audit_logging.yml on the kubeadm lab with the CKS example vars, to its end."""
    return ansible_adhoc.run_playbook(PLAYBOOK, INVENTORY, [EXAMPLE_VARS, *extra])


def start_role(*extra) -> ansible_adhoc.RunningPlaybook:
    """The same play started in the background."""
    return ansible_adhoc.start_playbook(PLAYBOOK, INVENTORY, [EXAMPLE_VARS, *extra])
