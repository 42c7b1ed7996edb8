# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Patch a static-pod manifest as data (no Ansible imports, no regular expressions on the text).

One :class:`ManifestEdit` value says what to change (container, flags, volumes, path flags,
annotations); it is built once from the module's parameters and passed down as is.
Entry point: :func:`patch_manifest_text`. Every refusal raises before anything is written.
"""

from __future__ import annotations

import copy
import posixpath
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import InvalidRequestError
from ansible_collections.nodesec.kubernetes.plugins.module_utils.kube_flags import (
    FlagToken,
    VolumeRequest,
    current_flags,
    flatten_tokens,
    norm_path,
    normalise_flag_name,
    normalise_flags,
    parse_tokens,
    parse_volume_requests,
    path_is_under,
    scalar_to_str,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.static_pod.schema import (
    VOLUME_SOURCE_KEYS,
    ContainerSelectionError,
    InvalidManifestError,
    PathNotMountedError,
    VolumeConflictError,
    dump_manifest,
    load_manifest,
    looks_like_json,
    validate_pod,
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


@dataclass(frozen=True)
class ManifestEdit:
    """What to change in a manifest: the module's options, as one value."""

    container: Optional[str] = None
    flags: Mapping[Any, Any] = field(default_factory=dict)
    volumes: Tuple[Mapping[str, Any], ...] = ()
    path_flags: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[Any, Any] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ManifestEdit:
        return cls(
            container=params.get("container"),
            flags=dict(params.get("flags") or {}),
            volumes=tuple(params.get("volumes") or ()),
            path_flags=dict(params.get("path_flags") or {}),
            annotations=dict(params.get("annotations") or {}),
        )


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


def _comparable(values: List[Optional[str]]) -> List[str]:
    # A bare ``--flag`` means true for Go boolean flags.
    return ["true" if v is None else v for v in values]


def _change(kind: str, name: str, action: str, before: Any, after: Any) -> Dict[str, Any]:
    return {"type": kind, "name": name, "action": action, "before": before, "after": after}


def _apply_flags(
    container: Dict[str, Any], flags: Dict[str, Optional[List[str]]], changes: List[Dict[str, Any]]
) -> None:
    parsed = {
        key: parse_tokens(list(container.get(key) or []), skip_first=key == "command")
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
        new_items = [FlagToken([f"--{name}={v}"], name, v) for v in desired]
        placed = False
        for key in parsed:
            rebuilt: List[FlagToken] = []
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
        container[key] = flatten_tokens(items)


def _target_list(parsed: Dict[str, List[FlagToken]]) -> str:
    """Where a new flag goes: next to the existing flags, preferring ``args`` when it holds them."""
    for key in ("args", "command"):
        if any(it.name for it in parsed.get(key, [])):
            return key
    if "args" in parsed:
        return "args"
    if "command" in parsed:
        return "command"
    raise InvalidRequestError("the container has neither command nor args; cannot add flags", "flags")


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
        target = norm_path(req.mount_path)
        for m in mounts:
            if m.get("name") != req.name and norm_path(m.get("mountPath", "")) == target:
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
            value = scalar_to_str(key, value)
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
            needed = posixpath.dirname(norm_path(value)) if kind == "parent" else norm_path(value)
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


def patch_manifest(pod: Dict[str, Any], edit: ManifestEdit) -> Tuple[Dict[str, Any], str, List[Dict[str, Any]]]:
    """Return (patched copy, container name, changes). ``pod`` itself is not modified."""
    kinds = dict(DEFAULT_PATH_FLAGS)
    for name, kind in edit.path_flags.items():
        if kind not in PATH_FLAG_KINDS:
            raise InvalidRequestError(
                f"path_flags.{name} must be one of {', '.join(PATH_FLAG_KINDS)}, got {kind!r}", "path_flags"
            )
        kinds[normalise_flag_name(name)] = kind
    wanted_flags = normalise_flags(dict(edit.flags))
    requests = parse_volume_requests([dict(v) if isinstance(v, Mapping) else v for v in edit.volumes])
    new = copy.deepcopy(pod)
    ctr = select_container(new, edit.container)
    changes: List[Dict[str, Any]] = []
    _apply_volumes(new["spec"], ctr, requests, changes)
    _apply_flags(ctr, wanted_flags, changes)
    _apply_annotations(new, dict(edit.annotations), changes)
    check_path_flags(ctr, wanted_flags, kinds)
    validate_pod(new)
    return new, ctr["name"], changes


def patch_manifest_text(text: str, edit: ManifestEdit) -> PatchResult:
    """Patch manifest text. When nothing changes, ``after`` is ``text`` itself (byte-identical)."""
    warnings: List[str] = []
    pod = load_manifest(text, warnings)
    new, cname, changes = patch_manifest(pod, edit)
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
