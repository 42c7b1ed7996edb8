"""scan and delete_offenders through the real PodApi over a fake CoreV1Api (a stand-in).

The stand-in answers as the API server does (paged lists with continue tokens; 404 for a pod
already gone; 409 with a precondition message for a pod recreated under the same name; 500
for a failure), so the status handling of PodApi and the bookkeeping of the service are
tested without a server. The real API is in tests/integration/test_pod_compliance*.py.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Dict, List, Optional

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils.k8s.client import K8sApiError, PodApi
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.args import (
    DELETE_ARG_SPEC,
    SCAN_ARG_SPEC,
    DeleteOptions,
    OptionError,
    ReportFiles,
    ScanOptions,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.service import (
    DeletionFailedError,
    PodComplianceService,
    TooManyDeletionsError,
    delete_offenders,
    prefetch,
    scan,
)
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException


class _Response:
    def __init__(self, body: Any) -> None:
        self.data = json.dumps(body).encode()

    def release_conn(self) -> None:
        pass


def _api_error(status: int, message: str) -> ApiException:
    exc = ApiException(status=status, reason=message)
    exc.body = json.dumps({"kind": "Status", "code": status, "message": message})
    return exc


class FakeCore:
    """CoreV1Api stand-in: pods by namespace, scripted delete answers, every call recorded."""

    def __init__(self, pods: List[Dict[str, Any]], answers: Optional[Dict[str, int]] = None) -> None:
        self.pods = {f"{p['metadata']['namespace']}/{p['metadata']['name']}": p for p in pods}
        self.answers = answers or {}
        self.deletes: List[Dict[str, Any]] = []
        self.lock = threading.Lock()
        self.list_status: Optional[int] = None

    def list_namespaced_pod(self, namespace: str, limit: int = 500, _continue: Optional[str] = None, **_kw: Any):
        if self.list_status:
            raise _api_error(self.list_status, "etcdserver: leader changed")
        items = [p for ref, p in sorted(self.pods.items()) if ref.startswith(namespace + "/")]
        start = int(_continue or 0)
        page = items[start : start + limit]
        token = str(start + limit) if start + limit < len(items) else None
        return _Response({"items": page, "metadata": {"continue": token} if token else {}})

    def delete_namespaced_pod(self, name: str, namespace: str, body: Dict[str, Any], **_kw: Any):
        ref = f"{namespace}/{name}"
        with self.lock:
            self.deletes.append({"ref": ref, **body})
        status = self.answers.get(ref)
        if status == 404:
            raise _api_error(404, f'pods "{name}" not found')
        if status == 409:
            raise _api_error(409, f"Precondition failed: UID in precondition: {body['preconditions']['uid']}")
        if status == 403:
            raise _api_error(403, f'pods "{name}" is forbidden')
        if status:
            raise _api_error(status, "etcdserver: request timed out")
        if not body.get("dryRun"):
            with self.lock:
                self.pods.pop(ref, None)
        return _Response({"kind": "Pod"})


def pod(name: str, privileged: bool = True, ns: str = "shop") -> Dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}"},
        "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": privileged}}]},
    }


def make(pods: List[Dict[str, Any]], answers: Optional[Dict[str, int]] = None):
    cl = PodApi(k8s.Configuration(host="https://fake.invalid"))
    cl.core = FakeCore(pods, answers)  # type: ignore[assignment]
    return cl, cl.core


def test_scan_pages_and_classifies_every_pod():
    pods = [pod(f"p{i:02d}", privileged=i % 3 == 0) for i in range(25)]
    cl, _core = make(pods)
    report = scan(cl, ScanOptions(namespaces=["shop"], page_size=4)).report
    assert report.summary()["scanned"] == 25
    assert sorted(f.name for f in report.findings) == [f"p{i:02d}" for i in range(0, 25, 3)]


def test_delete_counts_404_and_409_as_already_gone_and_sends_uid_preconditions():
    cl, core = make([pod("a"), pod("b"), pod("c")], {"shop/b": 404, "shop/c": 409})
    report = scan(cl, ScanOptions(namespaces=["shop"])).report
    delete_offenders(cl, report, DeleteOptions(parallelism=2))
    assert {f.name: f.action for f in report.findings} == {"a": "deleted", "b": "already_gone", "c": "already_gone"}
    assert all(d["preconditions"] == {"uid": f"uid-{d['ref'][5:]}"} for d in core.deletes)
    assert set(core.pods) == {"shop/b", "shop/c"}


def test_check_mode_deletes_nothing_and_says_would_delete():
    cl, core = make([pod("a"), pod("b")])
    report = scan(cl, ScanOptions(namespaces=["shop"])).report
    delete_offenders(cl, report, DeleteOptions(check_mode=True))
    assert {f.action for f in report.findings} == {"would_delete"}
    assert all(d["dryRun"] == ["All"] for d in core.deletes) and len(core.pods) == 2


def test_max_deletions_refuses_before_any_delete():
    cl, core = make([pod(f"p{i}") for i in range(4)])
    report = scan(cl, ScanOptions(namespaces=["shop"])).report
    with pytest.raises(TooManyDeletionsError, match="more than max_deletions=3"):
        delete_offenders(cl, report, DeleteOptions(max_deletions=3))
    assert core.deletes == [] and len(core.pods) == 4


def test_partial_failure_stops_and_reports_exactly_what_was_deleted():
    pods = [pod(f"p{i:02d}") for i in range(20)]
    cl, core = make(pods, {"shop/p05": 500})
    report = scan(cl, ScanOptions(namespaces=["shop"])).report
    with pytest.raises(DeletionFailedError) as caught:
        delete_offenders(cl, report, DeleteOptions(parallelism=1, max_deletions=20))
    assert str(caught.value).startswith("Failed to delete pod shop/p05: ")
    deleted = {f.ref for f in caught.value.report.findings if f.action == "deleted"}
    assert deleted == {f"shop/p{i:02d}" for i in range(5)}  # sequential: the ones before the failure
    assert set(core.pods) == {f"shop/p{i:02d}" for i in range(5, 20)}  # the rest were left alone


# -- The service as the modules run it: PodComplianceService(client).delete / .report ---------


def params(**overrides):
    base = {k: v.get("default") for k, v in {**SCAN_ARG_SPEC, **DELETE_ARG_SPEC}.items()}
    base.update({"namespaces": ["shop"], **overrides})
    return base


def run_delete(cl, tmp_path=None, check_mode=False, **overrides):
    p = params(**overrides)
    if tmp_path is not None:
        p["report_path"] = str(tmp_path / "report.json")
    service = PodComplianceService(cl)
    return service.delete(
        ScanOptions.from_params(p), DeleteOptions.from_params(p, check_mode), ReportFiles.from_params(p)
    )


def test_service_delete_result_lists_deleted_and_already_gone(tmp_path):
    cl, core = make([pod("a"), pod("b"), pod("c"), pod("ok", privileged=False)], {"shop/b": 404, "shop/c": 409})
    result = run_delete(cl, tmp_path)
    out = result.as_dict(diff=True)
    assert result.error is None
    assert out["changed"] is True and out["deleted"] == ["shop/a"] and out["already_gone"] == ["shop/b", "shop/c"]
    assert out["summary"]["scanned"] == 4 and out["summary"]["by_action"] == {"already_gone": 2, "deleted": 1}
    assert out["diff"] == {"before": {"pods": ["shop/a"]}, "after": {"pods": []}}
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["summary"] == out["summary"]
    assert out["report_files"] == {"report_path": str(tmp_path / "report.json")}
    assert set(core.pods) == {"shop/b", "shop/c", "shop/ok"}


def test_service_delete_nothing_to_delete_is_unchanged():
    cl, core = make([pod("ok", privileged=False)])
    out = run_delete(cl).as_dict()
    assert out["changed"] is False and out["deleted"] == [] and core.deletes == []


def test_service_check_mode_sends_dry_runs_writes_no_file_and_reports_would_delete(tmp_path):
    cl, core = make([pod("a"), pod("b")])
    result = run_delete(cl, tmp_path, check_mode=True)
    out = result.as_dict(diff=True)
    assert out["changed"] is True and out["deleted"] == ["shop/a", "shop/b"]
    assert out["summary"]["by_action"] == {"would_delete": 2}
    assert [d["dryRun"] for d in core.deletes] == [["All"], ["All"]] and len(core.pods) == 2
    assert out["report_files"] == {} and not (tmp_path / "report.json").exists()


def test_service_max_deletions_is_a_failure_result_that_deleted_nothing(tmp_path):
    cl, core = make([pod(f"p{i}") for i in range(4)])
    result = run_delete(cl, tmp_path, max_deletions=3)
    failure = result.as_failure()
    assert isinstance(result.error, TooManyDeletionsError)
    assert failure["would_delete"] == 4 and failure["max_deletions"] == 3 and failure["field"] == "max_deletions"
    assert failure["msg"].startswith("Refusing to delete 4 pods: more than max_deletions=3. Nothing was deleted.")
    assert "changed" not in failure and core.deletes == [] and not (tmp_path / "report.json").exists()


def test_service_partial_failure_says_changed_and_writes_the_exact_report(tmp_path):
    cl, core = make([pod(f"p{i:02d}") for i in range(10)], {"shop/p04": 500})
    result = run_delete(cl, tmp_path, parallelism=1)
    failure = result.as_failure()
    assert isinstance(result.error, DeletionFailedError)
    assert failure["changed"] is True  # four pods are gone although the run failed
    assert failure["deleted"] == [f"shop/p{i:02d}" for i in range(4)]
    assert failure["msg"].startswith("Failed to delete pod shop/p04: 500") and len(failure["errors"]) == 1
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["summary"]["by_action"] == {"deleted": 4, "reported": 6}
    assert sorted(core.pods) == [f"shop/p{i:02d}" for i in range(4, 10)]


def test_service_failure_before_any_deletion_is_unchanged():
    cl, _core = make([pod("a")], {"shop/a": 403})
    failure = run_delete(cl).as_failure()
    assert failure["changed"] is False and failure["deleted"] == []
    assert failure["msg"].startswith("Failed to delete pod shop/a: 403")


def test_service_skip_owned_and_exempt_are_never_deleted():
    owned = pod("web-1")
    owned["metadata"]["ownerReferences"] = [{"kind": "StatefulSet", "name": "web", "controller": True}]
    exempt = pod("debug")
    exempt["metadata"]["labels"] = {"pod-compliance.nodesec.io/exempt": "true"}
    cl, core = make([owned, exempt, pod("bare")])
    out = run_delete(cl, skip_owned=True).as_dict()
    assert {p["name"]: p["action"] for p in out["pods"]} == {
        "bare": "deleted",
        "debug": "exempt",
        "web-1": "skipped_owned",
    }
    assert [d["ref"] for d in core.deletes] == ["shop/bare"]


def test_service_owner_warning_names_the_template_to_fix():
    owned = pod("web-0")
    owned["metadata"]["ownerReferences"] = [{"kind": "StatefulSet", "name": "web", "controller": True}]
    cl, _core = make([owned])
    result = run_delete(cl)
    assert result.warnings == [
        "Pod shop/web-0 is owned by StatefulSet shop/web: its controller will recreate it; "
        "fix the pod template of StatefulSet shop/web"
    ]


def test_delete_refuses_empty_namespaces_unless_all_namespaces():
    with pytest.raises(OptionError, match="namespaces is empty: pod_compliance would delete") as caught:
        DeleteOptions.from_params(params(namespaces=[]), check_mode=False)
    assert caught.value.field == "namespaces"
    assert DeleteOptions.from_params(params(namespaces=[], all_namespaces=True), check_mode=False).max_deletions == 50


def test_service_report_is_read_only_and_unchanged(tmp_path):
    cl, core = make([pod("a"), pod("ok", privileged=False)])
    p = {**params(), "report_path": str(tmp_path / "r.json"), "summary_path": str(tmp_path / "r.md")}
    result = PodComplianceService(cl).report(ScanOptions.from_params(p), ReportFiles.from_params(p))
    out = result.as_dict()
    assert out["changed"] is False and [x["name"] for x in out["pods"]] == ["a"] and core.deletes == []
    assert set(out["report_files"]) == {"report_path", "summary_path"}
    assert (tmp_path / "r.md").read_text().startswith("# Pod compliance report")


def test_list_failure_is_a_typed_error_naming_the_namespace():
    cl, core = make([pod("a")])
    core.list_status = 500
    with pytest.raises(K8sApiError, match="Failed to list pods in namespace shop: 500") as caught:
        scan(cl, ScanOptions(namespaces=["shop"]))
    assert caught.value.status == 500


# -- prefetch: the next page is fetched while this one is classified --------------------------


def test_prefetch_fetches_the_next_page_while_the_caller_holds_this_one():
    asked = [threading.Event() for _page in range(3)]

    def pages():
        for i in range(3):
            asked[i].set()
            yield [i]

    got = []
    for page in prefetch(pages()):
        if page == [0]:
            # Without prefetching the generator is not asked for page 1 before page 0 is done.
            assert asked[1].wait(2), "page 1 was not fetched while page 0 was in hand"
        got.append(page)
    assert got == [[0], [1], [2]]


def test_prefetch_raises_the_fetch_error_after_the_pages_before_it():
    def pages():
        yield [1]
        raise K8sApiError("Failed to list pods in namespace shop: 500", 500)

    got = []
    with pytest.raises(K8sApiError, match="500"):
        for page in prefetch(pages()):
            got.append(page)
    assert got == [[1]]


def test_prefetch_stops_its_thread_when_the_caller_stops_early():
    def pages():
        for i in range(100):
            yield [i]

    before = threading.active_count()
    for page in prefetch(pages()):
        if page == [1]:
            break
    assert threading.active_count() == before
