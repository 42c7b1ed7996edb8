"""Unit tests of plugins/module_utils/sysdig/ (command, output, errors, runner).

Pure functions are tested on realistic inputs (the formats from the issue, sysdig's default
formats, messages sysdig 0.29 prints). Where the host has sysdig, its real output is recorded
during the test run (reading the shared captures offline, compiling filters against an empty
file) and fed to the parser; those tests skip with a reason when sysdig or the data is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig import command, errors, output
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig import runner as sd_runner
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.capture import CaptureParams

REPO = Path(__file__).resolve().parents[4]
SCAP_DIR = (REPO / ".." / "shared" / "testdata" / "scap").resolve()
CURL_SCAP = SCAP_DIR / "curl_google.scap"
SYSDIG = shutil.which("sysdig")

needs_sysdig = pytest.mark.skipif(SYSDIG is None, reason="sysdig is not installed (apt-get install -y sysdig)")
needs_scap = pytest.mark.skipif(not CURL_SCAP.is_file(), reason=f"shared test capture missing: {CURL_SCAP}")


def capture_request(filter="", format=None, **params):
    """build_command's arguments: the options, the built filter and the format (None: sysdig's default)."""
    return CaptureParams(**params), filter, format


def run_sysdig(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SYSDIG or "sysdig", *args], capture_output=True, text=True, timeout=120, check=False)


# --------------------------------------------------------------------------------------------
# Format parsing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "keys", "literals"),
    [
        ("*%evt.time,%user.uid,%proc.name", ["evt.time", "user.uid", "proc.name"], ["", ",", ",", ""]),
        # tab written as the two characters backslash-t (as typed in a shell) and as a real tab
        (
            r"*%evt.time\t%user.uid\t%proc.name\t%k8s.pod.name\t%container.name",
            ["evt.time", "user.uid", "proc.name", "k8s.pod.name", "container.name"],
            ["", "\t", "\t", "\t", "\t", ""],
        ),
        ("*%evt.time\t%user.uid", ["evt.time", "user.uid"], ["", "\t", ""]),
        (
            "%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info",
            ["evt.num", "evt.outputtime", "evt.cpu", "proc.name", "thread.tid", "evt.dir", "evt.type", "evt.info"],
            ["", " ", " ", " ", " (", ") ", " ", " ", ""],
        ),
        ("*[%proc.name] <%evt.type>", ["proc.name", "evt.type"], ["[", "] <", ">"]),
        ("*%proc.aname[2] %evt.arg[0] %evt.arg.fd", ["proc.aname[2]", "evt.arg[0]", "evt.arg.fd"], ["", " ", " ", ""]),
        ("*%(proc.name)|%(proc.aname[1])", ["proc.name", "proc.aname[1]"], ["", "|", ""]),
        ("*%-20proc.name|%8evt.num", ["proc.name", "evt.num"], ["", "|", ""]),
        ("*%k8s.pod.label.app %container.image.tag", ["k8s.pod.label.app", "container.image.tag"], ["", " ", ""]),
        (r"*a\\b %proc.name", ["proc.name"], ["a\\b ", ""]),
    ],
)
def test_parse_format_fields_and_literals(fmt, keys, literals):
    parsed = output.parse_format(fmt)
    assert parsed.keys == keys
    assert list(parsed.literals) == literals
    assert parsed.star == fmt.startswith("*")


@pytest.mark.parametrize(
    ("fmt", "needle"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("*no fields here", "has no %field"),
        ("*%proc.name %", "cannot end with a %"),
        ("*%proc.name%evt.type", "not separated"),
        (r"*%proc.name\n%evt.type", "newline"),
        ("*%proc.name %!bad", "bad field token"),
    ],
)
def test_parse_format_rejects(fmt, needle):
    with pytest.raises(errors.SysdigFormatError, match=needle):
        output.parse_format(fmt)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("%proc.name", "*%proc.name"), ("*%proc.name", "*%proc.name"), ("* %proc.name", "* %proc.name")],
)
def test_ensure_star(fmt, expected):
    assert output.ensure_star(fmt) == expected


# --------------------------------------------------------------------------------------------
# Line parsing
# --------------------------------------------------------------------------------------------

DEFAULT_FMT = "*%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info"


@pytest.mark.parametrize(
    ("fmt", "line", "expected"),
    [
        (
            "*%evt.time,%user.uid,%proc.name",
            "17:35:48.514632619,4294967295,curl\n",
            {"evt.time": "17:35:48.514632619", "user.uid": "4294967295", "proc.name": "curl"},
        ),
        (
            r"*%evt.time\t%user.uid\t%proc.name\t%k8s.pod.name\t%container.name",
            "17:35:48.514632619\t0\tnginx\t<NA>\thost",
            {
                "evt.time": "17:35:48.514632619",
                "user.uid": "0",
                "proc.name": "nginx",
                "k8s.pod.name": None,
                "container.name": "host",
            },
        ),
        # sysdig's default format: evt.info (free text, trailing blank kept) absorbs the spaces
        (
            DEFAULT_FMT,
            "213 17:35:48.514649386 0 curl (17497) < brk res=55DB0DE73000 vm_size=508 vm_rss=4 vm_swap=0 ",
            {
                "evt.num": "213",
                "evt.outputtime": "17:35:48.514649386",
                "evt.cpu": "0",
                "proc.name": "curl",
                "thread.tid": "17497",
                "evt.dir": "<",
                "evt.type": "brk",
                "evt.info": "res=55DB0DE73000 vm_size=508 vm_rss=4 vm_swap=0 ",
            },
        ),
        # a free-text field in the middle: fields after it are split from the right
        (
            "*%evt.num %fd.name %evt.type",
            "219 /tmp/a file with spaces open",
            {"evt.num": "219", "fd.name": "/tmp/a file with spaces", "evt.type": "open"},
        ),
        # comma in a value, no free-text field: the last field takes the extra separators
        (
            "*%proc.name,%proc.args",
            "sh,-c echo a,b",
            {"proc.name": "sh", "proc.args": "-c echo a,b"},
        ),
        ("*[%proc.name] <%evt.type>", "[curl] <execve>", {"proc.name": "curl", "evt.type": "execve"}),
        ("*%evt.num %evt.info", "218 ", {"evt.num": "218", "evt.info": ""}),
        ("*%proc.name|%k8s.pod.name", "<NA>|<NA>", {"proc.name": None, "k8s.pod.name": None}),
    ],
)
def test_parse_line(fmt, line, expected):
    assert output.parse_line(line, output.parse_format(fmt)) == expected


@pytest.mark.parametrize(
    ("fmt", "line"),
    [
        ("*%evt.time,%user.uid,%proc.name", "just one value"),
        ("*[%proc.name] <%evt.type>", "curl <execve>"),
        ("*[%proc.name] <%evt.type>", "[curl] <execve"),
    ],
)
def test_parse_line_rejects_lines_of_another_shape(fmt, line):
    assert output.parse_line(line, output.parse_format(fmt)) is None


def test_parse_output_keeps_unparsed_lines_and_skips_blank():
    fmt = output.parse_format("*%proc.name,%evt.type")
    lines = ["curl,open\n", "\n", "a warning without comma\n", "curl,close\n"]
    result = output.parse_output(lines, fmt)
    assert result.events == [{"proc.name": "curl", "evt.type": "open"}, {"proc.name": "curl", "evt.type": "close"}]
    assert result.unparsed == ["a warning without comma"]


def test_parse_output_bounds_the_unparsed_sample():
    fmt = output.parse_format("*%proc.name,%evt.type")
    result = output.parse_output([f"garbage {i}" for i in range(50)], fmt, keep_unparsed=3)
    assert result.events == []
    assert result.unparsed == ["garbage 0", "garbage 1", "garbage 2"]
    assert result.unparsed_count == 50


@pytest.mark.parametrize(
    ("data", "limit", "kept", "truncated"),
    [
        (b"a\nb\nc\n", 100, b"a\nb\nc\n", False),
        (b"a\nb\nc\n", 6, b"a\nb\nc\n", False),
        (b"a\nb\nc\n", 5, b"a\nb\n", True),
        (b"aaaa\nb\n", 3, b"", True),
        (b"a\nb\n", 0, b"a\nb\n", False),
    ],
)
def test_cut_at_limit(data, limit, kept, truncated):
    assert sd_runner.cut_at_limit(data, limit) == (kept, truncated)


# --------------------------------------------------------------------------------------------
# Filter and command line
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"filter_text": "proc.name=curl"}, "proc.name=curl"),
        ({"pod_name": "nginx"}, 'k8s.pod.name="nginx"'),
        (
            {"filter_text": "evt.type=execve or evt.type=open", "pod_name": "nginx", "namespace": "web"},
            '(evt.type=execve or evt.type=open) and k8s.pod.name="nginx" and k8s.ns.name="web"',
        ),
        (
            {"container_id": "containerd://3F2A9C1D0B7E4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233"},
            'container.id="3f2a9c1d0b7e"',
        ),
        ({"container_id": "docker://3f2a9c1d0b7e"}, 'container.id="3f2a9c1d0b7e"'),
        ({"container_id": "host"}, 'container.id="host"'),
        ({"pod_name": 'we"ird\\pod'}, 'k8s.pod.name="we\\"ird\\\\pod"'),
        ({}, ""),
        ({"filter_text": "  "}, ""),
    ],
)
def test_build_filter(kwargs, expected):
    assert command.build_filter(**kwargs) == expected


@pytest.mark.parametrize(
    ("req", "argv"),
    [
        (
            capture_request(filter='k8s.pod.name="nginx"', duration=30, format="%evt.time,%user.uid,%proc.name"),
            ["sysdig", "-M", "30", "-p", "*%evt.time,%user.uid,%proc.name", 'k8s.pod.name="nginx"'],
        ),
        (
            capture_request(filter="proc.name=curl", read_file="/tmp/c.scap", format="*%proc.name", max_events=10),
            ["sysdig", "-r", "/tmp/c.scap", "-n", "10", "-p", "*%proc.name", "proc.name=curl"],
        ),
        (
            capture_request(duration=5, write_file="/var/tmp/x.scap", format="*%proc.name", snaplen=256),
            ["sysdig", "-M", "5", "-s", "256", "-w", "/var/tmp/x.scap"],
        ),
        (
            capture_request(duration=5, cri_socket="/run/containerd/containerd.sock"),
            ["sysdig", "--cri", "/run/containerd/containerd.sock", "-M", "5"],
        ),
    ],
)
def test_build_command(req, argv):
    assert command.build_command("sysdig", *req) == argv


@pytest.mark.parametrize(
    ("req", "needle"),
    [
        (capture_request(), "needs a bound"),
        (capture_request(read_file="a", write_file="b"), "mutually exclusive"),
        (capture_request(duration=5, max_events=-1), "max_events must be a positive"),
        (capture_request(duration=-3), "needs a bound|duration must be a positive"),
    ],
)
def test_build_command_rejects(req, needle):
    with pytest.raises(errors.SysdigError, match=needle):
        command.build_command("sysdig", *req)


def test_shell_join_round_trips_through_a_shell():
    argv = ["printf", "%s\\n", "*%evt.time\t%proc.name", 'k8s.pod.name="it\'s"', "plain"]
    out = subprocess.run(["sh", "-c", command.shell_join(argv)], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == argv[2:]


# --------------------------------------------------------------------------------------------
# Errors sysdig prints
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "position", "field", "message"),
    [
        # sysdig 0.29.x (libsinsp 0.1.x), as printed on standard error
        (
            "filter error at position 8: filter error: unrecognized field proc.nme at pos 0\n",
            0,
            "proc.nme",
            "unrecognized field proc.nme at pos 0",
        ),
        (
            "filter error at position 26: filter error: unrecognized field foo.bar at pos 19\n",
            19,
            "foo.bar",
            "unrecognized field foo.bar at pos 19",
        ),
        ("filter error at position 18: filter error: unexpected end of filter\n", 18, None, "unexpected end of filter"),
        ("filter error at position 14: hello is not a valid number\n", 14, None, "hello is not a valid number"),
        # newer libsinsp wording
        ("filter error at position 3: nonexistent field proc.nmae\n", 3, "proc.nmae", "nonexistent field proc.nmae"),
    ],
)
def test_parse_filter_error(output, position, field, message):
    info = errors.parse_filter_error(output)
    assert info == errors.FilterErrorInfo(message=message, position=position, unknown_field=field)


@pytest.mark.parametrize(
    "output",
    ["Could not initialize reader: error reading from file (1)\n", "can't open file /nope.scap\n", ""],
)
def test_parse_filter_error_ignores_other_messages(output):
    assert errors.parse_filter_error(output) is None


def test_filter_error_message_points_at_the_field():
    filt = "proc.name=curl and foo.bar=1"
    info = errors.FilterErrorInfo(message="unrecognized field foo.bar at pos 19", position=19, unknown_field="foo.bar")
    msg = errors.filter_error_message(filt, info)
    assert "position 19" in msg and "'foo.bar'" in msg
    filter_line, caret_line = msg.splitlines()[-2:]
    assert filter_line.strip() == filt
    assert filter_line[caret_line.index("^") :].startswith("foo.bar")


NO_DRIVER_KMOD_029 = (
    "Unable to load the driver\n"
    "error opening device /dev/scap0. Make sure you have root credentials and that the scap module is loaded.\n"
)
_MAKE_SURE = "Make sure you have root credentials and that the sysdig module is loaded.\n"
NO_DRIVER_VENDOR = "error opening device /host/dev/sysdig0. " + _MAKE_SURE


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (NO_DRIVER_KMOD_029, True),
        (NO_DRIVER_VENDOR, True),
        ("Unable to load the BPF probe\n", True),
        ("filter error at position 8: filter error: unrecognized field proc.nme at pos 0\n", False),
        ("Could not initialize reader: error reading from file (1)\n", False),
        ("", False),
    ],
)
def test_detect_no_driver(output, expected):
    assert errors.detect_no_driver(output) is expected


@pytest.mark.parametrize(
    ("output", "device", "install"),
    [
        (NO_DRIVER_KMOD_029, "/dev/scap0", "falcosecurity-scap-dkms"),
        (NO_DRIVER_VENDOR, "/host/dev/sysdig0", "sysdig-probe-loader"),
    ],
)
def test_no_driver_message_names_device_and_driver(output, device, install):
    msg = errors.no_driver_message(output)
    assert msg.startswith("No Sysdig capture driver is loaded")
    assert device in msg
    assert install in msg
    assert "read_file" in msg


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("invalid formatting token proc.nme\n", "invalid formatting token proc.nme"),
        (
            "invalid formatting syntax: formatting cannot end with a %\n",
            "invalid formatting syntax: formatting cannot end with a %",
        ),
        ("all good\n", None),
    ],
)
def test_parse_format_error(output, expected):
    assert errors.parse_format_error(output) == expected


# --------------------------------------------------------------------------------------------
# Bounded runner (real processes)
# --------------------------------------------------------------------------------------------


def test_run_bounded_cuts_an_endless_output_at_the_limit():
    res = sd_runner.run_bounded(["yes", "0123456789"], output_limit=10_000, timeout=30)
    assert res.truncated is True
    assert res.timed_out is False
    assert 0 < len(res.stdout) <= 10_000
    assert res.stdout.endswith(b"\n")
    assert set(res.stdout.splitlines()) == {b"0123456789"}


def test_run_bounded_stops_at_the_timeout():
    res = sd_runner.run_bounded(["sleep", "30"], output_limit=1000, timeout=1)
    assert res.timed_out is True
    assert res.rc != 0


def test_run_bounded_keeps_small_output_and_stderr():
    code = "import sys; print('a'); print('b'); sys.stderr.write('warn\\n'); sys.exit(3)"
    res = sd_runner.run_bounded([sys.executable, "-c", code], output_limit=1000, timeout=30)
    assert (res.rc, res.stdout, res.stderr, res.truncated, res.timed_out) == (3, b"a\nb\n", b"warn\n", False, False)


# --------------------------------------------------------------------------------------------
# Against the real sysdig (recorded live during the test run)
# --------------------------------------------------------------------------------------------


@needs_sysdig
@pytest.mark.parametrize(
    ("filt", "field"),
    [
        ("proc.nme=curl", "proc.nme"),
        ("proc.name=curl and foo.bar=1", "foo.bar"),
        ("evt.type=open or (proc.name=curl and container.nmae=x)", "container.nmae"),
    ],
)
def test_live_sysdig_filter_errors_are_parsed(tmp_path, filt, field):
    empty = tmp_path / "empty.scap"
    empty.write_bytes(b"")
    proc = run_sysdig(*command.build_validation_command(SYSDIG or "sysdig", filt, None, str(empty))[1:])
    assert proc.returncode != 0
    info = errors.parse_filter_error(proc.stdout + proc.stderr)
    assert info is not None, proc.stderr
    assert info.unknown_field == field
    assert filt[info.position :].startswith(field)


@needs_sysdig
@pytest.mark.parametrize("filt", ["proc.name=curl and", "proc.pid=hello", "(evt.type=open"])
def test_live_sysdig_syntax_errors_have_a_position(tmp_path, filt):
    empty = tmp_path / "empty.scap"
    empty.write_bytes(b"")
    proc = run_sysdig("-r", str(empty), filt)
    info = errors.parse_filter_error(proc.stderr)
    assert info is not None, proc.stderr
    assert info.unknown_field is None
    # sysdig appends a blank to the filter it compiles, so "end of filter" may be len + 1
    assert 0 <= info.position <= len(filt) + 1


@needs_sysdig
@pytest.mark.parametrize(
    "filt", ["proc.name=curl", 'k8s.pod.name="nginx" and k8s.ns.name="default"', command.build_filter(pod_name='a"b')]
)
def test_live_sysdig_accepts_valid_filters(tmp_path, filt):
    empty = tmp_path / "empty.scap"
    empty.write_bytes(b"")
    proc = run_sysdig("-r", str(empty), filt)
    assert errors.parse_filter_error(proc.stderr) is None, proc.stderr


@needs_sysdig
def test_live_sysdig_format_error_is_recognised(tmp_path):
    empty = tmp_path / "empty.scap"
    empty.write_bytes(b"")
    proc = run_sysdig("-r", str(empty), "-p", "*%proc.nme", "proc.name=x")
    assert errors.parse_format_error(proc.stderr) == "invalid formatting token proc.nme"


@needs_sysdig
@pytest.mark.skipif(os.path.exists("/dev/scap0"), reason="a capture driver is loaded on this host")
def test_live_capture_without_driver_is_recognised():
    """On a host without the scap kernel module sysdig's live capture fails; we recognise it."""
    proc = run_sysdig("-M", "1", "-n", "5")
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert errors.detect_no_driver(output), output
    assert errors.no_driver_message(output).startswith("No Sysdig capture driver is loaded")


