"""pod_compliance and pod_compliance_info against the real local Kubernetes API.

The modules run for real through ``ansible`` ad-hoc (connection local, JSON callback); the
pods are created and checked with the Python client. No kubelet: pods stay Pending, which is
enough to list, classify and delete them (an unscheduled pod is deleted at once).
"""

from __future__ import annotations

import base64
import functools
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

import ansible_adhoc
import pytest
import yaml
from ansible_collections.nodesec.kubernetes.plugins.module_utils.k8s.client import PodApi, build_configuration
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.args import DeleteOptions, ScanOptions
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.service import (
    delete_offenders,
    scan,
)
from kubernetes import client
from kubernetes.client.exceptions import ApiException

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
IMAGE = "registry.k8s.io/pause:3.10"
EXEMPT = "pod-compliance.nodesec.io/exempt"


# -- helpers ---------------------------------------------------------------------------------


# nodesec.kubernetes.<module> ad-hoc, without the caller's K8S_AUTH_*/KUBECONFIG
run_module = functools.partial(ansible_adhoc.run_module, scrub_k8s_env=True)


def pod(name: str, run: str, containers: Optional[List[dict]] = None, **spec: Any) -> Dict[str, Any]:
    labels = {"pc-run": run, **spec.pop("labels", {})}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": containers or [{"name": "main", "image": IMAGE}], **spec},
    }


def privileged(name: str, run: str, **kw: Any) -> Dict[str, Any]:
    return pod(name, run, [{"name": "main", "image": IMAGE, "securityContext": {"privileged": True}}], **kw)


