# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The pod compliance service: scan (list page by page, classify, resolve owners) and delete.

``PodComplianceService(client).report(...)`` / ``.delete(...)`` run what the two modules do and
return a :class:`Result` (report, warnings, report files written, and the error that stopped a
deletion, if any); the service writes the report files itself, also the partial report of a
deletion that failed half-way. The client is anything shaped like :class:`PodClient`
(``k8s.client.PodApi`` in production, a fake in the unit tests).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import ConflictError, NodesecError
from ansible_collections.nodesec.kubernetes.plugins.module_utils._files import write_atomic
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.args import (
    DeleteOptions,
    ReportFiles,
    ScanOptions,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.owners import (
    owner_warnings,
    resolve_owner,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.report import (
    Finding,
    Report,
    classify,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.rules import build_policy
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.selection import (
    is_exempt,
    merge_selectors,
    namespace_plan,
)

try:
    from typing import Protocol
except ImportError:  # pragma: no cover - Python < 3.8
    Protocol = object  # type: ignore[assignment,misc]


class PodClient(Protocol):
    """What the service needs of a client (``k8s.client.PodApi``)."""

    warnings: List[str]

    def iter_pod_pages(
        self,
        namespace: Optional[str],
        label_selector: Optional[str],
        field_selector: Optional[str],
        limit: int,
    ) -> Iterator[List[Dict[str, Any]]]:
        """Pages of pods (lists of pod dicts), ``limit`` pods at most each."""

    def owner_metadata(self, kind: str, namespace: str, name: str) -> Optional[Mapping[str, Any]]:
        """The metadata of a pod's owner, None when it does not exist."""

    def delete_pod(
        self, namespace: str, name: str, uid: Optional[str], grace_period: Optional[int], dry_run: bool
    ) -> str:
        """Delete one pod; returns what happened to it."""


class TooManyDeletionsError(ConflictError):
    def __init__(self, count: int, limit: int, pods: Sequence[str]) -> None:
        shown = ", ".join(pods[:10]) + (f" and {len(pods) - 10} more" if len(pods) > 10 else "")
        super().__init__(
            f"Refusing to delete {count} pods: more than max_deletions={limit}. Nothing was deleted. "
            f"Raise max_deletions or narrow the selection. Pods: {shown}",
            "max_deletions",
        )
        self.count = count
        self.limit = limit


class DeletionFailedError(NodesecError):
    """Some deletions failed; ``report`` holds what was done before the failure."""

    def __init__(self, errors: Sequence[str], report: Report) -> None:
        more = f" (and {len(errors) - 1} more failures)" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}")
        self.errors = list(errors)
        self.report = report


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


def prefetch(pages: Iterator[List[Dict[str, Any]]]) -> Iterator[List[Dict[str, Any]]]:
    """The pages of ``pages``, the next one fetched in a thread while the caller works on this one.

    The API server builds page k+1 while the caller classifies page k: on a 2-core machine the
    classification hides behind the LIST (bench/README.md). At most two pages wait beside the
    one in hand. An error of the fetch is raised here, in order, after the pages before it.
    """
    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def pump() -> None:
        try:
            for page in pages:
                ready.put(page)
                if stop.is_set():
                    return
            ready.put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            ready.put(_Raised(exc))

    worker = threading.Thread(target=pump, name="pod-list-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # let a pump blocked on a full queue finish
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.05)


@dataclass
class ScanResult:
    report: Report
    warnings: List[str] = field(default_factory=list)


def scan(client: PodClient, options: ScanOptions) -> ScanResult:
    """List the selected pods page by page and classify each page while the next is fetched."""
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
        for page in prefetch(client.iter_pod_pages(namespace, label_selector, field_selector, options.page_size)):
            for pod in page:
                finding = classify(pod, policy)
                if finding is not None:
                    finding.owner = resolve_owner(pod, client.owner_metadata)
                    if is_exempt(pod, options.exempt_label):
                        finding.action = "exempt"
                report.add(finding)
    warnings.extend(client.warnings)
    return ScanResult(report, warnings)


def delete_offenders(client: PodClient, report: Report, options: DeleteOptions) -> List[str]:
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


def refs(report: Report, action: str) -> List[str]:
    """``namespace/name`` of the findings with ``action``, sorted."""
    return sorted(f.ref for f in report.findings if f.action == action)


def deletion_diff(report: Report, check_mode: bool) -> Dict[str, Any]:
    """before/after of the pods this run deletes (or would delete); equal in check and real mode."""
    gone = refs(report, "would_delete" if check_mode else "deleted")
    return {"before": {"pods": gone}, "after": {"pods": []}}


def write_file_atomic(path: str, content: str) -> bool:
    """Write ``content`` to ``path`` (mode 0644, folders made) if it differs; returns whether it changed."""
    path = os.path.abspath(os.path.expanduser(path))
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == content:
                return False
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, content, mode=0o644, field="report_path")
    return True


def write_reports(report: Report, files: ReportFiles, check_mode: bool) -> Dict[str, str]:
    """Write the JSON report / Markdown summary where asked (not in check mode)."""
    written: Dict[str, str] = {}
    for key, render in (("report_path", report.to_json), ("summary_path", report.to_markdown)):
        path = getattr(files, key)
        if path and not check_mode:
            write_file_atomic(path, render())
            written[key] = os.path.abspath(os.path.expanduser(path))
    return written


@dataclass
class Result:
    """What a module run returns: ``as_dict()`` for ``exit_json``, ``as_failure()`` when ``error`` is set."""

    report: Report
    check_mode: bool = False
    deleting: bool = False
    warnings: List[str] = field(default_factory=list)
    files: Dict[str, str] = field(default_factory=dict)
    error: Optional[NodesecError] = None

    @property
    def deleted(self) -> List[str]:
        return refs(self.report, "would_delete" if self.check_mode else "deleted")

    def as_dict(self, diff: bool = False) -> Dict[str, Any]:
        if not self.deleting:
            return {
                "changed": False,
                "pods": self.report.pods(),
                "summary": self.report.summary(),
                "report_files": self.files,
            }
        deleted = self.deleted
        out: Dict[str, Any] = {
            "changed": bool(deleted),
            "pods": self.report.pods(),
            "deleted": deleted,
            "already_gone": refs(self.report, "already_gone"),
            "summary": self.report.summary(),
            "report_files": self.files,
        }
        if diff:
            out["diff"] = deletion_diff(self.report, self.check_mode)
        return out

    def as_failure(self) -> Dict[str, Any]:
        exc = self.error
        if isinstance(exc, TooManyDeletionsError):
            return {"msg": str(exc), "field": exc.field, "would_delete": exc.count, "max_deletions": exc.limit}
        if isinstance(exc, DeletionFailedError):
            deleted = self.deleted
            return {
                "msg": str(exc),
                "changed": bool(deleted),  # the pods deleted before the failure are gone
                "errors": exc.errors,
                "pods": self.report.pods(),
                "deleted": deleted,
                "summary": self.report.summary(),
            }
        return {"msg": str(exc), "field": getattr(exc, "field", "")}


class PodComplianceService:
    """The two modules' runs over one client."""

    def __init__(self, client: PodClient) -> None:
        self.client = client

    def report(self, options: ScanOptions, files: ReportFiles, check_mode: bool = False) -> Result:
        """Scan and write the report files (not in check mode)."""
        scanned = scan(self.client, options)
        written = write_reports(scanned.report, files, check_mode)
        return Result(scanned.report, check_mode=check_mode, warnings=scanned.warnings, files=written)

    def delete(self, options: ScanOptions, deletion: DeleteOptions, files: ReportFiles) -> Result:
        """Scan, delete the offenders, write the report files (also the partial report of a failed run).

        Refusing (``max_deletions``) and failing half-way are results with ``error`` set, not
        exceptions: the caller reports what was done. Errors before any deletion (listing,
        connection, options) are raised.
        """
        check = deletion.check_mode
        scanned = scan(self.client, options)
        report = scanned.report
        try:
            owner_notes = delete_offenders(self.client, report, deletion)
        except TooManyDeletionsError as exc:
            return Result(report, check_mode=check, deleting=True, error=exc)
        except DeletionFailedError as exc:
            write_reports(exc.report, files, check)
            return Result(exc.report, check_mode=check, deleting=True, error=exc)
        written = write_reports(report, files, check)
        return Result(report, check_mode=check, deleting=True, warnings=scanned.warnings + owner_notes, files=written)
