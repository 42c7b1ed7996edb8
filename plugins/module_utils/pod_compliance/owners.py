# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Owners of pods: the controller reference, the top-level owner, and what deleting its pods means.

Pure logic: owner objects are looked up through a callable, so the rules here are tested without
a cluster and the client layer decides how (and how often) to ask the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
# Owner kinds whose controller recreates a deleted pod.
RECREATING_KINDS = frozenset(
    ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController", "Job", "CronJob", "Node")
)
# Kinds whose own controller owner we follow up the chain: ReplicaSet -> Deployment, Job -> CronJob.
FOLLOW_KINDS = frozenset(("ReplicaSet", "Job"))

# lookup(kind, namespace, name) -> the owner object's metadata, or None if absent / unreadable.
OwnerLookup = Callable[[str, str, str], Optional[Mapping[str, Any]]]


@dataclass(frozen=True)
class Owner:
    kind: str
    name: str
    namespace: str
    chain: Tuple[str, ...]  # e.g. ("ReplicaSet/web-5d9c", "Deployment/web")

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.kind != "Node" else f"Node {self.name}"

    def as_dict(self) -> Dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "namespace": self.namespace, "chain": list(self.chain)}


def controller_ref(metadata: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    """The owner reference marked ``controller: true`` (or the only one)."""
    refs = metadata.get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller") is True:
            return ref
    return refs[0] if len(refs) == 1 else None


def resolve_owner(pod: Mapping[str, Any], lookup: Optional[OwnerLookup] = None) -> Optional[Owner]:
    """The top-level owner of ``pod``: ReplicaSet -> Deployment, Job -> CronJob, or the direct owner.

    A mirror (static) pod is owned by its Node. When an intermediate owner cannot be read the
    last known one is reported.
    """
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace", "")
    ref = controller_ref(meta)
    if ref is None:
        if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
            node = (pod.get("spec") or {}).get("nodeName", "")
            return Owner("Node", node, "", (f"Node/{node}",))
        return None
    kind, name = str(ref.get("kind")), str(ref.get("name"))
    chain = [f"{kind}/{name}"]
    seen = set()
    while kind in FOLLOW_KINDS and lookup is not None and (kind, name) not in seen:
        seen.add((kind, name))
        owner_meta = lookup(kind, namespace, name)
        if not owner_meta:
            break
        parent = controller_ref(owner_meta)
        if parent is None:
            break
        kind, name = str(parent.get("kind")), str(parent.get("name"))
        chain.append(f"{kind}/{name}")
    if kind == "Node":
        namespace = ""
    return Owner(kind, name, namespace, tuple(chain))


def recreate_warning(pod_ref: str, owner: Owner) -> str:
    if owner.kind == "Node":
        return (
            f"Pod {pod_ref} is a static pod of {owner.ref}: the kubelet recreates it; "
            "fix its manifest in the node's static pod directory"
        )
    verb = "will recreate it" if owner.kind in RECREATING_KINDS else "may recreate it"
    return f"Pod {pod_ref} is owned by {owner.ref}: its controller {verb}; fix the pod template of {owner.ref}"


MAX_OWNER_WARNINGS = 20


def owner_warnings(findings: Sequence[Any]) -> List[str]:
    """One warning per owner of deleted (or to-be-deleted) pods, naming the template to fix.

    ``findings`` are the report's findings (each with ``owner`` and ``ref``).
    """
    by_owner: Dict[Tuple[str, str, str], Tuple[Owner, List[str]]] = {}
    for f in findings:
        if f.owner is None:
            continue
        key = (f.owner.kind, f.owner.namespace, f.owner.name)
        by_owner.setdefault(key, (f.owner, []))[1].append(f.ref)
    out = []
    for owner, refs in sorted(by_owner.values(), key=lambda x: (x[0].namespace, x[0].kind, x[0].name)):
        pods = refs[0] if len(refs) == 1 else f"{refs[0]} (and {len(refs) - 1} more pods)"
        out.append(recreate_warning(pods, owner))
    if len(out) > MAX_OWNER_WARNINGS:
        rest = len(out) - MAX_OWNER_WARNINGS
        out = [*out[:MAX_OWNER_WARNINGS], f"... and {rest} more owners; see the owner of each pod in the result"]
    return out