def with_scratch(name: str, run: str, **kw: Any) -> Dict[str, Any]:
    return pod(
        name,
        run,
        [{"name": "main", "image": IMAGE, "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}],
        volumes=[{"name": "scratch", "emptyDir": {}}],
        **kw,
    )


def with_readonly_config(name: str, run: str) -> Dict[str, Any]:
    return pod(
        name,
        run,
        [{"name": "main", "image": IMAGE, "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}]}],
        volumes=[{"name": "cfg", "configMap": {"name": "whatever", "optional": True}}],
    )


@pytest.fixture
def core(k8s_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(k8s_client)


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def other_namespace(core: client.CoreV1Api, wait_until: Callable[..., None]) -> Iterator[str]:
    name = f"it-pc-other-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name, "labels": {"nodesec.test/integration": "true"}}})

    def ready() -> bool:
        try:
            core.read_namespaced_service_account("default", name)
            return True
        except ApiException:
            return False

    wait_until(f"ServiceAccount {name}/default", ready, timeout=30)
    yield name
    core.delete_namespace(name)


def pod_names(core: client.CoreV1Api, namespace: str) -> set:
    return {p.metadata.name for p in core.list_namespaced_pod(namespace).items}


def refs(result: Dict[str, Any]) -> Dict[str, str]:
    return {f"{p['namespace']}/{p['name']}": p["action"] for p in result["pods"]}


# -- selection -------------------------------------------------------------------------------


def test_selection_by_namespace_label_field_and_exclusions(
    k8s_kubeconfig: str, core: client.CoreV1Api, k8s_namespace: str, other_namespace: str, run_id: str
) -> None:
    a, b = k8s_namespace, other_namespace
    core.create_namespaced_pod(a, privileged("priv", run_id, labels={"app": "x"}))
    core.create_namespaced_pod(a, with_scratch("scratch", run_id, labels={"app": "y"}))
    core.create_namespaced_pod(a, pod("clean", run_id))
    core.create_namespaced_pod(a, with_readonly_config("config-only", run_id))
    core.create_namespaced_pod(a, privileged("opted-out", run_id, labels={EXEMPT: "true"}))
    core.create_namespaced_pod(b, privileged("priv-b", run_id))
    base = {"kubeconfig": k8s_kubeconfig}

    res = run_module("pod_compliance_info", {**base, "namespaces": [a]})
    assert res["changed"] is False
    assert refs(res) == {f"{a}/priv": "reported", f"{a}/scratch": "reported", f"{a}/opted-out": "exempt"}
    assert res["summary"]["scanned"] == 5
    assert res["summary"]["by_rule"] == {"privileged": 2, "writable_volume": 1}
    scratch = next(p for p in res["pods"] if p["name"] == "scratch")
    assert scratch["stateless"] is False and scratch["immutable"] is True
    assert scratch["violations"][0]["reason"] == (
        "container 'main' mounts emptyDir volume 'scratch' read-write at /scratch "
        "(spec.containers[0].volumeMounts[0].readOnly is not true)"
    )

    res = run_module("pod_compliance_info", {**base, "namespaces": [a], "label_selectors": ["app=x"]})
    assert refs(res) == {f"{a}/priv": "reported"}

    res = run_module("pod_compliance_info", {**base, "namespaces": [a, b], "field_selectors": ["metadata.name!=priv"]})
    assert set(refs(res)) == {f"{a}/scratch", f"{a}/opted-out", f"{b}/priv-b"}

    # All namespaces (restricted to this run's pods by label), one excluded server-side.
    res = run_module(
        "pod_compliance_info", {**base, "label_selectors": [f"pc-run={run_id}"], "exclude_namespaces": [a]}
    )
    assert refs(res) == {f"{b}/priv-b": "reported"}
    assert res["summary"]["scanned"] == 1

    # Excluding a namespace that is also asked for: excluded, with a warning.
    res = run_module("pod_compliance_info", {**base, "namespaces": [a, b], "exclude_namespaces": [b]})
    assert all(p["namespace"] == a for p in res["pods"])
    assert any(f"Namespace {b} is both selected and excluded" in w for w in res.get("warnings", []))

    # Pagination: two pods a page, every pod seen once.
    res = run_module("pod_compliance_info", {**base, "namespaces": [a], "page_size": 2})
    assert res["summary"]["scanned"] == 5 and len(res["pods"]) == 3


def test_profiles_and_checks_over_the_api(k8s_kubeconfig: str, core: client.CoreV1Api, k8s_namespace: str) -> None:
    ns = k8s_namespace
    core.create_namespaced_pod(ns, pod("clean", "x"))
    base = {"kubeconfig": k8s_kubeconfig, "namespaces": [ns]}
    assert run_module("pod_compliance_info", base)["pods"] == []
    res = run_module("pod_compliance_info", {**base, "checks": ["+writable_root_filesystem"]})
    assert [p["rules"] for p in res["pods"]] == [["writable_root_filesystem"]]
    res = run_module("pod_compliance_info", {**base, "profile": "restricted"})
    assert res["pods"][0]["rules"] == [
        "capabilities_restricted",
        "privilege_escalation_not_disabled",
        "run_as_root",
        "seccomp_not_set",
    ]
    res = run_module("pod_compliance_info", {**base, "checks": ["bogus"]})
    assert res["failed"] and "Unknown check(s) bogus" in res["msg"]


# -- deletion --------------------------------------------------------------------------------


def test_delete_four_steps_check_real_check_real(
    k8s_kubeconfig: str, core: client.CoreV1Api, k8s_namespace: str, run_id: str
) -> None:
    ns = k8s_namespace
    core.create_namespaced_pod(ns, privileged("priv", run_id))
    core.create_namespaced_pod(ns, with_scratch("scratch", run_id))
    core.create_namespaced_pod(ns, pod("clean", run_id))
    core.create_namespaced_pod(ns, privileged("opted-out", run_id, labels={EXEMPT: "true"}))
    args = {"kubeconfig": k8s_kubeconfig, "namespaces": [ns]}
    everything = {"priv", "scratch", "clean", "opted-out"}

    check1 = run_module("pod_compliance", args, check=True, diff=True)
    assert check1["changed"] is True
    assert check1["deleted"] == [f"{ns}/priv", f"{ns}/scratch"]
    assert refs(check1)[f"{ns}/priv"] == "would_delete"
    assert refs(check1)[f"{ns}/opted-out"] == "exempt"
    assert pod_names(core, ns) == everything, "check mode deleted something"

    real1 = run_module("pod_compliance", args, diff=True)
    assert real1["changed"] is True
    assert real1["deleted"] == [f"{ns}/priv", f"{ns}/scratch"]
    assert (
        real1["diff"] == check1["diff"] == {"before": {"pods": [f"{ns}/priv", f"{ns}/scratch"]}, "after": {"pods": []}}
    )
    assert pod_names(core, ns) == {"clean", "opted-out"}

    check2 = run_module("pod_compliance", args, check=True, diff=True)
    assert check2["changed"] is False and check2["deleted"] == []
    real2 = run_module("pod_compliance", args, diff=True)
    assert real2["changed"] is False and real2["deleted"] == []
    assert real2["diff"] == check2["diff"] == {"before": {"pods": []}, "after": {"pods": []}}
    assert pod_names(core, ns) == {"clean", "opted-out"}


def test_max_deletions_refusal_deletes_nothing(
    k8s_kubeconfig: str, core: client.CoreV1Api, k8s_namespace: str, run_id: str
) -> None:
    ns = k8s_namespace
    for i in range(3):
        core.create_namespaced_pod(ns, privileged(f"priv-{i}", run_id))
    for check in (True, False):
        res = run_module(
            "pod_compliance", {"kubeconfig": k8s_kubeconfig, "namespaces": [ns], "max_deletions": 2}, check=check
        )
        assert res["failed"] is True
        assert res["msg"].startswith("Refusing to delete 3 pods: more than max_deletions=2. Nothing was deleted.")
        assert pod_names(core, ns) == {"priv-0", "priv-1", "priv-2"}
    res = run_module("pod_compliance", {"kubeconfig": k8s_kubeconfig, "namespaces": [ns], "max_deletions": 3})
    assert res["changed"] is True and len(res["deleted"]) == 3
    assert pod_names(core, ns) == set()


def test_delete_refuses_empty_namespaces_without_all_namespaces(
    k8s_kubeconfig: str, core: client.CoreV1Api, k8s_namespace: str
) -> None:
    ns, run_id = k8s_namespace, uuid.uuid4().hex[:8]
    core.create_namespaced_pod(ns, privileged("priv-0", run_id))
    for check in (True, False):
        res = run_module("pod_compliance", {"kubeconfig": k8s_kubeconfig, "namespaces": []}, check=check)
        assert res["failed"] is True and res.get("changed") is not True
        assert res["msg"].startswith("namespaces is empty: pod_compliance would delete offending pods in every")
        assert "all_namespaces: true" in res["msg"]
    assert pod_names(core, ns) == {"priv-0"}
    # all_namespaces: true scans everywhere (here in check mode, restricted to this run's pods)
    res = run_module(
        "pod_compliance",
        {"kubeconfig": k8s_kubeconfig, "all_namespaces": True, "label_selectors": [f"pc-run={run_id}"]},
        check=True,
    )
    assert res["changed"] is True and res["deleted"] == [f"{ns}/priv-0"]
    assert pod_names(core, ns) == {"priv-0"}


def test_owners_resolved_warned_and_skip_owned(
    k8s_kubeconfig: str, k8s_client: client.ApiClient, core: client.CoreV1Api, k8s_namespace: str, wait_until
) -> None:
    ns = k8s_namespace
    apps, batch = client.AppsV1Api(k8s_client), client.BatchV1Api(k8s_client)
    priv_template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": IMAGE, "securityContext": {"privileged": True}}]},
    }
    apps.create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "web"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": priv_template},
        },
    )
    cron = batch.create_namespaced_cron_job(
        ns,
        {
            "metadata": {"name": "nightly"},
            "spec": {
                "schedule": "0 3 * * *",
                "suspend": True,
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {"restartPolicy": "Never", "containers": [{"name": "job", "image": IMAGE}]}
                        }
                    }
                },
            },
        },
    )
    # A Job as the CronJob controller would create it (owned by the CronJob).
    batch.create_namespaced_job(
        ns,
        {
            "metadata": {
                "name": "nightly-1",
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "CronJob",
                        "name": "nightly",
                        "uid": cron.metadata.uid,
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {"name": "job", "image": IMAGE, "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]}
                        ],
                        "volumes": [{"name": "tmp", "emptyDir": {}}],
                    }
                },
            },
        },
    )
    core.create_namespaced_pod(ns, privileged("bare", "x"))
    wait_until("2 web pods and 1 job pod", lambda: len(pod_names(core, ns)) == 4, timeout=60)

    args = {"kubeconfig": k8s_kubeconfig, "namespaces": [ns]}
    info = run_module("pod_compliance_info", args)
    owners = {p["name"]: p["owner"] for p in info["pods"]}
    assert len(owners) == 4
    assert owners["bare"] is None
    web = [o for n, o in owners.items() if n.startswith("web-")]
    assert len(web) == 2 and all(o["kind"] == "Deployment" and o["name"] == "web" for o in web)
    assert web[0]["chain"][0].startswith("ReplicaSet/web-") and web[0]["chain"][1] == "Deployment/web"
    job = next(o for n, o in owners.items() if n.startswith("nightly-1-"))
    assert job == {"kind": "CronJob", "name": "nightly", "namespace": ns, "chain": ["Job/nightly-1", "CronJob/nightly"]}

    skipped = run_module("pod_compliance", {**args, "skip_owned": True})
    assert skipped["deleted"] == [f"{ns}/bare"]
    assert sorted(set(refs(skipped).values())) == ["deleted", "skipped_owned"]
    assert len(pod_names(core, ns)) == 3

    res = run_module("pod_compliance", args)
    assert len(res["deleted"]) == 3
    warnings = "\n".join(res.get("warnings", []))
    assert (
        f"is owned by Deployment {ns}/web: its controller will recreate it; fix the pod template of Deployment {ns}/web"
        in warnings
    )
    assert "(and 1 more pods)" in warnings
    assert f"fix the pod template of CronJob {ns}/nightly" in warnings


