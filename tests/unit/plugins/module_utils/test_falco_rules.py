"""Unit tests of the controller-side Falco rules checker (plugins/module_utils/falco_rules.py).

Real inputs: the upstream stable rule set (../shared/testdata/falco/falco_rules.yaml), our
example rules (playbooks/vars/falco_example.yml) and a corpus of broken rules, each expected to
fail with a given message at a given line (and column for conditions/outputs).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from ansible_collections.nodesec.kubernetes.plugins.module_utils import falco_rules as fr

REPO = Path(__file__).resolve().parents[4]
UPSTREAM = REPO.parent / "shared" / "testdata" / "falco" / "falco_rules.yaml"
EXAMPLE_VARS = REPO / "playbooks" / "vars" / "falco_example.yml"

needs_upstream = pytest.mark.skipif(
    not UPSTREAM.is_file(), reason=f"upstream Falco rule set not found at {UPSTREAM} (shared test data absent)"
)


def upstream() -> tuple[str, str]:
    return ("/etc/falco/falco_rules.yaml", UPSTREAM.read_text())


def example_rules_text() -> str:
    data = yaml.safe_load(EXAMPLE_VARS.read_text())
    return yaml.safe_dump(data["falco_rules"], sort_keys=False, width=1000)


def errors(result: fr.CheckResult) -> list[str]:
    return [f.format() for f in result.errors]


# ------------------------------------------------------------------------------------------
# The upstream rule set and our example rules
# ------------------------------------------------------------------------------------------


@needs_upstream
def test_upstream_rule_set_passes_clean_alone():
    result = fr.check_rules([upstream()])
    assert errors(result) == []
    assert [w.format() for w in result.warnings] == []
    assert result.counts == {"files": 1, "rules": 25, "macros": 87, "lists": 49}


@needs_upstream
def test_upstream_with_example_rules_passes_clean():
    result = fr.check_rules([upstream(), ("/etc/falco/falco_rules.local.yaml", example_rules_text())])
    assert errors(result) == []
    # the override/enabled items target upstream rules, so the counts include both files
    assert result.counts["files"] == 2
    assert result.counts["rules"] == 25 + 4


@needs_upstream
def test_example_rules_alone_fail_on_cross_file_references():
    """Validating our file alone (what other roles do) fails exactly on the cross-file items."""
    result = fr.check_rules([("/etc/falco/falco_rules.local.yaml", example_rules_text())])
    messages = [f.message for f in result.errors]
    assert any("no list named 'shell_binaries' is defined earlier" in m for m in messages)
    assert any("no rule named 'Terminal shell in container' is defined earlier" in m for m in messages)
    assert any("no rule named 'Read sensitive file untrusted' is defined earlier" in m for m in messages)
    assert any("undefined macro 'spawned_process'" in m for m in messages)


@needs_upstream
def test_override_before_its_target_fails_even_when_target_is_later():
    """Order matters: an override in an earlier file cannot target a rule loaded later."""
    override = textwrap.dedent(
        """\
        - rule: Terminal shell in container
          condition: and not proc.name = bash
          override:
            condition: append
        """
    )
    bad = fr.check_rules([("/etc/falco/rules.d/00-early.yaml", override), upstream()])
    good = fr.check_rules([upstream(), ("/etc/falco/rules.d/00-early.yaml", override)])
    assert [(f.file, f.line) for f in bad.errors] == [("/etc/falco/rules.d/00-early.yaml", 1)]
    assert errors(good) == []


@needs_upstream
def test_error_in_appended_fragment_points_to_the_appending_file():
    override = (
        "- rule: Terminal shell in container\n"
        "  condition: and not (proc.name = bash\n"
        "  override:\n    condition: append\n"
    )
    result = fr.check_rules([upstream(), ("local.yaml", override)])
    assert len(result.errors) == 1
    finding = result.errors[0]
    assert (finding.file, finding.line, finding.item, finding.key) == (
        "local.yaml",
        2,
        "Terminal shell in container",
        "condition",
    )
    assert "expected ')'" in finding.message
    assert finding.column == len("and not (proc.name = bash") + 1


@needs_upstream
def test_expand_condition_inlines_macros_and_lists():
    expanded = fr.expand_condition("Terminal shell in container", [upstream()])
    assert "spawned_process" not in expanded
    assert "evt.type in (execve, execveat)" in expanded
    assert "proc.name in (ash, bash, csh" in expanded
    fr.parse_condition(expanded)  # still parses


# ------------------------------------------------------------------------------------------
# Condition language
# ------------------------------------------------------------------------------------------

VALID_CONDITIONS = [
    "k8s.pod.name=nginx",
    "evt.dir = < and fd.num>=0",
    "proc.name != sshd",
    "proc.aname[2]=qualys-cloud-ag or proc.aname[3] startswith google_accounts",
    "evt.arg.flags contains O_CREAT",
    "fd.name glob '/home/*/.ssh/*' and fd.name iglob '*.PEM'",
    "fd.name bcontains 2f6574632f and evt.buffer bstartswith 7f454c46",
    'proc.name in (runc:[0:PARENT], runc:[1:CHILD], \'"(systemd)"\', "a b")',
    "proc.name in ()",
    "not proc.pname exists or (proc.name = bash)",
    "not(proc.name = bash)",
    "proc.cmdline pmatch (/usr/bin, /etc) and ka.req.pod.volumes.hostpath intersects (/proc, /var/run/docker.sock)",
    "proc.duration <= 5000000000 and evt.rawres < 0x10 and evt.num > -1",
    "proc.name regex 'ba.*h'",
    "tolower(proc.name) = bash and len(proc.args) > 0 and proc.pname = val(proc.name)",
    "basename(toupper(proc.exepath)) = BASH",
    'json.value[/user/name] = "system:admin" and proc.env["HOME"] = /root',
    "evt.res startswith E",
    "proc.name endswith sh\n  and fd.typechar='f'",
    'container.id != host and fd.name icontains "id_rsa"',
    "some_macro and (other_macro or not third_macro)",
]


@pytest.mark.parametrize("condition", VALID_CONDITIONS)
def test_valid_conditions_parse(condition):
    fr.parse_condition(condition)


INVALID_CONDITIONS = [
    # (condition, expected message fragment, expected 0-based offset): libsinsp's grammar, the
    # position where its parser stops (messages are libsinsp's, with what stands there)
    ("proc.name = bash and", "expected blank or '(' after 'and' but found end of condition", 20),
    ("(proc.name = bash", "expected ')' but found end of condition", 17),
    ("proc.name = bash)", "unexpected ')' after 'bash'", 16),
    ("proc.name bash", "expected an operator (exists, <=, <, >=, >, ==, =, !=", 10),
    ("proc.name == ", "expected a string value or a field with a valid transformer", 13),
    ("proc.name contain bash", "expected an operator", 10),
    ("proc.name in bash, zsh", "unexpected ',' after 'bash'", 17),
    ("proc.name in (bash, zsh", "expected ')' but found end of condition", 23),
    ("proc.name in (bash,, zsh)", "expected a string value but found ','", 19),
    ("proc.duration > five", "expected a number value or a field with a valid transformer but found 'five'", 16),
    ("fd.name = 'unterminated", "expected a string value or a field with a valid transformer", 10),
    ("proc.aname[2 = bash", "expected ']' but found '='", 12),
    ("name = bash", "unexpected '=' after 'name'", 5),
    ("proc.name = bash or or proc.name = sh", "unexpected 'proc.name' after 'or'", 23),
    ("tolower(proc.name = bash", "expected ')' closing the transformer but found '='", 18),
    ("", "empty condition", 0),
    ("proc.name = bash && proc.pid = 1", "unexpected '&&' after 'bash'", 17),
    ("proc.name containsbash", "expected an operator", 10),
    ("proc.name = bash andnot proc.pid = 1", "expected blank or '(' after 'and'", 20),
]


@pytest.mark.parametrize(("condition", "message", "offset"), INVALID_CONDITIONS)
def test_invalid_conditions_fail_with_position(condition, message, offset):
    with pytest.raises(fr.ConditionSyntaxError) as excinfo:
        fr.parse_condition(condition)
    assert message in excinfo.value.message
    assert excinfo.value.offset == offset


@pytest.mark.parametrize(
    ("output", "fields"),
    [
        ("shell (user=%user.name shell=%proc.name)", ["user.name", "proc.name"]),
        ("gparent=%proc.aname[2] env=%proc.env[HOME]", ["proc.aname[2]", "proc.env[HOME]"]),
        ("%tolower(proc.pname) and %proc.name", ["proc.pname", "proc.name"]),
        # libsinsp's formatter takes the longest prefix that is a field: %proc.aname, then "[2"
        ("x=%proc.aname[2", ["proc.aname"]),
        ("%concat(proc.name, proc.exe)", ["proc.name", "proc.exe"]),
        ("%20proc.name|%evt.time", ["proc.name", "evt.time"]),
        ("no fields at all", []),
    ],
)
def test_output_fields(output, fields):
    assert [item[0] for item in fr.parse_output(output)] == fields


@pytest.mark.parametrize(
    ("output", "message", "offset"),
    [
        ("user=%user.name shell=%", "formatting cannot end with a %", 22),
        ("cpu=50% used", "invalid output token '% used'", 6),
        # Falco 0.44 has no %(field) form
        ("x=%(proc.name)", "invalid output token '%(proc.name)'", 2),
        ("x=%(proc.name", "invalid output token '%(proc.name'", 2),
        ("x=%bogus", "invalid output token '%bogus'", 2),
    ],
)
def test_invalid_outputs(output, message, offset):
    with pytest.raises(fr.ConditionSyntaxError) as excinfo:
        fr.parse_output(output)
    assert message in excinfo.value.message
    assert excinfo.value.offset == offset


# ------------------------------------------------------------------------------------------
# Broken rules corpus: each fails with the right message at the right place
# ------------------------------------------------------------------------------------------

BASE = """\
- list: shells
  items: [bash, sh]
