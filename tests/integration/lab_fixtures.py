"""pytest fixtures for the lab's Docker nodes (``scripts/lab-nodes.sh``) and helpers for the
kubeadm lab (``scripts/lab-kubeadm.sh``: ``KubeadmLab``, ``ensure_kubeadm_lab``; the fixture
``kubeadm_lab`` is in conftest.py).

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

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ansible_adhoc import BIN, tool_env

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
        return {**tool_env(), "ANSIBLE_FORCE_COLOR": "0"}


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
            str(BIN / "ansible-playbook"),
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


# --- the kubeadm lab (scripts/lab-kubeadm.sh) ------------------------------------------------

LAB_KUBEADM = REPO / "scripts" / "lab-kubeadm.sh"
KUBEADM_INVENTORY = REPO / "inventories" / "lab-kubeadm" / "hosts.yml"


@dataclass(frozen=True)
class KubeadmLab:
    """The kubeadm lab: cp1 (nodesec-kcp1, control plane) and node1 (nodesec-knode1), the
    admin kubeconfig on the controller (API at https://127.0.0.1:16444, TLS verified)."""

    kubeconfig: str
    containers: dict[str, str] = field(default_factory=lambda: {"cp1": "nodesec-kcp1", "node1": "nodesec-knode1"})
    inventory: Path = KUBEADM_INVENTORY

    def exec(self, node: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the node's container (``docker exec``) and capture its output."""
        return subprocess.run(
            ["docker", "exec", self.containers[node], *argv], check=check, capture_output=True, text=True
        )

    def readyz_ok(self) -> bool:
        """/readyz of the API server on cp1, TLS verified with the cluster CA (inside the node)."""
        out = self.exec(
            "cp1", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
            "--cacert", "/etc/kubernetes/pki/ca.crt", "--resolve", "kubernetes:6443:127.0.0.1",
            "https://kubernetes:6443/readyz", check=False,
        )  # fmt: skip
        return out.stdout == "200"

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not self.readyz_ok():
            if time.monotonic() > deadline:
                pytest.fail(f"the API server on cp1 is not ready after {timeout:.0f}s")
            time.sleep(1)


def lab_kubeadm(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(LAB_KUBEADM), *args], capture_output=True, text=True, check=False, timeout=timeout
    )


def ensure_kubeadm_lab() -> tuple[KubeadmLab, bool]:
    """The kubeadm lab, up (``up`` is idempotent: about 15 s warm); True when it was down before."""
    was_down = lab_kubeadm("status", timeout=120).returncode != 0
    if was_down:
        up = lab_kubeadm("up")
        if up.returncode != 0:
            pytest.fail(f"scripts/lab-kubeadm.sh up failed:\n{up.stderr[-4000:]}", pytrace=False)
    kubeconfig = lab_kubeadm("env", timeout=60).stdout.strip().split("=", 1)[1]
    lab = KubeadmLab(kubeconfig=kubeconfig)
    lab.wait_ready()
    return lab, was_down
