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