JSON_COMPARABLE = ["evt.num", "evt.type", "evt.dir", "proc.name", "proc.aname[2]", "fd.name", "k8s.pod.name"]


@needs_sysdig
@needs_scap
@pytest.mark.parametrize("sep", [",", "\t", " | ", r"\t"])
@pytest.mark.parametrize("filt", ["proc.name=curl", "evt.type in (open, connect, execve)", ""])
def test_live_parse_matches_sysdig_json(sep, filt):
    """Our text parsing of sysdig's -p output equals sysdig's own -j rendering of the same fields."""
    fmt = "*" + sep.join("%" + k for k in JSON_COMPARABLE)
    args = ["-r", str(CURL_SCAP), "-p", fmt] + ([filt] if filt else [])
    text = run_sysdig(*args)
    as_json = run_sysdig("-j", *args)
    assert text.returncode == 0 and as_json.returncode == 0, text.stderr + as_json.stderr
    parsed = output.parse_output(text.stdout.splitlines(), output.parse_format(fmt))
    expected = []
    for line in as_json.stdout.splitlines():
        obj = json.loads(line)
        expected.append({k: None if obj[k] is None else str(obj[k]) for k in JSON_COMPARABLE})
    assert parsed.unparsed == []
    assert len(parsed.events) > 0
    assert parsed.events == expected
    assert any(e["fd.name"] is None for e in parsed.events)  # <NA> became None


