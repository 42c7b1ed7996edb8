"""The falco_rules_test module: argument handling and the exit/fail payloads.

Bad input is refused before Falco runs, naming the option (``field``) and the fix. The runs
that need Falco's answers use a runner replaying what the real Falco 0.44.1 printed and wrote
(tests/testdata/falco_replay/, see its README): a stand-in, because the Falco binary is built
by CI and is not there when unit tests run; the live binary drives the same module in
tests/integration/test_falco_rules_test.py.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import replay
from ansible_collections.nodesec.kubernetes.plugins.modules import falco_rules_test
from ansible_collections.nodesec.kubernetes.tests.unit.module_args import patch_module_args

DATA = Path(__file__).resolve().parents[3] / "testdata" / "falco_replay"


def run(args: dict, capsys) -> tuple:
    with patch_module_args(args), pytest.raises(SystemExit) as excinfo:
        falco_rules_test.main()
    return excinfo.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture(name="node")
def node_fixture(tmp_path):
    """A rules file, a capture and an executable where the module looks for them."""
    rules = tmp_path / "rules.yaml"
    rules.write_text((DATA / "rules.yaml").read_text())
    capture = tmp_path / "curl_google.scap"
    capture.write_bytes(b"recorded capture stand-in")
    falco = tmp_path / "falco"
    falco.write_text("#!/bin/sh\nexit 99\n")
    falco.chmod(falco.stat().st_mode | stat.S_IXUSR)
    return {"rules": str(rules), "capture": str(capture), "falco": str(falco), "tmp": tmp_path}


def base_args(node, **extra):
    args = {
        "rules_files": [{"path": node["rules"]}],
        "captures": [node["capture"]],
        "falco": node["falco"],
        "config": "none",
    }
    args.update(extra)
    return args


def test_required_options(capsys):
    code, out = run({"captures": ["/tmp/a.scap"]}, capsys)
    assert code == 1 and "rules_files" in out["msg"]
    code, out = run({"rules_files": [{"path": "/etc/falco/falco_rules.yaml"}]}, capsys)
    assert code == 1 and "captures" in out["msg"]


def test_path_and_content_are_exclusive(capsys, node):
    code, out = run(base_args(node, rules_files=[{"path": node["rules"], "content": "[]"}]), capsys)
    assert code == 1 and "mutually exclusive" in out["msg"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_missing_falco_binary_names_the_option(capsys, node, check_mode):
    missing = str(node["tmp"] / "no-falco")
    code, out = run(base_args(node, falco=missing, _ansible_check_mode=check_mode), capsys)
    assert code == 1
    assert out["field"] == "falco"
    assert missing in out["msg"] and "nodesec.kubernetes.falco" in out["msg"]
    assert out["changed"] is False


def test_missing_capture_names_the_entry(capsys, node):
    missing = str(node["tmp"] / "absent.scap")
    code, out = run(base_args(node, captures=[node["capture"], missing]), capsys)
    assert code == 1
    assert out["field"] == "captures[1]"
    assert missing in out["msg"] and "does not exist" in out["msg"]


def test_rules_file_falco_would_skip_is_refused(capsys, node):
    odd = node["tmp"] / "rules.local"
    odd.write_text("[]\n")
    code, out = run(base_args(node, rules_files=[{"path": str(odd)}]), capsys)
    assert code == 1
    assert out["field"] == "rules_files[0].path"
    assert "does not end in .yaml or .yml" in out["msg"]


def test_missing_config_file(capsys, node):
    code, out = run(base_args(node, config=str(node["tmp"] / "falco.yaml")), capsys)
    assert code == 1 and out["field"] == "config"


def test_missing_plugin_library(capsys, node):
    code, out = run(base_args(node, plugins=[{"library_path": str(node["tmp"] / "libcontainer.so")}]), capsys)
    assert code == 1 and out["field"] == "plugins[0].library_path"


def test_contradictory_expectation(capsys, node):
    code, out = run(base_args(node, expected=[{"rule": "x", "fires": False, "min_count": 1}]), capsys)
    assert code == 1 and out["field"] == "expected[0]"
    assert "fires is false" in out["msg"]


def test_expectation_needs_a_rule(capsys, node):
    code, out = run(base_args(node, expected=[{"capture": node["capture"]}]), capsys)
    assert code == 1 and "rule" in out["msg"]


class RecordedFalco:
    """A stand-in for the Falco binary (built by CI, absent when unit tests run): answers each
    call with what the real Falco 0.44.1 answered to the same call when it was recorded
    (tests/testdata/falco_replay/<scenario>.json), and writes the alerts file it wrote."""

    def __init__(self, scenario: str) -> None:
        self.recorded = json.loads((DATA / f"{scenario}.json").read_text())["calls"]
        self.argvs = []

    def __call__(self, argv, timeout):
        call = self.recorded[len(self.argvs)]
        self.argvs.append(list(argv))
        for arg in argv:
            if arg.startswith("file_output.filename=") and call.get("alerts") is not None:
                Path(arg.split("=", 1)[1]).write_text(call["alerts"])
        return replay.Completed(rc=call["rc"], stdout=call["stdout"], stderr=call["stderr"])


@pytest.fixture(name="recorded")
def recorded_fixture(monkeypatch):
    def use(scenario: str) -> RecordedFalco:
        stand_in = RecordedFalco(scenario)
        monkeypatch.setattr(replay, "bounded_runner", stand_in)
        return stand_in

    return use


@pytest.mark.parametrize("check_mode", [False, True])
def test_hits_and_expectations_on_recorded_falco_answers(capsys, node, recorded, check_mode):
    stand_in = recorded("curl_google")
    code, out = run(
        base_args(
            node,
            expected=[
                {"rule": "nodesec curl connects"},
                {"rule": "nodesec never fires", "fires": False, "capture": "curl_google.scap"},
            ],
            _ansible_check_mode=check_mode,
        ),
        capsys,
    )
    assert code == 0, out
    assert out["changed"] is False
    assert [argv[-1] for argv in stand_in.argvs] == ["-L", "-v"]
    hits = out["hits"][node["capture"]]
    assert set(hits) == {"nodesec curl opens a file", "nodesec curl connects"}
    assert all(count > 0 for count in hits.values())
    assert [e["passed"] for e in out["expectations"]] == [True, True]
    assert out["rules_loaded"] == 3
    [capture] = out["captures"]
    assert capture["events_read"] > 0
    assert capture["alerts"] == sum(hits.values())


def test_failed_expectation_fails_with_the_hits_on_recorded_falco_answers(capsys, node, recorded):
    recorded("curl_google")
    code, out = run(base_args(node, expected=[{"rule": "nodesec curl connects", "fires": False}]), capsys)
    assert code == 1
    assert out["msg"].startswith("1 of 1 rule expectation(s) failed: Rule 'nodesec curl connects' was expected")
    assert node["capture"] in out["msg"]
    assert out["hits"][node["capture"]]["nodesec curl connects"] > 0


def test_refused_rules_on_recorded_falco_answers(capsys, node, recorded):
    recorded("broken_rule")
    code, out = run(
        base_args(
            node,
            rules_files=[
                {"path": node["rules"]},
                {"content": (DATA / "broken.yaml").read_text(), "name": "/etc/falco/rules.d/broken.yaml"},
            ],
        ),
        capsys,
    )
    assert code == 1
    assert out["field"] == "rules_files"
    assert "nodesec broken condition" in out["falco_message"]
    assert out["msg"].startswith("Falco refused the rule set: ")


def test_documentation_matches_the_argument_spec():
    """What ansible-test's validate-modules holds the docs to, for options and their defaults."""
    import yaml

    doc = yaml.safe_load(falco_rules_test.DOCUMENTATION)
    for name in ("EXAMPLES", "RETURN"):
        assert yaml.safe_load(getattr(falco_rules_test, name))

    def compare(documented, spec, where):
        assert set(documented) == set(spec), where
        for key, option in spec.items():
            assert documented[key]["type"] == option.get("type", "str"), f"{where}.{key}"
            assert documented[key].get("default") == option.get("default"), f"{where}.{key}"
            assert bool(documented[key].get("required")) == bool(option.get("required")), f"{where}.{key}"
            if "options" in option:
                compare(documented[key]["suboptions"], option["options"], f"{where}.{key}")

    compare(doc["options"], falco_rules_test.ARGUMENT_SPEC, "options")
