# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter for the Falco role: ``falco_rules_plan``, the whole rules rollout of a node decided at
once (plugins/module_utils/falco/managed_state.py holds the logic)."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

from ansible.errors import AnsibleFilterError
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.managed_state import (
    ManagedRulesStateError,
    RulesPlanError,
    rules_plan,
)


def falco_rules_plan(
    rendered: Sequence[Mapping[str, str]],
    recorded_text: Optional[str] = None,
    *,
    rules_dir: str,
    local_file: str,
    base_files: Sequence[str],
    staging_dir: str,
    existing: Sequence[str],
    found_in_rules_dir: Sequence[str],
    present: Sequence[str],
    local_reset_content: str,
    prune: bool = True,
    texts: Optional[Mapping[str, str]] = None,
    state_file: str = "the state file",
) -> Dict[str, Any]:
    """What the role writes, checks, removes and records on a node (see the filter's docs)."""
    try:
        return rules_plan(
            rendered,
            recorded_text,
            rules_dir=rules_dir,
            local_file=local_file,
            base_files=base_files,
            staging_dir=staging_dir,
            existing=existing,
            found_in_rules_dir=found_in_rules_dir,
            present=present,
            local_reset_content=local_reset_content,
            prune=bool(prune),
            texts=texts,
            state_file=state_file,
        )
    except ManagedRulesStateError as exc:
        raise AnsibleFilterError(
            f"falco_rules_plan: {exc}. It lists the rules files the falco role wrote; "
            "remove it to start afresh (files written before are then left in place)."
        ) from exc
    except RulesPlanError as exc:
        raise AnsibleFilterError(f"falco_rules_plan: {exc}") from exc


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"falco_rules_plan": falco_rules_plan}