def _sa_token_and_ca(core: client.CoreV1Api, rbac: client.RbacAuthorizationV1Api, ns: str, kubeconfig: str, tmp: Path):
    core.create_namespaced_service_account(ns, {"metadata": {"name": "auditor"}})
    rbac.create_namespaced_role(
        ns,
        {
            "metadata": {"name": "pod-reader"},
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get"]},
            ],
        },
    )
    rbac.create_namespaced_role_binding(
        ns,
        {
            "metadata": {"name": "auditor-reads-pods"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "auditor", "namespace": ns}],
        },
    )
    token = core.create_namespaced_service_account_token(
        "auditor", ns, {"spec": {"expirationSeconds": 600}}
    ).status.token
    cluster = yaml.safe_load(Path(kubeconfig).read_text())["clusters"][0]["cluster"]
    ca = tmp / "ca.crt"
    ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    return token, cluster["server"], str(ca)


def test_forbidden_delete_is_a_clear_error_naming_the_pod(
    k8s_kubeconfig: str, k8s_client: client.ApiClient, core: client.CoreV1Api, k8s_namespace: str, tmp_path: Path
) -> None:
    ns = k8s_namespace
    token, server, ca = _sa_token_and_ca(core, client.RbacAuthorizationV1Api(k8s_client), ns, k8s_kubeconfig, tmp_path)
    core.create_namespaced_pod(ns, privileged("priv", "x"))
    args = {"host": server, "api_key": token, "ca_cert": ca, "namespaces": [ns]}

    # The ServiceAccount may list: the report works with host + api_key + ca_cert.
    info = run_module("pod_compliance_info", args)
    assert [p["name"] for p in info["pods"]] == ["priv"]

    for check in (True, False):  # the server-side dry run is authorised like the real delete
        res = run_module("pod_compliance", args, check=check)
        assert res["failed"] is True
        assert res["msg"].startswith(f"Failed to delete pod {ns}/priv: 403 Forbidden (")
        assert f'User "system:serviceaccount:{ns}:auditor" cannot delete resource "pods"' in res["msg"]
        assert token not in res["_raw"], "the bearer token leaked into the output"
        assert pod_names(core, ns) == {"priv"}


