"""The audit_logging role on the kubeadm lab's cp1, under its real kubelet: what must not break.

1. Two runs of the role at once on one node serialise on the node's lock: B, started while A
   holds it, waits, then changes A's result (B's backup is A's manifest: nothing lost), and the
   API server runs B's manifest; C, started at the same time with a lock timeout of 3 s, fails
   naming the holder and changes nothing (and does not release A's lock).
2. The play SIGKILLed while the manifest module runs on the node (the controller's processes
   and the module's on the node, at two moments): the manifest is the old one or the new one,
   never torn; when it is the new one, the backup of the old one is there; no stray file in the
   manifests folder (the writer's temporary file lives in its parent); the killed run's lock is
   left, a later run names it, and once it is removed the role converges again.
3. cp1 has no network (the lab's nodes reach nothing outside their namespace): with the
   libraries present the role needs none (the package task is skipped), and
   backups beyond audit_logging_backup_keep are removed, all outside the policy and manifests
   folders.
NODESEC_KUBEADM_LAB=0 skips.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import ansible_adhoc
import pytest
import yaml
from audit_lab import BACKUPS, CP, MANIFEST, node, run_role, start_role

pytestmark = [
    pytest.mark.integration,
    pytest.mark.kubeadm_lab,
    pytest.mark.skipif(os.environ.get("NODESEC_KUBEADM_LAB") == "0", reason="NODESEC_KUBEADM_LAB=0"),
]

MANIFESTS = ["etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"]
LOCK = "/run/lock/nodesec-audit-logging"
PATCH_TASK = "Patch the kube-apiserver static-pod manifest (backup outside the manifests folder)"
LOCK_TASK = "Take the node's audit logging lock (wait while another run holds it)"


def manifest() -> str:
    return node("cat", MANIFEST)


def flags(text: str) -> dict:
    doc = yaml.safe_load(text)
    (container,) = [c for c in doc["spec"]["containers"] if c["name"] == "kube-apiserver"]
    return dict(arg[2:].split("=", 1) for arg in container["command"][1:] if arg.startswith("--"))


def lock_holder() -> dict | None:
    out = subprocess.run(
        ["docker", "exec", CP, "cat", f"{LOCK}/owner.json"], capture_output=True, text=True, check=False
    )
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout else None


def wait_for(what: str, predicate, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def serving(text: str) -> bool:
    """The running kube-apiserver is the one of manifest ``text`` (its audit flags) and ready."""
    out = node("sh", "-c", "tr '\\0' ' ' </proc/$(pgrep -xo kube-apiserver)/cmdline", check=False)
    return f"--audit-log-maxage={flags(text)['audit-log-maxage']} " in out + " "


def wait_settled(lab, timeout: float = 180) -> None:
    """The kubelet has finished with the manifest on disk: its API server runs and is ready."""
    wait_for("the kubelet to run the API server of the manifest on disk", lambda: serving(manifest()), timeout, 1)
    lab.wait_ready(timeout)


def cks_task_in_place() -> None:
    """The CKS task's audit flags in the manifest, which the tests below change from: the role
    puts them in place when they are missing (a test run alone, on a lab no test ran on yet)."""
    if "audit-log-maxage" not in flags(manifest()):
        placed = run_role()
        assert placed.returncode == 0, placed.explain()


def test_two_runs_at_once_serialise_on_the_node_lock(kubeadm_lab):
    base = run_role()  # the CKS task in place (no change when it already is)
    assert base.returncode == 0, base.explain()
    original = manifest()
    assert flags(original)["audit-log-maxage"] == "10" and flags(original)["audit-log-maxbackup"] == "2"

    a = start_role({"audit_logging_log_maxage": 11})
    holder_a = wait_for("run A to take the lock", lock_holder, 120)
    b = start_role({"audit_logging_log_maxbackup": 3})
    c = start_role({"audit_logging_log_maxsize": 200, "audit_logging_lock_timeout": 3})
    rc, ra, rb = c.wait(), a.wait(), b.wait()  # in the order they end (a run's seconds end at wait)

    # C gave up at its 3 s deadline, named the holder and changed nothing.
    assert rc.returncode != 0
    assert "another run of the audit_logging role holds" in rc.messages(), rc.explain()
    assert holder_a["who"] in rc.messages(), rc.explain()
    assert not rc.task_results(PATCH_TASK, "cp1"), "C reached the manifest"
    assert rc.seconds < ra.seconds

    # A then B, each on the other's result.
    assert ra.returncode == 0, ra.explain()
    assert rb.returncode == 0, rb.explain()
    (patch_a,) = ra.task_results(PATCH_TASK, "cp1")
    (patch_b,) = rb.task_results(PATCH_TASK, "cp1")
    assert patch_a["changed"] and patch_b["changed"]
    assert node("cat", patch_a["backup_file"]) == original
    a_result = node("cat", patch_b["backup_file"])  # what B found: A's manifest
    assert flags(a_result)["audit-log-maxage"] == "11" and flags(a_result)["audit-log-maxbackup"] == "2"
    (lock_b,) = rb.task_results(LOCK_TASK, "cp1")
    waited = json.loads(lock_b["stdout"])["waited"]
    assert waited > 10, f"B waited only {waited}s for A (its restart alone takes longer)"

    final = manifest()
    assert flags(final)["audit-log-maxage"] == "10" and flags(final)["audit-log-maxbackup"] == "3"
    running = node("sh", "-c", "tr '\\0' ' ' </proc/$(pgrep -xo kube-apiserver)/cmdline")
    assert "--audit-log-maxbackup=3" in running and "--audit-log-maxage=10" in running
    assert lock_holder() is None, "the lock was not released"
    assert sorted(node("ls", "-A", "/etc/kubernetes/manifests").split()) == MANIFESTS
    assert kubeadm_lab.readyz_ok()


def module_pids(node_ns: str) -> list[int]:
    """The processes of the module Ansible runs on cp1, seen from the host: in cp1's PID namespace
    ``node_ns`` only, the shell Ansible starts for a module (``/bin/sh -c '<python> [AnsiballZ
    file] && sleep 0'``: the file without pipelining, the module on stdin with it) and everything
    under it (the module's Python). Molecule scenarios run beside the integration tests
    (scripts/test.sh) and their nodes run the same module, which must not be killed. Called at
    the moment of the manifest module (its payload is unpacked on cp1), when the role's play on
    cp1 runs no other task."""
    parent: dict[int, int] = {}
    shells = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "ns" / "pid") != node_ns:
                continue
            stat = (entry / "stat").read_text()
            parent[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            if b"&& sleep 0" in (entry / "cmdline").read_bytes():
                shells.add(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    found = set(shells)
    while children := {pid for pid, ppid in parent.items() if ppid in found} - found:
        found |= children
    return sorted(found)


def module_payloads(root: Path) -> list[str]:
    """The manifest module's payload directories in cp1's /tmp (AnsiballZ unpacks the module
    there, pipelined or not, before it runs it, and removes it when the module ends)."""
    try:
        return [n for n in os.listdir(root / "tmp") if "static_pod_manifest_payload_" in n]
    except OSError:
        return []


def node_root() -> Path:
    """cp1's root filesystem as the host sees it (polled without a docker exec per look)."""
    pid = subprocess.run(
        ["docker", "inspect", "--format", "{{.State.Pid}}", CP], capture_output=True, text=True, check=True
    ).stdout.strip()
    return Path(f"/proc/{pid}/root")


def node_pid_namespace() -> str:
    """cp1's PID namespace, as /proc/<pid>/ns/pid reads (``pid:[inode]``)."""
    return os.readlink(node_root().parent / "ns" / "pid")


def kill_everything(run: ansible_adhoc.RunningPlaybook, node_ns: str) -> None:
    """SIGKILL the play on the controller and the module on the node, and keep killing for 2 s
    any module process still starting (the node's shell may be about to exec it)."""
    run.kill()
    end = time.monotonic() + 2
    while time.monotonic() < end:
        for pid in module_pids(node_ns):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.005)


