"""pytest fixtures for the lab's Docker nodes (``scripts/lab-nodes.sh``).

- ``lab_nodes`` (session): brings the nodes up with ``scripts/lab-nodes.sh up`` (idempotent:
  running nodes are kept; the Docker engine and the images are ensured first) and returns a
  :class:`LabNodes` describing them. The nodes are left running at the end of the session:
  ``scripts/lab-nodes.sh down`` removes them.
- ``lab_hosts`` (session): testinfra hosts by inventory name (``cp1``, ``node1``), reached with
  ``docker exec``.

For the whole integration suite: ``pytest_plugins = ["lab_fixtures"]`` in
``tests/integration/conftest.py``. A test module can also declare the fixtures itself from
``ensure_lab_nodes()`` and ``lab_testinfra_hosts()`` (as ``test_lab_nodes.py`` does).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAB_NODES = REPO / "scripts" / "lab-nodes.sh"
INVENTORY = REPO / "inventories" / "lab" / "hosts.yml"
KUBEADM_MANIFEST = REPO / "tests" / "testdata" / "kubeadm" / "v1.35" / "kube-apiserver.yaml"


@dataclass(frozen=True)
class LabNodes:
    """The lab's nodes: inventory name -> container name, and how to reach them."""

    containers: dict[str, str] = field(default_factory=lambda: {"cp1": "nodesec-cp1", "node1": "nodesec-node1"})
    control_plane: tuple[str, ...] = ("cp1",)
    workers: tuple[str, ...] = ("node1",)
    inventory: Path = INVENTORY

    def exec(self, node: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the node's container (``docker exec``) and capture its output."""
        return subprocess.run(
            ["docker", "exec", self.containers[node], *argv], check=check, capture_output=True, text=True
        )

    def ansible_env(self) -> dict[str, str]:
        """Environment for ``ansible``/``ansible-playbook`` against the lab inventory."""
        env = dict(os.environ)
        env["PATH"] = f"{REPO / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
        env["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / ".build" / "collections")
        env["ANSIBLE_FORCE_COLOR"] = "0"
        return env


def ensure_lab_nodes() -> LabNodes:
    """Bring the lab nodes up (idempotent) or fail the test with the script's error output."""
    result = subprocess.run(["bash", str(LAB_NODES), "up"], capture_output=True, text=True, timeout=1800, check=False)
    if result.returncode != 0:
        pytest.fail(f"scripts/lab-nodes.sh up failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return LabNodes()


def ensure_sysdig_on(node: str) -> None:
    """Install Sysdig on a lab node with the collection's own playbook (idempotent)."""
    result = subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "ansible-playbook"),
            "-i",
            str(INVENTORY),
            "-l",
            node,
            str(REPO / "playbooks" / "sysdig.yml"),
        ],
        capture_output=True,
        text=True,
        env=LabNodes().ansible_env(),
        cwd=REPO,
        timeout=1200,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"playbooks/sysdig.yml -l {node} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")


def lab_testinfra_hosts(lab_nodes: LabNodes) -> dict:
    """testinfra hosts by inventory name, reached with ``docker exec``."""
    testinfra = pytest.importorskip("testinfra")
    return {node: testinfra.get_host(f"docker://{name}") for node, name in lab_nodes.containers.items()}


@pytest.fixture(name="lab_nodes", scope="session")
def fixture_lab_nodes() -> LabNodes:
    return ensure_lab_nodes()


@pytest.fixture(name="lab_hosts", scope="session")
def fixture_lab_hosts(lab_nodes: LabNodes) -> dict:
    return lab_testinfra_hosts(lab_nodes)
