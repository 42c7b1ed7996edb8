"""Pure parts of the service: option checks, exemption, owner warnings, diff, report files."""

from __future__ import annotations

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.args import (
    DELETE_ARG_SPEC,
    SCAN_ARG_SPEC,
    DeleteOptions,
    ScanOptions,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.owners import (
    MAX_OWNER_WARNINGS,
    Owner,
    owner_warnings,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.report import Report, classify
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.rules import build_policy
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.selection import is_exempt
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.service import (
    TooManyDeletionsError,
    deletion_diff,
    write_file_atomic,
)


def params(**overrides):
    base = {k: v.get("default") for k, v in {**SCAN_ARG_SPEC, **DELETE_ARG_SPEC}.items()}
    base.update(overrides)
    return base


def finding(ns, name, owner=None, action="reported"):
    pod = {
        "metadata": {"namespace": ns, "name": name, "uid": f"uid-{name}"},
        "spec": {"containers": [{"name": "c", "securityContext": {"privileged": True}}]},
    }
    f = classify(pod, build_policy("cks"))
    f.owner, f.action = owner, action
    return f


def test_scan_options_defaults_exclude_kube_system():
    opts = ScanOptions.from_params(params())
    assert opts.exclude_namespaces == ["kube-system"] and opts.profile == "cks" and opts.checks is None
    assert opts.exempt_label == "pod-compliance.nodesec.io/exempt"
    assert ScanOptions.from_params(params(exempt_label="")).exempt_label is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_deletions": -1}, "max_deletions"),
        ({"parallelism": 0}, "parallelism"),
        ({"grace_period": -5}, "grace_period"),
    ],
)
def test_delete_options_rejects_nonsense(overrides, message):
    with pytest.raises(ValueError, match=message):
        DeleteOptions.from_params(params(**overrides), check_mode=False)


def test_page_size_must_be_positive():
    with pytest.raises(ValueError, match="page_size"):
        ScanOptions.from_params(params(page_size=0))


@pytest.mark.parametrize(
    ("labels", "exempt"),
    [
        ({"pod-compliance.nodesec.io/exempt": "true"}, True),
        ({"pod-compliance.nodesec.io/exempt": "True"}, True),
        ({"pod-compliance.nodesec.io/exempt": "no"}, False),
        ({}, False),
    ],
)
def test_is_exempt(labels, exempt):
    assert is_exempt({"metadata": {"labels": labels}}, "pod-compliance.nodesec.io/exempt") is exempt
    assert is_exempt({"metadata": {"labels": labels}}, None) is False


def test_owner_warnings_one_per_owner_and_capped():
    web = Owner("Deployment", "web", "shop", ("ReplicaSet/web-1", "Deployment/web"))
    findings = [finding("shop", "web-1-a", web), finding("shop", "web-1-b", web), finding("shop", "bare")]
    assert owner_warnings(findings) == [
        "Pod shop/web-1-a (and 1 more pods) is owned by Deployment shop/web: its controller will recreate it; "
        "fix the pod template of Deployment shop/web"
    ]
    many = [finding("ns", f"p{i}", Owner("StatefulSet", f"s{i:02d}", "ns", ())) for i in range(MAX_OWNER_WARNINGS + 5)]
    out = owner_warnings(many)
    assert len(out) == MAX_OWNER_WARNINGS + 1 and out[-1].startswith("... and 5 more owners")


def test_deletion_diff_same_shape_in_check_and_real_mode():
    real = Report("cks", ())
    check = Report("cks", ())
    for action_real, action_check, name in (
        ("deleted", "would_delete", "a"),
        ("already_gone", "already_gone", "b"),
        ("exempt", "exempt", "c"),
    ):
        real.add(finding("ns", name, action=action_real))
        check.add(finding("ns", name, action=action_check))
    assert (
        deletion_diff(real, False)
        == deletion_diff(check, True)
        == {"before": {"pods": ["ns/a"]}, "after": {"pods": []}}
    )


def test_too_many_deletions_message_lists_pods():
    exc = TooManyDeletionsError(12, 10, [f"ns/p{i:02d}" for i in range(12)])
    assert str(exc).startswith("Refusing to delete 12 pods: more than max_deletions=10. Nothing was deleted.")
    assert str(exc).endswith("ns/p09 and 2 more")


def test_write_file_atomic_reports_change_once(tmp_path):
    target = tmp_path / "reports" / "r.json"
    assert write_file_atomic(str(target), "one\n") is True
    assert write_file_atomic(str(target), "one\n") is False
    assert write_file_atomic(str(target), "two\n") is True
    assert target.read_text() == "two\n"
    assert [p.name for p in target.parent.iterdir()] == ["r.json"]
