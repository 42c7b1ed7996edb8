"""roles/falco: README variable table, meta/argument_specs.yml and defaults/main.yml agree."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "falco"


def spec_options() -> dict:
    return yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


def test_every_default_is_documented_in_argument_specs_and_readme():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    readme_vars = re.findall(r"^\| `(falco_[a-z0-9_]+)` \|", (ROLE / "README.md").read_text(), re.MULTILINE)
    assert sorted(defaults) == sorted(spec_options()) == sorted(readme_vars)


def test_literal_defaults_match_argument_specs():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    for name, option in spec_options().items():
        value = defaults[name]
        if isinstance(value, str) and "{{" in value:
            continue  # templated defaults are documented with their usual value
        if isinstance(value, list) and any(isinstance(v, str) and "{{" in v for v in value):
            continue
        assert option.get("default") == value, name


def test_choices_cover_the_defaults():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    for name, option in spec_options().items():
        if "choices" in option:
            assert defaults[name] in option["choices"], name
