"""roles/falco: the README's variable tables, meta/argument_specs.yml and defaults/main.yml agree.

The role has two entry points, each with its own argument spec section and README table: `main`
(the nodes) and `helm` (`tasks_from: helm`, the cluster). A variable of the defaults belongs to
at least one of them; each table lists exactly the options of its section.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "falco"
ENTRY_POINTS = ("main", "helm")
# the words that introduce each entry point's table in the README
TABLE_INTRO = {"main": "`meta/argument_specs.yml`, section `main`", "helm": "`meta/argument_specs.yml`, section `helm`"}


def specs() -> dict:
    return yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]


def spec_options(entry: str) -> dict:
    return specs()[entry]["options"]


def defaults() -> dict:
    return yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


def readme_table(entry: str) -> dict[str, str]:
    """The rows of the entry point's table: variable -> default as written (without backticks)."""
    text = (ROLE / "README.md").read_text()
    start = text.index(TABLE_INTRO[entry])
    lines = text[start:].splitlines()[1:]
    rows: dict[str, str] = {}
    in_table = False
    for line in lines:
        if line.startswith("|"):
            in_table = True
            m = re.match(r"^\| `(falco_[a-z0-9_]+)` \| `?(.*?)`? \| .+ \|$", line)
            if m:
                assert m.group(1) not in rows, f"{m.group(1)} twice in the {entry} table"
                rows[m.group(1)] = m.group(2)
        elif in_table:
            break
    return rows


def test_the_role_has_the_two_entry_points():
    assert sorted(specs()) == sorted(ENTRY_POINTS)
    assert (ROLE / "tasks" / "main.yml").is_file() and (ROLE / "tasks" / "helm.yml").is_file()


def test_every_default_belongs_to_an_entry_point_and_every_option_has_a_default():
    options = set()
    for entry in ENTRY_POINTS:
        options |= set(spec_options(entry))
    assert sorted(defaults()) == sorted(options)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_readme_table_lists_exactly_the_options_of_the_entry_point(entry):
    assert sorted(readme_table(entry)) == sorted(spec_options(entry))


def test_helm_options_are_helm_only_or_shared_and_the_node_options_stay_out_of_helm():
    main, helm = spec_options("main"), spec_options("helm")
    helm_only = {n for n in helm if n.startswith("falco_helm_")}
    assert helm_only and not helm_only & set(main)
    # node-side settings mean nothing to the chart: they are not in its spec
    for name in (
        "falco_config_dir",
        "falco_rules_dir",
        "falco_rules_staging_dir",
        "falco_service_manage",
        "falco_repo_deb_url",
    ):
        assert name in main and name not in helm
    # a shared option has the same type, default and choices in both sections
    for name in set(main) & set(helm):
        for key in ("type", "default", "choices", "elements"):
            assert main[name].get(key) == helm[name].get(key), (name, key)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_literal_defaults_match_argument_specs(entry):
    values = defaults()
    for name, option in spec_options(entry).items():
        value = values[name]
        if isinstance(value, str) and "{{" in value:
            continue  # templated defaults are documented with their usual value
        if isinstance(value, list) and any(isinstance(v, str) and "{{" in v for v in value):
            continue
        assert option.get("default") == value, name


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_readme_defaults_match_argument_specs(entry):
    for name, written in readme_table(entry).items():
        default = spec_options(entry)[name].get("default")
        if isinstance(default, (dict, list)) and default:
            assert yaml.safe_load(written) == default, name
        elif isinstance(default, bool):
            assert written == str(default).lower(), name
        elif default in ("", None):
            assert written in ('""', ""), name
        elif isinstance(default, list):
            assert written == "[]", name
        elif isinstance(default, dict):
            assert written == "{}", name
        else:
            assert written == str(default), name


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_choices_cover_the_defaults(entry):
    values = defaults()
    for name, option in spec_options(entry).items():
        if "choices" in option:
            assert values[name] in option["choices"], name


def test_the_deprecated_helm_method_stays_a_choice_of_main_for_one_release():
    option = spec_options("main")["falco_install_method"]
    assert "helm" in option["choices"]
    assert "deprecated" in " ".join(option["description"]) and "tasks_from=helm" in " ".join(option["description"])
