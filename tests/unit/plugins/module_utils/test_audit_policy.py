"""audit_policy: structural errors and the warnings for rules that do not do what they say."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible_collections.nodesec.kubernetes.plugins.module_utils.audit_policy import (
    AuditPolicyError,
    check_policy,
    validate_policy,
)

REPO = Path(__file__).resolve().parents[4]


def _policy(*rules, **extra):
    return {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": list(rules), **extra}


# The user's task, written the way people write it (kubernetes.io example style).
USER_TASK = _policy(
    {
        "level": "None",
        "users": ["system:kube-proxy"],
        "verbs": ["watch"],
        "resources": [{"group": "", "resources": ["endpoints", "services"]}],
    },
    {"level": "RequestResponse", "resources": [{"group": "", "resources": ["namespaces"]}]},
    {
        "level": "Request",
        "resources": [{"group": "", "resources": ["persistentvolumes"]}],
        "namespaces": ["front-apps"],
    },
    {"level": "Metadata", "resources": [{"group": "", "resources": ["secrets", "configmaps"]}]},
    {"level": "Metadata"},
    omitStages=["RequestReceived"],
)


def test_user_task_policy_warns_about_the_persistentvolume_trap():
    errors, warnings = validate_policy(USER_TASK)
    assert errors == []
    assert len(warnings) == 1
    assert "rules[2]" in warnings[0]
    assert "'persistentvolumes' is cluster-scoped" in warnings[0]
    assert "persistentvolumeclaims" in warnings[0]


def test_empty_namespace_makes_cluster_scoped_rule_match():
    policy = copy.deepcopy(USER_TASK)
    policy["rules"][2]["namespaces"] = ["front-apps", ""]
    assert validate_policy(policy) == ([], [])


def test_namespaces_resource_with_namespace_filter_is_not_flagged():
    # GET /api/v1/namespaces/front-apps carries namespace "front-apps": the rule matches.
    assert validate_policy(
        _policy({"level": "Metadata", "namespaces": ["front-apps"], "resources": [{"resources": ["namespaces"]}]})
    ) == ([], [])


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        (
            {
                "level": "Request",
                "namespaces": ["a"],
                "resources": [{"group": "rbac.authorization.k8s.io", "resources": ["clusterroles"]}],
            },
            "'roles'",
        ),
        (
            {"level": "Request", "namespaces": ["a"], "resources": [{"group": "", "resources": ["nodes/status"]}]},
            "drop the namespaces filter",
        ),
        (
            {
                "level": "Request",
                "namespaces": ["a"],
                "resources": [{"group": "storage.k8s.io", "resources": ["storageclasses"]}],
            },
            "cluster-scoped",
        ),
    ],
)
def test_other_cluster_scoped_resources(rule, needle):
    _ignored, warnings = validate_policy(_policy(rule))
    assert len(warnings) == 1 and needle in warnings[0]


def test_same_name_in_another_group_is_not_cluster_scoped():
    rule = {"level": "Request", "namespaces": ["a"], "resources": [{"group": "example.com", "resources": ["nodes"]}]}
    assert validate_policy(_policy(rule)) == ([], [])


def test_rules_after_catch_all():
    _ignored, warnings = validate_policy(
        _policy(
            {"level": "Metadata"},
            {"level": "RequestResponse", "resources": [{"resources": ["namespaces"]}]},
            {"level": "None", "users": ["x"]},
        )
    )
    assert len(warnings) == 2
    assert all("after the catch-all rules[0]" in w for w in warnings)


def test_catch_all_last_is_fine():
    assert validate_policy(_policy({"level": "None", "users": ["x"]}, {"level": "Metadata"})) == ([], [])


@pytest.mark.parametrize(
    ("rules", "expect"),
    [
        ([{"level": "RequestResponse"}], ["secrets", "tokenreviews"]),
        ([{"level": "Request", "resources": [{"group": "", "resources": ["secrets"]}]}], ["secrets"]),
        ([{"level": "Request", "resources": [{"group": ""}]}], ["secrets"]),  # whole core group
        ([{"level": "Request", "resources": [{"group": "", "resources": ["*"]}]}], ["secrets"]),
        ([{"level": "RequestResponse", "users": ["admin"]}], ["secrets", "tokenreviews"]),
        (
            [{"level": "Request", "resources": [{"group": "authentication.k8s.io", "resources": ["tokenreviews"]}]}],
            ["tokenreviews"],
        ),
        # Earlier Metadata rules take every Secret/TokenReview: nothing to warn about.
        (
            [
                {
                    "level": "Metadata",
                    "resources": [
                        {"group": "", "resources": ["secrets"]},
                        {"group": "authentication.k8s.io", "resources": ["tokenreviews"]},
                    ],
                },
                {"level": "RequestResponse"},
            ],
            [],
        ),
        # An earlier rule limited to some users does not protect the others.
        (
            [
                {"level": "Metadata", "users": ["a"], "resources": [{"group": "", "resources": ["secrets"]}]},
                {"level": "Request", "resources": [{"group": "", "resources": ["secrets"]}]},
            ],
            ["secrets"],
        ),
        ([{"level": "Request", "resources": [{"group": "", "resources": ["configmaps"]}]}], []),
        ([{"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]}], []),
        ([{"level": "Request", "nonResourceURLs": ["/healthz*"]}], []),
    ],
)
def test_secrets_and_tokens_at_request_level(rules, expect):
    _ignored, warnings = validate_policy(_policy(*rules))
    found = [w for w in warnings if "would be written to the audit log" in w]
    assert [next(name for name in ("secrets", "tokenreviews") if f" logs {name} " in w) for w in found] == expect


@pytest.mark.parametrize(
    ("policy", "needle"),
    [
        (
            {"apiVersion": "audit.k8s.io/v1beta1", "kind": "Policy", "rules": [{"level": "None"}]},
            "removed in Kubernetes 1.24",
        ),
        (
            {"apiVersion": "audit.k8s.io/v1", "kind": "AuditPolicy", "rules": [{"level": "None"}]},
            "kind: must be 'Policy'",
        ),
        (_policy(), "at least one rule"),
        ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy"}, "at least one rule"),
        (_policy({"level": "Verbose"}), "'Verbose' is not supported"),
        (_policy({"users": ["a"]}), "rules[0].level: required"),
        (_policy({"level": "None", "groups": ["system:nodes"]}), "did you mean 'userGroups'"),
        (_policy({"level": "None", "resource": [{"resources": ["pods"]}]}), "did you mean 'resources'"),
        (_policy({"level": "None", "verbs": "get"}), "rules[0].verbs: must be a list of strings"),
        (_policy({"level": "None", "resources": ["pods"]}), "resources are grouped by API group"),
        (
            _policy({"level": "None", "resources": [{"group": "apps/v1", "resources": ["deployments"]}]}),
            "not an API group name",
        ),
        (_policy({"level": "None", "resources": [{"group": "", "resourcess": ["pods"]}]}), "did you mean 'resources'"),
        (_policy({"level": "None", "nonResourceURLs": ["healthz"]}), "must begin with '/'"),
        (_policy({"level": "None", "nonResourceURLs": ["/a*/b"]}), "may only be the last character"),
        (
            _policy({"level": "None", "nonResourceURLs": ["/a"], "namespaces": ["x"]}),
            "both regular resources and non-resource URLs",
        ),
        (_policy({"level": "None", "omitStages": ["RequestRecieved"]}), "unknown stage 'RequestRecieved'"),
        (_policy({"level": "None"}, omitStages=["Done"]), "omitStages[0]: unknown stage"),
        (_policy({"level": "None"}, omitManagedFields="yes"), "omitManagedFields: must be true or false"),
        (_policy({"level": "None"}, rule=[]), "(policy).rule: unknown field"),
        ("rules: []", "must be a mapping"),
    ],
)
def test_structural_errors(policy, needle):
    errors, warnings = validate_policy(policy)
    assert any(needle in e for e in errors), errors
    assert warnings == []
    with pytest.raises(AuditPolicyError) as info:
        check_policy(policy)
    assert needle in str(info.value)


def test_check_policy_returns_warnings():
    assert len(check_policy(USER_TASK)) == 1


@pytest.mark.parametrize(
    "path",
    sorted((REPO / "roles" / "audit_logging" / "files").glob("*.yaml"))
    + sorted((REPO / "tests" / "testdata" / "audit").glob("*.yaml")),
    ids=lambda p: p.name,
)
def test_shipped_policies_are_clean(path):
    # Policies we ship (the role's raw-file examples) and reference policies must be error and warning free.
    assert validate_policy(yaml.safe_load(path.read_text())) == ([], [])
