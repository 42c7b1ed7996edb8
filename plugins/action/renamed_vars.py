# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for nodesec.kubernetes.renamed_vars: deprecation warnings for renamed role variables.

A role that renames a user-facing variable keeps the old name working for one release: its
defaults read the old name when it is set (``new: "{{ old | default(<default>) }}"``), and
its first task calls this plugin with the map of old to new names. For every old name that is
set anywhere the task sees (inventory, play, role parameters, extra vars) the task result
carries a deprecation, which ansible-core shows as a ``[DEPRECATION WARNING]`` (every core
from 2.17 on reads the ``deprecations`` list of a task result). It runs on the controller and
never touches the node.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

ARGUMENT_SPEC = {
    "renamed": {"type": "dict", "required": True},
    "removed_in": {"type": "str", "required": True},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # unused
        task_vars = task_vars or {}
        validation_result, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation_result
        bad = sorted(str(k) for k, v in args["renamed"].items() if not isinstance(v, str) or not v)
        if bad:
            result.update(failed=True, msg=f"renamed: the new name of {', '.join(bad)} must be a non-empty string")
            return result
        found = {old: new for old, new in sorted(args["renamed"].items()) if old in task_vars}
        deprecations = [
            {
                "msg": f"The variable {old} is deprecated: it is now called {new}. Set {new} instead"
                f" (while both are set, {new} wins)",
                "version": args["removed_in"],
                "collection_name": "nodesec.kubernetes",
            }
            for old, new in found.items()
        ]
        result.update(changed=False, renamed=found)
        if deprecations:
            result["deprecations"] = deprecations
        return result
