"""End to end: the audit_logging role against a real kube-apiserver, with the test playing the kubelet.

A temporary folder plays the control-plane node's file system (``<root>/etc/kubernetes/...``):
the real kubeadm v1.35 kube-apiserver manifest, a PKI made by the real ``kubeadm init phase
certs``, and an etcd of our own on free loopback ports. ``FakeKubelet`` watches the manifest
like the kubelet's file source does and (re)starts the real kube-apiserver binary with the
manifest's command line, each path mapped through the manifest's own volumes and mounts to the
host folder (prefixed with the node root). Only the sandbox's network flags are overridden:
``--secure-port``, ``--bind-address``/``--advertise-address`` (127.0.0.1) and ``--etcd-servers``.

1. The role runs with the CKS example vars (the user's task); the health check sees the
   restarted API server. The test then creates, updates and deletes a namespace, a
   persistentvolume, a persistentvolumeclaim in front-apps, configmaps and secrets, reads pods,
   and checks the audit log levels.
2. The role runs again with a policy kube-apiserver refuses (validation switched off): the API
   server does not come back, the role restores the manifest and policy, the API server comes
   back, and the role fails saying what it rolled back.

Binaries: scripts/k8s-binaries.sh (kube-apiserver, kubeadm, etcd). Skipped when they are missing.
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import ansible_adhoc
import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("NODESEC_K8S_BIN", Path.home() / ".cache/nodesec/bin/k8s-v1.35.4-etcd-v3.6.5"))
MANIFEST_SRC = REPO / "tests" / "testdata" / "kubeadm" / "v1.35" / "kube-apiserver.yaml"
EXAMPLE_VARS = REPO / "playbooks" / "vars" / "audit_logging_cks_example.yml"
NETWORK_FLAGS = ("secure-port", "bind-address", "advertise-address", "etcd-servers")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _readyz(port: int) -> int:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=ctx, timeout=3) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return -1


def _wait(what: str, predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


class FakeKubelet:
    """Runs the kube-apiserver of a static-pod manifest and restarts it when the file changes.

    Unlike the real kubelet it does not restart a crashed container: a rollback must bring the
    API server back by itself (files first, manifest last), which makes the test stricter.
    """

    def __init__(self, root: Path, manifest: Path, port: int, etcd_url: str, logdir: Path) -> None:
        self.root, self.manifest, self.port, self.etcd_url, self.logdir = root, manifest, port, etcd_url, logdir
        self.proc: subprocess.Popen | None = None
        self.seen = ""
        self.starts: list[list[str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def host_path(self, path: str) -> str:
        return path if path.startswith(str(self.root) + "/") else str(self.root) + path

    def command(self, text: str) -> list[str]:
        pod = yaml.safe_load(text)
        ctr = pod["spec"]["containers"][0]
        vols = {v["name"]: v["hostPath"]["path"] for v in pod["spec"].get("volumes", []) if "hostPath" in v}
        mounts = sorted(
            (
                (m["mountPath"].rstrip("/"), self.host_path(vols[m["name"]].rstrip("/")))
                for m in ctr.get("volumeMounts", [])
            ),
            key=lambda m: -len(m[0]),
        )

        def mapped(value: str) -> str:
            for mount_path, host in mounts:
                if value == mount_path or value.startswith(mount_path + "/"):
                    return host + value[len(mount_path) :]
            return value

        argv = [str(BIN / "kube-apiserver")]
        tokens = (ctr.get("command") or [])[1:] + (ctr.get("args") or [])
        for tok in tokens:
            name, _sep, value = tok[2:].partition("=")
            if name in NETWORK_FLAGS:
                continue
            argv.append(f"--{name}={','.join(mapped(v) for v in value.split(','))}" if value.startswith("/") else tok)
        argv += [
            f"--secure-port={self.port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--etcd-servers={self.etcd_url}",
        ]
        return argv

    def _start(self, text: str) -> None:
        self.stop_apiserver()
        argv = self.command(text)
        self.starts.append(argv)
        log = open(self.logdir / f"kube-apiserver-{len(self.starts)}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop_apiserver(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                text = self.manifest.read_text()
            except OSError:
                text = self.seen
            if text != self.seen:
                self.seen = text
                self._start(text)
            self._stop.wait(0.5)

    def __enter__(self) -> FakeKubelet:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.stop_apiserver()


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    for name in ("kube-apiserver", "kubeadm", "etcd"):
        if not (BIN / name).exists():
            pytest.skip(f"{BIN / name} missing: run scripts/k8s-binaries.sh")
    root = tmp_path_factory.mktemp("node")
    pki = root / "etc" / "kubernetes" / "pki"
    manifests = root / "etc" / "kubernetes" / "manifests"
    manifests.mkdir(parents=True)
    manifest = manifests / "kube-apiserver.yaml"
    shutil.copyfile(MANIFEST_SRC, manifest)
    manifest.chmod(0o600)
    cfg = root / "kubeadm.yaml"
    kubeadm_config = [
        {
            "apiVersion": "kubeadm.k8s.io/v1beta4",
            "kind": "InitConfiguration",
            "localAPIEndpoint": {"advertiseAddress": "192.0.2.10"},
            "nodeRegistration": {"name": "control-plane-1"},
        },
        {
            "apiVersion": "kubeadm.k8s.io/v1beta4",
            "kind": "ClusterConfiguration",
            "certificatesDir": str(pki),
            "controlPlaneEndpoint": "127.0.0.1:6443",
            "apiServer": {"certSANs": ["localhost", "127.0.0.1"]},
        },
    ]
    cfg.write_text(yaml.safe_dump_all(kubeadm_config))
    for args in (["certs", "all"], ["kubeconfig", "super-admin", "--kubeconfig-dir", str(root)]):
        subprocess.run(
            [str(BIN / "kubeadm"), "init", "phase", *args, "--config", str(cfg)], check=True, capture_output=True
        )
    logs = root / "logs"
    logs.mkdir()
    client, peer, metrics = _free_port(), _free_port(), _free_port()
    etcd_log = open(logs / "etcd.log", "wb")  # noqa: SIM115
    etcd = subprocess.Popen(
        [
            str(BIN / "etcd"),
            "--name=e2e",
            f"--data-dir={root / 'etcd'}",
            f"--listen-client-urls=https://127.0.0.1:{client}",
            f"--advertise-client-urls=https://127.0.0.1:{client}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=e2e=http://127.0.0.1:{peer}",
            f"--listen-metrics-urls=http://127.0.0.1:{metrics}",
            f"--cert-file={pki / 'etcd/server.crt'}",
            f"--key-file={pki / 'etcd/server.key'}",
            f"--trusted-ca-file={pki / 'etcd/ca.crt'}",
            "--client-cert-auth",
        ],
        stdout=etcd_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    port = _free_port()
    try:
        with FakeKubelet(root, manifest, port, f"https://127.0.0.1:{client}", logs) as kubelet:
            _wait("the kubeadm kube-apiserver to be ready", lambda: _readyz(port) == 200, 240)
            yield {"root": root, "manifest": manifest, "port": port, "kubelet": kubelet, "pki": pki}
    finally:
        os.killpg(etcd.pid, signal.SIGTERM)
        etcd.wait(timeout=30)


def run_role(node, extra: dict) -> subprocess.CompletedProcess:
    root = node["root"]
    variables = {
        "audit_logging_manifest_path": str(node["manifest"]),
        "audit_logging_policy_host_dir": str(root / "etc/kubernetes/audit"),
        "audit_logging_log_host_dir": str(root / "var/log/kubernetes"),
        "audit_logging_backup_dir": str(root / "var/backups/nodesec/static-pods"),
        "audit_logging_install_dependencies": False,
        "audit_logging_health_url": f"https://127.0.0.1:{node['port']}/readyz",
        "audit_logging_restart_detect_timeout": 30,
        "audit_logging_health_timeout": 90,
        "audit_logging_health_settle": 5,
        # authenticated health checks, as where anonymous auth is off
        "audit_logging_health_client_cert": str(node["pki"] / "apiserver-kubelet-client.crt"),
        "audit_logging_health_client_key": str(node["pki"] / "apiserver-kubelet-client.key"),
        "ansible_python_interpreter": sys.executable,
        **extra,
    }
    env = ansible_adhoc.ansible_env()
    playbook = root / "play.yml"
    play = {
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "roles": ["nodesec.kubernetes.audit_logging"],
    }
    playbook.write_text(yaml.safe_dump([play]))
    varfile = root / "vars.json"
    varfile.write_text(json.dumps(variables))
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            str(playbook),
            "-e",
            f"@{EXAMPLE_VARS}",
            "-e",
            f"@{varfile}",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
        timeout=600,
    )


def messages(run: subprocess.CompletedProcess) -> str:
    """Every ``msg`` the play printed (task results and loop items), one per line."""
    found: list[str] = []

    def walk(obj):
        if isinstance(obj, dict):
            if isinstance(obj.get("msg"), str):
                found.append(obj["msg"])
            for value in obj.values():
                walk(value)
        elif isinstance(obj, list):
            for value in obj:
                walk(value)

    walk(json.loads(run.stdout)["plays"])
    return "\n".join(found)


def _api(node):
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(node["root"] / "super-admin.conf"), client_configuration=cfg)
    cfg.host = f"https://127.0.0.1:{node['port']}"
    return client.ApiClient(cfg)


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_user_task_end_to_end_then_broken_policy_rolls_back(node):
    from kubernetes import client

    root, port, kubelet = node["root"], node["port"], node["kubelet"]
    kubeadm_manifest = node["manifest"].read_text()

    # 1. the user's task through the example vars
    starts_before = len(kubelet.starts)
    run = run_role(node, {})
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "did you mean 'persistentvolumeclaims'" in messages(run)  # the trap is reported
    assert len(kubelet.starts) == starts_before + 1  # the kubelet restarted the API server once
    argv = kubelet.starts[-1]
    assert "--audit-log-maxage=10" in argv and "--audit-log-maxbackup=2" in argv
    log_file = root / "var/log/kubernetes/audit-logs.txt"
    assert f"--audit-log-path={log_file}" in argv
    assert _readyz(port) == 200

    api = _api(node)
    core = client.CoreV1Api(api)
    meta = client.V1ObjectMeta
    core.create_namespace(client.V1Namespace(metadata=meta(name="front-apps")))
    core.create_namespace(client.V1Namespace(metadata=meta(name="audit-e2e")))
    core.patch_namespace("audit-e2e", {"metadata": {"labels": {"audit": "e2e"}}})
    core.delete_namespace("audit-e2e")
    pv = client.V1PersistentVolume(
        metadata=meta(name="audit-e2e-pv"),
        spec=client.V1PersistentVolumeSpec(
            capacity={"storage": "1Gi"},
            access_modes=["ReadWriteOnce"],
            host_path=client.V1HostPathVolumeSource(path="/tmp/pv"),
        ),
    )
    core.create_persistent_volume(pv)
    core.patch_persistent_volume("audit-e2e-pv", {"metadata": {"labels": {"audit": "e2e"}}})
    core.delete_persistent_volume("audit-e2e-pv")
    pvc = client.V1PersistentVolumeClaim(
        metadata=meta(name="audit-e2e-pvc"),
        spec=client.V1PersistentVolumeClaimSpec(
            access_modes=["ReadWriteOnce"], resources=client.V1VolumeResourceRequirements(requests={"storage": "1Gi"})
        ),
    )
    core.create_namespaced_persistent_volume_claim("front-apps", pvc)
    core.patch_namespaced_persistent_volume_claim(
        "audit-e2e-pvc", "front-apps", {"metadata": {"labels": {"audit": "e2e"}}}
    )
    core.delete_namespaced_persistent_volume_claim("audit-e2e-pvc", "front-apps")
    core.create_namespaced_config_map(
        "front-apps", client.V1ConfigMap(metadata=meta(name="audit-e2e-cm"), data={"k": "v"})
    )
    core.patch_namespaced_config_map("audit-e2e-cm", "front-apps", {"data": {"k": "w"}})
    core.delete_namespaced_config_map("audit-e2e-cm", "front-apps")
    core.create_namespaced_secret(
        "front-apps", client.V1Secret(metadata=meta(name="audit-e2e-secret"), string_data={"password": "s3cr3t-e2e"})
    )
    core.patch_namespaced_secret("audit-e2e-secret", "front-apps", {"stringData": {"password": "n3w-s3cr3t-e2e"}})
    core.delete_namespaced_secret("audit-e2e-secret", "front-apps")
    core.list_namespaced_pod("front-apps")
    core.list_pod_for_all_namespaces()

    text = log_file.read_text()
    assert "s3cr3t-e2e" not in text  # no secret value in the log
    events = _events(log_file)
    assert events and all(e["stage"] != "RequestReceived" for e in events)

    def ours(resource, name=None, verbs=("create", "patch", "delete")):
        found = [
            e
            for e in events
            if e.get("objectRef", {}).get("resource") == resource
            and e["verb"] in verbs
            and (name is None or e["objectRef"].get("name") == name)
            and e["user"]["username"] == "kubernetes-super-admin"
        ]
        assert {e["verb"] for e in found} == set(verbs), (resource, [(e["verb"], e["level"]) for e in found])
        return found

    for e in ours("namespaces", "audit-e2e"):
        assert e["level"] == "RequestResponse" and "responseObject" in e
        assert e["responseObject"]["metadata"]["name"] == "audit-e2e"
        if e["verb"] == "create":
            assert e["requestObject"]["metadata"]["name"] == "audit-e2e"
        if e["verb"] == "patch":
            assert e["requestObject"]["metadata"]["labels"] == {"audit": "e2e"}
        # (a delete without DeleteOptions has no request body)
    for resource, name in (("persistentvolumes", "audit-e2e-pv"), ("persistentvolumeclaims", "audit-e2e-pvc")):
        for e in ours(resource, name):
            # persistentvolumes are cluster-scoped: the front-apps rule never matches them
            assert e["level"] == "Metadata" and "requestObject" not in e
    for resource in ("configmaps", "secrets"):
        for e in ours(resource):
            assert e["level"] == "Metadata" and "requestObject" not in e and "responseObject" not in e
    for e in ours("pods", verbs=("list",)):
        assert e["level"] == "Metadata"

    # 2. a policy kube-apiserver refuses: the API server does not come back, the role rolls back
    good_manifest = node["manifest"].read_text()
    good_policy = (root / "etc/kubernetes/audit/policy.yaml").read_text()
    assert good_manifest != kubeadm_manifest
    starts_before = len(kubelet.starts)
    broken = run_role(
        node,
        {
            "audit_logging_policy_validate": False,
            "audit_logging_policy_rules": [{"level": "Verbose"}],
            "audit_logging_health_timeout": 60,
        },
    )
    assert broken.returncode != 0
    out = messages(broken)
    assert "did not become ready" in out and "Rolled back" in out, out[-4000:]
    assert f"restored from {root / 'var/backups/nodesec/static-pods'}/kube-apiserver.yaml." in out
    assert "The API server is ready again." in out
    assert len(kubelet.starts) == starts_before + 2  # the broken one, then the restored one
    assert node["manifest"].read_text() == good_manifest
    assert (root / "etc/kubernetes/audit/policy.yaml").read_text() == good_policy
    assert _readyz(port) == 200
    assert sorted(os.listdir(node["manifest"].parent)) == ["kube-apiserver.yaml"]
    assert posixpath.isdir(root / "var/backups/nodesec/static-pods")