# Two moments: as soon as the module's payload is unpacked on the node (its Python runs; it
# reads and parses the manifest next), and as soon as its backup of the manifest appears (the
# write comes next).
@pytest.mark.parametrize("moment", ["module-started", "backup-written"])
def test_sigkill_while_writing_leaves_old_or_new_manifest_and_a_backup(kubeadm_lab, moment):
    cks_task_in_place()
    wait_settled(kubeadm_lab)
    node("rm", "-rf", LOCK)  # a lock left by an earlier parameter's killed run
    before = manifest()
    root = node_root()
    backups = root / BACKUPS.lstrip("/")
    node_ns = node_pid_namespace()
    backups_before = set(node("ls", BACKUPS).split())
    maxage = {"module-started": "20", "backup-written": "21"}[moment]
    if flags(before)["audit-log-maxage"] == maxage:
        maxage = str(int(maxage) + 10)

    def backup_appeared() -> bool:
        return any(n.startswith("kube-apiserver.yaml.") for n in set(os.listdir(backups)) - backups_before)

    run = start_role({"audit_logging_log_maxage": int(maxage)})
    try:
        started = (lambda: module_payloads(root)) if moment == "module-started" else backup_appeared
        wait_for(f"the moment {moment}", started, 120, 0.001)
    finally:
        kill_everything(run, node_ns)
    run.wait(60)

    after = manifest()
    assert after == before or flags(after)["audit-log-maxage"] == maxage, after
    yaml.safe_load(after)  # whole YAML either way
    assert sorted(node("ls", "-A", "/etc/kubernetes/manifests").split()) == MANIFESTS
    new_backups = set(node("ls", BACKUPS).split()) - backups_before
    if after != before or moment == "backup-written":
        assert [node("cat", f"{BACKUPS}/{b}") for b in new_backups if b.startswith("kube-apiserver.yaml.")] == [before]

    # The killed run's lock stays: a run now names it and changes nothing ...
    holder = lock_holder()
    assert holder is not None
    blocked = run_role({"audit_logging_lock_timeout": 2})
    assert blocked.returncode != 0 and holder["who"] in blocked.messages(), blocked.explain()
    assert manifest() == after
    # ... until it is removed (or its lease ends): then the role converges again.
    node("rm", "-rf", LOCK)
    wait_settled(kubeadm_lab)
    again = run_role({"audit_logging_log_maxage": int(maxage)})
    assert again.returncode == 0, again.explain()
    assert flags(manifest())["audit-log-maxage"] == maxage
    wait_settled(kubeadm_lab)


