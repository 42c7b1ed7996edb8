# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Keep kubeadm's ClusterConfiguration (kube-system/kubeadm-config) in step with the manifest.

``kubeadm upgrade`` regenerates the static-pod manifests from the ClusterConfiguration stored in
the ``kubeadm-config`` ConfigMap: flags and volumes added only to the manifest are lost. This
sets the same API server flags (``apiServer.extraArgs``) and hostPath volumes
(``apiServer.extraVolumes``) there. Both kubeadm.k8s.io/v1beta3 (extraArgs is a map) and
v1beta4 (extraArgs is a list of name/value, Kubernetes >= 1.31) are handled. No Ansible imports.
The flags and volumes options are read by ``kube_flags``, as for the manifest, on purpose.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import InvalidInputError, InvalidRequestError
from ansible_collections.nodesec.kubernetes.plugins.module_utils._yaml import yaml
from ansible_collections.nodesec.kubernetes.plugins.module_utils.kube_flags import (
    normalise_flags,
    parse_volume_requests,
)

__all__ = ["InvalidConfigurationError", "InvalidRequestError", "patch_cluster_configuration"]


class InvalidConfigurationError(InvalidInputError):
    """The text is not a kubeadm ClusterConfiguration this code can edit."""


API_VERSIONS = ("kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta4")


def _extra_args_v1beta3(api_server: Dict[str, Any], flags: Dict[str, Optional[List[str]]]) -> None:
    args = dict(api_server.get("extraArgs") or {})
    for name, values in flags.items():
        if values is None:
            args.pop(name, None)
        elif len(values) > 1:
            raise InvalidRequestError(
                f"flag {name!r} is repeated, which kubeadm.k8s.io/v1beta3 extraArgs (a map) cannot hold; "
                "migrate the configuration to v1beta4 (kubeadm config migrate)",
                f"flags.{name}",
            )
        else:
            args[name] = values[0]
    if args or "extraArgs" in api_server:
        api_server["extraArgs"] = args


def _extra_args_v1beta4(api_server: Dict[str, Any], flags: Dict[str, Optional[List[str]]]) -> None:
    args = list(api_server.get("extraArgs") or [])
    for i, arg in enumerate(args):
        if not isinstance(arg, dict) or "name" not in arg:
            raise InvalidConfigurationError(
                f"apiServer.extraArgs[{i}] must be a mapping with name and value", "extraArgs"
            )
    for name, values in flags.items():
        current = [a.get("value") for a in args if a["name"] == name]
        if values is not None and current == values:
            continue
        first = next((i for i, a in enumerate(args) if a["name"] == name), len(args))
        kept = [a for a in args[:first] if a["name"] != name]
        rest = [a for a in args[first:] if a["name"] != name]
        args = kept + [{"name": name, "value": v} for v in (values or [])] + rest
    if args or "extraArgs" in api_server:
        api_server["extraArgs"] = args


def _extra_volumes(api_server: Dict[str, Any], volumes: List[Dict[str, Any]]) -> None:
    current = list(api_server.get("extraVolumes") or [])
    for req in parse_volume_requests(volumes):
        current = [v for v in current if v.get("name") != req.name] if req.state == "absent" else current
        if req.state == "absent":
            continue
        wanted: Dict[str, Any] = {"name": req.name, "hostPath": req.host_path, "mountPath": req.mount_path}
        if req.read_only:
            wanted["readOnly"] = True
        if req.type:
            wanted["pathType"] = req.type
        for i, vol in enumerate(current):
            if vol.get("name") == req.name:
                merged = {k: v for k, v in vol.items() if k not in ("readOnly", "pathType") or k in wanted}
                merged.update(wanted)
                current[i] = merged
                break
        else:
            current.append(wanted)
    if current or "extraVolumes" in api_server:
        api_server["extraVolumes"] = current


def _plain(obj: Any) -> Any:
    """Plain Python types (callers such as Ansible may pass str/dict subclasses the YAML dumper refuses)."""
    if isinstance(obj, dict):
        return {_plain(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, str):
        return str(obj)
    return obj


def patch_cluster_configuration(
    text: str, flags: Optional[Dict[Any, Any]] = None, volumes: Optional[List[Dict[str, Any]]] = None
) -> Tuple[str, bool]:
    """Return (new text, changed). Unchanged input is returned as is."""
    flags, volumes = _plain(flags), _plain(volumes)
    try:
        config = yaml.safe_load(str(text))
    except yaml.YAMLError as exc:
        raise InvalidConfigurationError(
            f"ClusterConfiguration is not valid YAML: {exc}", "ClusterConfiguration"
        ) from exc
    if not isinstance(config, dict) or config.get("kind") != "ClusterConfiguration":
        raise InvalidConfigurationError("the text is not a kubeadm ClusterConfiguration", "ClusterConfiguration")
    if config.get("apiVersion") not in API_VERSIONS:
        raise InvalidConfigurationError(
            f"unsupported ClusterConfiguration apiVersion {config.get('apiVersion')!r}; supported: "
            + ", ".join(API_VERSIONS),
            "apiVersion",
        )
    new = copy.deepcopy(config)
    api_server = new.setdefault("apiServer", {}) or {}
    new["apiServer"] = api_server
    wanted = normalise_flags(flags)
    if new["apiVersion"].endswith("v1beta3"):
        _extra_args_v1beta3(api_server, wanted)
    else:
        _extra_args_v1beta4(api_server, wanted)
    _extra_volumes(api_server, volumes or [])
    if not api_server and "apiServer" not in config:
        del new["apiServer"]
    if new == config:
        return text, False
    return yaml.safe_dump(new, default_flow_style=False, sort_keys=False), True
