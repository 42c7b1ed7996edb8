"""scan and delete_offenders through the real K8sClient over a fake CoreV1Api (a stand-in).

The stand-in answers as the API server does (paged lists with continue tokens; 404 for a pod
already gone; 409 with a precondition message for a pod recreated under the same name; 500
for a failure), so the status handling of K8sClient and the bookkeeping of the service are
tested without a server. The real API is in tests/integration/test_pod_compliance*.py.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Dict, List, Optional

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils.k8s_client import K8sClient
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance_service import (
    DeleteOptions,
    DeletionFailedError,
    ScanOptions,
    TooManyDeletionsError,
    delete_offenders,
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

    def list_namespaced_pod(self, namespace: str, limit: int = 500, _continue: Optional[str] = None, **_kw: Any):
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
    cl = K8sClient(k8s.Configuration(host="https://fake.invalid"))
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