- macro: spawned
  condition: evt.type in (execve, execveat)
"""

# (id, YAML appended after BASE, message fragment, line, column or None)
BROKEN = [
    (
        "bad-priority",
        "- rule: r\n  desc: d\n  condition: spawned\n  output: o\n  priority: WARN\n",
        "invalid priority 'WARN'",
        9,
        None,
    ),
    (
        "missing-output",
        "- rule: r\n  desc: d\n  condition: spawned\n  priority: INFO\n",
        "missing required key 'output'",
        5,
        None,
    ),
    (
        "undefined-macro",
        "- rule: r\n  desc: d\n  condition: spawned and not shell_procs\n  output: o\n  priority: INFO\n",
        "undefined macro 'shell_procs'",
        7,
        17,
    ),
    (
        "condition-syntax",
        "- rule: r\n  desc: d\n  condition: spawned and (proc.name in (shells)\n  output: o\n  priority: INFO\n",
        "expected ')' but found end of condition",
        7,
        35,
    ),
    (
        "field-typo-class",
        "- rule: r\n  desc: d\n  condition: spawned and prc.name = bash\n  output: o\n  priority: INFO\n",
        "nonexistent field prc.name (did you mean 'proc.name'?)",
        7,
        13,
    ),
    (
        "output-syntax",
        "- rule: r\n  desc: d\n  condition: spawned\n  output: 'cpu at 50% (%proc.name)'\n  priority: INFO\n",
        "output error: unknown filter: invalid output token '% (%proc.name)'",
        8,
        10,
    ),
    (
        "output-field-class",
        "- rule: r\n  desc: d\n  condition: spawned\n  output: 'x=%proces.name'\n  priority: INFO\n",
        "output error: unknown filter: invalid output token '%proces.name'",
        8,
        3,
    ),
    (
        "list-append-undefined",
        "- list: shellz\n  items: [zsh]\n  override:\n    items: append\n",
        "no list named 'shellz' is defined earlier",
        5,
        None,
    ),
    (
        "macro-override-bad-op",
        "- macro: spawned\n  condition: or evt.type = clone\n  override:\n    condition: merge\n",
        "invalid override operation for key 'condition': 'merge'; allowed: append, replace",
        8,
        None,
    ),
    (
        "override-key-not-defined",
        "- rule: r\n  desc: d\n  condition: spawned\n  output: o\n  priority: INFO\n"
        "- rule: r\n  override:\n    output: append\n",
        "an append override for 'output' was specified but 'output' is not defined",
        12,
        None,
    ),
    (
        "override-priority-append",
        "- rule: r\n  desc: d\n  condition: spawned\n  output: o\n  priority: INFO\n"
        "- rule: r\n  priority: ERROR\n  override:\n    priority: append\n",
        "key 'priority' cannot be appended to, use 'replace' instead",
        13,
        None,
    ),
    (
        "override-unlisted-key",
        "- rule: r\n  desc: d\n  condition: spawned\n  output: o\n  priority: INFO\n"
        "- rule: r\n  condition: and proc.name = x\n  output: more\n  override:\n    condition: append\n",
        "unexpected key 'output': no corresponding entry under 'override'",
        12,
        None,
    ),
    (
        "override-and-append",
        "- macro: spawned\n  condition: or evt.type = clone\n  append: true\n  override:\n    condition: append\n",
        "'override' and 'append: true' cannot be used together",
        5,
        None,
    ),
    (
        "enabled-only-undefined",
        "- rule: nope\n  enabled: false\n",
        "rule sets 'enabled' but no rule named 'nope'",
        5,
        None,
    ),
    (
        "enabled-not-bool",
        "- rule: r\n  desc: d\n  condition: spawned\n  output: o\n  priority: INFO\n  enabled: maybe\n",
        "value of 'enabled' must be a boolean",
        10,
        None,
    ),
    (
        "exception-no-name",
        "- rule: r\n  desc: d\n  condition: spawned\n  output: o\n  priority: INFO\n  exceptions:\n"
        "    - fields: [proc.name]\n",
        "missing required key 'name'",
        11,
        None,
    ),
    (
        "exception-length",
        "- rule: r\n  desc: d\n  condition: spawned\n  output: o\n  priority: INFO\n  exceptions:\n"
        "    - name: e\n      fields: [proc.name, proc.pname]\n      comps: [=]\n      values: [[bash, sshd]]\n",
        "'fields' and 'comps' lists must have equal length",
        11,
        None,
    ),
    (
        "exception-values-shape",
        "- rule: r\n  desc: d\n  condition: spawned\n  output: o\n  priority: INFO\n  exceptions:\n"
        "    - name: e\n      fields: [proc.name, proc.pname]\n      values: [[bash]]\n",
        "exception 'e': fields and values lists must have equal length",
        11,
        None,
    ),
    (
        "exception-bad-comp",
        "- rule: r\n  desc: d\n  condition: spawned\n  output: o\n  priority: INFO\n  exceptions:\n"
        "    - name: e\n      fields: proc.name\n      comps: equals\n      values: [bash]\n",
        "when 'fields' is a single field, 'comps' must be one of in, pmatch, intersects",
        11,
        None,
    ),
    ("list-not-sequence", "- list: l2\n  items: bash\n", "value of 'items' must be a sequence", 6, None),
    (
        "macro-cycle",
        "- macro: a\n  condition: b\n- macro: b\n  condition: a\n",
        "undefined macro 'b' used in condition (macro 'b' is defined later than where it is used)",
        6,
        1,
    ),
    ("yaml-syntax", "- rule: r\n  desc: [unclosed\n", "YAML syntax error", 7, 1),
    (
        "tags-not-list",
        "- rule: r\n  desc: d\n  condition: spawned\n  output: o\n  priority: INFO\n  tags: shell\n",
        "value of 'tags' must be a sequence of strings",
        10,
        None,
    ),
    (
        "numeric-op-string",
        "- rule: r\n  desc: d\n  condition: spawned and proc.pid > init\n  output: o\n  priority: INFO\n",
        "expected a number value or a field with a valid transformer but found 'init'",
        7,
        24,
    ),
    ("engine-version", "- required_engine_version: latest\n", "unable to parse engine version 'latest'", 5, None),
]


@pytest.mark.parametrize(("case", "snippet", "message", "line", "column"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_rules_fail_with_message_and_position(case, snippet, message, line, column):
    result = fr.check_rules([("/etc/falco/rules.d/50-broken.yaml", BASE + snippet)])
    assert not result.ok, f"{case}: expected an error"
    matching = [f for f in result.errors if message in f.message]
    assert matching, f"{case}: no error contains {message!r}; got {errors(result)}"
    finding = matching[0]
    assert finding.file == "/etc/falco/rules.d/50-broken.yaml"
    assert finding.line == line, finding.format()
    assert finding.column == column, finding.format()
    if finding.item_type in ("rule", "macro", "list"):
        assert finding.item, finding.format()
        assert f"{finding.item_type} '{finding.item}'" in finding.format()


# Falco 0.44.1 accepts these (it ignores unknown keys and items and warns): (id, YAML appended
# after BASE, warning fragment, line); each was an error of ours before the differential test
WARNED = [
    (
        "unknown-key",
        "- rule: r\n  desc: d\n  condition: spawned\n  output: o\n  priority: INFO\n  enable: true\n",
        "unknown key 'enable' for a rule (did you mean 'enabled'?): Falco ignores it",
        10,
    ),
    ("typo-top-level", "- rul: r\n  desc: d\n", "unknown top-level item", 5),
    (
        "exception-unknown-key",
        "- rule: r\n  desc: d\n  condition: spawned\n  output: o\n  priority: INFO\n  exceptions:\n"
        "    - name: e\n      fields: [proc.name]\n      value: [[bash]]\n",
        "unknown key 'value' in an exception (did you mean 'values'?)",
        13,
    ),
    (
        "exception-duplicate",
        "- rule: r\n  desc: d\n  condition: spawned\n  output: o\n  priority: INFO\n  exceptions:\n"
        "    - name: e\n      fields: proc.name\n      values: [bash]\n"
        "    - name: e\n      fields: proc.pname\n      values: [sh]\n",
        "multiple definitions of exception 'e' in the same rule",
        14,
    ),
    ("macro-bad-name", "- macro: my-macro\n  condition: spawned\n", "invalid macro name 'my-macro'", 5),
]


@pytest.mark.parametrize(("case", "snippet", "message", "line"), WARNED, ids=[w[0] for w in WARNED])
def test_falco_accepts_with_a_warning(case, snippet, message, line):
    result = fr.check_rules([("/etc/falco/rules.d/50-warned.yaml", BASE + snippet)])
    assert errors(result) == [], case
    matching = [w for w in result.warnings if message in w.message]
    assert matching, f"{case}: no warning contains {message!r}; got {[w.format() for w in result.warnings]}"
    assert matching[0].line == line, matching[0].format()


def test_base_of_corpus_is_valid():
    result = fr.check_rules([("base.yaml", BASE)])
    assert errors(result) == []
    # as Falco: a macro and a list nothing refers to are warned about
    assert sorted(w.message for w in result.warnings) == [
        "list not referred to by any other rule/macro",
        "macro not referred to by any other rule/macro",
    ]


def test_priority_is_case_insensitive_and_info_alias():
    rules = "".join(
        f"- rule: r{i}\n  desc: d\n  condition: evt.num > 0\n  output: o\n  priority: {p}\n"
        for i, p in enumerate(["warning", "Informational", "INFO", "Debug", "EMERGENCY"])
    )
    assert errors(fr.check_rules([("p.yaml", rules)])) == []


def test_undefined_list_name_is_a_literal_and_the_unused_list_is_warned():
    """Falco compares a name that is no list as a literal string; it warns about the unused list."""
    rules = (
        BASE
        + "- rule: r\n  desc: d\n  condition: spawned and proc.name in (shell_binaries)\n"
        + "  output: o\n  priority: INFO\n"
    )
    result = fr.check_rules([("w.yaml", rules)])
    assert result.ok
    assert [(w.item_type, w.item, w.message, w.line) for w in result.warnings] == [
        ("list", "shells", "list not referred to by any other rule/macro", 1)
    ]


def test_list_names_are_substituted_in_the_condition_text():
    """Falco replaces a list's name by its items wherever the name stands between delimiters."""
    used = (
        BASE + "- rule: r\n  desc: d\n  condition: spawned and proc.name in (shells)\n  output: o\n  priority: INFO\n"
    )
    assert fr.check_rules([("w.yaml", used)]).warnings == []
    # `= shells` becomes `= bash, sh`: a syntax error Falco reports too
    bad = BASE + "- rule: r\n  desc: d\n  condition: spawned and proc.name = shells\n  output: o\n  priority: INFO\n"
    result = fr.check_rules([("w.yaml", bad)])
    assert not result.ok
    assert "unexpected ','" in result.errors[0].message


