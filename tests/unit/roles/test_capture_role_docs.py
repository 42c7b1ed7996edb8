"""The capture role's README variable table, meta/argument_specs.yml and defaults agree."""

from __future__ import annotations

from pathlib import Path

import yaml
from ansible_collections.nodesec.kubernetes.tests.unit.roles import role_docs

ROOT = Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "capture"
# Defaults computed from other variables: documented without a spec default.
COMPUTED = {"capture_locate_pod", "capture_node_name"}


def spec_options() -> dict:
    return role_docs.spec_options("capture")


def readme_rows() -> dict:
    return role_docs.readme_rows("capture", "capture")


def test_readme_table_lists_exactly_the_spec_options():
    assert set(readme_rows()) == set(spec_options())


def test_readme_types_and_defaults_match_the_spec():
    for name, row in readme_rows().items():
        opt = spec_options()[name]
        expected_type = opt["type"] if opt["type"] != "list" else f"list of {opt['elements']}"
        assert row["type"] == expected_type, name
        default = opt.get("default")
        if name in COMPUTED:
            rendered = "(computed)"
        elif isinstance(default, bool):
            rendered = str(default).lower()
        elif isinstance(default, list):
            rendered = "[" + ", ".join(default) + "]"
        elif default == "":
            rendered = '""'
        else:
            rendered = str(default).replace("\t", "\\t")
        assert row["default"] == rendered, name


def test_defaults_match_the_spec():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    options = spec_options()
    assert set(defaults) == set(options)
    for name, value in defaults.items():
        if name in COMPUTED:
            assert "default" not in options[name] and "Defaults to" in " ".join(options[name]["description"]), name
            continue
        assert options[name].get("default") == value, name


def test_the_playbook_is_a_thin_wrapper_of_the_role():
    plays = yaml.safe_load((ROOT / "playbooks" / "capture.yml").read_text())
    assert len(plays) == 1
    assert plays[0]["roles"] == [{"role": "nodesec.kubernetes.capture"}]
    assert "tasks" not in plays[0] and "vars" not in plays[0]
