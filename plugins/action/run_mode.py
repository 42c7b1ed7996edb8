# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for nodesec.kubernetes.run_mode: the task's effective check and diff mode.

``ansible_check_mode`` is only true with ``--check``; ``check_mode: true`` on a play, a block or
the task that includes a role is inherited by the tasks but not by that variable. The play
context of the running task holds the effective value in every case (the task's inherited
``check_mode`` when set, else ``--check``), so this plugin reads it there and never touches the
node. The roles call it once and keep the result; it replaces the two-task probe they copied.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset()
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # unused
        validation_result, new_module_args = self.validate_argument_spec(argument_spec={})
        del validation_result, new_module_args
        result.update(
            changed=False,
            check_mode=bool(self._play_context.check_mode),
            diff_mode=bool(self._play_context.diff),
        )
        return result
