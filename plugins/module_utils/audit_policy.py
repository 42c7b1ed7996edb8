# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Validation of a Kubernetes API audit policy (audit.k8s.io/v1 ``Policy``), without Ansible.

:func:`validate_policy` returns ``(errors, warnings)``. Errors are what kube-apiserver would
refuse at start-up (it then does not start at all), plus unknown keys (typos such as
``groups`` for ``userGroups`` silently widen a rule). Warnings are legal policies that do not do
what their author most likely meant:

* a rule that filters by namespace and names cluster-scoped resources (they never have a
  namespace, so the rule never matches them);
* rules placed after a catch-all rule (the first matching rule wins, so they never match);
* Secrets or TokenReviews logged at ``Request`` or ``RequestResponse`` (the secret values or
  bearer tokens land in the audit log).
"""

from __future__ import annotations

import difflib
from typing import Any, Dict, List, Optional, Tuple

API_VERSION = "audit.k8s.io/v1"
LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
POLICY_KEYS = frozenset(["apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields"])
RULE_KEYS = frozenset(
    [
        "level",
        "users",
        "userGroups",
        "verbs",
        "resources",
        "namespaces",
        "nonResourceURLs",
        "omitStages",
        "omitManagedFields",
    ]
)
GROUP_RESOURCE_KEYS = frozenset(["group", "resources", "resourceNames"])
# Common mistakes that difflib does not catch.
KEY_HINTS = {"groups": "userGroups", "user": "users", "resource": "resources", "namespace": "namespaces"}

# Built-in cluster-scoped resources, by API group. ``namespaces`` is deliberately absent: a
# request for /api/v1/namespaces/<name> carries that name as its namespace, so a namespace
# filter does match it.
CLUSTER_SCOPED: Dict[str, frozenset] = {
    "": frozenset(["nodes", "persistentvolumes", "componentstatuses"]),
    "rbac.authorization.k8s.io": frozenset(["clusterroles", "clusterrolebindings"]),
    "storage.k8s.io": frozenset(
        ["storageclasses", "csidrivers", "csinodes", "volumeattachments", "volumeattributesclasses"]
    ),
    "apiextensions.k8s.io": frozenset(["customresourcedefinitions"]),
    "apiregistration.k8s.io": frozenset(["apiservices"]),
    "admissionregistration.k8s.io": frozenset(
        [
            "mutatingwebhookconfigurations",
            "validatingwebhookconfigurations",
            "validatingadmissionpolicies",
            "validatingadmissionpolicybindings",
            "mutatingadmissionpolicies",
            "mutatingadmissionpolicybindings",
        ]
    ),
    "scheduling.k8s.io": frozenset(["priorityclasses"]),
    "node.k8s.io": frozenset(["runtimeclasses"]),
    "certificates.k8s.io": frozenset(["certificatesigningrequests", "clustertrustbundles"]),
    "flowcontrol.apiserver.k8s.io": frozenset(["flowschemas", "prioritylevelconfigurations"]),
    "networking.k8s.io": frozenset(["ingressclasses", "ipaddresses", "servicecidrs"]),
    "authentication.k8s.io": frozenset(["tokenreviews", "selfsubjectreviews"]),
    "authorization.k8s.io": frozenset(["subjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
    "resource.k8s.io": frozenset(["deviceclasses", "resourceslices"]),
}
# The namespaced counterpart a user most likely meant.
NAMESPACED_COUNTERPART = {
    "persistentvolumes": "persistentvolumeclaims",
    "clusterroles": "roles",
    "clusterrolebindings": "rolebindings",
    "subjectaccessreviews": "localsubjectaccessreviews",
}
# (group, resource, why) whose bodies carry credentials.
SENSITIVE = (
    ("", "secrets", "Secret values"),
    ("authentication.k8s.io", "tokenreviews", "bearer tokens under review"),
)


class AuditPolicyError(Exception):
    """The policy is invalid; ``errors`` lists every problem found."""

    def __init__(self, errors: List[str]) -> None:
        super().__init__("invalid audit policy: " + "; ".join(errors))
        self.errors = errors


def _unknown_keys(obj: Dict[str, Any], known: frozenset, where: str, errors: List[str]) -> None:
    for key in obj:
        if key in known:
            continue
        hint = KEY_HINTS.get(key) if isinstance(key, str) else None
        if hint is None and isinstance(key, str):
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.7)
            hint = close[0] if close else None
        suffix = f"; did you mean {hint!r}?" if hint else f"; allowed: {', '.join(sorted(known))}"
        errors.append(f"{where}.{key}: unknown field{suffix}")


def _string_list(value: Any, where: str, errors: List[str]) -> List[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(f"{where}: must be a list of strings, got {value!r}")
        return []
    return value


def _is_dns_subdomain(group: str) -> bool:
    if len(group) > 253 or group != group.lower():
        return False
    for label in group.split("."):
        if not label or len(label) > 63 or not label[0].isalnum() or not label[-1].isalnum():
            return False
        if not all(c.isalnum() or c == "-" for c in label) or not label.isascii():
            return False
    return True


def _stages(value: Any, where: str, errors: List[str]) -> None:
    for i, stage in enumerate(_string_list(value, where, errors)):
        if stage not in STAGES:
            errors.append(f"{where}[{i}]: unknown stage {stage!r}; allowed: {', '.join(STAGES)}")


def _validate_rule(rule: Any, where: str, errors: List[str]) -> bool:
    if not isinstance(rule, dict):
        errors.append(f"{where}: must be a mapping, got {type(rule).__name__}")
        return False
    n_errors = len(errors)
    _unknown_keys(rule, RULE_KEYS, where, errors)
    level = rule.get("level")
    if level is None or level == "":
        errors.append(f"{where}.level: required; one of {', '.join(LEVELS)}")
    elif level not in LEVELS:
        errors.append(f"{where}.level: {level!r} is not supported; one of {', '.join(LEVELS)}")
    for key in ("users", "userGroups", "verbs", "namespaces"):
        _string_list(rule.get(key), f"{where}.{key}", errors)
    urls = _string_list(rule.get("nonResourceURLs"), f"{where}.nonResourceURLs", errors)
    for i, url in enumerate(urls):
        if url == "*":
            continue
        if not url.startswith("/"):
            errors.append(f"{where}.nonResourceURLs[{i}]: {url!r} must begin with '/'")
        if url and "*" in url[:-1]:
            errors.append(f"{where}.nonResourceURLs[{i}]: {url!r}: '*' may only be the last character")
    resources = rule.get("resources")
    if resources is not None and not isinstance(resources, list):
        errors.append(f"{where}.resources: must be a list of {{group, resources, resourceNames}} mappings")
        resources = []
    for i, gr in enumerate(resources or []):
        gwhere = f"{where}.resources[{i}]"
        if not isinstance(gr, dict):
            errors.append(
                f"{gwhere}: must be a mapping like {{group: '', resources: [pods]}}, got {gr!r}"
                " (resources are grouped by API group)"
            )
            continue
        _unknown_keys(gr, GROUP_RESOURCE_KEYS, gwhere, errors)
        group = gr.get("group", "")
        if not isinstance(group, str):
            errors.append(f"{gwhere}.group: must be a string ('' is the core group)")
        elif group and not _is_dns_subdomain(group):
            errors.append(
                f"{gwhere}.group: {group!r} is not an API group name (lower-case DNS subdomain, no version:"
                " use 'rbac.authorization.k8s.io', not 'rbac.authorization.k8s.io/v1')"
            )
        _string_list(gr.get("resources"), f"{gwhere}.resources", errors)
        _string_list(gr.get("resourceNames"), f"{gwhere}.resourceNames", errors)
    if urls and (resources or rule.get("namespaces")):
        errors.append(f"{where}.nonResourceURLs: rules cannot apply to both regular resources and non-resource URLs")
    _stages(rule.get("omitStages"), f"{where}.omitStages", errors)
    if "omitManagedFields" in rule and not isinstance(rule["omitManagedFields"], bool):
        errors.append(f"{where}.omitManagedFields: must be true or false")
    return len(errors) == n_errors


def _is_catch_all(rule: Dict[str, Any]) -> bool:
    return not any(rule.get(k) for k in ("users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs"))


def _rule_matches_resource(rule: Dict[str, Any], group: str, resource: str) -> bool:
    """Can ``rule`` match some request on (group, resource)? (users/verbs are not restrictions here)."""
    if rule.get("nonResourceURLs"):
        return False
    resources = rule.get("resources") or []
    if not resources:
        return True
    for gr in resources:
        if gr.get("group", "") != group:
            continue
        names = gr.get("resources") or []
        if not names or any(n in (resource, "*", f"{resource}/*") for n in names):
            return True
    return False


def _rule_covers_all_of(rule: Dict[str, Any], group: str, resource: str) -> bool:
    """Does ``rule`` match *every* request on (group, resource), whoever sends it?"""
    if any(rule.get(k) for k in ("users", "userGroups", "verbs", "namespaces", "nonResourceURLs")):
        return False
    resources = rule.get("resources") or []
    if not resources:
        return True
    for gr in resources:
        if gr.get("group", "") != group or gr.get("resourceNames"):
            continue
        names = gr.get("resources") or []
        if not names or resource in names or "*" in names:
            return True
    return False


def _rule_label(index: int, rule: Dict[str, Any]) -> str:
    return f"rules[{index}] (level {rule.get('level')})"


def _warnings(rules: List[Dict[str, Any]]) -> List[str]:
    warnings: List[str] = []
    catch_all: Optional[int] = None
    for i, rule in enumerate(rules):
        label = _rule_label(i, rule)
        if catch_all is not None:
            warnings.append(
                f"{label} comes after the catch-all {_rule_label(catch_all, rules[catch_all])} and can never "
                "match (the first matching rule wins): move it before the catch-all"
            )
            continue
        namespaces = rule.get("namespaces") or []
        if namespaces and "" not in namespaces:
            for gr in rule.get("resources") or []:
                group = gr.get("group", "")
                for res in gr.get("resources") or []:
                    base = res.split("/", 1)[0]
                    if base in CLUSTER_SCOPED.get(group, ()):
                        hint = NAMESPACED_COUNTERPART.get(base)
                        fix = (
                            f"; did you mean {hint!r} (namespaced)?"
                            if hint
                            else "; drop the namespaces filter or put it in its own rule"
                        )
                        warnings.append(
                            f"{label}: {res!r} is cluster-scoped, so with namespaces {namespaces} this rule "
                            f"never matches it{fix} (or add '' to namespaces to match cluster-scoped requests)"
                        )
        if rule.get("level") in ("Request", "RequestResponse"):
            for group, res, what in SENSITIVE:
                if not _rule_matches_resource(rule, group, res):
                    continue
                if any(_rule_covers_all_of(prev, group, res) for prev in rules[:i]):
                    continue  # an earlier rule already takes every such request
                warnings.append(
                    f"{label} logs {res} at {rule['level']}: {what} would be written to the audit log; add an "
                    f"earlier rule logging {res} (group {group!r}) at Metadata"
                )
        if _is_catch_all(rule):
            catch_all = i
    return warnings


def validate_policy(policy: Any) -> Tuple[List[str], List[str]]:
    """Return (errors, warnings) for an audit policy given as parsed data."""
    errors: List[str] = []
    if not isinstance(policy, dict):
        return [f"the policy must be a mapping (kind: Policy), got {type(policy).__name__}"], []
    if policy.get("apiVersion") != API_VERSION:
        errors.append(
            f"apiVersion: must be {API_VERSION!r}, got {policy.get('apiVersion')!r}"
            " (v1alpha1 and v1beta1 were removed in Kubernetes 1.24)"
        )
    if policy.get("kind") != "Policy":
        errors.append(f"kind: must be 'Policy', got {policy.get('kind')!r}")
    _unknown_keys(policy, POLICY_KEYS, "(policy)", errors)
    _stages(policy.get("omitStages"), "omitStages", errors)
    if "omitManagedFields" in policy and not isinstance(policy["omitManagedFields"], bool):
        errors.append("omitManagedFields: must be true or false")
    rules = policy.get("rules")
    if not isinstance(rules, list) or not rules:
        errors.append("rules: a policy needs at least one rule (kube-apiserver refuses a policy with 0 rules)")
        return errors, []
    valid = [_validate_rule(rule, f"rules[{i}]", errors) for i, rule in enumerate(rules)]
    if errors or not all(valid):
        return errors, []
    return [], _warnings(rules)


def check_policy(policy: Any) -> List[str]:
    """Raise :class:`AuditPolicyError` on errors; return the warnings."""
    errors, warnings = validate_policy(policy)
    if errors:
        raise AuditPolicyError(errors)
    return warnings
