"""A seeded corpus of pods varying every field PodSecurity reads, and the API server as a judge.

``generate(count, seed)`` builds pods whose fields PodSecurity reads (host namespaces,
hostUsers, os.name, pod and container security contexts, capabilities written in several
spellings, procMount, seccomp/AppArmor/SELinux, sysctls of every version's safe set, host
ports, probe and lifecycle hosts, volume types, AppArmor annotations) take values drawn with
``random.Random(seed)``: the same seed gives the same pods. Most pods are valid; those the
API server's validation refuses (422) are counted and left out of the comparison.

``ServerJudge`` asks the API server's own PodSecurity admission: one namespace per level and
version, labelled ``enforce=privileged`` and ``warn=<level>`` / ``warn-version=v1.<minor>``, and
a server-side dry-run create of each pod. PodSecurity answers in the ``Warning`` header
(``would violate PodSecurity "<level>:v1.<minor>": reason (detail), ...``), for every level and
version through the same request path as ``enforce`` (the same evaluator); nothing is stored.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import re
import ssl
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

IMAGE = "registry.k8s.io/pause:3.10"

CAPS = ["CHOWN", "chown", "CAP_CHOWN", "NET_BIND_SERVICE", "net_bind_service", "SYS_ADMIN", "NET_RAW", "ALL", "KILL"]
DROPS = ["ALL", "all", "NET_RAW", "CAP_ALL"]
SYSCTLS = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "kernel.msgmax",
    "net.core.somaxconn",
]
SELINUX_TYPES = ["container_t", "container_engine_t", "spc_t", "container_kvm_t", "unconfined_t", ""]


def _maybe(rng: random.Random, p: float, value: Any) -> Any:
    return value if rng.random() < p else None


def _profile(rng: random.Random, kinds: Sequence[str]) -> Optional[Dict[str, Any]]:
    kind = rng.choice(kinds)
    if kind is None:
        return None
    out: Dict[str, Any] = {"type": kind}
    if kind == "Localhost":
        out["localhostProfile"] = "profiles/audit.json"
    return out


def _selinux(rng: random.Random) -> Optional[Dict[str, Any]]:
    if rng.random() < 0.8:
        return None
    out: Dict[str, Any] = {"type": rng.choice(SELINUX_TYPES), "level": "s0:c1,c2"}
    if rng.random() < 0.2:
        out["user"] = "system_u"
    if rng.random() < 0.2:
        out["role"] = "system_r"
    return out


def _handler(rng: random.Random, port: int) -> Dict[str, Any]:
    host = rng.choice([None, None, "127.0.0.1", "10.0.0.1", "example.com"])
    if rng.random() < 0.5:
        action: Dict[str, Any] = {"path": "/healthz", "port": port}
        key = "httpGet"
    else:
        action = {"port": port}
        key = "tcpSocket"
    if host:
        action["host"] = host
    return {key: action}


def _container(
    rng: random.Random, name: str, pod: Dict[str, Any], windows: Optional[bool], init: bool = False
) -> Dict[str, Any]:
    c: Dict[str, Any] = {"name": name, "image": IMAGE}
    host_process = bool(pod["spec"].get("_hostProcess"))
    users_ns = pod["spec"].get("hostUsers") is False
    sc: Dict[str, Any] = {}
    linux_ok = windows is not True
    if linux_ok:
        if rng.random() < 0.12:
            sc["privileged"] = True
        ape = rng.choice([None, True, False, False])
        if ape is not None and not (ape is False and sc.get("privileged")):
            sc["allowPrivilegeEscalation"] = ape
        if rng.random() < 0.6:
            caps: Dict[str, Any] = {}
            if rng.random() < 0.6:
                caps["drop"] = rng.sample(DROPS, rng.randint(1, 2))
            if rng.random() < 0.4:
                caps["add"] = rng.sample(CAPS, rng.randint(1, 2))
            sc["capabilities"] = caps
            if sc.get("allowPrivilegeEscalation") is False and any(
                x in ("SYS_ADMIN", "CAP_SYS_ADMIN") for x in caps.get("add") or []
            ):
                del sc["allowPrivilegeEscalation"]
        if rng.random() < 0.15:
            sc["procMount"] = rng.choice(["Default", "Unmasked"]) if users_ns else "Default"
        seccomp = _profile(rng, [None, None, None, "RuntimeDefault", "Localhost", "Unconfined"])
        if seccomp:
            sc["seccompProfile"] = seccomp
        apparmor = _profile(rng, [None, None, None, None, "RuntimeDefault", "Localhost", "Unconfined"])
        if apparmor:
            sc["appArmorProfile"] = apparmor
        selinux = _selinux(rng)
        if selinux:
            sc["seLinuxOptions"] = selinux
        if rng.random() < 0.15:
            sc["runAsUser"] = rng.choice([0, 1000])
    nonroot = rng.choice([None, None, True, False])
    if nonroot is not None:
        sc["runAsNonRoot"] = nonroot
    if host_process and rng.random() < 0.7:
        sc["windowsOptions"] = {"hostProcess": True}
    if sc or rng.random() < 0.5:
        c["securityContext"] = sc
    port = 8000 + len(pod["spec"].get("containers") or []) + (100 if init else 0)
    sidecar = init and rng.random() < 0.5
    if sidecar:
        c["restartPolicy"] = "Always"
    if rng.random() < 0.25:
        host_port = port if pod["spec"].get("hostNetwork") else rng.choice([port, port + 20000])
        c["ports"] = [{"containerPort": port, "hostPort": host_port}]
    elif rng.random() < 0.3:
        c["ports"] = [{"containerPort": port}]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if rng.random() < 0.15 and (sidecar or not init):
            c[probe] = _handler(rng, port)
    if rng.random() < 0.15 and (sidecar or not init):
        c["lifecycle"] = {rng.choice(["postStart", "preStop"]): _handler(rng, port)}
    return c


def _volumes(rng: random.Random) -> List[Dict[str, Any]]:
    choices = [
        {"emptyDir": {}},
        {"configMap": {"name": "cfg", "optional": True}},
        {"secret": {"secretName": "s", "optional": True}},
        {"hostPath": {"path": "/var/log"}},
        {"hostPath": {"path": "/run/containerd/containerd.sock", "type": "Socket"}},
        {"persistentVolumeClaim": {"claimName": "data"}},
        {"nfs": {"server": "nfs.example.com", "path": "/export"}},
        {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"iscsi": {"targetPortal": "10.0.0.2:3260", "iqn": "iqn.2001-04.com.example:storage", "lun": 0}},
        {"csi": {"driver": "csi.example.com"}},
        {"ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}},  # noqa: E501
        {"cephfs": {"monitors": ["10.0.0.3:6789"]}},
        {"image": {"reference": IMAGE}},
    ]  # fmt: skip
    out = []
    for index in range(rng.choice([0, 0, 1, 1, 2, 3])):
        source = rng.choice(choices)
        out.append({"name": f"v{index}", **json.loads(json.dumps(source))})
    return out


def generate_pod(rng: random.Random, index: int) -> Dict[str, Any]:
    spec: Dict[str, Any] = {}
    pod: Dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"g{index}"}, "spec": spec}
    os_name = rng.choice([None, None, None, "linux", "windows"])
    windows = None if os_name is None else os_name == "windows"
    if os_name:
        spec["os"] = {"name": os_name}
    spec["automountServiceAccountToken"] = False
    host_process = windows is not False and rng.random() < 0.08
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if (rng.random() < 0.08 and windows is not True) or (key == "hostNetwork" and host_process):
            spec[key] = True
    host_ns = any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    if windows is not True:
        users = rng.choice([None, None, True, False])
        if users is not None and not (users is False and host_ns):
            spec["hostUsers"] = users
    psc: Dict[str, Any] = {}
    nonroot = rng.choice([None, None, True, False])
    if nonroot is not None:
        psc["runAsNonRoot"] = nonroot
    if windows is not True:
        if rng.random() < 0.2:
            psc["runAsUser"] = rng.choice([0, 0, 1000])
        seccomp = _profile(rng, [None, None, "RuntimeDefault", "RuntimeDefault", "Localhost", "Unconfined"])
        if seccomp:
            psc["seccompProfile"] = seccomp
        apparmor = _profile(rng, [None, None, None, "RuntimeDefault", "Unconfined"])
        if apparmor:
            psc["appArmorProfile"] = apparmor
        selinux = _selinux(rng)
        if selinux:
            psc["seLinuxOptions"] = selinux
        if rng.random() < 0.25 and not host_ns:
            names = rng.sample(SYSCTLS, rng.randint(1, 2))
            psc["sysctls"] = [{"name": n, "value": "4096 87380 6291456" if "mem" in n else "1"} for n in names]
    if host_process and rng.random() < 0.5:
        psc["windowsOptions"] = {"hostProcess": True}
    if psc:
        spec["securityContext"] = psc
    spec["_hostProcess"] = host_process
    containers: List[Dict[str, Any]] = []
    spec["containers"] = containers
    for i in range(rng.choice([1, 1, 2])):
        containers.append(_container(rng, f"c{i}", pod, windows))
    if rng.random() < 0.3:
        spec["initContainers"] = [_container(rng, "init", pod, windows, init=True)]
    del spec["_hostProcess"]
    if host_process and not (psc.get("windowsOptions") or {}).get("hostProcess"):
        for c in containers + spec.get("initContainers", []):  # all or none of them
            c.setdefault("securityContext", {})["windowsOptions"] = {"hostProcess": True}
    volumes = _volumes(rng)
    if volumes:
        spec["volumes"] = volumes
    if windows is not True and rng.random() < 0.1:
        target = rng.choice(containers)["name"]
        value = rng.choice(["unconfined", "runtime/default", "localhost/k8s-nginx"])
        pod["metadata"]["annotations"] = {f"container.apparmor.security.beta.kubernetes.io/{target}": value}
        sc = next(c for c in containers if c["name"] == target).get("securityContext") or {}
        sc.pop("appArmorProfile", None)  # the annotation and the field must agree; keep the annotation
    return pod


GROUPS = (
    "privileged", "allowPrivilegeEscalation", "capabilities", "procMount", "seccompProfile", "appArmorProfile",
    "seLinuxOptions", "runAsUser", "runAsNonRoot", "hostNamespaces", "hostPort", "probes", "volumes", "sysctls",
)  # fmt: skip


def harden(pod: Dict[str, Any], keep: Sequence[str]) -> Dict[str, Any]:
    """Make every field group of ``pod`` but ``keep`` restricted-compliant (near-miss pods)."""
    spec = pod["spec"]
    windows = (spec.get("os") or {}).get("name") == "windows"
    host_process = any(
        ((c.get("securityContext") or {}).get("windowsOptions") or {}).get("hostProcess")
        for c in spec["containers"] + spec.get("initContainers", [])
    ) or ((spec.get("securityContext") or {}).get("windowsOptions") or {}).get("hostProcess")
    psc = spec.setdefault("securityContext", {})
    if "hostNamespaces" not in keep and not host_process:
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            spec.pop(key, None)
    if "sysctls" not in keep:
        psc.pop("sysctls", None)
    if "volumes" not in keep and spec.get("volumes"):
        spec["volumes"] = [{"name": v["name"], "emptyDir": {}} for v in spec["volumes"]]
    if not windows:
        if "seccompProfile" not in keep:
            psc["seccompProfile"] = {"type": "RuntimeDefault"}
        for key in ("appArmorProfile", "seLinuxOptions", "runAsUser"):
            if key not in keep:
                psc.pop(key, None)
    if "runAsNonRoot" not in keep:
        psc["runAsNonRoot"] = True
    for c in spec["containers"] + spec.get("initContainers", []):
        sc = c.setdefault("securityContext", {})
        if "runAsNonRoot" not in keep:
            sc.pop("runAsNonRoot", None)
        if "hostPort" not in keep:
            for port in c.get("ports") or []:
                if not spec.get("hostNetwork"):
                    port.pop("hostPort", None)
        if "probes" not in keep:
            for key in ("livenessProbe", "readinessProbe", "startupProbe"):
                c.pop(key, None)
            c.pop("lifecycle", None)
        if windows:
            continue
        for key in ("privileged", "procMount", "appArmorProfile", "seLinuxOptions", "runAsUser", "seccompProfile"):
            if key not in keep:
                sc.pop(key, None)
        if "capabilities" not in keep:
            sc["capabilities"] = {"drop": ["ALL"]}
        if "allowPrivilegeEscalation" not in keep and not sc.get("privileged"):
            adds = (sc.get("capabilities") or {}).get("add") or []
            if "SYS_ADMIN" not in adds:
                sc["allowPrivilegeEscalation"] = False
    if not psc:
        spec.pop("securityContext")
    return pod


def generate(count: int, seed: int) -> List[Dict[str, Any]]:
    """``count`` pods: a third as drawn, two thirds hardened but for zero to two field groups."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        pod = generate_pod(rng, i)
        if i % 3:
            pod = harden(pod, rng.sample(GROUPS, rng.choice([0, 1, 1, 2])))
        out.append(pod)
    return out


