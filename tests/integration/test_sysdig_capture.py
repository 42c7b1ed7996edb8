"""nodesec.kubernetes.sysdig_capture end to end, on this host's sysdig, through `ansible`.

The module runs as Ansible runs it (ad-hoc, localhost, the json callback) and reads the real
captures in ../shared/testdata/scap offline. Its parsed events are checked against what
sysdig itself prints for the same filter and format, and against sysdig's own JSON rendering.

Needs: sysdig on the host (CI: `apt-get install -y sysdig`) and the shared test data; each
test skips with the reason when one is missing. No capture driver is needed: live captures
are only used to check the "no driver loaded" failure, and skip where a driver is loaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import ansible_adhoc
import pytest

REPO = Path(__file__).resolve().parents[2]
SCAP_DIR = (REPO / ".." / "shared" / "testdata" / "scap").resolve()
CURL = SCAP_DIR / "curl_google.scap"
IPV6_CONN = SCAP_DIR / "single_ipv6_conn.scap"
IPV6_CLIENT = SCAP_DIR / "test_ipv6_client.scap"
SYSDIG = shutil.which("sysdig")
ANSIBLE = shutil.which("ansible", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))

needs_sysdig = pytest.mark.skipif(
    SYSDIG is None, reason="sysdig is not installed on this host (apt-get install -y sysdig)"
)
needs_data = pytest.mark.skipif(not CURL.is_file(), reason=f"shared test captures missing: {SCAP_DIR}")
needs_ansible = pytest.mark.skipif(ANSIBLE is None, reason="ansible is not on PATH (make venv)")

pytestmark = [pytest.mark.integration, needs_sysdig, needs_ansible]


def run_module(args: dict, check: bool = False) -> dict:
    """Run the module on localhost through `ansible` and return its result."""
    return ansible_adhoc.run_module("sysdig_capture", args, check=check)


def sysdig_lines(*args: str) -> list:
    proc = subprocess.run([SYSDIG or "sysdig", *args], capture_output=True, text=True, timeout=120, check=True)
    return proc.stdout.splitlines()


def rebuild(events: list, keys: list, sep: str) -> list:
    """Print the parsed events back the way sysdig prints them."""
    return [sep.join("<NA>" if e[k] is None else e[k] for k in keys) for e in events]


# --------------------------------------------------------------------------------------------


@needs_data
def test_curl_capture_processes_and_syscalls_match_sysdig():
    """Which processes curl_google.scap shows, and their syscalls, as sysdig counts them."""
    fmt = "*%proc.name\t%evt.type"
    res = run_module({"read_file": str(CURL), "format": fmt})
    assert not res.get("failed"), res
    assert res["changed"] is False and res["captured"] is True and res["truncated"] is False
    ours = Counter((e["proc.name"], e["evt.type"]) for e in res["events"])
    theirs = Counter(tuple(line.split("\t")) for line in sysdig_lines("-r", str(CURL), "-p", fmt))
    assert ours == theirs
    assert {pair[0] for pair in ours} == {"curl"}
    assert {"execve", "open", "connect", "socket"} <= {pair[1] for pair in ours}
    assert res["event_count"] == sum(theirs.values())


@needs_data
@pytest.mark.parametrize(
    ("fmt", "sep"),
    [
        ("*%evt.time,%user.uid,%proc.name", ","),  # the first example
        (r"*%evt.time\t%user.uid\t%proc.name\t%k8s.pod.name\t%container.name", "\t"),  # second, \t as typed
        ("*%evt.num\t%proc.name\t%evt.type\t%fd.name\t%k8s.ns.name", "\t"),  # real tabs, <NA> fields
        ("*%evt.num | %proc.aname[2] | %evt.dir | %evt.type | %fd.name", " | "),
    ],
)
@pytest.mark.parametrize("filt", ["proc.name=curl", "evt.type in (open, connect, execve, socket)"])
def test_events_are_what_sysdig_prints(fmt, sep, filt):
    res = run_module({"read_file": str(CURL), "filter": filt, "format": fmt})
    assert not res.get("failed"), res
    expected = sysdig_lines("-r", str(CURL), "-p", fmt, filt)
    assert res["event_count"] == len(expected) > 0
    assert res["unparsed_count"] == 0
    assert rebuild(res["events"], res["fields"], sep) == expected
    assert res["command"] == [SYSDIG, "-r", str(CURL), "-p", fmt, filt]


@needs_data
def test_missing_fields_are_null_as_in_sysdig_json():
    """<NA> in the text output is null, exactly where sysdig's -j output has null."""
    keys = ["evt.num", "proc.name", "evt.type", "fd.name", "k8s.pod.name", "container.id", "proc.aname[2]"]
    fmt = "*" + ",".join("%" + k for k in keys)
    filt = "evt.type in (open, close, connect)"
    res = run_module({"read_file": str(CURL), "filter": filt, "format": fmt})
    as_json = [json.loads(line) for line in sysdig_lines("-j", "-r", str(CURL), "-p", fmt, filt)]
    expected = [{k: None if o[k] is None else str(o[k]) for k in keys} for o in as_json]
    assert res["events"] == expected
    assert any(e["fd.name"] is None for e in res["events"])
    assert any(e["fd.name"] is not None for e in res["events"])
    assert all(e["k8s.pod.name"] is None for e in res["events"])