def test_enabled_only_and_override_replace_on_earlier_file():
    first = BASE + "- rule: r\n  desc: d\n  condition: spawned\n  output: o\n  priority: INFO\n"
    second = "- rule: r\n  enabled: false\n- rule: r\n  priority: error\n  override:\n    priority: replace\n"
    result = fr.check_rules([("a.yaml", first), ("b.yaml", second)])
    assert errors(result) == []
    assert [w.message for w in result.warnings] == [
        "standalone 'enabled' is deprecated; use 'override: {enabled: replace}'",
        "list not referred to by any other rule/macro",
    ]


def test_exception_append_to_existing_exception_values_only():
    first = BASE + (
        "- rule: r\n  desc: d\n  condition: spawned\n  output: o\n  priority: INFO\n  exceptions:\n"
        "    - name: e\n      fields: [proc.name]\n      values: [[bash]]\n"
    )
    ok = "- rule: r\n  exceptions:\n    - name: e\n      values: [[zsh]]\n  override:\n    exceptions: append\n"
    bad = (
        "- rule: r\n  exceptions:\n    - name: e\n      fields: [proc.pname]\n      values: [[zsh]]\n"
        "  override:\n    exceptions: append\n"
    )
    assert errors(fr.check_rules([("a.yaml", first), ("b.yaml", ok)])) == []
    result = fr.check_rules([("a.yaml", first), ("b.yaml", bad)])
    assert [
        "can not append fields or comps to existing exception 'e', only values" in m
        for m in [e.message for e in result.errors]
    ] == [True]


