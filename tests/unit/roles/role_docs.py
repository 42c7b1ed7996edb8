"""Readers shared by the role docs tests: a role's argument spec options and its README table."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"


def spec_options(role: str) -> dict:
    spec = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())
    return spec["argument_specs"]["main"]["options"]


def readme_rows(role: str, prefix: str) -> dict:
    """README rows `| `<prefix>_name` | type | `default` | description |`, by variable name."""
    rows = {}
    pattern = rf"^\| `({prefix}_[a-z_]+)` \| ([^|]+) \| `?([^|]*?)`? \| (.+) \|$"
    for line in (ROLES / role / "README.md").read_text().splitlines():
        m = re.match(pattern, line)
        if m:
            rows[m.group(1)] = {"type": m.group(2).strip(), "default": m.group(3).strip()}
    return rows