@needs_data
@pytest.mark.parametrize("capture", [CURL, IPV6_CONN, IPV6_CLIENT], ids=lambda p: p.name)
def test_default_format_on_every_capture(capture):
    res = run_module({"read_file": str(capture)})
    assert not res.get("failed"), res
    expected = sysdig_lines("-r", str(capture), "-p", res["format"])
    assert res["event_count"] == len(expected) > 0
    assert rebuild(res["events"], res["fields"], "\t") == expected
    assert res["fields"][:5] == ["evt.time", "user.uid", "user.name", "proc.pid", "proc.name"]


@needs_data
def test_processes_of_the_ipv6_client_capture():
    fmt = "*%proc.name|%evt.type"
    res = run_module({"read_file": str(IPV6_CLIENT), "format": fmt, "filter": "evt.type=connect"})
    names = {line.split("|")[0] for line in sysdig_lines("-r", str(IPV6_CLIENT), "-p", fmt, "evt.type=connect")}
    assert {e["proc.name"] for e in res["events"]} == names
    assert res["event_count"] > 0


@needs_data
def test_max_events_is_sysdig_n():
    fmt = "*%evt.num %evt.type"
    res = run_module({"read_file": str(CURL), "format": fmt, "max_events": 400})
    expected = sysdig_lines("-r", str(CURL), "-n", "400", "-p", fmt)
    assert rebuild(res["events"], res["fields"], " ") == expected
    assert "-n" in res["command"] and "400" in res["command"]


@needs_data
def test_output_limit_truncates_at_a_whole_line():
    fmt = "*%evt.num %proc.name %evt.type %evt.info"
    full = sysdig_lines("-r", str(CURL), "-p", fmt)
    res = run_module({"read_file": str(CURL), "format": fmt, "output_limit": 4096})
    assert res["truncated"] is True
    assert 0 < res["event_count"] < len(full)
    rebuilt = [f"{e['evt.num']} {e['proc.name']} {e['evt.type']} {e['evt.info']}" for e in res["events"]]
    assert rebuilt == full[: len(rebuilt)]
    assert sum(len(line) + 1 for line in rebuilt) <= 4096
    assert any("output_limit" in w for w in res.get("warnings", []))


@needs_data
def test_reading_twice_is_idempotent():
    args = {"read_file": str(CURL), "filter": "evt.type=connect", "format": "*%evt.num,%fd.name"}
    first, second = run_module(args), run_module(args)
    assert first["changed"] is False and second["changed"] is False
    assert first["events"] == second["events"]


@pytest.mark.parametrize(
    ("filt", "field", "position"),
    [
        ("proc.nme=curl", "proc.nme", 0),
        ("proc.name=curl and foo.bar=1", "foo.bar", 19),
    ],
)
@pytest.mark.parametrize("check", [True, False], ids=["check_mode", "real_run"])
def test_bad_filter_fails_before_capturing(filt, field, position, check):
    res = run_module({"filter": filt, "duration": 5}, check=check)
    assert res["failed"] is True
    assert res["unknown_field"] == field
    assert res["error_position"] == position
    assert f"position {position}" in res["msg"] and field in res["msg"]


def test_syntax_error_names_the_position():
    res = run_module({"filter": "proc.name=curl and", "duration": 5}, check=True)
    assert res["failed"] is True
    assert res["unknown_field"] is None
    assert res["error_position"] in (18, 19)
    assert "unexpected end of filter" in res["msg"]


def test_bad_format_field_fails():
    res = run_module({"pod_name": "nginx", "duration": 5, "format": "*%proc.nme %evt.type"}, check=True)
    assert res["failed"] is True
    assert "invalid formatting token proc.nme" in res["msg"]


def test_check_mode_validates_and_captures_nothing(tmp_path):
    out = tmp_path / "never.scap"
    res = run_module(
        {"pod_name": "nginx", "namespace": "default", "duration": 30, "write_file": str(out)},
        check=True,
    )
    assert not res.get("failed"), res
    assert res["filter_validated"] is True
    assert res["captured"] is False and res["events"] == []
    assert res["changed"] is True  # a real run would write the file
    assert not out.exists()
    assert res["filter"] == 'k8s.pod.name="nginx" and k8s.ns.name="default"'
    assert res["command"] == [SYSDIG, "-M", "30", "-w", str(out), res["filter"]]


@pytest.mark.skipif(os.path.exists("/dev/scap0"), reason="a capture driver is loaded on this host")
def test_live_capture_without_driver_fails_with_a_clear_message(tmp_path):
    res = run_module({"pod_name": "nginx", "duration": 2, "write_file": str(tmp_path / "c.scap")})
    assert res["failed"] is True
    assert res["driver_loaded"] is False
    assert res["msg"].startswith("No Sysdig capture driver is loaded")
    assert "falcosecurity-scap-dkms" in res["msg"]
    assert "scap" in res["sysdig_output"]


@needs_data
def test_read_file_and_write_file_are_exclusive(tmp_path):
    res = run_module({"read_file": str(CURL), "write_file": str(tmp_path / "x.scap")})
    assert res["failed"] is True
    assert "mutually exclusive" in res["msg"]


def test_missing_read_file_is_reported(tmp_path):
    res = run_module({"read_file": str(tmp_path / "nope.scap")})
    assert res["failed"] is True
    assert "does not exist" in res["msg"]