def test_skip_if_unknown_filter_and_other_sources_skip_field_class_check():
    rules = (
        "- rule: audit\n  desc: d\n  condition: ka.verb = create and gcp.user = x\n"
        "  output: '%gcp.user'\n  priority: INFO\n"
        "  source: k8s_audit\n"
        "- rule: plug\n  desc: d\n  condition: myplugin.field = 1\n  output: '%myplugin.field'\n  priority: INFO\n"
        "  skip-if-unknown-filter: true\n"
    )
    assert errors(fr.check_rules([("s.yaml", rules)])) == []
    extra = "- rule: plug2\n  desc: d\n  condition: myplugin.field = 1\n  output: o\n  priority: INFO\n"
    assert len(fr.check_rules([("s.yaml", extra)]).errors) == 1
    assert errors(fr.check_rules([("s.yaml", extra)], extra_field_classes=["myplugin"])) == []


def test_empty_file_and_non_sequence():
    assert fr.check_rules([("empty.yaml", "")]).ok
    result = fr.check_rules([("map.yaml", "rule: x\n")])
    assert result.errors[0].message.startswith("a rules file must be a YAML sequence")


def test_finding_format_names_file_item_and_position():
    rules = "- rule: My Rule\n  desc: d\n  condition: proc.name = bash and\n  output: o\n  priority: INFO\n"
    finding = fr.check_rules([("/etc/falco/x.yaml", rules)]).errors[0]
    assert finding.format() == (
        "/etc/falco/x.yaml:3: error: rule 'My Rule': condition column 21: syntax error: "
        "expected blank or '(' after 'and' but found end of condition (near 'proc.name = bash and')"
    )
    assert finding.to_dict()["column"] == 21