def test_pod_gone_or_replaced_between_list_and_delete(
    k8s_kubeconfig: str, core: client.CoreV1Api, k8s_namespace: str
) -> None:
    ns = k8s_namespace
    for name in ("gone", "replaced", "victim"):
        core.create_namespaced_pod(ns, privileged(name, "x"))
    k8s = PodApi(build_configuration({"kubeconfig": k8s_kubeconfig}))
    try:
        result = scan(k8s, ScanOptions(namespaces=[ns]))
        assert sorted(f.name for f in result.report.findings) == ["gone", "replaced", "victim"]
        # Someone else acts between our LIST and our DELETE.
        core.delete_namespaced_pod("gone", ns, grace_period_seconds=0)
        core.delete_namespaced_pod("replaced", ns, grace_period_seconds=0)
        deadline = time.monotonic() + 30
        while "replaced" in pod_names(core, ns) and time.monotonic() < deadline:
            time.sleep(0.2)
        core.create_namespaced_pod(ns, pod("replaced", "x"))  # same name, new UID, now compliant
        delete_offenders(k8s, result.report, DeleteOptions())
    finally:
        k8s.close()
    actions = {f.name: f.action for f in result.report.findings}
    assert actions == {"gone": "already_gone", "replaced": "already_gone", "victim": "deleted"}
    assert pod_names(core, ns) == {"replaced"}, "the new pod of the same name must survive (UID precondition)"


