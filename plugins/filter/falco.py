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
    rendered: Sequence[Mapping[str, str]], recorded_text: Optional[str] = None, **options: Any
) -> Dict[str, Any]:
    """What the role writes, checks, removes and records on a node (see the filter's docs); the
    keyword options are those of managed_state.rules_plan, which is the one place they are
    defined."""
    try:
        return rules_plan(rendered, recorded_text, **options)
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
