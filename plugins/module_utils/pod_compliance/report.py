# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Per-pod findings, their aggregation into a report, and its rendering (JSON, Markdown). Pure logic."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.owners import Owner
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.rules import Policy, Verdict, evaluate


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