def realistic(path: Path) -> List[Dict[str, Any]]:
    """The realistic pods of the unit tests, made creatable (metadata trimmed, default SA)."""
    out = []
    for index, doc in enumerate(yaml.safe_load(path.read_text())["items"]):
        meta = doc.get("metadata") or {}
        spec = json.loads(json.dumps(doc.get("spec") or {}))
        spec.pop("nodeName", None)
        spec["serviceAccountName"] = "default"
        spec.pop("serviceAccount", None)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"r{index}-{str(meta.get('name', 'pod'))[:40]}".rstrip("-").lower()},
            "spec": spec,
        }
        annotations = {
            k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith("kubernetes.io/config.")
        }
        if annotations:  # without the mirror-pod annotations: a created mirror pod may not have a service account
            pod["metadata"]["annotations"] = annotations
        out.append(pod)
    return out


# -- the API server ----------------------------------------------------------------------------

_WARNING = re.compile(r'^299 - "(.*)"$', re.S)
_VERDICT = re.compile(r'^would violate PodSecurity "(?P<lv>[a-z]+:v1\.[0-9]+)": (?P<list>.*)$', re.S)


def split_reasons(text: str) -> List[str]:
    """``a (x, y), b (z)`` -> ``["a (x, y)", "b (z)"]``: commas inside parentheses stay."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0 and text.startswith(", ", i):
            out.append(text[start:i])
            start = i + 2
    out.append(text[start:])
    return [x for x in out if x]


class ServerJudge:
    """PodSecurity verdicts from a real API server (server-side dry-run, nothing is stored)."""

    def __init__(self, kubeconfig: str, workers: int = 8) -> None:
        config = yaml.safe_load(Path(kubeconfig).read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        self._dir = tempfile.TemporaryDirectory(prefix="pss-oracle-")
        files = {}
        for key, source, name in (
            ("certificate-authority-data", cluster, "ca.crt"),
            ("client-certificate-data", user, "client.crt"),
            ("client-key-data", user, "client.key"),
        ):
            files[name] = Path(self._dir.name) / name
            files[name].write_bytes(base64.b64decode(source[key]))
        self.context = ssl.create_default_context(cafile=str(files["ca.crt"]))
        self.context.load_cert_chain(str(files["client.crt"]), str(files["client.key"]))
        match = re.match(r"https://([^:/]+):([0-9]+)", cluster["server"])
        assert match, cluster["server"]
        self.host, self.port = match.group(1), int(match.group(2))
        self.workers = workers
        self._local = threading.local()

    def close(self) -> None:
        self._dir.cleanup()

    def _conn(self) -> http.client.HTTPSConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=60)
            self._local.conn = conn
        return conn

    def request(self, method: str, path: str, body: Any = None) -> Tuple[int, List[str], Any]:
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(3):
            conn = self._conn()
            try:
                conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                raw = resp.read()
                warnings = [v for k, v in resp.getheaders() if k.lower() == "warning"]
                return resp.status, warnings, json.loads(raw) if raw else None
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def namespace(self, name: str, level: str, version: str) -> None:
        labels = {
            "pod-security.kubernetes.io/enforce": "privileged",
            "pod-security.kubernetes.io/warn": level,
            "pod-security.kubernetes.io/warn-version": version,
        }
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        status, _warnings, resp = self.request("POST", "/api/v1/namespaces", body)
        if status == 409:
            patch = {"metadata": {"labels": labels}}
            conn_status, _warnings, resp = self._patch(f"/api/v1/namespaces/{name}", patch)
            assert conn_status == 200, resp
        else:
            assert status == 201, resp

    def _patch(self, path: str, body: Any) -> Tuple[int, List[str], Any]:
        conn = self._conn()
        conn.request("PATCH", path, body=json.dumps(body), headers={"Content-Type": "application/merge-patch+json"})
        resp = conn.getresponse()
        return resp.status, [], json.loads(resp.read())

    def delete_namespace(self, name: str) -> None:
        self.request("DELETE", f"/api/v1/namespaces/{name}")

    def judge(self, namespace: str, pod: Dict[str, Any]) -> Tuple[str, Optional[List[str]], str, Any]:
        """``("ok"|"violates"|"invalid", reasons, text, pod as the server would store it)``."""
        status, warnings, body = self.request("POST", f"/api/v1/namespaces/{namespace}/pods?dryRun=All", pod)
        if status == 422 or status == 400:
            return "invalid", None, (body or {}).get("message", ""), None
        if status != 201:
            raise AssertionError(f"dry-run create of {pod['metadata']['name']} in {namespace}: {status} {body}")
        for warning in warnings:
            match = _WARNING.match(warning)
            text = match.group(1).replace('\\"', '"').replace("\\\\", "\\") if match else warning
            verdict = _VERDICT.match(text)
            if verdict:
                return "violates", split_reasons(verdict.group("list")), text, body
        return "ok", [], "", body

    def judge_all(
        self, namespace: str, pods: Sequence[Dict[str, Any]]
    ) -> List[Tuple[str, Optional[List[str]], str, Any]]:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(lambda p: self.judge(namespace, p), pods))
