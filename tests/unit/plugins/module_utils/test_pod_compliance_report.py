"""Owner resolution, findings, report aggregation and rendering."""

from __future__ import annotations

import json

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.owners import (
    Owner,
    controller_ref,
    recreate_warning,
    resolve_owner,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.report import Report, classify
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.rules import build_policy
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.selection import (
    merge_selectors,
    namespace_plan,
)
from ansible_collections.nodesec.kubernetes.tests.unit.plugins.module_utils.test_pod_compliance import CORPUS

# What the API would answer for the owners of the corpus pods (kind, namespace, name) -> metadata.
CLUSTER = {
    ("ReplicaSet", "ingress-nginx", "ingress-nginx-controller-6b7f6c8d9"): {
        "ownerReferences": [{"kind": "Deployment", "name": "ingress-nginx-controller", "controller": True}]
    },
    ("ReplicaSet", "shop", "web-plain-7c9f8b6d5"): {
        "ownerReferences": [{"kind": "Deployment", "name": "web-plain", "controller": True}]
    },
    ("Job", "db", "db-backup-28841234"): {
        "ownerReferences": [{"kind": "CronJob", "name": "db-backup", "controller": True}]
    },
    # A bare Job: no owner above it.
    ("Job", "shop", "schema-migrate"): {"name": "schema-migrate"},
}


def lookup(kind, namespace, name):
    return CLUSTER.get((kind, namespace, name))


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (
            "ingress-nginx-controller-6b7f6c8d9-x2k4p",
            Owner(
                "Deployment",
                "ingress-nginx-controller",
                "ingress-nginx",
                ("ReplicaSet/ingress-nginx-controller-6b7f6c8d9", "Deployment/ingress-nginx-controller"),
            ),
        ),
        ("calico-node-7m2xq", Owner("DaemonSet", "calico-node", "calico-system", ("DaemonSet/calico-node",))),
        ("postgresql-0", Owner("StatefulSet", "postgresql", "db", ("StatefulSet/postgresql",))),
        (
            "db-backup-28841234-q7w2e",
            Owner("CronJob", "db-backup", "db", ("Job/db-backup-28841234", "CronJob/db-backup")),
        ),
        ("schema-migrate-8k2lm", Owner("Job", "schema-migrate", "shop", ("Job/schema-migrate",))),
        # The ReplicaSet is gone (or unreadable): report the last known owner.
        (
            "web-readonly-5d4c3b2a1-fghij",
            Owner("ReplicaSet", "web-readonly-5d4c3b2a1", "shop", ("ReplicaSet/web-readonly-5d4c3b2a1",)),
        ),
        ("kube-apiserver-cp1", Owner("Node", "cp1", "", ("Node/cp1",))),
        ("static-site", None),
    ],
)
def test_resolve_owner(pod, expected):
    assert resolve_owner(CORPUS[pod], lookup) == expected


def test_resolve_owner_without_lookup_keeps_direct_owner():
    owner = resolve_owner(CORPUS["web-plain-7c9f8b6d5-abcde"], None)
    assert owner == Owner("ReplicaSet", "web-plain-7c9f8b6d5", "shop", ("ReplicaSet/web-plain-7c9f8b6d5",))


def test_mirror_pod_without_owner_reference_is_owned_by_its_node():
    pod = {
        "metadata": {
            "name": "etcd-cp1",
            "namespace": "kube-system",
            "annotations": {"kubernetes.io/config.mirror": "x"},
        },
        "spec": {"nodeName": "cp1"},
    }
    assert resolve_owner(pod) == Owner("Node", "cp1", "", ("Node/cp1",))


def test_controller_ref_prefers_controller_flag():
    meta = {"ownerReferences": [{"kind": "A", "name": "a"}, {"kind": "B", "name": "b", "controller": True}]}
    assert controller_ref(meta)["kind"] == "B"
    assert controller_ref({"ownerReferences": [{"kind": "A"}, {"kind": "C"}]}) is None


def test_owner_cycle_terminates():
    cyc = {("ReplicaSet", "ns", "a"): {"ownerReferences": [{"kind": "ReplicaSet", "name": "a", "controller": True}]}}
    pod = {
        "metadata": {"namespace": "ns", "ownerReferences": [{"kind": "ReplicaSet", "name": "a", "controller": True}]}
    }
    assert resolve_owner(pod, lambda k, n, m: cyc.get((k, n, m))).kind == "ReplicaSet"


