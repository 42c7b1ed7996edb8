"""Fixtures giving integration tests the local Kubernetes API (scripts/k8s-api.sh).

- ``k8s_kubeconfig`` (session): path of the lab's admin kubeconfig (cluster-admin, TLS
  verified). If the API already runs it is reused and left running; otherwise it is started
  for the session and stopped at its end.
- ``k8s_client`` (session): a ``kubernetes.client.ApiClient`` built from that kubeconfig.
- ``k8s_namespace`` (function): a fresh, uniquely named namespace whose ``default``
  ServiceAccount exists (so pods can be created at once); deleted after the test.
- ``wait_until`` (session): ``wait_until(what, predicate, timeout=60)`` polls and fails the
  test with ``what`` in the message on timeout.

- ``kubeadm_lab`` (function): the kubeadm lab (scripts/lab-kubeadm.sh) up and its API ready, a
  ``lab_fixtures.KubeadmLab``. Brought up when it is down (a test may have taken it down); if
  this session brought it up, it is removed at the session's end (NODESEC_KEEP_LAB=1 keeps it).
  A test that takes this fixture is marked ``kubeadm_lab`` at collection (mark by hand a test
  that drives scripts/lab-kubeadm.sh itself): scripts/test.sh runs the kubeadm lab's tests in a
  pytest of their own beside the others, so a test of the lab must never land in the other one.

Mark tests with ``pytest.mark.integration``.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
from ansible_adhoc import tool_env
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from lab_fixtures import KubeadmLab, ensure_kubeadm_lab, lab_kubeadm

REPO = Path(__file__).resolve().parents[2]
K8S_API = REPO / "scripts" / "k8s-api.sh"


def _k8s_api(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(K8S_API), *args], check=check, capture_output=True, text=True)


def wait_until(what: str, predicate: Callable[[], bool], timeout: float = 60.0, interval: float = 0.25) -> None:
    """Poll ``predicate`` until it returns True; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


Waiter = Callable[..., None]


@pytest.fixture(name="wait_until", scope="session")
def wait_until_fixture() -> Waiter:
    """``wait_until(what, predicate, timeout=60)``: poll, fail the test on timeout."""
    return wait_until


@pytest.fixture(scope="session")
def k8s_kubeconfig() -> Iterator[str]:
    env = _k8s_api("env").stdout.strip()
    kubeconfig = env.split("=", 1)[1]
    if _k8s_api("status", check=False).returncode == 0:
        yield kubeconfig
        return
    started = _k8s_api("start", check=False)
    if started.returncode != 0:
        pytest.fail(f"scripts/k8s-api.sh start failed:\n{started.stderr}", pytrace=False)
    try:
        yield kubeconfig
    finally:
        _k8s_api("stop", check=False)


@pytest.fixture(scope="session")
def k8s_client(k8s_kubeconfig: str) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=k8s_kubeconfig)
    try:
        yield api
    finally:
        api.close()


def _namespace_name(nodeid: str) -> str:
    test = re.sub(r"[^a-z0-9-]+", "-", nodeid.rsplit("::", 1)[-1].lower()).strip("-")[:40].strip("-")
    return f"it-{test}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def k8s_namespace(k8s_client: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    core = client.CoreV1Api(k8s_client)
    name = _namespace_name(request.node.nodeid)
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={"nodesec.test/integration": "true"}))
    )

    def default_sa() -> bool:
        try:
            core.read_namespaced_service_account("default", name)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    try:
        # The ServiceAccount admission plugin rejects pods until the controller manager has
        # created the namespace's `default` ServiceAccount.
        wait_until(f"ServiceAccount {name}/default", default_sa, timeout=30)
        yield name
    finally:
        if os.environ.get("NODESEC_KEEP_NAMESPACES") != "1":
            try:
                core.delete_namespace(name)
            except ApiException as exc:
                if exc.status != 404:
                    raise


@pytest.fixture(scope="session")
def built_collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scripts/build-check.sh once per session into a fresh folder: dist/ (the archive) and
    collections/ (the archive installed with kubernetes.core, offline, into an empty path)."""
    work = tmp_path_factory.mktemp("built-collection")
    env = {**tool_env(scrub_ansible_env=True), "BUILD_CHECK_DIR": str(work)}
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "build-check.sh")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work


@pytest.fixture(scope="session")
def _kubeadm_lab_session() -> Iterator[dict]:
    record = {"brought_up": False}
    yield record
    if record["brought_up"] and os.environ.get("NODESEC_KEEP_LAB") != "1":
        lab_kubeadm("down")


@pytest.fixture
def kubeadm_lab(_kubeadm_lab_session: dict) -> KubeadmLab:
    lab, was_down = ensure_kubeadm_lab()
    _kubeadm_lab_session["brought_up"] |= was_down
    return lab


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that takes the ``kubeadm_lab`` fixture ``kubeadm_lab`` (its lane in scripts/test.sh)."""
    for item in items:
        if "kubeadm_lab" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kubeadm_lab)
