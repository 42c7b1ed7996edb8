#!/usr/bin/python
# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: renamed_vars
short_description: Warn that role variables were renamed, naming the new names
version_added: 0.2.0
description:
  - For every old variable name in O(renamed) that is set where the task runs (inventory, play
    vars, role parameters, extra vars), returns a deprecation that Ansible shows as a
    C([DEPRECATION WARNING]) naming the new variable and the release that removes the old one.
  - It only warns. The role keeps the old name working through its defaults, where the new
    variable defaults to the old one when that is set.
  - Runs on the controller only; it never connects to the node.
author:
  - nodesec maintainers (@nodesec)
options:
  renamed:
    description: Old variable name to new variable name.
    type: dict
    required: true
  removed_in:
    description: The collection version that removes the old names.
    type: str
    required: true
attributes:
  action:
    support: full
    description: Runs as an action plugin on the controller.
  check_mode:
    support: full
    description: It changes nothing in any mode.
  diff_mode:
    support: none
    description: Nothing to diff.
  platform:
    support: full
    platforms: all
    description: Runs on the controller.
"""

EXAMPLES = r"""
# roles/myrole/defaults/main.yml:
#   myrole_repo_url: "{{ myrole_vendor_repo_url | default('https://example.com/deb') }}"
- name: Warn about renamed variables
  nodesec.kubernetes.renamed_vars:
    renamed:
      myrole_vendor_repo_url: myrole_repo_url
    removed_in: 0.3.0
"""

RETURN = r"""
renamed:
  description: The old names that are set, with their new names.
  returned: always
  type: dict
  sample: {"sysdig_vendor_repo_url": "sysdig_repo_url"}
"""