@pytest.mark.parametrize(
    ("events", "keys", "expected"),
    [
        (
            [
                {"user.uid": "0", "proc.name": "nginx"},
                {"user.uid": "101", "proc.name": "nginx"},
                {"user.uid": "0", "proc.name": "nginx"},
                {"user.uid": None, "proc.name": "sh"},
            ],
            ["user.uid", "proc.name"],
            [
                {"user.uid": "0", "proc.name": "nginx", "count": 2},
                {"user.uid": None, "proc.name": "sh", "count": 1},
                {"user.uid": "101", "proc.name": "nginx", "count": 1},
            ],
        ),
        ([], ["proc.name"], []),
        (
            [{"proc.name": "a"}, {"proc.name": "b"}],
            ["proc.name"],
            [{"proc.name": "a", "count": 1}, {"proc.name": "b", "count": 1}],
        ),
    ],
)
def test_summarize(events, keys, expected):
    assert output.summarize(events, keys) == expected


@pytest.mark.parametrize(("supported", "mentioned"), [(False, True), (True, False), (None, False)])
def test_no_driver_message_on_kernels_without_modules(supported, mentioned):
    msg = errors.no_driver_message(NO_DRIVER_KMOD_029, kernel_modules_supported=supported)
    assert ("no loadable module support" in msg) is mentioned
