# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic to patch a Kubernetes static-pod manifest (no Ansible imports).

The manifest is parsed (YAML or JSON), changed as data and serialised again in the layout
kubeadm uses (block style, two-space indent, list items at the parent's indentation, keys in
their original order). Nothing here uses regular expressions on the manifest text.

Entry point: :func:`patch_manifest_text`. Every refusal raises a subclass of
:class:`StaticPodError` *before* anything is written; the caller writes only on success.
"""

from __future__ import annotations

import copy
import difflib
import json
import posixpath
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR: Optional[BaseException] = None
except ImportError as _exc:  # pragma: no cover - depends on the managed node
    yaml = None  # type: ignore[assignment]
    HAS_YAML = False
    YAML_IMPORT_ERROR = _exc


class StaticPodError(Exception):
    """Base class: a refusal. ``field`` names the manifest field or option at fault."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class InvalidManifestError(StaticPodError):
    """The input is not a valid Pod manifest."""


class ContainerSelectionError(StaticPodError):
    """The container to patch cannot be determined."""


class InvalidRequestError(StaticPodError):
    """The requested flags/volumes are malformed (a caller mistake)."""


class VolumeConflictError(StaticPodError):
    """A mount path is already used by another volume, or a volume is of another kind."""


class PathNotMountedError(StaticPodError):
    """A path given in a flag is not inside any volumeMount of the container."""


# --------------------------------------------------------------------------------------------
# Known fields (core/v1, Kubernetes 1.35). Unknown keys that look like a typo of a known key
# (``volume`` for ``volumes``) are refused; other unknown keys only produce a warning so that
# fields added by newer Kubernetes versions do not block anyone.
# --------------------------------------------------------------------------------------------
POD_KEYS = frozenset(["apiVersion", "kind", "metadata", "spec", "status"])
POD_SPEC_KEYS = frozenset(
    """activeDeadlineSeconds affinity automountServiceAccountToken containers dnsConfig dnsPolicy
    enableServiceLinks ephemeralContainers hostAliases hostIPC hostNetwork hostPID hostUsers
    hostname hostnameOverride imagePullSecrets initContainers nodeName nodeSelector os
    overhead preemptionPolicy priority priorityClassName readinessGates resourceClaims
    resources restartPolicy runtimeClassName schedulerName schedulingGates securityContext
    serviceAccount serviceAccountName setHostnameAsFQDN shareProcessNamespace subdomain
    terminationGracePeriodSeconds tolerations topologySpreadConstraints volumes workloadRef""".split()  # noqa: SIM905
)
CONTAINER_KEYS = frozenset(
    """args command env envFrom image imagePullPolicy lifecycle livenessProbe name ports
    readinessProbe resizePolicy resources restartPolicy restartPolicyRules securityContext
    startupProbe stdin stdinOnce terminationMessagePath terminationMessagePolicy tty
    volumeDevices volumeMounts workingDir""".split()  # noqa: SIM905
)
VOLUME_MOUNT_KEYS = frozenset(
    ["mountPath", "mountPropagation", "name", "readOnly", "recursiveReadOnly", "subPath", "subPathExpr"]
)
VOLUME_SOURCE_KEYS = frozenset(
    """awsElasticBlockStore azureDisk azureFile cephfs cinder configMap csi downwardAPI emptyDir
    ephemeral fc flexVolume flocker gcePersistentDisk gitRepo glusterfs hostPath image iscsi
    nfs persistentVolumeClaim photonPersistentDisk portworxVolume projected quobyte rbd
    scaleIO secret storageos vsphereVolume""".split()  # noqa: SIM905
)
VOLUME_KEYS = VOLUME_SOURCE_KEYS | {"name"}
HOST_PATH_KEYS = frozenset(["path", "type"])
HOST_PATH_TYPES = (
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
)

