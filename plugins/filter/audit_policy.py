# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters for Kubernetes API audit policies: ``audit_policy_validate``."""

from __future__ import annotations

from typing import Any, Dict, List

from ansible.errors import AnsibleFilterError
from ansible_collections.nodesec.kubernetes.plugins.module_utils.audit_policy import validate_policy


def audit_policy_validate(policy: Any) -> Dict[str, List[str]]:
    """Return ``{"errors": [...], "warnings": [...], "valid": bool}`` for an audit policy.

    ``policy`` is the parsed policy (a mapping) or its YAML/JSON text.
    """
    if isinstance(policy, str):
        import yaml

        try:
            policy = yaml.safe_load(policy)
        except yaml.YAMLError as exc:
            return {"errors": [f"the policy is not valid YAML: {exc}"], "warnings": [], "valid": False}
    try:
        errors, warnings = validate_policy(policy)
    except Exception as exc:  # pragma: no cover - defensive: report, do not crash the play
        raise AnsibleFilterError(f"audit_policy_validate: cannot validate the policy: {exc}") from exc
    return {"errors": errors, "warnings": warnings, "valid": not errors}


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"audit_policy_validate": audit_policy_validate}