def test_unreachable_api_and_unverified_tls_are_clear_errors(
    k8s_kubeconfig: str, core: client.CoreV1Api, k8s_namespace: str, k8s_client: client.ApiClient, tmp_path: Path
) -> None:
    res = run_module("pod_compliance_info", {"host": "https://127.0.0.1:1", "api_key": "not-a-secret-123"})
    assert res["failed"] is True
    assert res["msg"].startswith("Cannot reach the Kubernetes API at https://127.0.0.1:1:")
    assert "not-a-secret-123" not in res["_raw"]

    token, server, _ca = _sa_token_and_ca(
        core, client.RbacAuthorizationV1Api(k8s_client), k8s_namespace, k8s_kubeconfig, tmp_path
    )
    res = run_module("pod_compliance_info", {"host": server, "api_key": token})  # no CA: must not connect
    assert res["failed"] is True
    assert "CERTIFICATE_VERIFY_FAILED" in res["msg"] and "give the cluster CA with ca_cert" in res["msg"]
    res = run_module(
        "pod_compliance_info",
        {"host": server, "api_key": token, "validate_certs": False, "namespaces": [k8s_namespace]},
    )
    assert not res.get("failed"), res.get("msg")
    assert res["summary"]["scanned"] == 0

    res = run_module("pod_compliance_info", {"kubeconfig": str(tmp_path / "missing.kubeconfig")})
    assert res["failed"] is True and "Invalid Kubernetes configuration" in res["msg"]