# ------------------------------------------------------------------------------------------
# Load order of a node's rules files (used by the role to stage and validate)
# ------------------------------------------------------------------------------------------


def test_ordered_rule_set_stages_managed_files_in_load_order():
    managed = [
        {"dest": "/etc/falco/rules.d/60-b.yaml", "staged": "/stage/rules.d/60-b.yaml", "content": "b"},
        {"dest": "/etc/falco/falco_rules.local.yaml", "staged": "/stage/falco_rules.local.yaml", "content": "l"},
    ]
    result = fr.ordered_rule_set(
        managed,
        ["/etc/falco/falco_rules.yaml", "/etc/falco/missing.yaml"],
        "/etc/falco/falco_rules.local.yaml",
        ["/etc/falco/falco_rules.yaml", "/etc/falco/falco_rules.local.yaml"],
        ["/etc/falco/rules.d/70-c.yaml", "/etc/falco/rules.d/10-a.yaml", "/etc/falco/rules.d/60-b.yaml"],
    )
    assert [(e["name"], e["path"], e["managed"]) for e in result] == [
        ("/etc/falco/falco_rules.yaml", "/etc/falco/falco_rules.yaml", False),
        ("/etc/falco/falco_rules.local.yaml", "/stage/falco_rules.local.yaml", True),
        ("/etc/falco/rules.d/10-a.yaml", "/etc/falco/rules.d/10-a.yaml", False),
        ("/etc/falco/rules.d/60-b.yaml", "/stage/rules.d/60-b.yaml", True),
        ("/etc/falco/rules.d/70-c.yaml", "/etc/falco/rules.d/70-c.yaml", False),
    ]
    assert result[1]["content"] == "l"


