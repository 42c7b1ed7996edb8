"""Unit tests of the seam between the Falco rules reader (falco/rule_set.py) and the checker
(falco/checker.py): the reader's RuleSet is read-only and holds the read phase's findings; the
checker never changes it, so one RuleSet checked twice gives the same verdict, and
check_rule_set over a read set equals the façade's check_rules.

Real inputs: the upstream stable rule set (../shared/testdata/falco/falco_rules.yaml) with a
local file that appends to it, breaks a macro and defines an unused list.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils import falco_rules as fr
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.checker import check_rule_set
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.rule_set import RuleSetReader

UPSTREAM = Path(__file__).resolve().parents[4].parent / "shared" / "testdata" / "falco" / "falco_rules.yaml"

pytestmark = pytest.mark.skipif(
    not UPSTREAM.is_file(), reason=f"upstream Falco rule set not found at {UPSTREAM} (shared test data absent)"
)

LOCAL = """\
- list: nodesec_unused
  items: [a, b]
- macro: nodesec_broken
  condition: proc.name = bash and
- macro: spawned_process
  condition: and proc.name != nodesec
  override:
    condition: append
- rule: nodesec_shell
  desc: a shell in a container
  condition: spawned_process and container and proc.name in (shell_binaries)
  output: shell %proc.name
  priority: WARNING
  enabled: maybe
"""


def files() -> list[tuple[str, str]]:
    return [("/etc/falco/falco_rules.yaml", UPSTREAM.read_text()), ("/etc/falco/falco_rules.local.yaml", LOCAL)]


def texts(findings) -> list[str]:
    return [f.format() for f in findings]


def test_rule_set_holds_the_read_phase_and_is_read_only():
    rule_set = fr.read_rule_set(files())
    # the read phase's finding (enabled: maybe) is the reader's; the broken macro is the compiler's
    assert [f.item for f in rule_set.errors] == ["nodesec_shell"]
    assert "value of 'enabled' must be a boolean" in rule_set.errors[0].message
    assert rule_set.counts == {"files": 2, "rules": 25 + 1, "macros": 87 + 2, "lists": 49 + 1}
    assert len(rule_set.macros["spawned_process"].fragments) == 2
    with pytest.raises(TypeError):
        rule_set.macros["spawned_process"] = rule_set.macros["container"]  # type: ignore[index]


def test_reader_takes_no_file_after_rule_set():
    reader = RuleSetReader()
    reader.add_file("a.yaml", LOCAL)
    reader.rule_set()
    with pytest.raises(RuntimeError, match="after rule_set"):
        reader.add_file("b.yaml", LOCAL)


def test_checking_does_not_change_the_rule_set():
    rule_set = fr.read_rule_set(files())
    first = check_rule_set(rule_set)
    second = check_rule_set(rule_set)
    assert texts(first.errors) == texts(second.errors)
    assert texts(first.warnings) == texts(second.warnings)
    # the compiler's findings follow the reader's, as check_rules gives them
    assert texts(first.errors) == texts(fr.check_rules(files()).errors)
    assert texts(first.errors)[0] == texts(rule_set.errors)[0]
    assert any("macro 'nodesec_broken'" in t and "syntax error" in t for t in texts(first.errors))
    assert any("list 'nodesec_unused'" in t and "not referred to" in t for t in texts(first.warnings))


def test_expand_condition_is_the_rule_sets():
    rule_set = fr.read_rule_set(files(), check_field_classes=False)
    # nodesec_shell was refused by the reader (enabled: maybe): its name is taken as raw text
    assert "nodesec_shell" not in rule_set.rules
    assert rule_set.expand_condition("nodesec_shell") == "nodesec_shell"
    condition = "spawned_process and proc.name in (shell_binaries)"
    expanded = rule_set.expand_condition(condition)
    assert "spawned_process" not in expanded and "shell_binaries" not in expanded
    assert "and proc.name != nodesec)" in expanded and "bash, " in expanded
    assert expanded == fr.expand_condition(condition, files())
