"""The sysdig role's README variable table, meta/argument_specs.yml and defaults agree."""

from __future__ import annotations

from pathlib import Path

import jinja2
import yaml
from ansible_collections.nodesec.kubernetes.tests.unit.roles import role_docs

ROLE = Path(__file__).resolve().parents[3] / "roles" / "sysdig"

# Renamed in 0.2.0, old names removed in 0.3.0 (old: new).
RENAMED = {
    "sysdig_vendor_repo_url": "sysdig_repo_url",
    "sysdig_vendor_repo_suite": "sysdig_repo_suite",
    "sysdig_vendor_key_url": "sysdig_repo_key_url",
    "sysdig_vendor_key_content": "sysdig_repo_key_content",
    "sysdig_vendor_keyring": "sysdig_repo_keyring",
    "sysdig_package_file_dest_dir": "sysdig_package_file_dir",
}
# What the role's vars/ define that the defaults may refer to.
ROLE_VARS = {"__sysdig_deb_arch": "amd64"}


def render(template: str, variables: dict) -> str:
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(template).render(variables)


def spec_options() -> dict:
    return role_docs.spec_options("sysdig")


def readme_rows() -> dict:
    return role_docs.readme_rows("sysdig", "sysdig")


def test_readme_table_lists_exactly_the_spec_options():
    assert set(readme_rows()) == set(spec_options())


def test_readme_types_and_defaults_match_the_spec():
    for name, row in readme_rows().items():
        opt = spec_options()[name]
        expected_type = opt["type"] if opt["type"] != "list" else f"list of {opt['elements']}"
        assert row["type"] == expected_type, name
        default = opt.get("default")
        if default is None:
            rendered = "(unset)"
        elif isinstance(default, bool):
            rendered = str(default).lower()
        elif isinstance(default, list):
            rendered = "[" + ", ".join(default) + "]"
        elif default == "":
            rendered = '""'
        else:
            rendered = str(default)
        assert row["default"] == rendered, name


def test_defaults_match_the_spec():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    options = spec_options()
    assert set(defaults) == set(options) - set(RENAMED)
    for name, value in defaults.items():
        if name in RENAMED.values():
            continue  # test_renamed_variables_default_to_their_old_names
        assert options[name].get("default") == value, name
        if "choices" in options[name]:
            assert value in options[name]["choices"], name


def test_renamed_variables_default_to_their_old_names():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    options = spec_options()
    tasks = (ROLE / "tasks" / "main.yml").read_text()
    for old, new in RENAMED.items():
        assert "default" not in options[old], old  # unset unless the user sets it
        assert "Deprecated, removed in 0.3.0" in options[old]["description"], old
        assert options[old]["type"] == options[new]["type"], old
        # Old name unset: the new one has its documented default.
        assert render(defaults[new], ROLE_VARS) == render(str(options[new]["default"]), ROLE_VARS), new
        # Old name set: the new one takes its value.
        assert render(defaults[new], {**ROLE_VARS, old: "from-the-old-name"}) == "from-the-old-name", new
        # The deprecation warning names it.
        assert f"{old}: {new}" in tasks, old
