# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters for the Falco role: ``falco_rule_set``, ``falco_rule_set_contents``,
``falco_managed_rules_state``, ``falco_rules_prune_plan``."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from ansible.errors import AnsibleFilterError
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.managed_state import (
    ManagedRulesStateError,
    parse_state,
    prune_plan,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco_rules import ordered_rule_set


def falco_rule_set(
    managed: Sequence[Dict[str, Any]],
    base_files: Sequence[str],
    local_file: str,
    existing: Sequence[str],
    rules_dir_files: Sequence[str],
) -> List[Dict[str, Any]]:
    """The ordered rule set of a node, with staged paths for the files we are about to change."""
    for entry in managed:
        missing = {"dest", "staged", "content"} - set(entry)
        if missing:
            raise AnsibleFilterError(f"falco_rule_set: managed entry {entry!r} lacks {sorted(missing)}")
    return ordered_rule_set(list(managed), list(base_files), local_file, list(existing), list(rules_dir_files))


def falco_rule_set_contents(rule_set: Sequence[Dict[str, Any]], texts: Dict[str, str]) -> List[Dict[str, str]]:
    """``[{"name", "content"}]`` for each file of the rule set: our rendered content for the files
    we write, ``texts[path]`` (read from the node) for the others."""
    result = []
    for entry in rule_set:
        if entry.get("managed"):
            content = entry["content"]
        elif entry["path"] in texts:
            content = texts[entry["path"]]
        else:
            raise AnsibleFilterError(f"falco_rule_set_contents: no content read for {entry['path']}")
        result.append({"name": entry["name"], "content": content})
    return result


def falco_managed_rules_state(text: Optional[str], source: str = "the state file") -> List[str]:
    """The live paths recorded in the role's state file (its text; empty when there is none)."""
    try:
        return parse_state(text, source)
    except ManagedRulesStateError as exc:
        raise AnsibleFilterError(
            f"falco_managed_rules_state: {exc}. It lists the rules files the falco role wrote; "
            "remove it to start afresh (files written before are then left in place)."
        ) from exc


def falco_rules_prune_plan(
    recorded: Sequence[str],
    wanted: Sequence[str],
    rules_dir: str,
    present: Sequence[str],
    prune: bool = True,
    reset: Sequence[str] = (),
) -> Dict[str, Any]:
    """The recorded rules files to remove, to empty, those kept, and the state texts to write."""
    for name, value in (("recorded", recorded), ("wanted", wanted), ("present", present), ("reset", reset)):
        if isinstance(value, (str, bytes)) or not all(isinstance(p, str) for p in value):
            raise AnsibleFilterError(f"falco_rules_prune_plan: {name} must be a list of paths, got {value!r}")
    return prune_plan(list(recorded), list(wanted), rules_dir, list(present), bool(prune), list(reset))


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {
            "falco_rule_set": falco_rule_set,
            "falco_rule_set_contents": falco_rule_set_contents,
            "falco_managed_rules_state": falco_managed_rules_state,
            "falco_rules_prune_plan": falco_rules_prune_plan,
        }
