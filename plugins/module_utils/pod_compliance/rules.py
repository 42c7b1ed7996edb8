# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Pod compliance rules: which pods are not stateless or not immutable, and why.

Pure logic, no Ansible and no Kubernetes client imports: a pod is the plain ``dict`` the API
returns (camelCase keys, as in ``kubectl get pod -o json``). Each rule is a named object
with an id, a description, the standards it comes from and a ``check`` function that yields
reasons naming the container and the field. Profiles choose rules; ``checks`` overrides.

Security contexts are combined the way the kubelet does it
(``pkg/securitycontext.DetermineEffectiveSecurityContext``): a container field wins, and
``runAsUser``, ``runAsGroup``, ``runAsNonRoot``, ``seLinuxOptions``, ``seccompProfile``,
``appArmorProfile`` and ``windowsOptions`` fall back to the pod-level security context.
``privileged``, ``allowPrivilegeEscalation``, ``capabilities``, ``readOnlyRootFilesystem`` and
``procMount`` exist only at container level.

The ``baseline`` and ``restricted`` profiles are the Pod Security Standards exactly as
Kubernetes' PodSecurity admission evaluates them at a chosen version (``pss_version``): their
privilege rules take their verdicts from ``pss`` (``pss.py``, which reads the pod as
PodSecurity does, not merged), and each violation names the PSS check id beside our rule.
The ``cks`` profile is our reading of the CKS task and keeps its own checks.
"""

from __future__ import annotations

import functools
from collections import abc
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import InvalidRequestError
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance import pss

STATELESS = "stateless"
IMMUTABLE = "immutable"

# Pod Security Standards, baseline "Capabilities": the only capabilities that may be added
# (one table: the PodSecurity-exact one).
BASELINE_CAPABILITIES: FrozenSet[str] = pss.BASELINE_CAPABILITIES
# Pod Security Standards, restricted "Capabilities": drop ALL, add at most NET_BIND_SERVICE.
RESTRICTED_CAPABILITIES: FrozenSet[str] = frozenset(("NET_BIND_SERVICE",))

# Volume sources that hold configuration or identity, never data written by the pod.
NON_DATA_VOLUME_TYPES: FrozenSet[str] = frozenset(("configMap", "secret", "downwardAPI", "projected", "image"))
# Pod Security Standards, restricted "Volume Types".
RESTRICTED_VOLUME_TYPES: FrozenSet[str] = frozenset(
    ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret")
)
# Pod-level fields the kubelet copies into a container's effective security context.
POD_LEVEL_INHERITED: Tuple[str, ...] = (
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "seLinuxOptions",
    "seccompProfile",
    "appArmorProfile",
    "windowsOptions",
)
# Pod Security Standards, baseline "Sysctls": the safe set.
SAFE_SYSCTLS: FrozenSet[str] = frozenset(
    (
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    )
)
ALLOWED_SELINUX_TYPES: FrozenSet[str] = frozenset(
    ("", "container_t", "container_init_t", "container_kvm_t", "container_engine_t")
)
CONTAINER_KINDS: Tuple[Tuple[str, str], ...] = (
    ("initContainers", "init container"),
    ("containers", "container"),
    ("ephemeralContainers", "ephemeral container"),
)


class UnknownCheckError(InvalidRequestError, ValueError):
    """A ``checks`` entry names no rule, or mixes replace and +/- entries (or the profile is unknown)."""

    def __init__(self, message: str, field: str = "checks") -> None:
        super().__init__(message, field)


@dataclass(frozen=True)
class Container:
    """One container of a pod with its effective (kubelet-merged) security context."""

    kind: str  # "container", "init container", "ephemeral container"
    path: str  # "spec.containers[0]"
    name: str
    spec: Mapping[str, Any]
    security_context: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{self.kind} '{self.name}'"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    description: str
    categories: FrozenSet[str]
    references: Tuple[str, ...]
    check: Callable[[Mapping[str, Any], Sequence[Container]], Iterator[str]]
    # The PodSecurity check ids this rule stands for in the baseline/restricted profiles.
    pss: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Violation:
    rule: str
    categories: Tuple[str, ...]
    reason: str
    pss_check: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"rule": self.rule, "categories": list(self.categories), "reason": self.reason}
        if self.pss_check:
            out["pss_check"] = self.pss_check
        return out


@dataclass(frozen=True)
class Verdict:
    stateless: bool
    immutable: bool
    violations: Tuple[Violation, ...]

    @property
    def compliant(self) -> bool:
        return not self.violations

    @property
    def rules(self) -> Tuple[str, ...]:
        return tuple(sorted({v.rule for v in self.violations}))


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    rules: Tuple[str, ...]
    # The CKS wording: "privileged in any way" makes a pod neither immutable nor stateless.
    privilege_breaks_statelessness: bool = False
    # The Pod Security Standards level the profile is (None: our own reading, cks).
    pss_level: Optional[str] = None


@dataclass(frozen=True)
class Policy:
    """The rules in force and how their violations map to the two verdicts."""

    profile: str
    rules: Tuple[Rule, ...]
    privilege_breaks_statelessness: bool = False
    pss_level: Optional[str] = None
    pss_version: pss.Version = pss.LATEST

    def categories_of(self, rule: Rule) -> Tuple[str, ...]:
        return _categories(rule.categories, self.privilege_breaks_statelessness)


@functools.lru_cache(maxsize=64)
def _categories(categories: FrozenSet[str], privilege_breaks_statelessness: bool) -> Tuple[str, ...]:
    cats = set(categories)
    if privilege_breaks_statelessness and IMMUTABLE in cats:
        cats.add(STATELESS)
    return tuple(sorted(cats))


# --------------------------------------------------------------------------------------------
# Helpers


def _truthy(value: Any) -> bool:
    return value is True


def effective_security_context(pod_sc: Optional[Mapping[str, Any]], container_sc: Optional[Mapping[str, Any]]):
    """Merge pod and container security contexts the way the kubelet does."""
    merged: Dict[str, Any] = dict(container_sc or {})
    if not pod_sc:
        return merged
    for key in POD_LEVEL_INHERITED:
        if merged.get(key) is None and (pod_sc or {}).get(key) is not None:
            merged[key] = pod_sc[key]  # type: ignore[index]
    return merged


def containers_of(pod: Mapping[str, Any]) -> List[Container]:
    spec = pod.get("spec") or {}
    pod_sc = spec.get("securityContext") or {}
    out: List[Container] = []
    for key, kind in CONTAINER_KINDS:
        for index, c in enumerate(spec.get(key) or []):
            out.append(
                Container(
                    kind=kind,
                    path=f"spec.{key}[{index}]",
                    name=str(c.get("name", index)),
                    spec=c,
                    security_context=effective_security_context(pod_sc, c.get("securityContext")),
                )
            )
    return out


def normalize_capability(name: str) -> str:
    name = str(name).strip().upper()
    return name[4:] if name.startswith("CAP_") else name


def volume_type(volume: Mapping[str, Any]) -> str:
    for key in volume:
        if key != "name":
            return key
    return "emptyDir"  # the API defaults a volume without a source to emptyDir


def _volume_source_read_only(vtype: str, source: Any) -> bool:
    """Whether the volume source itself forces read-only mounts."""
    if not isinstance(source, abc.Mapping):
        return False
    if vtype == "ephemeral":
        modes = ((source.get("volumeClaimTemplate") or {}).get("spec") or {}).get("accessModes") or []
        return bool(modes) and all(m == "ReadOnlyMany" for m in modes)
    return _truthy(source.get("readOnly"))


def _mount_path(c: Container, index: int) -> str:
    return f"{c.path}.volumeMounts[{index}]"


# --------------------------------------------------------------------------------------------
# Rule checks: each yields reasons naming the container (or pod) and the field.


def _check_writable_volume(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    for c in containers:
        for index, mount in enumerate(c.spec.get("volumeMounts") or []):
            vol = volumes.get(mount.get("name"))
            if vol is None:
                continue
            vtype = volume_type(vol)
            if vtype in NON_DATA_VOLUME_TYPES:
                continue
            if _truthy(mount.get("readOnly")) or _volume_source_read_only(vtype, vol.get(vtype)):
                continue
            yield (
                f"{c.label} mounts {vtype} volume '{vol.get('name')}' read-write at "
                f"{mount.get('mountPath')} ({_mount_path(c, index)}.readOnly is not true)"
            )
        for index, device in enumerate(c.spec.get("volumeDevices") or []):
            vol = volumes.get(device.get("name")) or {}
            vtype = volume_type(vol) if vol else "unknown"
            yield (
                f"{c.label} attaches {vtype} volume '{device.get('name')}' as raw block device "
                f"{device.get('devicePath')} ({c.path}.volumeDevices[{index}])"
            )


def _check_writable_root_filesystem(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for c in containers:
        if not _truthy(c.security_context.get("readOnlyRootFilesystem")):
            yield f"{c.label}: {c.path}.securityContext.readOnlyRootFilesystem is not true"


def _check_privileged(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for c in containers:
        if _truthy(c.security_context.get("privileged")):
            yield f"{c.label}: {c.path}.securityContext.privileged is true"


def _check_privilege_escalation(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for c in containers:
        if _truthy(c.security_context.get("allowPrivilegeEscalation")):
            yield f"{c.label}: {c.path}.securityContext.allowPrivilegeEscalation is true"


def _check_privilege_escalation_not_disabled(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for c in containers:
        value = c.security_context.get("allowPrivilegeEscalation")
        if value is not False:
            shown = "unset (allowed by default)" if value is None else str(value).lower()
            yield f"{c.label}: {c.path}.securityContext.allowPrivilegeEscalation is {shown}, must be false"


def _added_capabilities(c: Container) -> List[str]:
    caps = c.security_context.get("capabilities") or {}
    return [normalize_capability(x) for x in caps.get("add") or []]


def _check_added_capabilities(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for c in containers:
        extra = [cap for cap in _added_capabilities(c) if cap not in BASELINE_CAPABILITIES]
        if extra:
            yield f"{c.label}: {c.path}.securityContext.capabilities.add has {', '.join(extra)} beyond the baseline set"


def _check_capabilities_restricted(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for c in containers:
        caps = c.security_context.get("capabilities") or {}
        dropped = {normalize_capability(x) for x in caps.get("drop") or []}
        if "ALL" not in dropped:
            yield f"{c.label}: {c.path}.securityContext.capabilities.drop does not include ALL"
        extra = [cap for cap in _added_capabilities(c) if cap not in RESTRICTED_CAPABILITIES]
        if extra:
            yield f"{c.label}: {c.path}.securityContext.capabilities.add has {', '.join(extra)} (only NET_BIND_SERVICE)"


def _check_host_namespaces(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    spec = pod.get("spec") or {}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if _truthy(spec.get(key)):
            yield f"pod: spec.{key} is true"


def _check_host_ports(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for c in containers:
        for index, port in enumerate(c.spec.get("ports") or []):
            if port.get("hostPort"):
                yield f"{c.label}: {c.path}.ports[{index}].hostPort is {port['hostPort']}"


# Container runtime sockets: whoever can write to one starts privileged containers on the node.
RUNTIME_SOCKETS: Tuple[str, ...] = (
    "/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/run/docker.sock",
    "/run/cri-dockerd.sock",
    "/run/podman/podman.sock",
    "/run/k3s/containerd/containerd.sock",
)
# SELinux types that do not confine the container (spc_t: "super privileged container").
UNCONFINED_SELINUX_TYPES: FrozenSet[str] = frozenset(("spc_t", "unconfined_t"))


def _normalise_host_path(path: Any) -> str:
    parts = [p for p in str(path or "").split("/") if p not in ("", ".")]
    out: List[str] = []
    for part in parts:
        if part == "..":
            if out:
                out.pop()
        else:
            out.append(part)
    norm = "/" + "/".join(out)
    if norm == "/var/run" or norm.startswith("/var/run/"):
        norm = norm[4:]  # /var/run is a symlink to /run on every current distribution
    return norm


def host_path_danger(path: Any) -> Optional[str]:
    """Why a hostPath gives the container the node (None when it does not): host root or a runtime socket."""
    norm = _normalise_host_path(path)
    if norm == "/":
        return "the host's root filesystem"
    for sock in RUNTIME_SOCKETS:
        if norm == sock:
            return f"the container runtime socket {sock}"
        if sock.startswith(norm + "/"):
            return f"a directory holding the container runtime socket {sock}"
    return None


def _check_host_path_node_access(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for index, vol in enumerate((pod.get("spec") or {}).get("volumes") or []):
        if "hostPath" not in vol:
            continue
        path = (vol.get("hostPath") or {}).get("path")
        why = host_path_danger(path)
        if why:
            yield (
                f"pod: spec.volumes[{index}] '{vol.get('name')}' is a hostPath volume of {why} ({path}); "
                "read-only or not, it gives the container the node"
            )


def _selinux_places(pod: Mapping[str, Any], containers: Sequence[Container]) -> List[Tuple[str, Any]]:
    """Where seLinuxOptions can be set: the pod's securityContext, then each container's."""
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    places: List[Tuple[str, Any]] = [("pod: spec.securityContext", pod_sc.get("seLinuxOptions"))]
    for c in containers:
        places.append(
            (f"{c.label}: {c.path}.securityContext", (c.spec.get("securityContext") or {}).get("seLinuxOptions"))
        )
    return places


def _check_selinux_unconfined(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for where, opts in _selinux_places(pod, containers):
        if isinstance(opts, abc.Mapping) and opts.get("type") in UNCONFINED_SELINUX_TYPES:
            yield f"{where}.seLinuxOptions.type is {opts.get('type')} (an SELinux type that does not confine)"


def _check_host_path_volume(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for index, vol in enumerate((pod.get("spec") or {}).get("volumes") or []):
        if "hostPath" in vol:
            path = (vol.get("hostPath") or {}).get("path")
            yield f"pod: spec.volumes[{index}] '{vol.get('name')}' is a hostPath volume ({path})"


def _check_restricted_volume_types(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for index, vol in enumerate((pod.get("spec") or {}).get("volumes") or []):
        vtype = volume_type(vol)
        if vtype not in RESTRICTED_VOLUME_TYPES:
            yield f"pod: spec.volumes[{index}] '{vol.get('name')}' has type {vtype}, not allowed by restricted"


def _check_proc_mount(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for c in containers:
        value = c.security_context.get("procMount")
        if value not in (None, "Default"):
            yield f"{c.label}: {c.path}.securityContext.procMount is {value}"


def _seccomp_type(profile: Any) -> Optional[str]:
    return (profile or {}).get("type") if isinstance(profile, abc.Mapping) else None


def _check_seccomp_unconfined(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    if _seccomp_type(pod_sc.get("seccompProfile")) == "Unconfined":
        yield "pod: spec.securityContext.seccompProfile.type is Unconfined"
    for c in containers:
        own = (c.spec.get("securityContext") or {}).get("seccompProfile")
        if _seccomp_type(own) == "Unconfined":
            yield f"{c.label}: {c.path}.securityContext.seccompProfile.type is Unconfined"


def _check_seccomp_not_set(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for c in containers:
        kind = _seccomp_type(c.security_context.get("seccompProfile"))
        if kind not in ("RuntimeDefault", "Localhost"):
            shown = "unset" if kind is None else kind
            yield (
                f"{c.label}: seccompProfile.type is {shown} in {c.path}.securityContext and "
                "spec.securityContext (must be RuntimeDefault or Localhost)"
            )


def _check_apparmor_unconfined(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    meta = pod.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    if ((pod_sc.get("appArmorProfile") or {}).get("type")) == "Unconfined":
        yield "pod: spec.securityContext.appArmorProfile.type is Unconfined"
    for c in containers:
        own = (c.spec.get("securityContext") or {}).get("appArmorProfile") or {}
        if own.get("type") == "Unconfined":
            yield f"{c.label}: {c.path}.securityContext.appArmorProfile.type is Unconfined"
        key = f"container.apparmor.security.beta.kubernetes.io/{c.name}"
        if annotations.get(key) == "unconfined":
            yield f"{c.label}: annotation {key} is unconfined"


def _check_selinux(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for where, opts in _selinux_places(pod, containers):
        if not isinstance(opts, abc.Mapping):
            continue
        if opts.get("type", "") not in ALLOWED_SELINUX_TYPES:
            yield f"{where}.seLinuxOptions.type is {opts.get('type')}"
        for key in ("user", "role"):
            if opts.get(key):
                yield f"{where}.seLinuxOptions.{key} is set ({opts.get(key)})"


def _check_unsafe_sysctls(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    for index, sysctl in enumerate(pod_sc.get("sysctls") or []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"pod: spec.securityContext.sysctls[{index}] sets unsafe sysctl {sysctl.get('name')}"


def _check_host_process(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    if _truthy((pod_sc.get("windowsOptions") or {}).get("hostProcess")):
        yield "pod: spec.securityContext.windowsOptions.hostProcess is true"
    for c in containers:
        own = (c.spec.get("securityContext") or {}).get("windowsOptions") or {}
        if _truthy(own.get("hostProcess")):
            yield f"{c.label}: {c.path}.securityContext.windowsOptions.hostProcess is true"


def _check_host_probes(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for c in containers:
        handlers = [(k, c.spec.get(k)) for k in ("livenessProbe", "readinessProbe", "startupProbe")]
        lifecycle = c.spec.get("lifecycle") or {}
        handlers += [(f"lifecycle.{k}", lifecycle.get(k)) for k in ("postStart", "preStop")]
        for where, handler in handlers:
            for action in ("httpGet", "tcpSocket"):
                host = ((handler or {}).get(action) or {}).get("host") if isinstance(handler, abc.Mapping) else None
                if host:
                    yield f"{c.label}: {c.path}.{where}.{action}.host is {host}"


def _check_run_as_root(pod: Mapping[str, Any], containers: Sequence[Container]) -> Iterator[str]:
    for c in containers:
        sc = c.security_context
        if sc.get("runAsUser") == 0:
            yield f"{c.label}: runAsUser is 0 ({c.path}.securityContext or spec.securityContext)"
        elif not _truthy(sc.get("runAsNonRoot")):
            yield f"{c.label}: runAsNonRoot is not true in {c.path}.securityContext nor spec.securityContext"


# --------------------------------------------------------------------------------------------
# The catalogue

PSS_B = "Pod Security Standards baseline"
PSS_R = "Pod Security Standards restricted"

RULES: Dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "writable_volume",
            "Writable data volume",
            "A data volume (emptyDir, hostPath, persistentVolumeClaim, ephemeral, CSI, network or block storage) "
            "mounted read-write by a container, or attached as a raw block device. configMap, secret, "
            "downwardAPI, projected (including the service-account token) and image volumes do not count.",
            frozenset((STATELESS,)),
            (f"{PSS_R}: Volume Types", "CIS 5.2.12 (hostPath)", "Kubescape C-0045, C-0048"),
            _check_writable_volume,
        ),
        Rule(
            "writable_root_filesystem",
            "Writable root filesystem",
            "A container whose securityContext.readOnlyRootFilesystem is not true can store data in its "
            "own filesystem and change its own binaries.",
            frozenset((STATELESS, IMMUTABLE)),
            ("Kubescape C-0017", "Polaris notReadOnlyRootFilesystem"),
            _check_writable_root_filesystem,
        ),
        Rule(
            "privileged",
            "Privileged container",
            "securityContext.privileged is true in a container, init container or ephemeral container.",
            frozenset((IMMUTABLE,)),
            (f"{PSS_B}: Privileged Containers", "CIS 5.2.2", "Kubescape C-0057", "Polaris runAsPrivileged"),
            _check_privileged,
            ("privileged",),
        ),
        Rule(
            "privilege_escalation",
            "Privilege escalation allowed",
            "securityContext.allowPrivilegeEscalation is explicitly true.",
            frozenset((IMMUTABLE,)),
            (f"{PSS_R}: Privilege Escalation", "CIS 5.2.6", "Kubescape C-0016", "Polaris privilegeEscalationAllowed"),
            _check_privilege_escalation,
        ),
        Rule(
            "privilege_escalation_not_disabled",
            "Privilege escalation not disabled",
            "securityContext.allowPrivilegeEscalation is not false (unset means allowed).",
            frozenset((IMMUTABLE,)),
            (f"{PSS_R}: Privilege Escalation", "CIS 5.2.6", "Kubescape C-0016", "Polaris privilegeEscalationAllowed"),
            _check_privilege_escalation_not_disabled,
            ("allowPrivilegeEscalation",),
        ),
        Rule(
            "added_capabilities",
            "Capabilities beyond the baseline set",
            "securityContext.capabilities.add has a capability outside the PSS baseline list "
            "(e.g. SYS_ADMIN, NET_ADMIN, NET_RAW, ALL).",
            frozenset((IMMUTABLE,)),
            (
                f"{PSS_B}: Capabilities",
                "CIS 5.2.8, 5.2.9",
                "Kubescape C-0046",
                "Polaris dangerousCapabilities, insecureCapabilities",
            ),
            _check_added_capabilities,
            ("capabilities_baseline",),
        ),
        Rule(
            "capabilities_restricted",
            "Capabilities not restricted",
            "securityContext.capabilities must drop ALL and add at most NET_BIND_SERVICE.",
            frozenset((IMMUTABLE,)),
            (f"{PSS_R}: Capabilities", "CIS 5.2.10", "Kubescape C-0046"),
            _check_capabilities_restricted,
            ("capabilities_restricted",),
        ),
        Rule(
            "host_namespaces",
            "Host namespaces",
            "spec.hostNetwork, spec.hostPID or spec.hostIPC is true.",
            frozenset((IMMUTABLE,)),
            (
                f"{PSS_B}: Host Namespaces",
                "CIS 5.2.3, 5.2.4, 5.2.5",
                "Kubescape C-0038, C-0041",
                "Polaris hostPIDSet, hostIPCSet, hostNetworkSet",
            ),
            _check_host_namespaces,
            ("hostNamespaces",),
        ),
        Rule(
            "host_ports",
            "Host ports",
            "A container port sets hostPort.",
            frozenset((IMMUTABLE,)),
            (f"{PSS_B}: Host Ports", "CIS 5.2.13", "Kubescape C-0044", "Polaris hostPortSet"),
            _check_host_ports,
            ("hostPorts",),
        ),
        Rule(
            "host_path_volume",
            "HostPath volume",
            "The pod declares a hostPath volume (read-only or not).",
            frozenset((IMMUTABLE,)),
            (f"{PSS_B}: HostPath Volumes", "CIS 5.2.12", "Kubescape C-0048"),
            _check_host_path_volume,
            ("hostPathVolumes",),
        ),
        Rule(
            "restricted_volume_types",
            "Volume type not allowed by restricted",
            "A volume whose type is not configMap, csi, downwardAPI, emptyDir, ephemeral, "
            "persistentVolumeClaim, projected or secret.",
            frozenset((IMMUTABLE,)),
            (f"{PSS_R}: Volume Types",),
            _check_restricted_volume_types,
            ("restrictedVolumes",),
        ),
        Rule(
            "proc_mount",
            "Unmasked /proc",
            "securityContext.procMount is not Default.",
            frozenset((IMMUTABLE,)),
            (f"{PSS_B}: /proc Mount Type",),
            _check_proc_mount,
            ("procMount", "procMount_restricted"),
        ),
        Rule(
            "seccomp_unconfined",
            "Seccomp unconfined",
            "seccompProfile.type is Unconfined at pod or container level.",
            frozenset((IMMUTABLE,)),
            (f"{PSS_B}: Seccomp", "Kubescape C-0055"),
            _check_seccomp_unconfined,
            ("seccompProfile_baseline",),
        ),
        Rule(
            "seccomp_not_set",
            "Seccomp profile missing",
            "The effective seccompProfile.type is not RuntimeDefault or Localhost.",
            frozenset((IMMUTABLE,)),
            (f"{PSS_R}: Seccomp", "CIS 5.7.2", "Kubescape C-0055"),
            _check_seccomp_not_set,
            ("seccompProfile_restricted",),
        ),
        Rule(
            "apparmor_unconfined",
            "AppArmor unconfined",
            "appArmorProfile.type or the legacy AppArmor annotation is Unconfined.",
            frozenset((IMMUTABLE,)),
            (f"{PSS_B}: AppArmor", "Kubescape C-0055"),
            _check_apparmor_unconfined,
            ("appArmorProfile",),
        ),
        Rule(
            "selinux_options",
            "Custom SELinux options",
            "seLinuxOptions sets a user, a role or a type outside the container types.",
            frozenset((IMMUTABLE,)),
            (f"{PSS_B}: SELinux", "Kubescape C-0055"),
            _check_selinux,
            ("seLinuxOptions",),
        ),
        Rule(
            "unsafe_sysctls",
            "Unsafe sysctls",
            "spec.securityContext.sysctls sets a sysctl outside the safe set.",
            frozenset((IMMUTABLE,)),
            (f"{PSS_B}: Sysctls",),
            _check_unsafe_sysctls,
            ("sysctls",),
        ),
        Rule(
            "host_process",
            "Windows HostProcess",
            "windowsOptions.hostProcess is true.",
            frozenset((IMMUTABLE,)),
            (f"{PSS_B}: HostProcess", "CIS 5.2.11"),
            _check_host_process,
            ("windowsHostProcess",),
        ),
        Rule(
            "run_as_root",
            "May run as root",
            "The effective runAsNonRoot is not true, or runAsUser is 0.",
            frozenset((IMMUTABLE,)),
            (f"{PSS_R}: Running as Non-root", "CIS 5.2.7", "Kubescape C-0013", "Polaris runAsRootAllowed"),
            _check_run_as_root,
            ("runAsNonRoot", "runAsUser"),
        ),
        Rule(
            "host_path_node_access",
            "HostPath of the host root or a runtime socket",
            "A hostPath volume of / or of a container runtime socket (containerd, CRI-O, Docker, cri-dockerd, "
            "Podman) or a directory holding one, read-only or not: either gives the container the node.",
            frozenset((IMMUTABLE,)),
            ("CIS 5.2.12 (hostPath)", "Kubescape C-0074 (container runtime socket)", "Kubescape C-0045"),
            _check_host_path_node_access,
        ),
        Rule(
            "selinux_unconfined",
            "Unconfined SELinux type",
            "seLinuxOptions.type is spc_t (super privileged container) or unconfined_t at pod or container level.",
            frozenset((IMMUTABLE,)),
            (f"{PSS_B}: SELinux",),
            _check_selinux_unconfined,
        ),
        Rule(
            "host_probes",
            "Probe or lifecycle host",
            "A probe or lifecycle handler (httpGet, tcpSocket) sets host: the kubelet would connect "
            "from the node to that address (baseline from PSS 1.34).",
            frozenset((IMMUTABLE,)),
            (f"{PSS_B}: Host Probes / Lifecycle Hooks",),
            _check_host_probes,
            ("hostProbesAndHostLifecycle",),
        ),
    )
}

_BASELINE_PRIVILEGE = (
    "privileged",
    "added_capabilities",
    "host_namespaces",
    "host_ports",
    "host_path_volume",
    "proc_mount",
    "seccomp_unconfined",
    "apparmor_unconfined",
    "selinux_options",
    "unsafe_sysctls",
    "host_process",
    "host_probes",
)

PROFILES: Dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "cks",
            "The CKS task: writable data volumes make a pod not stateless; privileged in any way "
            "(privileged, privilege escalation, added capabilities, host namespaces, a hostPath of the host "
            "root or a runtime socket, an unconfined SELinux type) makes it neither immutable nor stateless.",
            (
                "writable_volume",
                "privileged",
                "privilege_escalation",
                "added_capabilities",
                "host_namespaces",
                "host_path_node_access",
                "selinux_unconfined",
            ),
            privilege_breaks_statelessness=True,
        ),
        Profile(
            "baseline",
            "Writable data volumes (not stateless) and the Pod Security Standards baseline level, as "
            "PodSecurity admission evaluates it at pss_version (not immutable).",
            ("writable_volume", *_BASELINE_PRIVILEGE),
            pss_level=pss.BASELINE,
        ),
        Profile(
            "restricted",
            "Writable data volumes (not stateless) and the Pod Security Standards restricted level, as "
            "PodSecurity admission evaluates it at pss_version (not immutable).",
            (
                "writable_volume",
                *_BASELINE_PRIVILEGE,
                "restricted_volume_types",
                "privilege_escalation_not_disabled",
                "capabilities_restricted",
                "seccomp_not_set",
                "run_as_root",
            ),
            pss_level=pss.RESTRICTED,
        ),
    )
}


def build_policy(profile: str = "cks", checks: Optional[Sequence[str]] = None, pss_version: Any = "latest") -> Policy:
    """Rules in force for ``profile`` modified by ``checks``, at PSS version ``pss_version``.

    ``checks`` either lists rule ids (exactly these rules run) or only ``+id`` / ``-id`` entries
    (add to / remove from the profile's rules). Mixing both forms is an error.
    """
    if profile not in PROFILES:
        raise UnknownCheckError(f"Unknown profile '{profile}'; choose one of {', '.join(sorted(PROFILES))}", "profile")
    prof = PROFILES[profile]
    ids: List[str] = list(prof.rules)
    entries = [str(c).strip() for c in checks or [] if str(c).strip()]
    if entries:
        deltas = [e for e in entries if e[0] in "+-"]
        if deltas and len(deltas) != len(entries):
            raise UnknownCheckError(
                "checks must either list rule ids (replacing the profile's rules) or only +id/-id entries, not both"
            )
        names = [e[1:] if e[0] in "+-" else e for e in entries]
        unknown = sorted(n for n in names if n not in RULES)
        if unknown:
            raise UnknownCheckError(f"Unknown check(s) {', '.join(unknown)}; known: {', '.join(sorted(RULES))}")
        if deltas:
            for entry in entries:
                name = entry[1:]
                if entry[0] == "+" and name not in ids:
                    ids.append(name)
                elif entry[0] == "-" and name in ids:
                    ids.remove(name)
        else:
            ids = list(dict.fromkeys(names))
    return Policy(
        profile=profile,
        rules=tuple(RULES[i] for i in ids),
        privilege_breaks_statelessness=prof.privilege_breaks_statelessness,
        pss_level=prof.pss_level,
        pss_version=pss.parse_version(pss_version),
    )


def _pss_violations(pod: Mapping[str, Any], policy: Policy, rule: Rule, cats: Tuple[str, ...]) -> List[Violation]:
    """A rule's violations as PodSecurity finds them at the policy's level and version."""
    level = policy.pss_level or pss.BASELINE
    in_force = pss.checks_in_force(level, policy.pss_version)
    ids = [c for c in rule.pss if c in in_force]
    if not ids and level == pss.BASELINE:
        # a restricted rule added to baseline with checks: its check as of the version. (At
        # restricted, a baseline check not in force is overridden by a restricted one: skipped.)
        ids = [c for c in rule.pss if pss.CHECKS[c].level == pss.RESTRICTED and pss.CHECKS[c].at(policy.pss_version)]
    out = []
    for check_id in ids:
        result = pss.run_check(check_id, pod, policy.pss_version)
        if result is not None:
            out.append(Violation(rule=rule.id, categories=cats, reason=result.message, pss_check=result.check))
    return out


def evaluate(pod: Mapping[str, Any], policy: Policy) -> Verdict:
    """Classify one pod under ``policy``."""
    containers = containers_of(pod)
    violations: List[Violation] = []
    for rule in policy.rules:
        cats = policy.categories_of(rule)
        if policy.pss_level and rule.pss:
            violations.extend(_pss_violations(pod, policy, rule, cats))
            continue
        for reason in rule.check(pod, containers):
            violations.append(Violation(rule=rule.id, categories=cats, reason=reason))
    broken = {c for v in violations for c in v.categories}
    return Verdict(stateless=STATELESS not in broken, immutable=IMMUTABLE not in broken, violations=tuple(violations))


def describe_rules() -> List[Dict[str, Any]]:
    """The catalogue as plain data (for documentation and reports)."""
    return [
        {
            "id": r.id,
            "title": r.title,
            "description": r.description,
            "categories": sorted(r.categories),
            "references": list(r.references),
            "profiles": sorted(p.name for p in PROFILES.values() if r.id in p.rules),
            "pss_checks": list(r.pss),
        }
        for r in RULES.values()
    ]
