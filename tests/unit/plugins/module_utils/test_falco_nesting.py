"""Deep nesting in the offline Falco checker: verdicts as Falco 0.44.1's, never a RecursionError.

The cases come from scripts/falco_differential/nesting.py; the verdicts asserted here are the
ones `falco -V` 0.44.1 gives on the same files, which tests/integration/test_falco_differential.py
(test_deep_nesting_agrees_with_real_falco) re-measures against the real binary every run:
every construct loads at every depth to 5000 (libsinsp's parser has no effective depth limit),
the broken cases are rejected for the error at the bottom of the nest. Beyond what the checker
can follow (more than DEEP_RECURSION_LIMIT Python frames; the real engine crashes with SIGSEGV
there) the checker rejects with a finding naming the file and the item.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils import falco_rules
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import condition as fcond

_NESTING = Path(__file__).resolve().parents[4] / "scripts" / "falco_differential" / "nesting.py"
_SPEC = importlib.util.spec_from_file_location("nodesec_falco_nesting", _NESTING)
nesting = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(nesting)

FILE = "50-deep.yaml"
ACCEPTED = [(kind, depth, text) for depth in nesting.DEPTHS for kind, text in nesting.kinds(depth)]
BROKEN_REASON = {
    "parentheses-unclosed": "expected ')'",
    "parentheses-unknown-field": "nonexistent field proc.nosuchfield",
    "tolower-unknown-field": "nonexistent field proc.nosuchfield",
    "macro-chain-undefined": "undefined macro 'nosuchmacro'",
    "output-unknown-field": "nonexistent field proc.nosuchfield",
}
BROKEN = [(kind, depth, text) for depth in nesting.BROKEN_DEPTHS for kind, text in nesting.broken(depth)]


@pytest.mark.parametrize(("kind", "depth", "text"), ACCEPTED, ids=[f"{k}-{d}" for k, d, _t in ACCEPTED])
def test_deep_nesting_is_accepted_as_falco_does(kind: str, depth: int, text: str) -> None:
    limit = sys.getrecursionlimit()
    result = falco_rules.check_rules([(FILE, text)])
    assert result.ok, [f.format() for f in result.errors]
    assert sys.getrecursionlimit() == limit  # the raised limit does not leak


@pytest.mark.parametrize(("kind", "depth", "text"), BROKEN, ids=[f"{k}-{d}" for k, d, _t in BROKEN])
def test_deep_nesting_errors_are_found_at_the_bottom(kind: str, depth: int, text: str) -> None:
    result = falco_rules.check_rules([(FILE, text)])
    assert not result.ok
    first = result.errors[0].format()
    assert first.startswith(f"{FILE}:"), first
    item = "macro 'm0'" if kind == "macro-chain-undefined" else "rule 'deep_rule'"
    assert item in first and BROKEN_REASON[kind] in first, first


@pytest.mark.parametrize("depth", [500, 2000, 5000])
def test_parse_condition_and_output_alone(depth: int) -> None:
    info = falco_rules.parse_condition("(" * depth + "not (" * depth + "proc.name = bash" + ")" * (2 * depth))
    assert info.fields == [("proc.name", 2 * depth + 4 * depth)]
    fields = falco_rules.parse_output("x %" + "tolower(" * depth + "proc.name" + ")" * depth)
    assert [name for name, _offset in fields] == ["proc.name"]
    with pytest.raises(falco_rules.ConditionSyntaxError, match=r"expected '\)'"):
        falco_rules.parse_condition("(" * depth + "proc.name = bash" + ")" * (depth - 1))


def test_walk_is_iterative_and_in_order() -> None:
    text = "(" * 3000 + "proc.name = a and not tolower(fd.name) = b" + ")" * 3000
    tree = fcond.deep_call(fcond.parse, text)
    names = [n.name for n in fcond.walk(tree) if isinstance(n, fcond.FieldRef)]
    assert names == ["proc.name", "fd.name"]


def test_deep_call_restores_the_limit_and_reraises() -> None:
    limit = sys.getrecursionlimit()

    def boom() -> None:
        assert sys.getrecursionlimit() >= fcond.DEEP_RECURSION_LIMIT
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        fcond.deep_call(boom)
    assert sys.getrecursionlimit() == limit
    assert fcond.deep_call(lambda: fcond.deep_call(lambda: 7)) == 7  # re-entrant


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("parentheses", nesting.rule("(" * 100000 + nesting.BASE + ")" * 100000)),
        ("tolower-output", nesting.rule(nesting.BASE, "x %" + "tolower(" * 100000 + "proc.name" + ")" * 100000)),
    ],
)
def test_beyond_the_checker_a_finding_not_a_traceback(kind: str, text: str) -> None:
    """100000 levels: falco -V 0.44.1 dies with SIGSEGV (measured); we reject with a finding."""
    result = falco_rules.check_rules([(FILE, text)])
    assert not result.ok
    first = result.errors[0].format()
    assert first.startswith(f"{FILE}:") and "rule 'deep_rule'" in first, first
    assert "nested too deeply" in first or "nonexistent" not in first, first
