# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Static-pod manifests as data: the errors, the known fields, validation, load and kubeadm-style dump.

Pure: no Ansible imports. Every refusal is a :class:`StaticPodError` naming the field at fault.
"""

from __future__ import annotations

import difflib
import json
from typing import Any, Dict, List, Mapping, Optional, Set

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import (
    FileIOError,
    InvalidInputError,
    InvalidRequestError,
    NodesecError,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils._yaml import HAS_YAML, dump_kube, yaml
from ansible_collections.nodesec.kubernetes.plugins.module_utils.kube_flags import HOST_PATH_TYPES

__all__ = ["HOST_PATH_TYPES", "InvalidRequestError"]


class StaticPodError(NodesecError):
    """Base class: a refusal about a static-pod manifest. ``field`` names the field or option at fault."""


class InvalidManifestError(StaticPodError, InvalidInputError):
    """The input is not a valid Pod manifest."""


class ContainerSelectionError(StaticPodError, InvalidRequestError):
    """The container to patch cannot be determined."""


class VolumeConflictError(StaticPodError):
    """A mount path is already used by another volume, or a volume is of another kind."""


class PathNotMountedError(StaticPodError):
    """A path given in a flag is not inside any volumeMount of the container."""


class ManifestIOError(StaticPodError, FileIOError):
    """Reading, backing up or writing the manifest failed."""


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


def dump_manifest(pod: Dict[str, Any], as_json: bool = False) -> str:
    """Serialise a manifest the way kubeadm lays it out (or as indented JSON)."""
    if as_json:
        return json.dumps(pod, indent=2) + "\n"
    return dump_kube(pod)
