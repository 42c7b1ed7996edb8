# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Private to the nodesec.kubernetes collection: the Pod Security Standards as PodSecurity checks them.

A re-implementation, written for this collection, of what Kubernetes' PodSecurity admission
(``k8s.io/pod-security-admission``, read at v0.35.4) decides for a pod at a level
(``baseline`` or ``restricted``) and a standard version (``1.0`` to ``1.35``):

- the same check ids (``privileged``, ``capabilities_baseline``, ``hostProbesAndHostLifecycle``
  ...), each with the versions where its behaviour changed;
- at ``restricted``, the baseline checks a restricted check overrides are not run
  (``capabilities_baseline``, ``seccompProfile_baseline``, ``hostPathVolumes``, ``procMount``
  from 1.35);
- the same reason and detail strings, so a result reads exactly like the API server's
  ``violates PodSecurity "restricted:v1.35": ...`` message (checks in the same order).

Fields are read as PodSecurity reads them: the pod spec as written (no merging of pod and
container security contexts), capability names as literal strings, and init, regular and
ephemeral containers in that order. Pure logic: a pod is the plain ``dict`` the API returns.
"""

from __future__ import annotations

import functools
import re
from collections import abc
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import InvalidRequestError

Version = Tuple[int, int]

BASELINE = "baseline"
RESTRICTED = "restricted"
LEVELS: Tuple[str, ...] = (BASELINE, RESTRICTED)

# The newest standard version whose checks this module implements (kube 1.35).
LATEST: Version = (1, 35)
# The oldest version the modules accept for ``pss_version`` (the checks themselves go back to 1.0).
OLDEST_SUPPORTED: Version = (1, 23)


class PSSVersionError(InvalidRequestError, ValueError):
    """A ``pss_version`` that is not ``latest`` nor ``1.<minor>`` within the supported range."""

    def __init__(self, message: str, field: str = "pss_version") -> None:
        super().__init__(message, field)


def parse_version(value: Any) -> Version:
    """``"1.35"``, ``"v1.35"`` or ``"latest"`` as ``(1, 35)``; anything else is an error."""
    text = str(value if value is not None else "latest").strip()
    if text == "latest":
        return LATEST
    match = re.fullmatch(r"v?1\.(0|[1-9][0-9]{0,2})", text)
    if not match:
        raise PSSVersionError(
            f"pss_version '{text}' is not a Kubernetes minor: use 'latest' or '1.<minor>' "
            f"(for example '1.{LATEST[1]}'), from 1.{OLDEST_SUPPORTED[1]} to 1.{LATEST[1]}"
        )
    version = (1, int(match.group(1)))
    if not OLDEST_SUPPORTED <= version <= LATEST:
        raise PSSVersionError(
            f"pss_version '{text}' is outside the versions this collection implements "
            f"(1.{OLDEST_SUPPORTED[1]} to 1.{LATEST[1]}); use one of those or 'latest'"
        )
    return version


def format_version(version: Version) -> str:
    return f"v{version[0]}.{version[1]}"


@dataclass(frozen=True)
class Result:
    """One check that fails: its id, and the reason and detail PodSecurity gives."""

    check: str
    reason: str
    detail: str

    @property
    def message(self) -> str:
        """``reason (detail)``, one item of the API server's list."""
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


# --------------------------------------------------------------------------------------------
# Reading the pod the way PodSecurity does


