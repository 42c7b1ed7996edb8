"""Rules, profiles and security-context merging, over a corpus of real workload pod specs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.rules import (
    PROFILES,
    RULES,
    UnknownCheckError,
    build_policy,
    containers_of,
    describe_rules,
    effective_security_context,
    evaluate,
)

# What restricted finds in a pod that sets none of its fields (root, escalation, capabilities, seccomp).
RESTRICTED_BARE = ("run_as_root", "privilege_escalation_not_disabled", "capabilities_restricted", "seccomp_not_set")

CORPUS = {
    doc["metadata"]["name"]: doc
    for doc in yaml.safe_load((Path(__file__).parent / "fixtures" / "pods.yaml").read_text())["items"]
    if doc
}

# (pod, profile, checks) -> (stateless, immutable, rules violated)
EXPECTED = [
    ("ingress-nginx-controller-6b7f6c8d9-x2k4p", "cks", None, True, True, set()),
    ("ingress-nginx-controller-6b7f6c8d9-x2k4p", "baseline", None, True, True, set()),
    ("ingress-nginx-controller-6b7f6c8d9-x2k4p", "restricted", None, True, True, set()),
    (
        "ingress-nginx-controller-6b7f6c8d9-x2k4p",
        "cks",
        ["+writable_root_filesystem"],
        False,
        False,
        {"writable_root_filesystem"},
    ),
    ("calico-node-7m2xq", "cks", None, False, False, {"writable_volume", "privileged", "host_namespaces"}),
    (
        "calico-node-7m2xq",
        "baseline",
        None,
        False,
        False,
        {"writable_volume", "privileged", "host_namespaces", "host_path_volume"},
    ),
    (
        "calico-node-7m2xq",
        "restricted",
        None,
        False,
        False,
        {
            "writable_volume",
            "privileged",
            "host_namespaces",
            "restricted_volume_types",  # overrides hostPathVolumes at restricted (PodSecurity)
            "privilege_escalation_not_disabled",
            "capabilities_restricted",
            "seccomp_not_set",
            "run_as_root",
        },
    ),
    (  # cilium runs its agent as SELinux spc_t (a super privileged container): issue 12
        "cilium-5qz8w",
        "cks",
        None,
        False,
        False,
        {"writable_volume", "added_capabilities", "host_namespaces", "selinux_unconfined"},
    ),
    (
        "cilium-5qz8w",
        "baseline",
        None,
        False,
        False,
        {
            "writable_volume",
            "added_capabilities",
            "host_namespaces",
            "host_path_volume",
            "selinux_options",
            "apparmor_unconfined",
        },
    ),
    # Read-only hostPath mounts only: stateless except under cks, where host namespaces count.
    # node-exporter mounts the host's / read-only: it still gives the container the node (issue 12)
    ("prometheus-node-exporter-4hxz9", "cks", None, False, False, {"host_namespaces", "host_path_node_access"}),
    (
        "prometheus-node-exporter-4hxz9",
        "baseline",
        None,
        True,
        False,
        {"host_namespaces", "host_ports", "host_path_volume"},
    ),
    ("postgresql-0", "cks", None, False, True, {"writable_volume"}),
    ("postgresql-0", "restricted", None, False, True, {"writable_volume"}),
    ("web-plain-7c9f8b6d5-abcde", "cks", None, True, True, set()),
    ("web-plain-7c9f8b6d5-abcde", "baseline", None, True, True, set()),
    (
        "web-plain-7c9f8b6d5-abcde",
        "restricted",
        None,
        True,
        False,
        {"privilege_escalation_not_disabled", "capabilities_restricted", "seccomp_not_set", "run_as_root"},
    ),
    ("web-plain-7c9f8b6d5-abcde", "cks", ["+writable_root_filesystem"], False, False, {"writable_root_filesystem"}),
    ("web-readonly-5d4c3b2a1-fghij", "cks", None, False, True, {"writable_volume"}),
    ("web-readonly-5d4c3b2a1-fghij", "cks", ["+writable_root_filesystem"], False, True, {"writable_volume"}),
    ("web-readonly-5d4c3b2a1-fghij", "restricted", None, False, True, {"writable_volume"}),
    ("static-site", "cks", None, True, True, set()),
    ("static-site", "restricted", ["+writable_root_filesystem"], True, True, set()),
    ("db-backup-28841234-q7w2e", "cks", None, False, True, {"writable_volume"}),
    ("schema-migrate-8k2lm", "cks", None, True, True, set()),
    ("schema-migrate-8k2lm", "baseline", None, True, True, set()),
    ("elasticsearch-master-0", "cks", None, False, False, {"writable_volume", "privileged"}),
    ("elasticsearch-master-0", "restricted", None, False, False, {"writable_volume", "privileged", *RESTRICTED_BARE}),
    ("api-debugged", "cks", None, False, False, {"privileged"}),
    ("api-debugged", "baseline", None, True, False, {"privileged"}),
    ("override-root", "cks", None, False, False, {"privilege_escalation", "added_capabilities"}),
    (
        "override-root",
        "baseline",
        None,
        True,
        False,
        # allowPrivilegeEscalation is a restricted check in PodSecurity, not baseline (issue 12)
        {"added_capabilities", "seccomp_unconfined"},
    ),
    (
        "override-root",
        "restricted",
        None,
        True,
        False,
        # restricted overrides the baseline capability and seccomp checks, as PodSecurity does
        set(RESTRICTED_BARE),
    ),
    ("kube-apiserver-cp1", "cks", None, False, False, {"host_namespaces"}),
    ("render-worker", "cks", None, False, True, {"writable_volume"}),
    (
        "render-worker",
        "restricted",
        None,
        False,
        False,
        {"writable_volume", "restricted_volume_types", "capabilities_restricted", "seccomp_not_set", "run_as_root"},
    ),
    # An explicit list replaces the profile's rules.
    ("calico-node-7m2xq", "cks", ["host_namespaces"], False, False, {"host_namespaces"}),
    (
        "calico-node-7m2xq",
        "baseline",
        ["-writable_volume", "-host_path_volume"],
        True,
        False,
        {"privileged", "host_namespaces"},
    ),
]


@pytest.mark.parametrize(
    ("pod", "profile", "checks", "stateless", "immutable", "rules"),
    EXPECTED,
    ids=[f"{e[0]}-{e[1]}-{','.join(e[2] or [])}" for e in EXPECTED],
)
def test_corpus_verdicts(pod, profile, checks, stateless, immutable, rules):
    verdict = evaluate(CORPUS[pod], build_policy(profile, checks))
    assert set(verdict.rules) == rules, [v.reason for v in verdict.violations]
    assert (verdict.stateless, verdict.immutable) == (stateless, immutable)
    assert verdict.compliant == (not rules)


def reasons(pod, profile="cks", checks=None, rule=None):
    verdict = evaluate(CORPUS[pod], build_policy(profile, checks))
    return [v.reason for v in verdict.violations if rule is None or v.rule == rule]


def test_service_account_token_configmap_secret_never_count():
    # Every pod has the projected token; the migration job mounts a secret read-write.
    assert reasons("web-plain-7c9f8b6d5-abcde") == []
    assert reasons("schema-migrate-8k2lm") == []


def test_writable_volume_reasons_name_container_volume_and_field():
    got = reasons("calico-node-7m2xq", rule="writable_volume")
    assert (
        "container 'calico-node' mounts hostPath volume 'var-lib-calico' read-write at /var/lib/calico "
        "(spec.containers[0].volumeMounts[3].readOnly is not true)" in got
    )
    assert any(r.startswith("init container 'install-cni' mounts hostPath volume 'cni-bin-dir'") for r in got)
    # read-only mounts are not reported
    assert not any("lib-modules" in r or "nodeproc" in r for r in got)
    assert len(got) == 6


def test_read_only_at_volume_source_is_respected():
    got = reasons("db-backup-28841234-q7w2e", rule="writable_volume")
    assert got == [
        "container 'pg-dump' mounts emptyDir volume 'scratch' read-write at /scratch "
        "(spec.containers[0].volumeMounts[1].readOnly is not true)"
    ]
    got = reasons("render-worker", rule="writable_volume")
    assert len(got) == 1 and "ephemeral volume 'scratch'" in got[0]


def test_privileged_init_and_ephemeral_containers_are_found():
    assert reasons("elasticsearch-master-0", rule="privileged") == [
        "init container 'configure-sysctl': spec.initContainers[0].securityContext.privileged is true"
    ]
    assert reasons("api-debugged", rule="privileged") == [
        "ephemeral container 'debugger-8xk2p': spec.ephemeralContainers[0].securityContext.privileged is true"
    ]


def test_capabilities_normalised_and_baseline_set_allowed():
    got = reasons("override-root", rule="added_capabilities")
    assert got == [
        "container 'sidecar': spec.containers[1].securityContext.capabilities.add has NET_ADMIN beyond the baseline set"
    ]
    cilium = reasons("cilium-5qz8w", rule="added_capabilities")
    assert "SYS_ADMIN, SYS_PTRACE" in cilium[0] and "SYS_CHROOT" not in cilium[0]
    assert "NET_ADMIN, NET_RAW, IPC_LOCK, SYS_MODULE, SYS_ADMIN, SYS_RESOURCE beyond" in cilium[1]


def test_host_namespace_reasons():
    assert reasons("prometheus-node-exporter-4hxz9", rule="host_namespaces") == [
        "pod: spec.hostNetwork is true",
        "pod: spec.hostPID is true",
    ]


def test_kubelet_merge_container_wins_pod_fills_inherited_fields():
    pod_sc = {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}, "fsGroup": 2000}
    merged = effective_security_context(pod_sc, {"runAsUser": 0, "privileged": False})
    assert merged == {
        "runAsUser": 0,
        "privileged": False,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    # fsGroup and sysctls stay pod-level; privileged/capabilities never come from the pod.
    assert effective_security_context({"privileged": True, "sysctls": []}, None) == {}


def test_restricted_merge_uses_pod_level_defaults():
    # restricted reads the pod as PodSecurity does and says what the API server would say
    got = reasons("override-root", "restricted", rule="run_as_root")
    assert got == ['runAsUser=0 (container "app" must not set runAsUser=0)']
    got = reasons("override-root", "restricted", rule="seccomp_not_set")
    assert got == [
        'seccompProfile (container "sidecar" must not set securityContext.seccompProfile.type to "Unconfined")'
    ]
    checks = {v.rule: v.pss_check for v in evaluate(CORPUS["override-root"], build_policy("restricted")).violations}
    assert checks["run_as_root"] == "runAsUser" and checks["seccomp_not_set"] == "seccompProfile_restricted"


def test_containers_order_and_paths():
    got = [(c.kind, c.path, c.name) for c in containers_of(CORPUS["calico-node-7m2xq"])]
    assert got == [
        ("init container", "spec.initContainers[0]", "install-cni"),
        ("init container", "spec.initContainers[1]", "mount-bpffs"),
        ("container", "spec.containers[0]", "calico-node"),
    ]


def test_cks_privilege_breaks_statelessness_only_in_cks():
    cks = evaluate(CORPUS["api-debugged"], build_policy("cks"))
    assert cks.violations[0].categories == ("immutable", "stateless")
    base = evaluate(CORPUS["api-debugged"], build_policy("baseline"))
    assert base.violations[0].categories == ("immutable",)


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        (["nope"], "Unknown check(s) nope"),
        (["+nope"], "Unknown check(s) nope"),
        (["privileged", "+host_ports"], "not both"),
    ],
)
def test_build_policy_rejects_bad_checks(checks, message):
    with pytest.raises(UnknownCheckError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_policy("cks", checks)


def test_build_policy_unknown_profile():
    with pytest.raises(UnknownCheckError, match="Unknown profile 'pss'"):
        build_policy("pss")


def test_profiles_reference_known_rules_and_catalogue_is_documented():
    for profile in PROFILES.values():
        assert set(profile.rules) <= set(RULES)
    catalogue = {r["id"]: r for r in describe_rules()}
    assert set(catalogue) == set(RULES)
    for rule in catalogue.values():
        assert rule["references"] and rule["description"]
    assert catalogue["privileged"]["profiles"] == ["baseline", "cks", "restricted"]
    assert catalogue["writable_root_filesystem"]["profiles"] == []
    assert any("CIS 5.2.2" in ref for ref in catalogue["privileged"]["references"])


def test_minimal_pod_without_spec_fields():
    pod = {"metadata": {"name": "bare"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    assert evaluate(pod, build_policy("cks")).compliant
    # A volume without a source is an emptyDir.
    pod["spec"]["volumes"] = [{"name": "v"}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "v", "mountPath": "/v"}]
    assert evaluate(pod, build_policy("cks")).rules == ("writable_volume",)


@pytest.mark.parametrize(
    ("path", "flagged"),
    [
        ("/", True),
        ("//", True),
        ("/var/run/docker.sock", True),
        ("/run/containerd/containerd.sock", True),
        ("/var/run/containerd/", True),
        ("/run", True),
        ("/var/run/crio/crio.sock", True),
        ("/run/../run/docker.sock", True),
        ("/var/log", False),
        ("/run/containerd/io.containerd.runtime.v2.task", False),
        ("/etc/kubernetes/pki", False),
    ],
)
def test_cks_flags_host_root_and_runtime_sockets_read_only_or_not(path, flagged):
    for read_only in (True, False):
        p = {
            "metadata": {"name": "p"},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "x",
                        "volumeMounts": [{"name": "h", "mountPath": "/h", "readOnly": read_only}],
                    }
                ],
                "volumes": [{"name": "h", "hostPath": {"path": path}}],
            },
        }
        verdict = evaluate(p, build_policy("cks"))
        assert ("host_path_node_access" in verdict.rules) is flagged, verdict.violations
        if flagged:
            assert not verdict.immutable and not verdict.stateless


@pytest.mark.parametrize(("kind", "flagged"), [("spc_t", True), ("unconfined_t", True), ("container_t", False)])
def test_cks_flags_unconfined_selinux_types(kind, flagged):
    p = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {"seLinuxOptions": {"type": kind}}}]},
    }
    assert ("selinux_unconfined" in evaluate(p, build_policy("cks")).rules) is flagged
