"""playbooks/capture.yml end to end: offline analysis of a shared capture copied to the node.

The JSON file the playbook saves on the controller must hold the events sysdig itself prints
for the same filter and format. Runs on localhost (this host's sysdig) and on the lab node ``cp1``
(the lab is brought up and sysdig installed there with ``playbooks/sysdig.yml`` first).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
from lab_fixtures import ensure_lab_nodes, ensure_sysdig_on

REPO = Path(__file__).resolve().parents[2]
CURL = (REPO / ".." / "shared" / "testdata" / "scap" / "curl_google.scap").resolve()
SYSDIG = shutil.which("sysdig")
BIN = Path(sys.executable).parent
ANSIBLE_PLAYBOOK = shutil.which("ansible-playbook", path=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
LAB_INVENTORY = REPO / "inventories" / "lab" / "hosts.yml"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(SYSDIG is None, reason="sysdig is not installed on this host (apt-get install -y sysdig)"),
    pytest.mark.skipif(not CURL.is_file(), reason=f"shared test capture missing: {CURL}"),
    pytest.mark.skipif(ANSIBLE_PLAYBOOK is None, reason="ansible-playbook is not on PATH (make venv)"),
]

FILTER = "proc.name=curl and evt.type in (open, connect, execve)"
FORMAT = "*%evt.num\t%user.uid\t%proc.name\t%evt.type\t%fd.name\t%k8s.pod.name"


def env() -> dict:
    e = dict(os.environ)
    e.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
        ANSIBLE_FORCE_COLOR="0",
    )
    return e


def run_capture(out_dir: Path, inventory_args: list, extra: dict) -> subprocess.CompletedProcess:
    extra_vars = {
        "capture_read_file_src": str(CURL),
        "capture_filter": FILTER,
        "capture_format": FORMAT,
        "capture_output_dir": str(out_dir),
        **extra,
    }
    cmd = [ANSIBLE_PLAYBOOK or "ansible-playbook", *inventory_args, str(REPO / "playbooks" / "capture.yml")]
    cmd += ["-e", json.dumps(extra_vars)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=REPO, timeout=600, check=False)


def expected_lines() -> list:
    proc = subprocess.run(
        [SYSDIG or "sysdig", "-r", str(CURL), "-p", FORMAT, FILTER], capture_output=True, text=True, check=True
    )
    return proc.stdout.splitlines()


def check_saved(out_dir: Path, host: str, expected: Optional[list] = None) -> dict:
    files = sorted(out_dir.glob(f"{host}-*.json"))
    assert len(files) == 1, list(out_dir.iterdir())
    record = json.loads(files[0].read_text())
    rebuilt = ["\t".join("<NA>" if e[k] is None else e[k] for k in record["fields"]) for e in record["events"]]
    assert rebuilt == (expected if expected is not None else expected_lines())
    assert record["event_count"] == len(rebuilt) > 0
    assert record["truncated"] is False and record["unparsed_count"] == 0
    assert record["filter"] == FILTER and record["format"] == FORMAT
    assert record["fields"] == ["evt.num", "user.uid", "proc.name", "evt.type", "fd.name", "k8s.pod.name"]
    counted = {(r["user.uid"], r["proc.name"]): r["count"] for r in record["summary"]}
    assert sum(counted.values()) == record["event_count"]
    return record


def test_capture_playbook_on_localhost_saves_what_sysdig_prints(tmp_path):
    inventory = ["-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}"]
    proc = run_capture(tmp_path, inventory, {"capture_hosts": "localhost"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = check_saved(tmp_path, "localhost")
    assert record["host"] == "localhost"
    assert record["read_file"] == "/var/tmp/nodesec-capture-curl_google.scap"
    # the play output summarises: event count and "count x fields" lines
    assert f"localhost: {record['event_count']} events" in proc.stdout
    top = record["summary"][0]
    assert f"{top['count']} x " in proc.stdout


def test_capture_playbook_refuses_an_empty_request(tmp_path):
    cmd = [
        ANSIBLE_PLAYBOOK or "ansible-playbook",
        "-i",
        "localhost,",
        "-c",
        "local",
        str(REPO / "playbooks" / "capture.yml"),
    ]
    cmd += ["-e", json.dumps({"capture_hosts": "localhost", "capture_output_dir": str(tmp_path)})]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=REPO, timeout=300, check=False)
    assert proc.returncode != 0
    assert "Set capture_pod_name" in proc.stdout + proc.stderr
    assert list(tmp_path.iterdir()) == []


def lab_container(host: str):
    inv = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(LAB_INVENTORY), "--host", host],
        capture_output=True,
        text=True,
        env=env(),
        check=False,
    )
    return json.loads(inv.stdout).get("ansible_host", host) if inv.returncode == 0 else None


@pytest.mark.skipif(shutil.which("docker") is None, reason="docker is not installed (scripts/docker-engine.sh)")
def test_capture_playbook_on_the_lab_node(tmp_path):
    """On lab node cp1 (with --limit): the saved events are what sysdig on cp1 prints.

    The lab nodes are brought up and Sysdig is installed on cp1 with playbooks/sysdig.yml first
    (both idempotent), as a user of the lab would do.
    """
    ensure_lab_nodes()
    ensure_sysdig_on("cp1")
    proc = run_capture(tmp_path, ["-i", str(LAB_INVENTORY), "-l", "cp1"], {"capture_hosts": "nodes"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    node_copy = "/var/tmp/nodesec-capture-curl_google.scap"
    on_node = subprocess.run(
        ["docker", "exec", lab_container("cp1"), "sysdig", "-r", node_copy, "-p", FORMAT, FILTER],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    record = check_saved(tmp_path, "cp1", expected=on_node)
    assert record["host"] == "cp1"
    assert not list(tmp_path.glob("node1-*.json"))  # --limit kept the other node out


LIVE_VARS = {
    "capture_hosts": "localhost",
    "capture_pod_name": "nginx",
    "capture_locate_pod": False,
    "capture_duration": 3,
    "capture_save_scap": True,
}


def _run_live(out_dir: Path, check: bool) -> subprocess.CompletedProcess:
    playbook = str(REPO / "playbooks" / "capture.yml")
    cmd = [ANSIBLE_PLAYBOOK or "ansible-playbook", "-i", "localhost,", "-c", "local", playbook]
    cmd += ["-e", f"ansible_python_interpreter={sys.executable}"]
    cmd += ["-e", json.dumps({**LIVE_VARS, "capture_output_dir": str(out_dir)})]
    if check:
        cmd.append("--check")
    return subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=REPO, timeout=300, check=False)


def test_live_capture_playbook_in_check_mode_validates_and_writes_nothing(tmp_path):
    out = tmp_path / "captures"
    proc = _run_live(out, check=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not out.exists() or list(out.iterdir()) == []
    assert not list(Path("/var/tmp").glob("nodesec-capture-localhost-*.scap"))


@pytest.mark.skipif(os.path.exists("/dev/scap0"), reason="a capture driver is loaded on this host")
def test_live_capture_playbook_without_driver_fails_clearly(tmp_path):
    proc = _run_live(tmp_path, check=False)
    assert proc.returncode != 0
    assert "No Sysdig capture driver is loaded" in proc.stdout + proc.stderr
    assert list(tmp_path.glob("*.json")) == []