def test_recreate_warning_names_owner_and_template():
    owner = resolve_owner(CORPUS["postgresql-0"], lookup)
    assert recreate_warning("db/postgresql-0", owner) == (
        "Pod db/postgresql-0 is owned by StatefulSet db/postgresql: its controller will recreate it; "
        "fix the pod template of StatefulSet db/postgresql"
    )
    node = resolve_owner(CORPUS["kube-apiserver-cp1"], lookup)
    assert "static pod of Node cp1" in recreate_warning("kube-system/kube-apiserver-cp1", node)
    custom = Owner("Rollout", "web", "shop", ("Rollout/web",))
    assert "may recreate it" in recreate_warning("shop/x", custom)


def build_report(profile="cks"):
    policy = build_policy(profile)
    report = Report(profile=profile, rules=tuple(r.id for r in policy.rules))
    for pod in CORPUS.values():
        finding = classify(pod, policy)
        if finding:
            finding.owner = resolve_owner(pod, lookup)
        report.add(finding)
    return report


def test_report_counts_by_rule_and_namespace():
    summary = build_report().summary()
    assert summary["scanned"] == len(CORPUS) == 15
    # compliant under cks: ingress-nginx, web-plain, static-site, schema-migrate
    assert summary["compliant"] == 4
    assert summary["offending"] == 11
    assert summary["by_rule"] == {
        "added_capabilities": 2,  # cilium, override-root
        "host_namespaces": 4,  # calico, cilium, node-exporter, kube-apiserver
        "host_path_node_access": 1,  # node-exporter (the host's / read-only)
        "selinux_unconfined": 1,  # cilium (spc_t)
        "privilege_escalation": 1,  # override-root
        "privileged": 3,  # calico, elasticsearch, api-debugged
        "writable_volume": 7,  # calico, cilium, postgresql, web-readonly, db-backup, elasticsearch, render-worker
    }
    assert summary["by_namespace"] == {
        "calico-system": 1,
        "db": 2,
        "kube-system": 2,
        "logging": 1,
        "media": 1,
        "monitoring": 1,
        "shop": 3,
    }
    assert summary["not_stateless"] == 11
    assert summary["not_immutable"] == 7
    assert summary["by_action"] == {"reported": 11}


def test_report_json_round_trips_and_is_sorted():
    data = json.loads(build_report().to_json())
    names = [(p["namespace"], p["name"]) for p in data["pods"]]
    assert names == sorted(names)
    pg = next(p for p in data["pods"] if p["name"] == "postgresql-0")
    assert pg["owner"]["kind"] == "StatefulSet"
    assert pg["stateless"] is False and pg["immutable"] is True
    assert pg["rules"] == ["writable_volume"]
    assert [v["reason"].split(" read-write")[0] for v in pg["violations"]] == [
        "container 'postgresql' mounts emptyDir volume 'empty-dir'",
        "container 'postgresql' mounts emptyDir volume 'dshm'",
        "container 'postgresql' mounts persistentVolumeClaim volume 'data'",
    ]


def test_report_markdown_tables():
    md = build_report().to_markdown()
    assert md.startswith("# Pod compliance report\n")
    assert "- Offending: 11 (not stateless: 11, not immutable: 7)" in md
    assert "| `writable_volume` | 7 |" in md
    assert "| shop | 3 |" in md
    row = next(line for line in md.splitlines() if line.startswith("| shop/api-debugged |"))
    assert "| - | reported | `privileged` | ephemeral container 'debugger-8xk2p'" in row


def test_markdown_escapes_pipes():
    report = Report(profile="cks", rules=("privileged",))
    pod = {
        "metadata": {"name": "a|b", "namespace": "ns"},
        "spec": {"containers": [{"name": "x|y", "securityContext": {"privileged": True}}]},
    }
    report.add(classify(pod, build_policy("cks", ["privileged"])))
    assert "| ns/a\\|b |" in report.to_markdown()
    assert "container 'x\\|y'" in report.to_markdown()


def test_merge_selectors():
    assert merge_selectors(["app=web", " tier in (fe,be) ", ""]) == "app=web,tier in (fe,be)"
    assert merge_selectors([]) is None


@pytest.mark.parametrize(
    ("namespaces", "exclude", "expected"),
    [
        ([], ["kube-system"], (None, ["metadata.namespace!=kube-system"], [])),
        ([], [], (None, [], [])),
        (["shop", "db", "shop"], ["kube-system"], (["shop", "db"], [], [])),
        (["shop", "kube-system"], ["kube-system"], (["shop"], [], ["kube-system"])),
    ],
)
def test_namespace_plan(namespaces, exclude, expected):
    assert namespace_plan(namespaces, exclude) == expected
