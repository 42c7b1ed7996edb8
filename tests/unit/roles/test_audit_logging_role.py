"""audit_logging role: README table and defaults match meta/argument_specs.yml; example vars are the user's task."""

from __future__ import annotations

from pathlib import Path

import yaml
from ansible_collections.nodesec.kubernetes.plugins.module_utils.audit_policy import validate_policy

ROLE = Path(__file__).resolve().parents[3] / "roles" / "audit_logging"
REPO = ROLE.parents[1]
SPEC = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


def _readme_rows():
    rows = {}
    for line in (ROLE / "README.md").read_text().splitlines():
        if line.startswith("| `audit_logging_"):
            cells = [c.strip() for c in line.replace("\\|", "\x00").strip("|").split("|")]
            rows[cells[0].strip("`")] = (cells[1], cells[2].replace("\x00", "|"))
    return rows


def test_defaults_and_argument_specs_have_the_same_variables():
    assert set(DEFAULTS) == set(SPEC)


def test_readme_table_matches_argument_specs():
    rows = _readme_rows()
    assert list(rows) == list(SPEC)
    for name, option in SPEC.items():
        kind, default = rows[name]
        assert kind.split("/")[0] == option["type"], name
        if "default" in option and default != "*see defaults/main.yml*":
            shown = default.strip("`")
            value = option["default"]
            expected = str(value).lower() if isinstance(value, bool) else ("" if value == "" else value)
            if isinstance(value, list):
                expected = "[" + ", ".join(value) + "]"
            assert shown in (str(expected), '""'), name


def test_spec_defaults_equal_role_defaults():
    for name, option in SPEC.items():
        if "default" in option:
            assert option["default"] == DEFAULTS[name], name


def _policy(rules, stages):
    return {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": stages, "rules": rules}


def test_default_policy_is_clean_and_meets_cis():
    assert validate_policy(
        _policy(DEFAULTS["audit_logging_policy_rules"], DEFAULTS["audit_logging_policy_omit_stages"])
    ) == ([], [])
    assert DEFAULTS["audit_logging_log_maxage"] >= 30
    assert DEFAULTS["audit_logging_log_maxbackup"] >= 10
    assert DEFAULTS["audit_logging_log_maxsize"] >= 100
    assert DEFAULTS["audit_logging_policy_omit_stages"] == ["RequestReceived"]
    # secrets/configmaps/tokenreviews at Metadata, before any other rule
    first = DEFAULTS["audit_logging_policy_rules"][0]
    assert first["level"] == "Metadata" and set(first) == {"level", "resources"}
    assert DEFAULTS["audit_logging_policy_rules"][-1] == {"level": "Metadata"}


def test_cks_example_is_the_user_task():
    ex = yaml.safe_load((REPO / "playbooks" / "vars" / "audit_logging_cks_example.yml").read_text())
    assert ex["audit_logging_log_path"] == "/var/log/kubernetes/audit-logs.txt"
    assert (ex["audit_logging_log_maxage"], ex["audit_logging_log_maxbackup"]) == (10, 2)
    rules = ex["audit_logging_policy_rules"]
    # the basic policy only says what not to log, then the four asked-for rules, in order
    levels = [r["level"] for r in rules]
    first_logging = next(i for i, level in enumerate(levels) if level != "None")
    assert set(levels[:first_logging]) == {"None"}
    ns, pv, cm, rest = rules[first_logging:]
    assert (ns["level"], ns["resources"]) == ("RequestResponse", [{"group": "", "resources": ["namespaces"]}])
    assert (pv["level"], pv["namespaces"], pv["resources"]) == (
        "Request",
        ["front-apps"],
        [{"group": "", "resources": ["persistentvolumes"]}],
    )
    assert cm["level"] == "Metadata" and sorted(cm["resources"][0]["resources"]) == ["configmaps", "secrets"]
    assert rest == {"level": "Metadata"}
    _ignored, warnings = validate_policy(_policy(rules, ex["audit_logging_policy_omit_stages"]))
    assert len(warnings) == 1 and "persistentvolumeclaims" in warnings[0]


def test_playbook_runs_one_control_plane_node_at_a_time():
    play = yaml.safe_load((REPO / "playbooks" / "audit_logging.yml").read_text())[0]
    assert play["hosts"] == "control_plane" and play["serial"] == 1
    assert play["roles"][0]["role"] == "nodesec.kubernetes.audit_logging"
