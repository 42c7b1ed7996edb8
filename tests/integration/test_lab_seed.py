"""scripts/lab/lab_seed.yml seeds the local API with the lab's sample workloads, idempotently.

The seed is the lab's intended state, so it is left in place (a lab already seeded by
``scripts/lab.sh up`` is simply confirmed).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
from kubernetes import client

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
Waiter = Callable[..., None]


def _seed(kubeconfig: str, *extra: str) -> dict[str, int]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".build" / "collections"))
    playbook = Path(sys.executable).parent / "ansible-playbook"
    res = subprocess.run(
        [str(playbook), "scripts/lab/lab_seed.yml", "-e", f"lab_seed_kubeconfig={kubeconfig}", *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, f"lab_seed.yml failed:\n{res.stdout}\n{res.stderr}"
    recap = re.search(r"^localhost\s+:\s+(.*)$", res.stdout, re.MULTILINE)
    assert recap, res.stdout
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", recap.group(1))}


def test_lab_seed_is_idempotent_and_makes_the_sample_pods(
    k8s_kubeconfig: str, k8s_client: client.ApiClient, wait_until: Waiter
) -> None:
    first = _seed(k8s_kubeconfig)
    assert first["failed"] == 0
    second = _seed(k8s_kubeconfig)
    assert second["changed"] == 0 and second["failed"] == 0

    core = client.CoreV1Api(k8s_client)

    def owned(namespace: str, kind: str) -> list[client.V1Pod]:
        return [
            p
            for p in core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/part-of=nodesec-lab").items
            if any(ref.kind == kind and ref.controller for ref in p.metadata.owner_references or [])
        ]

    assert len(owned("front-apps", "ReplicaSet")) == 2
    assert sorted(p.metadata.name for p in owned("front-apps", "StatefulSet")) == ["web-store-0", "web-store-1"]
    # One DaemonSet pod per registered lab node, pinned to it by node affinity.
    ds_pods = owned("lab-system", "DaemonSet")
    required = [p.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution for p in ds_pods]
    pinned = sorted(term.match_fields[0].values[0] for r in required for term in r.node_selector_terms)
    assert pinned == ["cp1", "node1"]

    standalone = {p.metadata.name: p for p in core.list_namespaced_pod("lab-apps").items}
    assert set(standalone) == {
        "compliant-web",
        "privileged-debug",
        "cache-emptydir",
        "log-reader-hostpath",
        "db-pvc",
        "node-debugger",
    }
    compliant = standalone["compliant-web"]
    ctx = compliant.spec.containers[0].security_context
    assert ctx.read_only_root_filesystem is True and ctx.capabilities.drop == ["ALL"]
    assert compliant.spec.security_context.run_as_non_root is True
    assert not compliant.spec.volumes
    assert standalone["privileged-debug"].spec.containers[0].security_context.privileged is True
    assert standalone["node-debugger"].spec.host_pid is True
    assert standalone["cache-emptydir"].spec.volumes[0].empty_dir is not None
    assert standalone["log-reader-hostpath"].spec.volumes[0].host_path.path == "/var/log"
    assert standalone["db-pvc"].spec.volumes[0].persistent_volume_claim.claim_name == "db-data"
    wait_until(
        "PVC lab-apps/db-data to be Bound",
        lambda: core.read_namespaced_persistent_volume_claim("db-data", "lab-apps").status.phase == "Bound",
        timeout=30,
    )
    assert {n.metadata.name for n in core.list_node(label_selector="app.kubernetes.io/part-of=nodesec-lab").items} == {
        "cp1",
        "node1",
    }