def test_air_gapped_node_needs_no_network_and_backups_are_pruned(kubeadm_lab):
    # cp1 reaches nothing outside the lab: no name service, no route to the Debian mirror.
    probe = node(
        "python3", "-c",
        "import socket\ntry:\n socket.create_connection(('deb.debian.org', 80), timeout=3)\n print('reached')\n"
        "except OSError as e:\n print('unreachable', e)",
    )  # fmt: skip
    assert probe.startswith("unreachable"), probe
    wait_settled(kubeadm_lab)
    assert run_role().returncode == 0  # the CKS task in place
    # Two old backups of each file (the role orders them by mtime): keep 1 removes both.
    for name in ("kube-apiserver.yaml", "policy.yaml"):
        for day in (1, 2):
            path = f"{BACKUPS}/{name}.2000010{day}T000000.000000Z.bak"
            node("sh", "-c", f"cp {MANIFEST} {path} && touch -d 2000-01-0{day} {path}")
    start = time.monotonic()
    run = run_role({"audit_logging_install_dependencies": True, "audit_logging_backup_keep": 1})
    seconds = time.monotonic() - start
    assert run.returncode == 0, run.explain()
    (install,) = run.task_results("Install the Python YAML library the manifest module needs", "cp1")
    assert install.get("skipped"), install
    (patch,) = run.task_results(PATCH_TASK, "cp1")
    assert not patch["changed"], patch
    # no time limit here (speed is for bench/): skipped install and no network wait are asserted
    # above; the duration is printed for the log (about 40 s on a quiet machine, 64 s at load 10)
    print(f"air-gapped run: {seconds:.0f} s")
    kept = node("ls", BACKUPS).split()
    assert len([b for b in kept if b.startswith("kube-apiserver.yaml.")]) == 1, kept
    assert len([b for b in kept if b.startswith("policy.yaml.")]) == 1, kept
    assert not [b for b in kept if ".20000101T" in b], kept
    assert node("ls", "-A", "/etc/kubernetes/audit").split() == ["policy.yaml"]
    assert sorted(node("ls", "-A", "/etc/kubernetes/manifests").split()) == MANIFESTS
