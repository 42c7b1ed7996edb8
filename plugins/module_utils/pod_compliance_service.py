# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pod compliance service: scan (list page by page, classify, resolve owners) and delete.

Used by both modules. Works with any client offering ``iter_pod_pages``, ``owner_metadata``,
``delete_pod`` and ``warnings`` (``k8s_client.K8sClient`` in production).
"""

from __future__ import annotations

import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance import build_policy
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance_report import (
    Finding,
    Owner,
    Report,
    classify,
    merge_selectors,
    namespace_plan,
    recreate_warning,
    resolve_owner,
)

DEFAULT_EXEMPT_LABEL = "pod-compliance.nodesec.io/exempt"
MAX_OWNER_WARNINGS = 20


class TooManyDeletionsError(Exception):
    def __init__(self, count: int, limit: int, pods: Sequence[str]) -> None:
        shown = ", ".join(pods[:10]) + (f" and {len(pods) - 10} more" if len(pods) > 10 else "")
        super().__init__(
            f"Refusing to delete {count} pods: more than max_deletions={limit}. Nothing was deleted. "
            f"Raise max_deletions or narrow the selection. Pods: {shown}"
        )
        self.count = count
        self.limit = limit


class DeletionFailedError(Exception):
    """Some deletions failed; ``report`` holds what was done before the failure."""

    def __init__(self, errors: Sequence[str], report: Report) -> None:
        more = f" (and {len(errors) - 1} more failures)" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}")
        self.errors = list(errors)
        self.report = report


@dataclass
class ScanOptions:
    profile: str = "cks"
    checks: Optional[Sequence[str]] = None
    pss_version: str = "latest"
    namespaces: Sequence[str] = ()
    exclude_namespaces: Sequence[str] = ("kube-system",)
    label_selectors: Sequence[str] = ()
    field_selectors: Sequence[str] = ()
    exempt_label: Optional[str] = DEFAULT_EXEMPT_LABEL
    page_size: int = 500


@dataclass
class ScanResult:
    report: Report
    warnings: List[str] = field(default_factory=list)


def is_exempt(pod: Dict[str, Any], label: Optional[str]) -> bool:
    if not label:
        return False
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return str(labels.get(label, "")).lower() == "true"


def scan(client: Any, options: ScanOptions) -> ScanResult:
    """List the selected pods page by page and classify each page as it arrives."""
    policy = build_policy(options.profile, options.checks, options.pss_version)
    report = Report(profile=options.profile, rules=tuple(r.id for r in policy.rules))
    warnings: List[str] = []
    to_list, ns_terms, ignored = namespace_plan(options.namespaces, options.exclude_namespaces)
    for ns in ignored:
        warnings.append(f"Namespace {ns} is both selected and excluded (exclude_namespaces); it is not scanned")
    if to_list == []:
        return ScanResult(report, warnings)
    label_selector = merge_selectors(options.label_selectors)
    field_selector = merge_selectors(list(options.field_selectors) + ns_terms)
    for namespace in to_list or [None]:
        for page in client.iter_pod_pages(namespace, label_selector, field_selector, options.page_size):
            for pod in page:
                finding = classify(pod, policy)
                if finding is not None:
                    finding.owner = resolve_owner(pod, client.owner_metadata)
                    if is_exempt(pod, options.exempt_label):
                        finding.action = "exempt"
                report.add(finding)
    warnings.extend(client.warnings)
    return ScanResult(report, warnings)


def owner_warnings(findings: Sequence[Finding]) -> List[str]:
    """One warning per owner of deleted (or to-be-deleted) pods, naming the template to fix."""
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


@dataclass
class DeleteOptions:
    skip_owned: bool = False
    max_deletions: int = 50
    grace_period: Optional[int] = None
    parallelism: int = 10
    check_mode: bool = False


def delete_offenders(client: Any, report: Report, options: DeleteOptions) -> List[str]:
    """Delete the offending pods of ``report`` (server-side dry run in check mode).

    Sets each finding's ``action``. Raises TooManyDeletionsError before deleting anything
    when more than ``max_deletions`` pods would go, DeletionFailedError after the pool drains
    when a deletion fails (pods not yet started are left alone). Returns warnings.
    """
    candidates: List[Finding] = []
    for f in report.findings:
        if f.action == "exempt":
            continue
        if options.skip_owned and f.owner is not None:
            f.action = "skipped_owned"
            continue
        candidates.append(f)
    if len(candidates) > options.max_deletions:
        raise TooManyDeletionsError(len(candidates), options.max_deletions, sorted(f.ref for f in candidates))

    stop = threading.Event()
    errors: List[str] = []
    lock = threading.Lock()
    done_verb = "would_delete" if options.check_mode else "deleted"

    def work(f: Finding) -> None:
        if stop.is_set():
            return
        try:
            outcome = client.delete_pod(
                f.namespace, f.name, uid=f.uid or None, grace_period=options.grace_period, dry_run=options.check_mode
            )
        except Exception as exc:  # typed K8sError in practice; keep the pool draining
            stop.set()
            with lock:
                errors.append(str(exc))
            return
        f.action = done_verb if outcome == "deleted" else "already_gone"

    workers = max(1, min(options.parallelism, len(candidates) or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(work, candidates))
    if errors:
        raise DeletionFailedError(sorted(errors), report)
    return owner_warnings([f for f in candidates if f.action == done_verb])


def deletion_diff(report: Report, check_mode: bool) -> Dict[str, Any]:
    """before/after of the pods this run deletes (or would delete); equal in check and real mode."""
    verb = "would_delete" if check_mode else "deleted"
    gone = sorted(f.ref for f in report.findings if f.action == verb)
    return {"before": {"pods": gone}, "after": {"pods": []}}


def write_file_atomic(path: str, content: str) -> bool:
    """Write ``content`` to ``path`` if it differs; returns whether the file changed."""
    path = os.path.abspath(os.path.expanduser(path))
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == content:
                return False
    except FileNotFoundError:
        pass
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".pod_compliance.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


# -- Module wiring shared by pod_compliance and pod_compliance_info -------------------------
# (documented once in doc_fragments/pod_compliance.py)

SCAN_ARG_SPEC: Dict[str, Dict[str, Any]] = {
    "namespaces": {"type": "list", "elements": "str", "default": []},
    "exclude_namespaces": {"type": "list", "elements": "str", "default": ["kube-system"]},
    "label_selectors": {"type": "list", "elements": "str", "default": []},
    "field_selectors": {"type": "list", "elements": "str", "default": []},
    "profile": {"type": "str", "default": "cks", "choices": ["cks", "baseline", "restricted"]},
    "checks": {"type": "list", "elements": "str", "default": []},
    "pss_version": {"type": "str", "default": "latest"},
    "exempt_label": {"type": "str", "default": DEFAULT_EXEMPT_LABEL},
    "page_size": {"type": "int", "default": 500},
    "request_timeout": {"type": "int", "default": 60},
    "report_path": {"type": "path"},
    "summary_path": {"type": "path"},
}

DELETE_ARG_SPEC: Dict[str, Dict[str, Any]] = {
    "max_deletions": {"type": "int", "default": 50},
    "grace_period": {"type": "int"},
    "skip_owned": {"type": "bool", "default": False},
    "parallelism": {"type": "int", "default": 10},
}


def scan_options(params: Dict[str, Any]) -> ScanOptions:
    if params["page_size"] < 1:
        raise ValueError("page_size must be at least 1")
    return ScanOptions(
        profile=params["profile"],
        checks=params["checks"] or None,
        pss_version=params["pss_version"],
        namespaces=params["namespaces"] or (),
        exclude_namespaces=params["exclude_namespaces"] or (),
        label_selectors=params["label_selectors"] or (),
        field_selectors=params["field_selectors"] or (),
        exempt_label=params["exempt_label"] or None,
        page_size=params["page_size"],
    )


def delete_options(params: Dict[str, Any], check_mode: bool) -> DeleteOptions:
    if params["max_deletions"] < 0:
        raise ValueError("max_deletions must be 0 or more")
    if params["parallelism"] < 1:
        raise ValueError("parallelism must be at least 1")
    if params["grace_period"] is not None and params["grace_period"] < 0:
        raise ValueError("grace_period must be 0 or more")
    return DeleteOptions(
        skip_owned=params["skip_owned"],
        max_deletions=params["max_deletions"],
        grace_period=params["grace_period"],
        parallelism=params["parallelism"],
        check_mode=check_mode,
    )


def write_reports(report: Report, params: Dict[str, Any], check_mode: bool) -> Dict[str, str]:
    """Write the JSON report / Markdown summary where asked (not in check mode)."""
    written: Dict[str, str] = {}
    for key, render in (("report_path", report.to_json), ("summary_path", report.to_markdown)):
        path = params.get(key)
        if path and not check_mode:
            write_file_atomic(path, render())
            written[key] = os.path.abspath(os.path.expanduser(path))
    return written
