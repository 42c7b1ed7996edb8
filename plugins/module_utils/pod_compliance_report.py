# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Owner resolution, per-pod findings, report aggregation and rendering (JSON, Markdown).

Pure logic: owners are looked up through a callable, so the rules here are tested without a
cluster and the client layer decides how (and how often) to ask the API.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance import Policy, Verdict, evaluate

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


@dataclass
class Finding:
    """One offending pod, and what happened to it."""

    namespace: str
    name: str
    uid: str
    verdict: Verdict
    owner: Optional[Owner] = None
    action: str = "reported"  # reported | would_delete | deleted | already_gone | skipped_owned | skipped_exempt

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    def as_dict(self) -> Dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "uid": self.uid,
            "owner": self.owner.as_dict() if self.owner else None,
            "stateless": self.verdict.stateless,
            "immutable": self.verdict.immutable,
            "rules": list(self.verdict.rules),
            "violations": [v.as_dict() for v in self.verdict.violations],
            "action": self.action,
        }


def classify(pod: Mapping[str, Any], policy: Policy) -> Optional[Finding]:
    """A Finding for an offending pod, None for a compliant one."""
    verdict = evaluate(pod, policy)
    if verdict.compliant:
        return None
    meta = pod.get("metadata") or {}
    return Finding(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        verdict=verdict,
    )


@dataclass
class Report:
    profile: str
    rules: Tuple[str, ...]
    scanned: int = 0
    compliant: int = 0
    findings: List[Finding] = field(default_factory=list)

    def add(self, finding: Optional[Finding]) -> None:
        self.scanned += 1
        if finding is None:
            self.compliant += 1
        else:
            self.findings.append(finding)

    def summary(self) -> Dict[str, Any]:
        by_rule: Counter = Counter()
        by_namespace: Counter = Counter()
        by_action: Counter = Counter()
        not_stateless = not_immutable = 0
        for f in self.findings:
            by_namespace[f.namespace] += 1
            by_action[f.action] += 1
            for rule in f.verdict.rules:
                by_rule[rule] += 1
            not_stateless += not f.verdict.stateless
            not_immutable += not f.verdict.immutable
        return {
            "profile": self.profile,
            "rules": list(self.rules),
            "scanned": self.scanned,
            "compliant": self.compliant,
            "offending": len(self.findings),
            "not_stateless": not_stateless,
            "not_immutable": not_immutable,
            "by_rule": dict(sorted(by_rule.items())),
            "by_namespace": dict(sorted(by_namespace.items())),
            "by_action": dict(sorted(by_action.items())),
        }

    def pods(self) -> List[Dict[str, Any]]:
        return [f.as_dict() for f in sorted(self.findings, key=lambda f: (f.namespace, f.name))]

    def to_json(self) -> str:
        return json.dumps({"summary": self.summary(), "pods": self.pods()}, indent=2, sort_keys=True) + "\n"

    def to_markdown(self) -> str:
        s = self.summary()
        lines = [
            "# Pod compliance report",
            "",
            f"Profile `{s['profile']}`, rules: {', '.join(f'`{r}`' for r in s['rules'])}.",
            "",
            f"- Pods scanned: {s['scanned']}",
            f"- Compliant: {s['compliant']}",
            f"- Offending: {s['offending']} (not stateless: {s['not_stateless']}, not immutable: {s['not_immutable']})",
        ]
        if s["by_action"]:
            lines.append("- Actions: " + ", ".join(f"{k} {v}" for k, v in s["by_action"].items()))
        lines += ["", "## By rule", "", "| Rule | Pods |", "| --- | ---: |"]
        lines += [f"| `{k}` | {v} |" for k, v in s["by_rule"].items()]
        lines += ["", "## By namespace", "", "| Namespace | Pods |", "| --- | ---: |"]
        lines += [f"| {_md(k)} | {v} |" for k, v in s["by_namespace"].items()]
        lines += [
            "",
            "## Offending pods",
            "",
            "| Pod | Owner | Action | Rules | Reasons |",
            "| --- | --- | --- | --- | --- |",
        ]
        for f in sorted(self.findings, key=lambda f: (f.namespace, f.name)):
            owner = f.owner.ref if f.owner else "-"
            reasons = "<br>".join(_md(v.reason) for v in f.verdict.violations)
            rules = ", ".join(f"`{r}`" for r in f.verdict.rules)
            lines.append(f"| {_md(f.ref)} | {_md(owner)} | {f.action} | {rules} | {reasons} |")
        return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def merge_selectors(selectors: Iterable[str]) -> Optional[str]:
    """Join selector expressions with commas (AND), like kubernetes.core's k8s_info."""
    parts = [s.strip() for s in selectors if s and s.strip()]
    return ",".join(parts) or None


def namespace_plan(
    namespaces: Iterable[str], exclude: Iterable[str]
) -> Tuple[Optional[List[str]], List[str], List[str]]:
    """Decide how to list pods.

    Returns ``(namespaces_to_list or None for all, field_selector_terms, ignored)`` where
    ``ignored`` are requested namespaces that are also excluded (exclusion wins).
    """
    excluded = list(dict.fromkeys(n for n in exclude if n))
    wanted = list(dict.fromkeys(n for n in namespaces if n))
    if wanted:
        keep = [n for n in wanted if n not in excluded]
        return keep, [], [n for n in wanted if n in excluded]
    return None, [f"metadata.namespace!={n}" for n in excluded], []
