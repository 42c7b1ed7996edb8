"""The kubeadm lab (scripts/lab-kubeadm.sh): up gives Ready nodes that run pods; down leaves the machine as found.

One test, the whole life cycle, against the real thing: the lab is taken down first when it
runs (another test module may have brought it up), the host's state is recorded, the lab comes
up (kubeadm init and join, a real kubelet on each node), an nginx pod from the lab's own image
runs on the worker and `kubectl exec nginx -- echo a` answers; then `down`, and the host must be
as recorded: the three sysctls the kubelet sets host-wide, cgroups, mounts, network
namespaces, the lab's state folder, no node container left. The Docker engine's own containerd
keeps running. NODESEC_KUBEADM_LAB=0 skips.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.kubeadm_lab,
    pytest.mark.skipif(os.environ.get("NODESEC_KUBEADM_LAB") == "0", reason="NODESEC_KUBEADM_LAB=0"),
]

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "scripts" / "lab-kubeadm.sh"
SYSCTLS = ("vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops")
CONTAINERS = ("nodesec-kcp1", "nodesec-knode1")


def lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(LAB), *args], capture_output=True, text=True, check=False, timeout=1200)


def docker_names() -> list[str]:
    out = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True, check=True)
    return out.stdout.split()


def host_state() -> dict:
    cgroups = sorted(
        str(p)
        for m in Path("/sys/fs/cgroup").iterdir()
        if m.is_dir() and not m.is_symlink()
        for p in m.glob("nodesec-lab*")
    )
    # Only what the lab could leave (other containers come and go on a shared machine).
    mounts = sorted(
        target
        for target in (line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines())
        if "nodesec-lab" in target or "/.lab/kubeadm" in target or target.startswith("/run/netns")
    )
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {
        "sysctls": {
            s: subprocess.run(["sysctl", "-n", s], capture_output=True, text=True, check=True).stdout.strip()
            for s in SYSCTLS
        },
        "cgroups": cgroups,
        "mounts": mounts,
        "netns": sorted(line.split()[0] for line in netns.splitlines() if line.strip()),
        "state_dir": (REPO / ".lab" / "kubeadm").exists(),
        "containers": [c for c in docker_names() if c in CONTAINERS],
    }


def dockers_containerd() -> str:
    return subprocess.run(["pgrep", "-xo", "containerd"], capture_output=True, text=True, check=False).stdout.strip()


def test_lab_up_runs_pods_and_down_restores_the_host():
    if lab("status").returncode == 0 or host_state()["containers"]:
        down = lab("down")
        assert down.returncode == 0, down.stderr[-3000:]
    before = host_state()
    engine_containerd = dockers_containerd()
    assert not before["cgroups"] and not before["state_dir"] and "nodesec-lab" not in before["netns"]

    up = lab("up")
    assert up.returncode == 0, up.stderr[-4000:]
    try:
        kubeconfig = lab("env").stdout.strip().split("=", 1)[1]
        bin_dir = subprocess.run(
            ["bash", str(REPO / "scripts" / "k8s-binaries.sh")], capture_output=True, text=True, check=True,
            env={**os.environ, "K8S_NODE": "1"},
        ).stdout.strip()  # fmt: skip
        kubectl = [f"{bin_dir}/kubectl", "--kubeconfig", kubeconfig]

        def k(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*kubectl, *args], capture_output=True, text=True, check=False, timeout=120)

        nodes = k("get", "nodes", "--no-headers").stdout.split("\n")
        assert sorted(line.split()[:2] for line in nodes if line) == [["cp1", "Ready"], ["node1", "Ready"]]
        assert k("run", "nginx", "--image=nodesec.local/nginx:1.22", "--image-pull-policy=Never").returncode == 0
        ready = k("wait", "--for=condition=Ready", "pod/nginx", "--timeout=90s")
        assert ready.returncode == 0, ready.stderr + k("describe", "pod", "nginx").stdout
        assert k("exec", "nginx", "--", "echo", "a").stdout == "a\n"
        pod = k("get", "pod", "nginx", "-o", "jsonpath={.spec.nodeName} {.status.podIP}").stdout.split()
        assert pod[0] == "node1" and pod[1].startswith("10.244.1.")
        # While the lab runs its cgroups and its network namespace exist.
        during = host_state()
        assert during["cgroups"] and "nodesec-lab" in during["netns"]
    finally:
        down = lab("down")
    assert down.returncode == 0, down.stderr[-3000:]
    after = host_state()
    assert after == before
    assert dockers_containerd() == engine_containerd  # the engine's containerd is untouched