# Flags whose value is a path the container must see through a volumeMount.
#   file:   the path itself must be at or under a mountPath
#   parent: the folder holding the path must be at or under a mountPath (log files that are
#           rotated next to themselves)
PATH_FLAG_KINDS = ("file", "parent")
DEFAULT_PATH_FLAGS: Dict[str, str] = {
    "audit-policy-file": "file",
    "audit-log-path": "parent",
    "audit-webhook-config-file": "file",
    "admission-control-config-file": "file",
    "encryption-provider-config": "file",
    "authentication-config": "file",
    "authorization-config": "file",
    "egress-selector-config-file": "file",
    "tracing-config-file": "file",
}
# Values that are not host paths (``--audit-log-path=-`` logs to stdout).
NON_PATH_VALUES = frozenset(["-"])


@dataclass
class VolumeRequest:
    """One entry of the ``volumes`` option."""

    name: str
    host_path: Optional[str] = None
    mount_path: Optional[str] = None
    type: Optional[str] = None
    read_only: bool = False
    state: str = "present"


@dataclass
class PatchResult:
    """What :func:`patch_manifest_text` decided."""

    changed: bool
    before: str
    after: str
    container: str
    changes: List[Dict[str, Any]] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    flags: Dict[str, List[Optional[str]]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Loading, validation and serialisation
# --------------------------------------------------------------------------------------------
def _suggest(key: str, known: frozenset) -> Optional[str]:
    matches = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
    return matches[0] if matches else None


def _check_keys(obj: Dict[str, Any], known: frozenset, where: str, warnings: List[str]) -> None:
    for key in obj:
        if not isinstance(key, str):
            raise InvalidManifestError(f"{where}: key {key!r} is not a string", where)
        if key in known:
            continue
        suggestion = _suggest(key, known)
        if suggestion is not None:
            raise InvalidManifestError(
                f"{where}.{key} is not a known field; did you mean {where}.{suggestion}? "
                f"Rename {key!r} to {suggestion!r} in the manifest.",
                f"{where}.{key}",
            )
        warnings.append(f"{where}.{key} is not a field known to this module (Kubernetes 1.35); kept as is")


def _require_list(value: Any, where: str, item_type: type = dict) -> List[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidManifestError(f"{where} must be a list, got {type(value).__name__}", where)
    for i, item in enumerate(value):
        if not isinstance(item, item_type):
            raise InvalidManifestError(
                f"{where}[{i}] must be a {'mapping' if item_type is dict else item_type.__name__}, "
                f"got {type(item).__name__}: {item!r}",
                f"{where}[{i}]",
            )
    return value


def _claim_unique_name(item: Mapping[str, Any], where: str, kind: str, seen: Set[str]) -> None:
    """Check ``item`` has a name not yet in ``seen`` (a volume or container list), then add it."""
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidManifestError(f"{where}.name is missing", f"{where}.name")
    if name in seen:
        raise InvalidManifestError(
            f"spec.{kind}s has two {kind}s named {name!r} ({where} is the second); rename or remove one", where
        )
    seen.add(name)


def validate_pod(pod: Any, warnings: Optional[List[str]] = None) -> Dict[str, Any]:
    """Check that ``pod`` is a Pod manifest this module can edit safely; return it."""
    warnings = warnings if warnings is not None else []
    if not isinstance(pod, dict):
        raise InvalidManifestError(f"the manifest must be a mapping (a Pod object), got {type(pod).__name__}", "(root)")
    if pod.get("apiVersion") != "v1" or pod.get("kind") != "Pod":
        raise InvalidManifestError(
            "the manifest is not a Pod: expected apiVersion 'v1' and kind 'Pod', got "
            f"apiVersion {pod.get('apiVersion')!r} and kind {pod.get('kind')!r}",
            "kind",
        )
    _check_keys(pod, POD_KEYS, "(root)", warnings)
    metadata = pod.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata["name"]:
        raise InvalidManifestError("metadata.name is missing: a static pod needs a name", "metadata.name")
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        raise InvalidManifestError("spec is missing or not a mapping", "spec")
    _check_keys(spec, POD_SPEC_KEYS, "spec", warnings)
    containers = _require_list(spec.get("containers"), "spec.containers")
    if not containers:
        raise InvalidManifestError("spec.containers is empty: a Pod needs at least one container", "spec.containers")
    volume_names: Set[str] = set()
    for i, vol in enumerate(_require_list(spec.get("volumes"), "spec.volumes")):
        where = f"spec.volumes[{i}]"
        _check_keys(vol, VOLUME_KEYS, where, warnings)
        _claim_unique_name(vol, where, "volume", volume_names)
        if isinstance(vol.get("hostPath"), dict):
            _check_keys(vol["hostPath"], HOST_PATH_KEYS, f"{where}.hostPath", warnings)
            if not isinstance(vol["hostPath"].get("path"), str):
                raise InvalidManifestError(f"{where}.hostPath.path is missing", f"{where}.hostPath.path")
    container_names: Set[str] = set()
    for i, ctr in enumerate(containers):
        where = f"spec.containers[{i}]"
        _check_keys(ctr, CONTAINER_KEYS, where, warnings)
        _claim_unique_name(ctr, where, "container", container_names)
        for key in ("command", "args"):
            _require_list(ctr.get(key), f"{where}.{key}", str)
        for j, mount in enumerate(_require_list(ctr.get("volumeMounts"), f"{where}.volumeMounts")):
            mwhere = f"{where}.volumeMounts[{j}]"
            _check_keys(mount, VOLUME_MOUNT_KEYS, mwhere, warnings)
            for req in ("name", "mountPath"):
                if not isinstance(mount.get(req), str) or not mount[req]:
                    raise InvalidManifestError(f"{mwhere}.{req} is missing", f"{mwhere}.{req}")
            if mount["name"] not in volume_names:
                raise InvalidManifestError(
                    f"{mwhere} mounts volume {mount['name']!r}, which is not in spec.volumes", mwhere
                )
    return pod


def looks_like_json(text: str) -> bool:
    return text.lstrip().startswith("{")


def load_manifest(text: str, warnings: Optional[List[str]] = None) -> Dict[str, Any]:
    """Parse and validate manifest text (YAML or JSON)."""
    if not HAS_YAML:  # pragma: no cover
        raise InvalidManifestError("PyYAML is required to read static-pod manifests", "(root)")
    if not text.strip():
        raise InvalidManifestError("the manifest is empty", "(root)")
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise InvalidManifestError(f"the manifest is not valid YAML: {exc}", "(root)") from exc
    if len(docs) != 1:
        raise InvalidManifestError(
            f"the manifest holds {len(docs)} documents; the kubelet reads exactly one Pod per file", "(root)"
        )
    return validate_pod(docs[0], warnings)


if HAS_YAML:

    class _KubeDumper(yaml.SafeDumper):
        """Block style like kubeadm's output; multi-line strings as literal blocks."""

    def _str_representer(dumper: Any, data: str) -> Any:
        if "\n" in data:
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", data)

    _KubeDumper.add_representer(str, _str_representer)


def dump_manifest(pod: Dict[str, Any], as_json: bool = False) -> str:
    """Serialise a manifest the way kubeadm lays it out (or as indented JSON)."""
    if as_json:
        return json.dumps(pod, indent=2) + "\n"
    return yaml.dump(
        pod,
        Dumper=_KubeDumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=2**30,
        indent=2,
    )


# --------------------------------------------------------------------------------------------
# Flags
# --------------------------------------------------------------------------------------------
@dataclass
class _Item:
    """A run of tokens in command/args: a ``--flag`` (with its value) or any other token."""

    tokens: List[str]
    name: Optional[str] = None
    value: Optional[str] = None  # None: a bare ``--flag`` without value


def _parse_tokens(tokens: List[str], skip_first: bool) -> List[_Item]:
    items: List[_Item] = []
    i = 0
    if skip_first and tokens and not tokens[0].startswith("-"):
        items.append(_Item([tokens[0]]))
        i = 1
    while i < len(tokens):
        tok = tokens[i]
        if tok == "--":  # end of flags: keep the rest verbatim
            items.extend(_Item([t]) for t in tokens[i:])
            break
        if tok.startswith("--") and len(tok) > 2:
            body = tok[2:]
            if "=" in body:
                name, value = body.split("=", 1)
                items.append(_Item([tok], name, value))
            elif i + 1 < len(tokens) and not tokens[i + 1].startswith("-"):
                items.append(_Item([tok, tokens[i + 1]], body, tokens[i + 1]))
                i += 1
            else:
                items.append(_Item([tok], body, None))
        else:
            items.append(_Item([tok]))
        i += 1
    return items


def _flatten(items: List[_Item]) -> List[str]:
    return [t for item in items for t in item.tokens]


def normalise_flag_name(name: Any) -> str:
    if not isinstance(name, str):
        raise InvalidRequestError(f"flag name {name!r} must be a string", "flags")
    bare = name[2:] if name.startswith("--") else name
    if not bare or bare.startswith("-") or any(c in bare for c in "= \t\n"):
        raise InvalidRequestError(
            f"flag name {name!r} is not valid: give the long name, e.g. 'audit-log-path' or '--audit-log-path'",
            "flags",
        )
    return bare


def _scalar_to_str(flag: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise InvalidRequestError(
        f"flags.{flag}: value {value!r} must be a string, number, boolean, list of those, or null",
        f"flags.{flag}",
    )


def normalise_flag_value(flag: str, value: Any) -> Optional[List[str]]:
    """None removes the flag; a list means the flag is repeated once per item."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        if not value:
            raise InvalidRequestError(
                f"flags.{flag}: an empty list is ambiguous; use null to remove the flag", f"flags.{flag}"
            )
        return [_scalar_to_str(flag, v) for v in value]
    return [_scalar_to_str(flag, value)]


def current_flags(container: Dict[str, Any]) -> Dict[str, List[Optional[str]]]:
    """Flag name -> values in order of appearance (command first, then args)."""
    result: Dict[str, List[Optional[str]]] = {}
    for key in ("command", "args"):
        for item in _parse_tokens(list(container.get(key) or []), skip_first=key == "command"):
            if item.name is not None:
                result.setdefault(item.name, []).append(item.value)
    return result


def _comparable(values: List[Optional[str]]) -> List[str]:
    # A bare ``--flag`` means true for Go boolean flags.
    return ["true" if v is None else v for v in values]


def _change(kind: str, name: str, action: str, before: Any, after: Any) -> Dict[str, Any]:
    return {"type": kind, "name": name, "action": action, "before": before, "after": after}


def _apply_flags(
    container: Dict[str, Any], flags: Dict[str, Optional[List[str]]], changes: List[Dict[str, Any]]
) -> None:
    parsed = {
        key: _parse_tokens(list(container.get(key) or []), skip_first=key == "command")
        for key in ("command", "args")
        if container.get(key) is not None
    }
    have = current_flags(container)
    for name, desired in flags.items():
        before = have.get(name, [])
        if desired is None:
            if not before:
                continue
            for key in parsed:
                parsed[key] = [it for it in parsed[key] if it.name != name]
            changes.append(_change("flag", name, "removed", before, []))
            continue
        if _comparable(before) == desired:
            continue
        new_items = [_Item([f"--{name}={v}"], name, v) for v in desired]
        placed = False
        for key in parsed:
            rebuilt: List[_Item] = []
            for it in parsed[key]:
                if it.name == name:
                    if not placed:
                        rebuilt.extend(new_items)
                        placed = True
                    continue
                rebuilt.append(it)
            parsed[key] = rebuilt
        if not placed:
            parsed[_target_list(parsed)].extend(new_items)
        changes.append(_change("flag", name, "updated" if before else "added", before, desired))
    for key, items in parsed.items():
        container[key] = _flatten(items)


def _target_list(parsed: Dict[str, List[_Item]]) -> str:
    """Where a new flag goes: next to the existing flags, preferring ``args`` when it holds them."""
    for key in ("args", "command"):
        if any(it.name for it in parsed.get(key, [])):
            return key
    if "args" in parsed:
        return "args"
    if "command" in parsed:
        return "command"
    raise InvalidRequestError("the container has neither command nor args; cannot add flags", "flags")


# --------------------------------------------------------------------------------------------
# Volumes and mounts
# --------------------------------------------------------------------------------------------
def _norm_path(path: str) -> str:
    norm = posixpath.normpath(path)
    return "/" if norm == "//" else norm


def path_is_under(path: str, mount_path: str) -> bool:
    p, m = _norm_path(path), _norm_path(mount_path)
    return p == m or m == "/" or p.startswith(m + "/")


def parse_volume_requests(volumes: Optional[List[Dict[str, Any]]]) -> List[VolumeRequest]:
    result: List[VolumeRequest] = []
    names = set()
    mount_paths: Dict[str, str] = {}
    for i, raw in enumerate(volumes or []):
        where = f"volumes[{i}]"
        if not isinstance(raw, dict):
            raise InvalidRequestError(f"{where} must be a mapping", where)
        unknown = set(raw) - {"name", "host_path", "mount_path", "type", "read_only", "state"}
        if unknown:
            raise InvalidRequestError(f"{where} has unknown keys {sorted(unknown)}", where)
        req = VolumeRequest(
            name=raw.get("name"),
            host_path=raw.get("host_path"),
            mount_path=raw.get("mount_path"),
            type=raw.get("type"),
            read_only=bool(raw.get("read_only")),
            state=raw.get("state") or "present",
        )
        if not isinstance(req.name, str) or not req.name:
            raise InvalidRequestError(f"{where}.name is required", f"{where}.name")
        if req.name in names:
            raise InvalidRequestError(f"volume {req.name!r} is listed twice in volumes; keep one entry", where)
        names.add(req.name)
        if req.state not in ("present", "absent"):
            raise InvalidRequestError(f"{where}.state must be present or absent", f"{where}.state")
        if req.state == "present":
            for key in ("host_path", "mount_path"):
                val = getattr(req, key)
                if not isinstance(val, str) or not val.startswith("/"):
                    raise InvalidRequestError(
                        f"volume {req.name!r}: {key} must be an absolute path, got {val!r}", f"{where}.{key}"
                    )
            if req.type is not None and req.type not in HOST_PATH_TYPES:
                raise InvalidRequestError(
                    f"volume {req.name!r}: type {req.type!r} is not a hostPath type; use one of "
                    f"{', '.join(t for t in HOST_PATH_TYPES if t)}",
                    f"{where}.type",
                )
            mp = _norm_path(req.mount_path)
            if mp in mount_paths:
                raise InvalidRequestError(
                    f"volumes {mount_paths[mp]!r} and {req.name!r} both ask for mount_path {mp}", where
                )
            mount_paths[mp] = req.name
        result.append(req)
    return result


def _apply_volumes(
    spec: Dict[str, Any], container: Dict[str, Any], requests: List[VolumeRequest], changes: List[Dict[str, Any]]
) -> None:
    volumes: List[Dict[str, Any]] = spec.get("volumes") or []
    mounts: List[Dict[str, Any]] = container.get("volumeMounts") or []
    cname = container["name"]
    for req in requests:
        vol_idx = next((i for i, v in enumerate(volumes) if v.get("name") == req.name), None)
        if req.state == "absent":
            before_mounts = [m for m in mounts if m.get("name") == req.name]
            if before_mounts:
                mounts[:] = [m for m in mounts if m.get("name") != req.name]
                changes.append(_change("volumeMount", req.name, "removed", before_mounts[0], None))
            used_elsewhere = any(
                m.get("name") == req.name
                for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
                if c is not container
                for m in c.get("volumeMounts") or []
            )
            if vol_idx is not None and not used_elsewhere:
                changes.append(_change("volume", req.name, "removed", volumes[vol_idx], None))
                del volumes[vol_idx]
            continue

        # A mountPath already used by another volume is a conflict, never silently replaced.
        target = _norm_path(req.mount_path)
        for m in mounts:
            if m.get("name") != req.name and _norm_path(m.get("mountPath", "")) == target:
                raise VolumeConflictError(
                    f"mount_path {target} of volume {req.name!r} is already mounted in container {cname!r} "
                    f"from volume {m.get('name')!r}; either manage that volume (name: {m.get('name')}) "
                    "or choose another mount_path",
                    f"volumes.{req.name}.mount_path",
                )

        host_path: Dict[str, Any] = {"path": req.host_path}
        if vol_idx is None:
            if req.type is not None:
                host_path["type"] = req.type
            new_vol = {"hostPath": host_path, "name": req.name}
            volumes.append(new_vol)
            changes.append(_change("volume", req.name, "added", None, new_vol))
        else:
            vol = volumes[vol_idx]
            other_sources = sorted(k for k in vol if k in VOLUME_SOURCE_KEYS and k != "hostPath")
            if other_sources or not isinstance(vol.get("hostPath"), dict):
                raise VolumeConflictError(
                    f"volume {req.name!r} already exists as a {', '.join(other_sources) or 'non-hostPath'} volume; "
                    "this module only manages hostPath volumes: pick another name",
                    f"volumes.{req.name}",
                )
            before = copy.deepcopy(vol)
            hp = vol["hostPath"]
            if hp.get("path") != req.host_path:
                hp["path"] = req.host_path
            if req.type is not None and hp.get("type", "") != req.type:
                if req.type == "":
                    hp.pop("type", None)
                else:
                    hp["type"] = req.type
            if vol != before:
                changes.append(_change("volume", req.name, "updated", before, vol))

        mount = next((m for m in mounts if m.get("name") == req.name), None)
        if mount is None:
            new_mount: Dict[str, Any] = {"mountPath": req.mount_path, "name": req.name}
            if req.read_only:
                new_mount["readOnly"] = True
            mounts.append(new_mount)
            changes.append(_change("volumeMount", req.name, "added", None, new_mount))
        else:
            before = copy.deepcopy(mount)
            if mount.get("mountPath") != req.mount_path:
                mount["mountPath"] = req.mount_path
            if bool(mount.get("readOnly", False)) != req.read_only:
                if req.read_only:
                    mount["readOnly"] = True
                else:
                    mount.pop("readOnly", None)
            if mount != before:
                changes.append(_change("volumeMount", req.name, "updated", before, mount))
    if volumes or "volumes" in spec:
        spec["volumes"] = volumes
    if mounts or "volumeMounts" in container:
        container["volumeMounts"] = mounts


def _apply_annotations(pod: Dict[str, Any], annotations: Dict[Any, Any], changes: List[Dict[str, Any]]) -> None:
    """Pod annotations; a change makes the kubelet recreate the static pod (its UID is a hash of it)."""
    if not annotations:
        return
    metadata = pod["metadata"]
    current = metadata.get("annotations")
    if current is not None and not isinstance(current, dict):
        raise InvalidManifestError("metadata.annotations must be a mapping", "metadata.annotations")
    current = dict(current or {})
    for key, value in annotations.items():
        if not isinstance(key, str) or not key:
            raise InvalidRequestError(f"annotation name {key!r} must be a non-empty string", "annotations")
        if value is not None and not isinstance(value, str):
            value = _scalar_to_str(key, value)
        before = current.get(key)
        if value is None:
            if key in current:
                del current[key]
                changes.append(_change("annotation", key, "removed", before, None))
        elif before != value:
            current[key] = value
            changes.append(
                _change(
                    "annotation",
                    key,
                    "updated" if key in (metadata.get("annotations") or {}) else "added",
                    before,
                    value,
                )
            )
    if current or "annotations" in metadata:
        metadata["annotations"] = current


def check_path_flags(
    container: Dict[str, Any], flags: Dict[str, Optional[List[str]]], path_flags: Dict[str, str]
) -> None:
    """Refuse when a path flag set in this call is not visible through a volumeMount."""
    mounts = container.get("volumeMounts") or []
    cname = container["name"]
    for name, values in flags.items():
        kind = path_flags.get(name)
        if kind is None or values is None:
            continue
        for value in values:
            if value in NON_PATH_VALUES:
                continue
            if not value.startswith("/"):
                raise PathNotMountedError(f"flag --{name}={value}: the path must be absolute", f"flags.{name}")
            needed = posixpath.dirname(_norm_path(value)) if kind == "parent" else _norm_path(value)
            if not any(path_is_under(needed, m["mountPath"]) for m in mounts):
                what = f"the folder {needed} of" if kind == "parent" else "the path of"
                raise PathNotMountedError(
                    f"flag --{name}={value}: {what} this flag is not under any volumeMount of container "
                    f"{cname!r}, so the container would not see it; add a volume (host_path and mount_path "
                    f"{needed}, or a parent folder) in the same task",
                    f"flags.{name}",
                )


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------
def select_container(pod: Dict[str, Any], wanted: Optional[str]) -> Dict[str, Any]:
    containers = pod["spec"]["containers"]
    names = [c["name"] for c in containers]
    if wanted:
        for c in containers:
            if c["name"] == wanted:
                return c
        raise ContainerSelectionError(
            f"container {wanted!r} not found in pod {pod['metadata']['name']!r}; containers: {', '.join(names)}",
            "container",
        )
    pod_name = pod["metadata"]["name"]
    for c in containers:
        if c["name"] == pod_name:
            return c
    if len(containers) == 1:
        return containers[0]
    raise ContainerSelectionError(
        f"pod {pod_name!r} has several containers ({', '.join(names)}) and none is named like the pod; "
        "set the container option",
        "container",
    )


def normalise_flags(flags: Optional[Dict[Any, Any]]) -> Dict[str, Optional[List[str]]]:
    result: Dict[str, Optional[List[str]]] = {}
    for raw_name, raw_value in (flags or {}).items():
        name = normalise_flag_name(raw_name)
        if name in result:
            raise InvalidRequestError(f"flag {name!r} is given twice (with and without '--')", f"flags.{name}")
        result[name] = normalise_flag_value(name, raw_value)
    return result


def patch_manifest(
    pod: Dict[str, Any],
    container: Optional[str] = None,
    flags: Optional[Dict[Any, Any]] = None,
    volumes: Optional[List[Dict[str, Any]]] = None,
    path_flags: Optional[Dict[str, str]] = None,
    annotations: Optional[Dict[Any, Any]] = None,
) -> Tuple[Dict[str, Any], str, List[Dict[str, Any]]]:
    """Return (patched copy, container name, changes). ``pod`` itself is not modified."""
    kinds = dict(DEFAULT_PATH_FLAGS)
    for name, kind in (path_flags or {}).items():
        if kind not in PATH_FLAG_KINDS:
            raise InvalidRequestError(
                f"path_flags.{name} must be one of {', '.join(PATH_FLAG_KINDS)}, got {kind!r}", "path_flags"
            )
        kinds[normalise_flag_name(name)] = kind
    wanted_flags = normalise_flags(flags)
    requests = parse_volume_requests(volumes)
    new = copy.deepcopy(pod)
    ctr = select_container(new, container)
    changes: List[Dict[str, Any]] = []
    _apply_volumes(new["spec"], ctr, requests, changes)
    _apply_flags(ctr, wanted_flags, changes)
    _apply_annotations(new, annotations or {}, changes)
    check_path_flags(ctr, wanted_flags, kinds)
    validate_pod(new)
    return new, ctr["name"], changes


def patch_manifest_text(
    text: str,
    container: Optional[str] = None,
    flags: Optional[Dict[Any, Any]] = None,
    volumes: Optional[List[Dict[str, Any]]] = None,
    path_flags: Optional[Dict[str, str]] = None,
    annotations: Optional[Dict[Any, Any]] = None,
) -> PatchResult:
    """Patch manifest text. When nothing changes, ``after`` is ``text`` itself (byte-identical)."""
    warnings: List[str] = []
    pod = load_manifest(text, warnings)
    new, cname, changes = patch_manifest(pod, container, flags, volumes, path_flags, annotations)
    if new == pod:
        after = text
    else:
        after = dump_manifest(new, as_json=looks_like_json(text))
        if any(line.lstrip().startswith("#") for line in text.splitlines()):
            warnings.append("comments in the manifest are not kept when it is rewritten")
    return PatchResult(
        changed=after != text,
        before=text,
        after=after,
        container=cname,
        changes=changes,
        warnings=warnings,
        flags=current_flags(select_container(new, cname)),
    )
