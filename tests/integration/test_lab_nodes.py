"""The lab's Docker nodes: systemd as PID 1, kubeadm-style control plane, reachable by Ansible.

Needs root and Docker (the fixture starts the engine, builds the images and the nodes).
"""

from __future__ import annotations

import json
import socket
import subprocess

import pytest
import yaml
from lab_fixtures import KUBEADM_MANIFEST, LabNodes, ensure_lab_nodes, lab_testinfra_hosts

pytestmark = pytest.mark.integration

NODES = ["cp1", "node1"]

MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"
# Units that must never run in a node: they would act on the host through the shared network
# namespace or the host kernel.
HOST_FACING_UNITS = [
    "systemd-networkd.service",
    "systemd-resolved.service",
    "systemd-timesyncd.service",
    "systemd-sysctl.service",
    "systemd-binfmt.service",
    "systemd-udevd.service",
    "getty@tty1.service",
]


# The suite's conftest may provide these too (pytest_plugins = ["lab_fixtures"]); declaring
# them here keeps this module runnable on its own.
@pytest.fixture(name="lab_nodes", scope="module")
def fixture_lab_nodes() -> LabNodes:
    return ensure_lab_nodes()


@pytest.fixture(name="lab_hosts", scope="module")
def fixture_lab_hosts(lab_nodes: LabNodes) -> dict:
    return lab_testinfra_hosts(lab_nodes)


@pytest.mark.parametrize("node", NODES)
def test_systemd_is_pid1_and_running(lab_hosts: dict, node: str) -> None:
    host = lab_hosts[node]
    assert host.file("/proc/1/comm").content_string.strip() == "systemd"
    state = host.run("systemctl is-system-running").stdout.strip()
    # degraded is acceptable in a container; systemctl itself must answer.
    assert state in ("running", "degraded"), state
    assert host.run("systemctl list-units --no-legend --type=service").rc == 0


@pytest.mark.parametrize("node", NODES)
def test_node_identity(lab_hosts: dict, node: str) -> None:
    host = lab_hosts[node]
    assert host.check_output("hostname") == node
    expected = {"cp1": "12", "node1": "13"}[node]
    assert host.system_info.distribution == "debian"
    assert host.system_info.release.split(".")[0] == expected
    assert host.exists("python3")


@pytest.mark.parametrize("node", NODES)
def test_host_facing_units_are_masked(lab_hosts: dict, node: str) -> None:
    host = lab_hosts[node]
    for unit in HOST_FACING_UNITS:
        result = host.run(f"systemctl is-enabled {unit}")
        assert result.stdout.strip() in ("masked", "masked-runtime"), f"{node}: {unit} is {result.stdout.strip()}"


@pytest.mark.parametrize("node", NODES)
def test_container_settings(lab_nodes: LabNodes, node: str) -> None:
    out = subprocess.run(
        ["docker", "container", "inspect", lab_nodes.containers[node]],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    host_config = json.loads(out)[0]["HostConfig"]
    assert host_config["NetworkMode"] == "host"
    assert host_config["Privileged"] is False
    assert host_config["CapAdd"] == ["SYS_ADMIN"] or host_config["CapAdd"] == ["CAP_SYS_ADMIN"]


def test_nodes_leave_host_hostname_alone(lab_nodes: LabNodes) -> None:
    # Each node has its own UTS namespace: systemd in the container sets only its own name.
    assert socket.gethostname() not in lab_nodes.containers


@pytest.mark.parametrize("component", ["kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler"])
def test_control_plane_manifests(lab_hosts: dict, component: str) -> None:
    # As kubeadm writes static pod manifests: 0600 root:root in /etc/kubernetes/manifests.
    host = lab_hosts["cp1"]
    manifest = host.file(f"/etc/kubernetes/manifests/{component}.yaml")
    assert manifest.is_file
    assert manifest.mode == 0o600
    assert (manifest.user, manifest.group) == ("root", "root")
    assert host.file("/etc/kubernetes/manifests").is_directory
    pod = yaml.safe_load(manifest.content_string)
    assert pod["kind"] == "Pod"
    assert pod["metadata"]["name"] == component
    assert pod["spec"]["containers"][0]["command"][0] == component


def test_workers_have_no_control_plane_manifest(lab_hosts: dict) -> None:
    assert not lab_hosts["node1"].file(MANIFEST).exists


def test_manifest_comes_from_kubeadm_test_data(lab_nodes: LabNodes) -> None:
    # The lab installs the committed kubeadm v1.35 manifest; a play may change it later, so
    # compare only what plays do not touch.
    pod = yaml.safe_load(lab_nodes.exec("cp1", "cat", MANIFEST).stdout)
    expected = yaml.safe_load(KUBEADM_MANIFEST.read_text())
    assert pod["spec"]["containers"][0]["image"] == expected["spec"]["containers"][0]["image"]


def test_ansible_ping_over_docker_connection(lab_nodes: LabNodes) -> None:
    result = subprocess.run(
        ["ansible", "-i", str(lab_nodes.inventory), "nodes", "-m", "ansible.builtin.ping"],
        capture_output=True,
        text=True,
        env=lab_nodes.ansible_env(),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for node in NODES:
        assert f"{node} | SUCCESS" in result.stdout, result.stdout