def test_env_fallbacks_and_module_defaults_group(
    k8s_kubeconfig: str, core: client.CoreV1Api, k8s_namespace: str, tmp_path: Path
) -> None:
    ns = k8s_namespace
    core.create_namespaced_pod(ns, privileged("priv", "x"))
    res = run_module("pod_compliance_info", {"namespaces": [ns]}, env={"K8S_AUTH_KUBECONFIG": k8s_kubeconfig})
    assert [p["name"] for p in res["pods"]] == ["priv"]

    playbook = tmp_path / "defaults.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "module_defaults for the action group",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "module_defaults": {"group/nodesec.kubernetes.k8s": {"kubeconfig": k8s_kubeconfig}},
                    "tasks": [
                        {
                            "name": "Report",
                            "nodesec.kubernetes.pod_compliance_info": {
                                "namespaces": [ns],
                                "report_path": str(tmp_path / "out" / "report.json"),
                                "summary_path": str(tmp_path / "out" / "summary.md"),
                            },
                        },
                        {"name": "Delete", "nodesec.kubernetes.pod_compliance": {"namespaces": [ns]}},
                    ],
                }
            ]
        )
    )
    run_playbook(str(playbook), "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["summary"]["offending"] == 1 and report["pods"][0]["name"] == "priv"
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert f"| {ns}/priv | - | reported | `privileged` |" in summary
    assert pod_names(core, ns) == set()


def test_check_mode_writes_no_report(k8s_kubeconfig: str, k8s_namespace: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.json"
        res = run_module(
            "pod_compliance_info",
            {"kubeconfig": k8s_kubeconfig, "namespaces": [k8s_namespace], "report_path": str(path)},
            check=True,
        )
        assert res["report_files"] == {} and not path.exists()


# -- the playbook on the lab's sample workloads --------------------------------------------

LAB_OFFENDERS = {
    "lab-apps/cache-emptydir": ["writable_volume"],
    "lab-apps/db-pvc": ["writable_volume"],
    "lab-apps/log-reader-hostpath": ["writable_volume"],
    "lab-apps/node-debugger": ["added_capabilities", "host_namespaces"],
    "lab-apps/privileged-debug": ["privileged"],
    "front-apps/web-store-0": ["writable_volume"],
    "front-apps/web-store-1": ["writable_volume"],
    # the Deployment's two pods (random names: frontend-<pod-template-hash>-<suffix>)
    "front-apps/frontend-*": ["privilege_escalation"],
}


def lab_findings(report: Dict[str, Any]) -> Dict[str, List[str]]:
    """namespace/name -> rules, with the Deployment's pods folded into one frontend-* entry."""
    found: Dict[str, List[str]] = {}
    frontend = [p for p in report["pods"] if p["name"].startswith("frontend-")]
    assert len(frontend) == 2, [p["name"] for p in frontend]
    for p in report["pods"]:
        key = "front-apps/frontend-*" if p in frontend else f"{p['namespace']}/{p['name']}"
        assert found.setdefault(key, p["rules"]) == p["rules"]
    return found


def run_playbook(playbook: str, inventory: Union[Path, str], *extra: str) -> Dict[str, Any]:
    """Run ``playbook`` (absolute, or relative to the repository); its tasks' results on localhost by name."""
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(REPO / playbook), *extra],
        capture_output=True,
        check=False,
        text=True,
        cwd=REPO,
        env=ansible_adhoc.ansible_env(scrub_k8s_env=True),
        timeout=580,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    out = json.loads(proc.stdout)
    return {t["task"]["name"]: t["hosts"].get("localhost", {}) for t in out["plays"][0]["tasks"]}


def test_playbook_on_lab_sample_workloads(k8s_kubeconfig: str, core: client.CoreV1Api, tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "k8s_api": {
                    "hosts": {
                        "localhost": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                            "nodesec_kubeconfig": k8s_kubeconfig,
                        }
                    }
                }
            }
        )
    )
    seed = ("scripts/lab/lab_seed.yml", inventory, "-e", f"lab_seed_kubeconfig={k8s_kubeconfig}")
    run_playbook(*seed)
    reports = tmp_path / "reports"
    common = (
        "-e",
        f"pod_compliance_report_dir={reports}",
        "-e",
        "pod_compliance_namespaces=lab-apps,front-apps,lab-system",
    )
    try:
        run_playbook("playbooks/pod_compliance.yml", inventory, *common)
        report = json.loads((reports / "localhost-pod-compliance-report.json").read_text())
        assert lab_findings(report) == LAB_OFFENDERS
        assert {p["action"] for p in report["pods"]} == {"reported"}
        owners = {p["name"]: p["owner"] and p["owner"]["kind"] for p in report["pods"]}
        assert owners["web-store-0"] == "StatefulSet" and owners["privileged-debug"] is None
        # a pod of a Deployment is reported with the Deployment (through its ReplicaSet)
        assert {owners[p["name"]] for p in report["pods"] if p["name"].startswith("frontend-")} == {"Deployment"}
        md = (reports / "localhost-pod-compliance-report.md").read_text()
        assert "| lab-apps/privileged-debug | - | reported | `privileged` |" in md

        only_lab_apps = ("-e", "pod_compliance_namespaces=lab-apps", "-e", "pod_compliance_delete=true")
        tasks = run_playbook("playbooks/pod_compliance.yml", inventory, *common[:2], *only_lab_apps, "--check")
        lab_apps = sorted(k for k in LAB_OFFENDERS if k.startswith("lab-apps/"))
        assert tasks["Delete the pods that are not stateless or not immutable"]["deleted"] == lab_apps
        assert len(pod_names(core, "lab-apps")) == 6

        tasks = run_playbook("playbooks/pod_compliance.yml", inventory, *common[:2], *only_lab_apps)
        assert tasks["Delete the pods that are not stateless or not immutable"]["deleted"] == lab_apps
        assert pod_names(core, "lab-apps") == {"compliant-web"}
        assert {"web-store-0", "web-store-1"} <= pod_names(core, "front-apps")
    finally:
        run_playbook(*seed)  # put the deleted sample pods back for the rest of the lab
