"""Unit tests of the SysdigCapture service (plugins/module_utils/sysdig/capture.py).

The decision paths (validation fallback, no-driver vs other failures, write_file read-back,
truncation, check mode) are driven by a scripted runner that answers like sysdig 0.29 does
(messages recorded from it). The same paths against the real sysdig are covered by
tests/integration/test_sysdig_capture.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig import errors
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig import runner as sd_runner
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.capture import CaptureParams, SysdigCapture

READER_ERROR = b"Could not initialize reader: error reading from file (1)\n"
UNKNOWN_FIELD = b"filter error at position %d: filter error: unrecognized field %s at pos 0\n"
NO_DRIVER = (
    b"Unable to load the driver\n"
    b"error opening device /dev/scap0. Make sure you have root credentials and that the scap module is loaded.\n"
)


class ScriptedSysdig:
    """Answers like sysdig: filter/format compile errors first, then the scripted capture."""

    def __init__(self, capture=None, compiles_before_reading=True, on_capture=None):
        self.calls = []
        self.capture = capture or sd_runner.RunResult(0, b"", b"", False, False)
        self.compiles_before_reading = compiles_before_reading
        self.on_capture = on_capture
        self.readback = sd_runner.RunResult(0, b"", b"", False, False)

    def __call__(self, argv, limit, timeout):
        argv = list(argv)
        self.calls.append((argv, limit, timeout))
        if (
            "-r" in argv
            and argv[argv.index("-r") + 1].endswith(".scap")
            and "nodesec-sysdig-" in argv[argv.index("-r") + 1]
        ):
            filt = argv[-1] if not argv[-1].startswith("*") and argv[-2] != "-r" else ""
            if self.compiles_before_reading and "nodesec.no_such_field" in filt:
                return sd_runner.RunResult(1, b"", UNKNOWN_FIELD % (len(filt), b"nodesec.no_such_field"), False, False)
            if self.compiles_before_reading and "proc.nme" in filt:
                return sd_runner.RunResult(1, b"", UNKNOWN_FIELD % (8, b"proc.nme"), False, False)
            return sd_runner.RunResult(1, b"", READER_ERROR, False, False)
        if "-w" not in argv and "-r" in argv and self.calls and any("-w" in c[0] for c in self.calls[:-1]):
            return self.readback
        if self.on_capture:
            self.on_capture(argv)
        return self.capture


def run_service(runner, check=False, **kwargs):
    """Run the service; return it (for its warnings) and the result."""
    service = SysdigCapture("/usr/bin/sysdig", runner=runner)
    return service, service.run(CaptureParams(**kwargs), check_mode=check)


def run(runner, check=False, **kwargs):
    """Run the service; return the result."""
    return run_service(runner, check=check, **kwargs)[1]


def test_check_mode_validates_and_runs_no_capture():
    runner = ScriptedSysdig()
    service, result = run_service(runner, check=True, pod_name="nginx", duration=30, format="*%proc.name,%user.uid")
    assert result["filter_validated"] is True and result["captured"] is False
    assert all("-M" not in call[0] for call in runner.calls)  # only offline compiles ran
    assert len(runner.calls) == 2  # the filter, then the probe
    assert result["command"] == ["/usr/bin/sysdig", "-M", "30", "-p", "*%proc.name,%user.uid", 'k8s.pod.name="nginx"']
    assert service.warnings == []


def test_unknown_field_fails_with_position_and_field():
    with pytest.raises(errors.SysdigFilterError) as err:
        run(ScriptedSysdig(), filter="proc.nme=curl", duration=5)
    assert err.value.unknown_field == "proc.nme"
    assert err.value.position == 0


def test_sysdig_that_reads_before_compiling_is_not_called_validated():
    runner = ScriptedSysdig(compiles_before_reading=False)
    service, result = run_service(runner, check=True, filter="proc.name=curl", duration=5)
    assert result["filter_validated"] is False
    assert "could not be validated offline" in service.warnings[0]


def test_live_capture_without_driver_raises_no_driver():
    runner = ScriptedSysdig(capture=sd_runner.RunResult(1, b"", NO_DRIVER, False, False))
    with pytest.raises(errors.SysdigNoDriverError) as err:
        run(runner, pod_name="nginx", duration=5)
    assert "falcosecurity-scap-dkms" in str(err.value)
    assert err.value.raw == NO_DRIVER.decode()


def test_offline_failure_is_not_reported_as_missing_driver(tmp_path):
    capture = tmp_path / "c.scap"
    capture.write_bytes(b"x")
    runner = ScriptedSysdig(capture=sd_runner.RunResult(1, b"", NO_DRIVER, False, False))
    with pytest.raises(errors.SysdigError) as err:
        run(runner, read_file=str(capture))
    assert not isinstance(err.value, errors.SysdigNoDriverError)
    assert "sysdig failed" in str(err.value)


def test_truncated_capture_is_not_a_failure_and_warns():
    out = b"curl,0\ncurl,0\n"
    runner = ScriptedSysdig(capture=sd_runner.RunResult(-15, out, b"", True, False))
    service, result = run_service(runner, duration=5, format="*%proc.name,%user.uid", output_limit=20)
    assert result["truncated"] is True and result["event_count"] == 2
    assert any("output_limit (20 bytes)" in w for w in service.warnings)
    assert runner.calls[-1][1] == 20


def test_write_file_is_read_back_with_the_format(tmp_path):
    target = tmp_path / "out.scap"
    runner = ScriptedSysdig(on_capture=lambda argv: target.write_bytes(b"scap"))
    runner.readback = sd_runner.RunResult(0, b"1|curl\n2|sh\n", b"", False, False)
    result = run(runner, duration=5, write_file=str(target), format="*%evt.num|%proc.name")
    assert result["changed"] is True
    assert result["read_command"] == ["/usr/bin/sysdig", "-r", str(target), "-p", "*%evt.num|%proc.name"]
    assert result["events"] == [{"evt.num": "1", "proc.name": "curl"}, {"evt.num": "2", "proc.name": "sh"}]
    assert "-p" not in result["command"]  # sysdig -w prints nothing


def test_summary_fields_must_be_in_the_format():
    with pytest.raises(errors.SysdigError, match="not fields of the format"):
        run(ScriptedSysdig(), check=True, duration=5, format="*%proc.name", summary_fields=["user.uid"])


def test_summary_counts_events(tmp_path):
    capture = tmp_path / "c.scap"
    capture.write_bytes(b"x")
    out = b"0,nginx\n0,nginx\n101,nginx\n"
    runner = ScriptedSysdig(capture=sd_runner.RunResult(0, out, b"", False, False))
    result = run(
        runner, read_file=str(capture), format="*%user.uid,%proc.name", summary_fields=["user.uid", "proc.name"]
    )
    assert result["summary"] == [
        {"user.uid": "0", "proc.name": "nginx", "count": 2},
        {"user.uid": "101", "proc.name": "nginx", "count": 1},
    ]


def test_missing_read_file_fails_before_running(tmp_path):
    runner = ScriptedSysdig()
    with pytest.raises(errors.SysdigError, match="does not exist"):
        run(runner, read_file=str(tmp_path / "nope.scap"))
    assert all(Path(call[0][2]).name.startswith("nodesec-sysdig-") for call in runner.calls)