def test_ordered_rule_set_without_local_file_or_managed_files():
    result = fr.ordered_rule_set([], ["/etc/falco/falco_rules.yaml"], "/etc/falco/falco_rules.local.yaml", [], [])
    assert result == []


# ------------------------------------------------------------------------------------------
# Field catalogue and types: what Falco 0.44.1's filter compiler says (checked with falco -V)
# ------------------------------------------------------------------------------------------

COMPILED = [
    # (condition after "evt.type = execve and ", Falco accepts, message fragment when refused)
    ("evt.rawtime contains 1", False, "'contains' operator not supported for numeric filters"),
    ("proc.pid = 0x10", False, "0x10 is not a valid number"),
    ("proc.namex = a", False, "nonexistent field proc.namex"),
    ("container.label = x", False, "container.label requires an argument but none provided"),
    ("evt.type = nosuchevent", False, "unknown event type nosuchevent"),
    ("proc.name = val(proc.pid)", False, "has incompatible type 'INT64'"),
    ("tolower(proc.pid) = 1", False, "is not supported by 'tolower' transformer"),
    # a join/concat/getopt left-hand side skips libsinsp's rhs-field type check
    ("concat(proc.name, proc.exe) = len(proc.name)", True, ""),
    ("proc.aname[2] = x", True, ""),
    ("fd.net = 10.0.0.0/8", True, ""),
    ("proc.name startswith oneof (a, b)", True, ""),
    ("fd.sport = http", True, ""),
    ("evt.buffer bcontains 7f45", True, ""),
]


@pytest.mark.parametrize(("condition", "accepted", "message"), COMPILED, ids=[c[0] for c in COMPILED])
def test_conditions_compile_against_the_catalogue(condition, accepted, message):
    rule = f"- rule: r\n  desc: d\n  condition: 'evt.type = execve and {condition}'\n  output: o\n  priority: INFO\n"
    result = fr.check_rules([("c.yaml", rule)])
    assert result.ok is accepted, errors(result)
    if not accepted:
        assert message in result.errors[0].message
        assert result.errors[0].column == len("evt.type = execve and ") + 1
