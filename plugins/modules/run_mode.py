#!/usr/bin/python
# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: run_mode
short_description: Tell whether the running task is in check mode (and diff mode)
version_added: 0.2.0
description:
  - Returns the effective check mode of the task it runs in, whichever way it was set,
    C(--check) on the command line, or the C(check_mode) keyword set to V(true) on the play, on a
    block, or on the task that imports a role.
  - The magic variable C(ansible_check_mode) is only true with C(--check), so tasks that must
    behave differently in check mode (skip a handler's health wait, verify only what exists) read
    this module's RV(check_mode) instead.
  - Runs on the controller only; it never connects to the node.
  - The roles of this collection call it once at their start.
author:
  - nodesec maintainers (@nodesec)
options: {}
attributes:
  action:
    support: full
    description: Runs as an action plugin on the controller.
  check_mode:
    support: full
    description: It reports check mode; it changes nothing in any mode.
  diff_mode:
    support: none
    description: It returns RV(diff_mode) but has no diff of its own.
  platform:
    support: full
    platforms: all
    description: Runs on the controller.
notes:
  - Setting C(check_mode) on this task itself changes what it reports, like for any task.
"""

EXAMPLES = r"""
- name: Find out whether this is a check-mode run
  nodesec.kubernetes.run_mode:
  register: __myrole_run_mode

- name: Wait for the service only when it was really restarted
  ansible.builtin.wait_for:
    port: 8765
  when: not __myrole_run_mode.check_mode
"""

RETURN = r"""
check_mode:
  description: Whether the task runs in check mode.
  returned: always
  type: bool
  sample: true
diff_mode:
  description: Whether the task runs in diff mode.
  returned: always
  type: bool
  sample: false
"""
