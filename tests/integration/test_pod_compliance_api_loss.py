"""pod_compliance when the API server dies or hangs in the middle of a deletion run.

A throwaway control plane of its own (scripts/k8s_lab.py with NODESEC_LAB_DIR and other
loopback ports: etcd, kube-apiserver, kube-controller-manager), never the shared fast API. The
module reaches it through bench/latency_proxy.py (20 ms round trip) so that 400 deletions take
long enough to interrupt. The test kills (SIGKILL) or freezes (SIGSTOP for 10 s, then SIGCONT)
the real kube-apiserver process once a quarter of the pods are gone, and checks what the
module says and what its report on disk says against the pods that are really left.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator

import ansible_adhoc
import pytest
import yaml
from kubernetes import client, config

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PODS = 400
PARALLELISM = 2
run_module = functools.partial(ansible_adhoc.run_module, scrub_k8s_env=True)


def _free_port_base() -> int:
    """A base port whose +0..+2 (etcd) are free on loopback."""
    for base in range(22379, 22979, 10):
        try:
            for port in (base, base + 1, base + 2):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free loopback ports for the throwaway etcd")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayAPI:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {
            **os.environ,
            "NODESEC_LAB_DIR": str(root),
            "NODESEC_K8S_API_PORT": str(_free_port()),
            "NODESEC_K8S_ETCD_PORT": str(_free_port_base()),
            "NODESEC_K8S_KCM_PORT": str(_free_port()),
        }
        self.kubeconfig = root / "k8s" / "admin.kubeconfig"

    def lab(self, command: str) -> None:
        subprocess.run(
            [sys.executable, str(REPO / "scripts" / "k8s_lab.py"), command], env=self.env, check=True, timeout=300
        )

    @property
    def apiserver_pid(self) -> int:
        return int((self.root / "k8s" / "run" / "kube-apiserver.pid").read_text().split()[0])

    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(config.new_client_from_config(str(self.kubeconfig)))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayAPI]:
    server = ThrowawayAPI(tmp_path_factory.mktemp("throwaway-lab"))
    server.lab("start")
    try:
        yield server
    finally:
        server.lab("stop")


@pytest.fixture
def proxied_kubeconfig(api: ThrowawayAPI, tmp_path: Path) -> Iterator[str]:
    port = api.env["NODESEC_K8S_API_PORT"]
    proxy = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "latency_proxy.py"), "--listen", "127.0.0.1:0",
         "--target", f"127.0.0.1:{port}", "--rtt-ms", "20"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        listen = int(proxy.stdout.readline().strip().rsplit(":", 1)[-1])  # type: ignore[union-attr]
        kubeconfig = yaml.safe_load(api.kubeconfig.read_text())
        for entry in kubeconfig["clusters"]:
            entry["cluster"]["server"] = f"https://127.0.0.1:{listen}"
        path = tmp_path / "proxied.kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig))
        yield str(path)
    finally:
        proxy.kill()
        proxy.wait()


def _make_pods(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespace({"metadata": {"name": namespace}})
    deadline = time.monotonic() + 60
    while not core.list_namespaced_service_account(namespace).items:  # the default SA, from the controller
        assert time.monotonic() < deadline, "no default ServiceAccount"
        time.sleep(0.2)

    def create(i: int) -> None:
        body = {
            "metadata": {"name": f"priv-{i:03d}"},
            "spec": {
                "automountServiceAccountToken": False,
                "containers": [
                    {"name": "c", "image": "registry.k8s.io/pause:3.10", "securityContext": {"privileged": True}}
                ],
            },
        }
        core.create_namespaced_pod(namespace, body)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(PODS)))


def _left(core: client.CoreV1Api, namespace: str) -> set:
    return {p.metadata.name for p in core.list_namespaced_pod(namespace).items}


def _run_async(args: Dict[str, Any]) -> Dict[str, Any]:
    box: Dict[str, Any] = {}
    thread = threading.Thread(target=lambda: box.update(result=run_module("pod_compliance", args, timeout=600)))
    thread.start()
    box["thread"] = thread
    return box


def _wait_until_quarter_deleted(core: client.CoreV1Api, namespace: str, box: Dict[str, Any]) -> int:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        left = len(_left(core, namespace))
        if left <= PODS * 3 // 4:
            return left
        assert box["thread"].is_alive(), f"the run ended before a quarter was deleted: {box.get('result')}"
        time.sleep(0.05)
    raise AssertionError("deletions did not progress")


def test_api_server_killed_mid_run_fails_clearly_with_an_exact_report(
    api: ThrowawayAPI, proxied_kubeconfig: str, tmp_path: Path
) -> None:
    core, namespace = api.core(), "loss-kill"
    _make_pods(core, namespace)
    report = tmp_path / "report.json"
    args = {
        "kubeconfig": proxied_kubeconfig, "namespaces": [namespace], "max_deletions": PODS,
        "parallelism": PARALLELISM, "request_timeout": 10, "report_path": str(report),
    }  # fmt: skip
    box = _run_async(args)
    _wait_until_quarter_deleted(core, namespace, box)
    os.kill(api.apiserver_pid, signal.SIGKILL)
    box["thread"].join(600)
    res = box["result"]
    api.lab("start")  # the same etcd data: what is left is what the run did not delete
    left = _left(api.core(), namespace)
    assert res["failed"] is True
    # the error names the API it lost (the deletions after the kill fail to connect)
    assert res["msg"].startswith("Cannot reach the Kubernetes API at https://127.0.0.1:"), res["msg"]
    on_disk = json.loads(report.read_text())
    reported_deleted = {p["name"] for p in on_disk["pods"] if p["action"] == "deleted"}
    assert res["changed"] is True and len(res["deleted"]) == len(reported_deleted) >= PODS // 4
    gone = {f"priv-{i:03d}" for i in range(PODS)} - left
    assert reported_deleted <= gone, "the report says deleted pods that are still there"
    # only deletions in flight when the server died may have been applied without an answer
    assert len(gone - reported_deleted) <= PARALLELISM, sorted(gone - reported_deleted)
    assert left, "the server was killed before the end: some pods must be left"
    unanswered = len(gone - reported_deleted)
    print(f"killed after {len(reported_deleted)} of {PODS} deletions; {len(left)} left, {unanswered} unanswered")


def test_api_server_frozen_10s_mid_run_is_ridden_out(api: ThrowawayAPI, proxied_kubeconfig: str) -> None:
    core, namespace = api.core(), "loss-hang"
    _make_pods(core, namespace)
    args = {
        "kubeconfig": proxied_kubeconfig, "namespaces": [namespace], "max_deletions": PODS,
        "parallelism": PARALLELISM, "request_timeout": 60,
    }  # fmt: skip
    box = _run_async(args)
    _wait_until_quarter_deleted(core, namespace, box)
    pid = api.apiserver_pid
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(10)
    finally:
        os.kill(pid, signal.SIGCONT)
    box["thread"].join(600)
    res = box["result"]
    assert res.get("failed") is not True, res.get("msg")
    assert res["changed"] is True and len(res["deleted"]) == PODS
    assert _left(core, namespace) == set()
