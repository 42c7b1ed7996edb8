"""The falco_rules_check module end to end (argument handling, exit/fail payloads).

The module is read-only: check mode and a real run must give the same result, and neither
reports a change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible_collections.nodesec.kubernetes.plugins.modules import falco_rules_check
from ansible_collections.nodesec.kubernetes.tests.unit.module_args import patch_module_args

UPSTREAM = Path(__file__).resolve().parents[4].parent / "shared" / "testdata" / "falco" / "falco_rules.yaml"

LOCAL_OK = """\
- rule: shell_in_container
  desc: notice shell activity within a container
  condition: k8s.pod.name=nginx
  output: shell in a container (user=%user.name container_id=%container.id shell=%proc.name)
  priority: WARNING
"""

LOCAL_BAD = """\
- rule: shell_in_container
  desc: notice shell activity within a container
  condition: k8s.pod.name=nginx and
  output: shell in a container (user=%user.name)
  priority: WARNING
"""


def run(args: dict, capsys) -> tuple[int, dict]:
    with patch_module_args(args), pytest.raises(SystemExit) as excinfo:
        falco_rules_check.main()
    out = json.loads(capsys.readouterr().out)
    return excinfo.value.code, out


@pytest.mark.parametrize("check_mode", [True, False])
def test_valid_inline_content_passes(capsys, check_mode):
    code, out = run(
        {
            "rules_files": [{"content": LOCAL_OK, "name": "/etc/falco/falco_rules.local.yaml"}],
            "_ansible_check_mode": check_mode,
        },
        capsys,
    )
    assert code == 0
    assert out["changed"] is False
    assert out["errors"] == []
    assert out["counts"]["rules"] == 1


@pytest.mark.parametrize("check_mode", [True, False])
def test_invalid_rule_fails_with_position(capsys, check_mode):
    code, out = run(
        {
            "rules_files": [{"content": LOCAL_BAD, "name": "/etc/falco/falco_rules.local.yaml"}],
            "_ansible_check_mode": check_mode,
        },
        capsys,
    )
    assert code == 1
    assert out["failed"] is True
    assert len(out["errors"]) == 1
    error = out["errors"][0]
    assert (error["file"], error["line"], error["item"], error["key"], error["column"]) == (
        "/etc/falco/falco_rules.local.yaml",
        3,
        "shell_in_container",
        "condition",
        23,
    )
    assert "1 finding(s)" in out["msg"] and "shell_in_container" in out["msg"]


@pytest.mark.skipif(not UPSTREAM.is_file(), reason=f"upstream Falco rule set not found at {UPSTREAM}")
def test_paths_in_order_and_missing_ok(capsys, tmp_path):
    local = tmp_path / "falco_rules.local.yaml"
    local.write_text("- list: shell_binaries\n  items: [busybox]\n  override:\n    items: append\n")
    code, out = run(
        {
            "rules_files": [
                {"path": str(UPSTREAM), "name": "/etc/falco/falco_rules.yaml"},
                {"path": str(local)},
                {"path": str(tmp_path / "absent.yaml"), "missing_ok": True},
            ]
        },
        capsys,
    )
    assert code == 0, out
    assert out["counts"]["files"] == 2
    # the same override alone fails: its target is in the other file
    code, out = run({"rules_files": [{"path": str(local)}]}, capsys)
    assert code == 1
    assert "no list named 'shell_binaries' is defined earlier" in out["errors"][0]["message"]


def test_missing_path_fails(capsys, tmp_path):
    code, out = run({"rules_files": [{"path": str(tmp_path / "nope.yaml")}]}, capsys)
    assert code == 1
    assert "does not exist" in out["msg"]


def test_fail_on_warnings(capsys):
    content = "- rule: r\n  desc: d\n  condition: proc.name in (shell_binaries)\n  output: o\n  priority: INFO\n"
    code, out = run({"rules_files": [{"content": content}]}, capsys)
    assert code == 0 and len(out["rule_warnings"]) == 1
    assert out["rule_warnings"][0]["file"] == "inline-1"
    code, out = run({"rules_files": [{"content": content}], "fail_on_warnings": True}, capsys)
    assert code == 1
