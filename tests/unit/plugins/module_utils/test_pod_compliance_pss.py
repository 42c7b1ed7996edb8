"""pod_compliance.pss: the readings of the Pod Security Standards issue 12 found wrong, by version.

The whole of the standard is held to the real API server by tests/integration/test_pss_oracle.py;
these are the known cases, fast and without a server.
"""

from __future__ import annotations

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance import pss
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.rules import build_policy, evaluate


def pod(spec=None, container=None, **meta):
    c = {"name": "c", "image": "x", **(container or {})}
    return {"metadata": {"name": "p", **meta}, "spec": {"containers": [c], **(spec or {})}}


def ids(p, level="baseline", version=pss.LATEST):
    return [r.check for r in pss.evaluate(p, level, version)]


@pytest.mark.parametrize("cap", ["chown", "CAP_CHOWN", "SYS_ADMIN"])
def test_capabilities_are_literal_strings(cap):
    assert ids(pod(container={"securityContext": {"capabilities": {"add": [cap]}}})) == ["capabilities_baseline"]
    assert ids(pod(container={"securityContext": {"capabilities": {"add": ["CHOWN"]}}})) == []


def test_probe_and_lifecycle_hosts_from_1_34():
    p = pod(container={"livenessProbe": {"httpGet": {"port": 80, "host": "10.0.0.1"}},
                       "lifecycle": {"preStop": {"tcpSocket": {"port": 80, "host": "node"}}}})  # fmt: skip
    assert ids(p, version=(1, 33)) == []
    [result] = pss.evaluate(p, "baseline", (1, 34))
    assert result.check == "hostProbesAndHostLifecycle"
    assert result.message == (
        'probe or lifecycle host (container "c" uses probe or lifecycle hosts "10.0.0.1", "node")'
    )


def test_unmasked_proc_mount_with_host_users_false():
    p = pod({"hostUsers": False}, {"securityContext": {"procMount": "Unmasked"}})
    assert ids(p, version=(1, 34)) == ["procMount"]
    assert ids(p, version=(1, 35)) == []
    assert "procMount_restricted" in ids(p, "restricted", (1, 35))
    assert ids(pod(container={"securityContext": {"procMount": "Unmasked"}}), version=(1, 35)) == ["procMount"]


@pytest.mark.parametrize("name", ["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"])
def test_tcp_mem_sysctls_safe_from_1_32(name):
    p = pod({"securityContext": {"sysctls": [{"name": name, "value": "4096 87380 6291456"}]}})
    assert ids(p, version=(1, 31)) == ["sysctls"]
    assert ids(p, version=(1, 32)) == []


def test_windows_pods_exempt_from_restricted_linux_checks():
    linux = ids(pod({"securityContext": {"runAsNonRoot": True}}), "restricted")
    assert linux == ["allowPrivilegeEscalation", "capabilities_restricted", "seccompProfile_restricted"]
    windows = pod({"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": True}})
    assert ids(windows, "restricted") == []
    assert ids(windows, "restricted", (1, 24)) == linux  # the exemption starts with 1.25


def test_allow_privilege_escalation_is_restricted_only():
    p = pod(container={"securityContext": {"allowPrivilegeEscalation": True}})
    assert ids(p) == []
    assert "allowPrivilegeEscalation" in ids(p, "restricted")
    assert not evaluate(p, build_policy("baseline")).violations


def test_host_users_false_relaxes_run_as_checks_from_1_35():
    p = pod({"hostUsers": False, "securityContext": {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}},
            {"securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}})  # fmt: skip
    assert ids(p, "restricted", (1, 34)) == ["runAsNonRoot", "runAsUser"]
    assert ids(p, "restricted", (1, 35)) == []


def test_violations_name_the_check_and_the_server_message():
    p = pod({"hostNetwork": True}, {"securityContext": {"privileged": True}})
    got = [
        (v.rule, v.pss_check, v.reason) for v in evaluate(p, build_policy("baseline", pss_version="v1.30")).violations
    ]
    assert got == [
        ("privileged", "privileged", 'privileged (container "c" must not set securityContext.privileged=true)'),
        ("host_namespaces", "hostNamespaces", "host namespaces (hostNetwork=true)"),
    ]


@pytest.mark.parametrize("value", ["1.36", "1.22", "2.0", "v1", "1.030", ""])
def test_pss_version_out_of_range_is_refused(value):
    with pytest.raises(pss.PSSVersionError, match="pss_version"):
        build_policy("baseline", pss_version=value)


@pytest.mark.parametrize(("value", "version"), [("latest", (1, 35)), ("v1.27", (1, 27)), ("1.23", (1, 23))])
def test_pss_version_accepted(value, version):
    assert build_policy("restricted", pss_version=value).pss_version == version


def test_restricted_overrides_baseline_checks_by_version():
    assert "procMount" in pss.checks_in_force("restricted", (1, 34))
    assert "procMount" not in pss.checks_in_force("restricted", (1, 35))
    for overridden in ("capabilities_baseline", "seccompProfile_baseline", "hostPathVolumes"):
        assert overridden in pss.checks_in_force("baseline", (1, 35))
        assert overridden not in pss.checks_in_force("restricted", (1, 35))