def _spec(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    return pod.get("spec") or {}


def _pod_sc(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    return spec.get("securityContext") or {}


def _containers(spec: Mapping[str, Any]) -> List[Mapping[str, Any]]:
    """Init containers, containers, ephemeral containers: PodSecurity's visiting order."""
    out: List[Mapping[str, Any]] = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        out.extend(c for c in spec.get(key) or [] if isinstance(c, abc.Mapping))
    return out


def _sc(container: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    sc = container.get("securityContext")
    return sc if isinstance(sc, abc.Mapping) else None


def _name(container: Mapping[str, Any]) -> str:
    return str(container.get("name", ""))


def _windows(spec: Mapping[str, Any]) -> bool:
    return ((spec.get("os") or {}).get("name")) == "windows"


def _user_namespaced(spec: Mapping[str, Any]) -> bool:
    """hostUsers is explicitly false: the pod runs in its own user namespace."""
    return spec.get("hostUsers") is False


def _join_quote(items: Sequence[str]) -> str:
    return '"' + '", "'.join(items) + '"' if items else ""


def _plural(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def _containers_phrase(names: Sequence[str]) -> str:
    return f"{_plural('container', 'containers', len(names))} {_join_quote(names)}"


def _go_quote(text: str) -> str:
    """Go's ``%q`` for the strings that occur here (annotation values)."""
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _setters(pod_bad: bool, containers: Sequence[str]) -> List[str]:
    setters = ["pod"] if pod_bad else []
    if containers:
        setters.append(_containers_phrase(containers))
    return setters


# --------------------------------------------------------------------------------------------
# The checks (one function per behaviour; the registry below says which version uses which)

CheckFn = Callable[[Mapping[str, Any], Mapping[str, Any]], Optional[Result]]


def _privileged(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    bad = [_name(c) for c in _containers(spec) if (_sc(c) or {}).get("privileged") is True]
    if bad:
        return Result(
            "privileged", "privileged", f"{_containers_phrase(bad)} must not set securityContext.privileged=true"
        )
    return None


def _host_namespaces(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    found = [f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key) is True]
    if found:
        return Result("hostNamespaces", "host namespaces", ", ".join(found))
    return None


def _host_path_volumes(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    names = [str(v.get("name", "")) for v in spec.get("volumes") or [] if v.get("hostPath") is not None]
    if names:
        return Result(
            "hostPathVolumes", "hostPath volumes", f"{_plural('volume', 'volumes', len(names))} {_join_quote(names)}"
        )
    return None


def _host_ports(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    bad: List[str] = []
    ports = set()
    for c in _containers(spec):
        found = [int(p.get("hostPort")) for p in c.get("ports") or [] if p.get("hostPort")]
        if found:
            bad.append(_name(c))
            ports.update(str(p) for p in found)
    if bad:
        return Result(
            "hostPorts",
            "hostPort",
            f"{_containers_phrase(bad)} {_plural('uses', 'use', len(bad))} "
            f"{_plural('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}",
        )
    return None


def _handler_hosts(handler: Any) -> List[str]:
    if not isinstance(handler, abc.Mapping):
        return []
    hosts = []
    for key in ("httpGet", "tcpSocket"):
        action = handler.get(key)
        if isinstance(action, abc.Mapping) and action.get("host"):
            hosts.append(str(action["host"]))
    return hosts


def _host_probes_1_34(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    bad = set()
    hosts = set()
    for c in _containers(spec):
        lifecycle = c.get("lifecycle") or {}
        handlers = [c.get("livenessProbe"), c.get("readinessProbe"), c.get("startupProbe")]
        handlers += [lifecycle.get("postStart"), lifecycle.get("preStop")]
        for handler in handlers:
            found = _handler_hosts(handler)
            if found:
                bad.add(_name(c))
                hosts.update(found)
    if bad:
        names = sorted(bad)
        return Result(
            "hostProbesAndHostLifecycle",
            "probe or lifecycle host",
            f"{_containers_phrase(names)} {_plural('uses', 'use', len(names))} "
            f"{_plural('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
            f"{_join_quote(sorted(hosts))}",
        )
    return None


BASELINE_CAPABILITIES: FrozenSet[str] = frozenset(
    (
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    )
)


def _capabilities(c: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    caps = (_sc(c) or {}).get("capabilities")
    return caps if isinstance(caps, abc.Mapping) else None


def _capabilities_baseline(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    bad: List[str] = []
    caps = set()
    for c in _containers(spec):
        extra = [str(x) for x in (_capabilities(c) or {}).get("add") or [] if str(x) not in BASELINE_CAPABILITIES]
        if extra:
            bad.append(_name(c))
            caps.update(extra)
    if bad:
        return Result(
            "capabilities_baseline",
            "non-default capabilities",
            f"{_containers_phrase(bad)} must not include {_join_quote(sorted(caps))} in "
            "securityContext.capabilities.add",
        )
    return None


def _capabilities_restricted_1_22(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    missing_drop: List[str] = []
    adding: List[str] = []
    caps = set()
    for c in _containers(spec):
        have = _capabilities(c)
        if have is None:
            missing_drop.append(_name(c))
            continue
        if "ALL" not in [str(x) for x in have.get("drop") or []]:
            missing_drop.append(_name(c))
        extra = [str(x) for x in have.get("add") or [] if str(x) != "NET_BIND_SERVICE"]
        if extra:
            adding.append(_name(c))
            caps.update(extra)
    details = []
    if missing_drop:
        details.append(f'{_containers_phrase(missing_drop)} must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(
            f"{_containers_phrase(adding)} must not include {_join_quote(sorted(caps))} in "
            "securityContext.capabilities.add"
        )
    if details:
        return Result("capabilities_restricted", "unrestricted capabilities", "; ".join(details))
    return None


def _proc_mount_1_0(meta: Mapping[str, Any], spec: Mapping[str, Any], check: str = "procMount") -> Optional[Result]:
    bad: List[str] = []
    kinds = set()
    for c in _containers(spec):
        value = (_sc(c) or {}).get("procMount")
        if value is not None and value != "Default":
            bad.append(_name(c))
            kinds.add(str(value))
    if bad:
        return Result(
            check,
            "procMount",
            f"{_containers_phrase(bad)} must not set securityContext.procMount to {_join_quote(sorted(kinds))}",
        )
    return None


def _proc_mount_1_35(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    return None if _user_namespaced(spec) else _proc_mount_1_0(meta, spec)


def _proc_mount_restricted(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    return _proc_mount_1_0(meta, spec, "procMount_restricted")


_SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"


def _seccomp_type(sc: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The type of ``sc.seccompProfile``; None when there is no profile."""
    profile = (sc or {}).get("seccompProfile")
    if not isinstance(profile, abc.Mapping):
        return None
    return str(profile.get("type") or "")


def _valid_seccomp(kind: str) -> bool:
    return kind in ("Localhost", "RuntimeDefault")


def _seccomp_baseline_1_0(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    annotations = meta.get("annotations") or {}

    def valid(value: str) -> bool:
        return value in ("runtime/default", "docker/default") or value.startswith("localhost/")

    bad = set()
    if _SECCOMP_POD_ANNOTATION in annotations and not valid(str(annotations[_SECCOMP_POD_ANNOTATION])):
        bad.add(f"{_SECCOMP_POD_ANNOTATION}={_go_quote(str(annotations[_SECCOMP_POD_ANNOTATION]))}")
    for c in _containers(spec):
        key = _SECCOMP_CONTAINER_PREFIX + _name(c)
        if key in annotations and not valid(str(annotations[key])):
            bad.add(f"{key}={_go_quote(str(annotations[key]))}")
    if bad:
        return Result(
            "seccompProfile_baseline",
            "seccompProfile",
            f"forbidden {_plural('annotation', 'annotations', len(bad))} {', '.join(sorted(bad))}",
        )
    return None


def _seccomp_explicit(spec: Mapping[str, Any]) -> Tuple[bool, List[str], set]:
    values = set()
    pod_kind = _seccomp_type(_pod_sc(spec))
    pod_bad = pod_kind is not None and not _valid_seccomp(pod_kind)
    if pod_bad:
        values.add(pod_kind)
    bad = []
    for c in _containers(spec):
        kind = _seccomp_type(_sc(c))
        if kind is not None and not _valid_seccomp(kind):
            bad.append(_name(c))
            values.add(kind)
    return pod_bad, bad, values


def _seccomp_result(check: str, pod_bad: bool, bad: List[str], values: set) -> Result:
    return Result(
        check,
        "seccompProfile",
        f"{' and '.join(_setters(pod_bad, bad))} must not set securityContext.seccompProfile.type to "
        f"{_join_quote(sorted(values))}",
    )


def _seccomp_baseline_1_19(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    pod_bad, bad, values = _seccomp_explicit(spec)
    if pod_bad or bad:
        return _seccomp_result("seccompProfile_baseline", pod_bad, bad, values)
    return None


def _seccomp_restricted_1_19(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    pod_bad, bad, values = _seccomp_explicit(spec)
    if pod_bad or bad:
        return _seccomp_result("seccompProfile_restricted", pod_bad, bad, values)
    pod_kind = _seccomp_type(_pod_sc(spec))
    pod_set = pod_kind is not None and _valid_seccomp(pod_kind)
    implicit = [_name(c) for c in _containers(spec) if _seccomp_type(_sc(c)) is None and not pod_set]
    if implicit:
        return Result(
            "seccompProfile_restricted",
            "seccompProfile",
            f"pod or {_containers_phrase(implicit)} must set securityContext.seccompProfile.type to "
            '"RuntimeDefault" or "Localhost"',
        )
    return None


def _seccomp_restricted_1_25(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    return None if _windows(spec) else _seccomp_restricted_1_19(meta, spec)


_APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _apparmor_type(sc: Optional[Mapping[str, Any]]) -> Optional[str]:
    profile = (sc or {}).get("appArmorProfile")
    if not isinstance(profile, abc.Mapping):
        return None
    return str(profile.get("type") or "")


def _apparmor_profile(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    values = set()
    setters: List[str] = []
    pod_kind = _apparmor_type(_pod_sc(spec))
    if pod_kind is not None and pod_kind not in ("RuntimeDefault", "Localhost"):
        setters.append("pod")
        values.add(pod_kind)
    bad = []
    for c in _containers(spec):
        kind = _apparmor_type(_sc(c))
        if kind is not None and kind not in ("RuntimeDefault", "Localhost"):
            bad.append(_name(c))
            values.add(kind)
    if bad:
        setters.append(_containers_phrase(bad))
    annotations = []
    for key, value in (meta.get("annotations") or {}).items():
        value = str(value)
        if str(key).startswith(_APPARMOR_PREFIX) and not (
            value in ("", "runtime/default") or value.startswith("localhost/")
        ):
            annotations.append(f"{key}={_go_quote(value)}")
    shown = sorted(values)
    if annotations:
        shown += sorted(annotations)
        setters.append(_plural("annotation", "annotations", len(annotations)))
    if setters:
        return Result(
            "appArmorProfile",
            _plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(shown)),
            f"{' and '.join(setters)} must not set AppArmor profile type to {_join_quote(shown)}",
        )
    return None


_SELINUX_TYPES_1_0 = frozenset(("", "container_t", "container_init_t", "container_kvm_t"))
_SELINUX_TYPES_1_31 = _SELINUX_TYPES_1_0 | {"container_engine_t"}


def _selinux(allowed: FrozenSet[str]) -> CheckFn:
    def check(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
        types = set()
        flags = {"user": False, "role": False}

        def valid(opts: Any) -> bool:
            if not isinstance(opts, abc.Mapping):
                return True
            ok = True
            kind = str(opts.get("type") or "")
            if kind not in allowed:
                ok = False
                types.add(kind)
            for key in ("user", "role"):
                if opts.get(key):
                    ok = False
                    flags[key] = True
            return ok

        pod_bad = not valid(_pod_sc(spec).get("seLinuxOptions"))
        bad = [_name(c) for c in _containers(spec) if not valid((_sc(c) or {}).get("seLinuxOptions"))]
        setters = _setters(pod_bad, bad)
        if not setters:
            return None
        data = []
        if types:
            data.append(f"{_plural('type', 'types', len(types))} {_join_quote(sorted(types))}")
        if flags["user"]:
            data.append("user may not be set")
        if flags["role"]:
            data.append("role may not be set")
        return Result(
            "seLinuxOptions",
            "seLinuxOptions",
            f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}",
        )

    return check


SAFE_SYSCTLS_1_0: FrozenSet[str] = frozenset(
    (
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    )
)
SAFE_SYSCTLS_1_27 = SAFE_SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
SAFE_SYSCTLS_1_29 = SAFE_SYSCTLS_1_27 | {
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SAFE_SYSCTLS_1_32 = SAFE_SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}


def _sysctls(allowed: FrozenSet[str]) -> CheckFn:
    def check(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
        bad = [str(s.get("name")) for s in _pod_sc(spec).get("sysctls") or [] if str(s.get("name")) not in allowed]
        return Result("sysctls", "forbidden sysctls", ", ".join(bad)) if bad else None

    return check


def _host_process(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    def on(sc: Optional[Mapping[str, Any]]) -> bool:
        return ((sc or {}).get("windowsOptions") or {}).get("hostProcess") is True

    bad = [_name(c) for c in _containers(spec) if on(_sc(c))]
    setters = _setters(on(_pod_sc(spec)), bad)
    if setters:
        return Result(
            "windowsHostProcess",
            "hostProcess",
            f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true",
        )
    return None


def _allow_privilege_escalation_1_8(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    bad = [_name(c) for c in _containers(spec) if (_sc(c) or {}).get("allowPrivilegeEscalation") is not False]
    if bad:
        return Result(
            "allowPrivilegeEscalation",
            "allowPrivilegeEscalation != false",
            f"{_containers_phrase(bad)} must set securityContext.allowPrivilegeEscalation=false",
        )
    return None


def _allow_privilege_escalation_1_25(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    return None if _windows(spec) else _allow_privilege_escalation_1_8(meta, spec)


def _capabilities_restricted_1_25(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    return None if _windows(spec) else _capabilities_restricted_1_22(meta, spec)


_RESTRICTED_VOLUME_SOURCES = frozenset(
    (
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    )
)
# The sources PodSecurity names, in the order it tests them; any other is "unknown".
_NAMED_VOLUME_SOURCES: Tuple[Tuple[str, str], ...] = (
    ("hostPath", "hostPath"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("gitRepo", "gitRepo"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("rbd", "rbd"),
    ("flexVolume", "flexVolume"),
    ("cinder", "cinder"),
    ("cephfs", "cephfs"),
    ("flocker", "flocker"),
    ("fc", "fc"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("quobyte", "quobyte"),
    ("azureDisk", "azureDisk"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("scaleIO", "scaleIO"),
    ("storageos", "storageos"),
)


def _restricted_volumes(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    bad: List[str] = []
    kinds = set()
    for volume in spec.get("volumes") or []:
        sources = [k for k, v in volume.items() if k != "name" and v is not None]
        if not sources or any(s in _RESTRICTED_VOLUME_SOURCES for s in sources):
            continue  # a volume without a source is defaulted to emptyDir by the API server
        bad.append(str(volume.get("name", "")))
        kinds.add(next((label for key, label in _NAMED_VOLUME_SOURCES if key in sources), "unknown"))
    if bad:
        return Result(
            "restrictedVolumes",
            "restricted volume types",
            f"{_plural('volume', 'volumes', len(bad))} {_join_quote(bad)} {_plural('uses', 'use', len(bad))} "
            f"{_plural('restricted volume type', 'restricted volume types', len(kinds))} "
            f"{_join_quote(sorted(kinds))}",
        )
    return None


def _run_as_non_root_1_0(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    pod_value = _pod_sc(spec).get("runAsNonRoot")
    pod_bad = pod_value is False
    pod_ok = pod_value is True
    explicit: List[str] = []
    implicit: List[str] = []
    for c in _containers(spec):
        value = (_sc(c) or {}).get("runAsNonRoot")
        if value is not None:
            if value is not True:
                explicit.append(_name(c))
        elif not pod_ok:
            implicit.append(_name(c))
    setters = _setters(pod_bad, explicit)
    if setters:
        return Result(
            "runAsNonRoot",
            "runAsNonRoot != true",
            f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false",
        )
    if implicit:
        return Result(
            "runAsNonRoot",
            "runAsNonRoot != true",
            f"pod or {_containers_phrase(implicit)} must set securityContext.runAsNonRoot=true",
        )
    return None


def _run_as_non_root_1_35(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    return None if _user_namespaced(spec) else _run_as_non_root_1_0(meta, spec)


def _is_zero(value: Any) -> bool:
    return value is not None and not isinstance(value, bool) and value == 0


def _run_as_user_1_23(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    pod_bad = _is_zero(_pod_sc(spec).get("runAsUser"))
    bad = [_name(c) for c in _containers(spec) if _is_zero((_sc(c) or {}).get("runAsUser"))]
    setters = _setters(pod_bad, bad)
    if setters:
        return Result("runAsUser", "runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0")
    return None


def _run_as_user_1_35(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Result]:
    return None if _user_namespaced(spec) else _run_as_user_1_23(meta, spec)


# --------------------------------------------------------------------------------------------
# The registry: check id -> level and the versions where its behaviour starts


@dataclass(frozen=True)
class Variant:
    since: Version
    check: CheckFn
    overrides: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    variants: Tuple[Variant, ...]
    title: str

    def at(self, version: Version) -> Optional[Variant]:
        """The variant in force at ``version``; None before the check exists."""
        found = None
        for variant in self.variants:
            if variant.since <= version:
                found = variant
        return found


CHECKS: Dict[str, Check] = {
    c.id: c
    for c in (
        Check("allowPrivilegeEscalation", RESTRICTED, (
            Variant((1, 8), _allow_privilege_escalation_1_8),
            Variant((1, 25), _allow_privilege_escalation_1_25),
        ), "Privilege Escalation"),
        Check("appArmorProfile", BASELINE, (Variant((1, 0), _apparmor_profile),), "AppArmor"),
        Check("capabilities_baseline", BASELINE, (Variant((1, 0), _capabilities_baseline),), "Capabilities"),
        Check("capabilities_restricted", RESTRICTED, (
            Variant((1, 22), _capabilities_restricted_1_22, ("capabilities_baseline",)),
            Variant((1, 25), _capabilities_restricted_1_25, ("capabilities_baseline",)),
        ), "Capabilities"),
        Check("hostNamespaces", BASELINE, (Variant((1, 0), _host_namespaces),), "Host Namespaces"),
        Check("hostPathVolumes", BASELINE, (Variant((1, 0), _host_path_volumes),), "HostPath Volumes"),
        Check("hostPorts", BASELINE, (Variant((1, 0), _host_ports),), "Host Ports"),
        Check("hostProbesAndHostLifecycle", BASELINE, (Variant((1, 34), _host_probes_1_34),),
              "Host Probes / Lifecycle Hooks"),
        Check("privileged", BASELINE, (Variant((1, 0), _privileged),), "Privileged Containers"),
        Check("procMount", BASELINE, (
            Variant((1, 0), _proc_mount_1_0),
            Variant((1, 35), _proc_mount_1_35),
        ), "/proc Mount Type"),
        Check("procMount_restricted", RESTRICTED, (
            Variant((1, 35), _proc_mount_restricted, ("procMount",)),
        ), "/proc Mount Type"),
        Check("restrictedVolumes", RESTRICTED, (
            Variant((1, 0), _restricted_volumes, ("hostPathVolumes",)),
        ), "Volume Types"),
        Check("runAsNonRoot", RESTRICTED, (
            Variant((1, 0), _run_as_non_root_1_0),
            Variant((1, 35), _run_as_non_root_1_35),
        ), "Running as Non-root"),
        Check("runAsUser", RESTRICTED, (
            Variant((1, 23), _run_as_user_1_23),
            Variant((1, 35), _run_as_user_1_35),
        ), "Running as Non-root user"),
        Check("seLinuxOptions", BASELINE, (
            Variant((1, 0), _selinux(_SELINUX_TYPES_1_0)),
            Variant((1, 31), _selinux(_SELINUX_TYPES_1_31)),
        ), "SELinux"),
        Check("seccompProfile_baseline", BASELINE, (
            Variant((1, 0), _seccomp_baseline_1_0),
            Variant((1, 19), _seccomp_baseline_1_19),
        ), "Seccomp"),
        Check("seccompProfile_restricted", RESTRICTED, (
            Variant((1, 19), _seccomp_restricted_1_19, ("seccompProfile_baseline",)),
            Variant((1, 25), _seccomp_restricted_1_25, ("seccompProfile_baseline",)),
        ), "Seccomp"),
        Check("sysctls", BASELINE, (
            Variant((1, 0), _sysctls(SAFE_SYSCTLS_1_0)),
            Variant((1, 27), _sysctls(SAFE_SYSCTLS_1_27)),
            Variant((1, 29), _sysctls(SAFE_SYSCTLS_1_29)),
            Variant((1, 32), _sysctls(SAFE_SYSCTLS_1_32)),
        ), "Sysctls"),
        Check("windowsHostProcess", BASELINE, (Variant((1, 0), _host_process),), "HostProcess"),
    )
}  # fmt: skip


@functools.lru_cache(maxsize=64)
def checks_in_force(level: str, version: Version) -> Tuple[str, ...]:
    """The check ids PodSecurity runs at ``level`` and ``version``, in its order.

    Baseline checks first, then restricted ones, each group sorted by id; at restricted, the
    baseline checks that a restricted check overrides at that version are left out.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    version = min(version, LATEST)
    baseline = sorted(c.id for c in CHECKS.values() if c.level == BASELINE and c.at(version))
    if level == BASELINE:
        return tuple(baseline)
    restricted = sorted(c.id for c in CHECKS.values() if c.level == RESTRICTED and c.at(version))
    overridden = {o for cid in restricted for o in CHECKS[cid].at(version).overrides}  # type: ignore[union-attr]
    return tuple([c for c in baseline if c not in overridden] + restricted)


def run_check(check_id: str, pod: Mapping[str, Any], version: Version) -> Optional[Result]:
    """One check at ``version`` (None when it passes or does not exist yet at that version)."""
    variant = CHECKS[check_id].at(min(version, LATEST))
    if variant is None:
        return None
    return variant.check(pod.get("metadata") or {}, _spec(pod))


def evaluate(pod: Mapping[str, Any], level: str, version: Version = LATEST) -> List[Result]:
    """Every check that fails for ``pod`` at ``level``/``version``, in PodSecurity's order."""
    out = []
    for check_id in checks_in_force(level, version):
        result = run_check(check_id, pod, version)
        if result is not None:
            out.append(result)
    return out


def message(results: Sequence[Result]) -> str:
    """The list part of the API server's message: ``reason (detail), reason (detail)``."""
    return ", ".join(r.message for r in results)
