# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Kubernetes command-line flags and hostPath volume requests: parsing shared ON PURPOSE.

Both the static-pod manifest editor (``static_pod.patch``) and the kubeadm ClusterConfiguration
sync (``kubeadm_config``) read the user's ``flags`` and ``volumes`` options with these functions,
so a flag means the same in the manifest and in kubeadm-config. Changing the semantics here
changes both; that is the point. Pure: no Ansible imports.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import InvalidRequestError

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
class FlagToken:
    """A run of tokens in command/args: a ``--flag`` (with its value) or any other token."""

    tokens: List[str]
    name: Optional[str] = None
    value: Optional[str] = None  # None: a bare ``--flag`` without value


def parse_tokens(tokens: List[str], skip_first: bool) -> List[FlagToken]:
    items: List[FlagToken] = []
    i = 0
    if skip_first and tokens and not tokens[0].startswith("-"):
        items.append(FlagToken([tokens[0]]))
        i = 1
    while i < len(tokens):
        tok = tokens[i]
        if tok == "--":  # end of flags: keep the rest verbatim
            items.extend(FlagToken([t]) for t in tokens[i:])
            break
        if tok.startswith("--") and len(tok) > 2:
            body = tok[2:]
            if "=" in body:
                name, value = body.split("=", 1)
                items.append(FlagToken([tok], name, value))
            elif i + 1 < len(tokens) and not tokens[i + 1].startswith("-"):
                items.append(FlagToken([tok, tokens[i + 1]], body, tokens[i + 1]))
                i += 1
            else:
                items.append(FlagToken([tok], body, None))
        else:
            items.append(FlagToken([tok]))
        i += 1
    return items


def flatten_tokens(items: List[FlagToken]) -> List[str]:
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


def scalar_to_str(flag: str, value: Any) -> str:
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
        return [scalar_to_str(flag, v) for v in value]
    return [scalar_to_str(flag, value)]


def current_flags(container: Dict[str, Any]) -> Dict[str, List[Optional[str]]]:
    """Flag name -> values in order of appearance (command first, then args)."""
    result: Dict[str, List[Optional[str]]] = {}
    for key in ("command", "args"):
        for item in parse_tokens(list(container.get(key) or []), skip_first=key == "command"):
            if item.name is not None:
                result.setdefault(item.name, []).append(item.value)
    return result


def normalise_flags(flags: Optional[Dict[Any, Any]]) -> Dict[str, Optional[List[str]]]:
    result: Dict[str, Optional[List[str]]] = {}
    for raw_name, raw_value in (flags or {}).items():
        name = normalise_flag_name(raw_name)
        if name in result:
            raise InvalidRequestError(f"flag {name!r} is given twice (with and without '--')", f"flags.{name}")
        result[name] = normalise_flag_value(name, raw_value)
    return result


def norm_path(path: str) -> str:
    norm = posixpath.normpath(path)
    return "/" if norm == "//" else norm


def path_is_under(path: str, mount_path: str) -> bool:
    p, m = norm_path(path), norm_path(mount_path)
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
            mp = norm_path(req.mount_path)
            if mp in mount_paths:
                raise InvalidRequestError(
                    f"volumes {mount_paths[mp]!r} and {req.name!r} both ask for mount_path {mp}", where
                )
            mount_paths[mp] = req.name
        result.append(req)
    return result
