#!/usr/bin/python
# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: falco_rules_check
short_description: Check an ordered set of Falco rules files without a Falco binary
version_added: 0.1.0
description:
  - Reads Falco rules files in the order Falco loads them and checks them as one rule set, the way
    Falco 0.44.1's rule loader does, without needing Falco installed; it gives the verdict
    C(falco -V) gives (a differential test in CI runs both over the released rule sets, broken
    rules and a generated corpus of 3000 files, and requires the same verdict for every file).
  - Checks the rules file format (item types, value types, priority names case-insensitively,
    C(exceptions) shapes, C(override) with C(append)/C(replace) per key, C(enabled)-only items),
    references across the whole ordered set (an C(override) or C(append) must target a list,
    macro or rule defined earlier, possibly in an earlier file; macros must be defined before
    the macros that use them), conditions in the libsinsp 0.25 filter language (lists
    substituted as Falco does, exceptions included) compiled against the field catalogue of the
    real Falco binary with the container plugin (field names and arguments, field types against
    operators, transformers and constant values, event names), and output formats.
  - Where Falco only warns, this module warns too (unknown keys, invalid list or macro names,
    duplicate exception names, unused macros and lists, deprecated fields, rules matching too
    many event types).
  - Every finding names the file, the rule, macro or list, the line in the YAML file and, for
    conditions and outputs, the column within that string.
  - Read-only. Usually run on the controller (C(delegate_to=localhost)) against rendered content,
    before any file is written to a node.
  - The catalogue is that of Falco 0.44.1 with the container plugin 0.7.1 (rules of other
    sources are skipped with a warning, as that Falco does). Run C(falco -V) on the node as the
    final check (the M(nodesec.kubernetes.falco) role does both).
author:
  - nodesec maintainers (@nodesec)
requirements:
  - PyYAML (shipped with ansible-core)
extends_documentation_fragment:
  - nodesec.kubernetes.attributes
  - nodesec.kubernetes.attributes.INFO_MODULE
options:
  rules_files:
    description:
      - The rules files, in load order (the order of C(rules_files) in C(falco.yaml); files of a
        directory in alphabetical order).
      - Each entry gives either O(rules_files[].path) or O(rules_files[].content).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Path of a rules file on the host the module runs on.
        type: path
      content:
        description:
          - The YAML text of a rules file.
        type: str
      name:
        description:
          - The name used in findings. Defaults to O(rules_files[].path), or C(inline-N) for content.
          - Give the path the file will have on the node so messages point at it.
        type: str
      missing_ok:
        description:
          - When O(rules_files[].path) does not exist, skip it instead of failing.
        type: bool
        default: false
  extra_field_classes:
    description:
      - Field classes provided by plugins the node loads in addition to the container plugin
        (for example C(k8smeta)); checks on their fields are not type-checked and their fields
        are accepted in conditions, exceptions and outputs.
    type: list
    elements: str
    default: []
  check_field_classes:
    description:
      - Check fields against the catalogue (names, arguments, types, values). With V(false) only
        the syntax, the rule set's references and the format are checked.
    type: bool
    default: true
  fail_on_warnings:
    description:
      - Fail when there are warnings too (for example deprecated C(append), or a macro or list
        nothing refers to).
    type: bool
    default: false
notes:
  - Supports C(check_mode); it never changes anything.
seealso:
  - name: Falco rules reference
    description: The rules file format (lists, macros, rules, exceptions, overrides).
    link: https://falco.org/docs/reference/rules/
"""

EXAMPLES = r"""
- name: Check our rules together with the upstream rule set, on the controller
  nodesec.kubernetes.falco_rules_check:
    rules_files:
      - path: files/falco_rules.yaml
        name: /etc/falco/falco_rules.yaml
      - content: "{{ falco_rules | to_nice_yaml(indent=2) }}"
        name: /etc/falco/falco_rules.local.yaml
  delegate_to: localhost
  run_once: true

- name: Check the rules files present on a node (read-only)
  nodesec.kubernetes.falco_rules_check:
    rules_files:
      - path: /etc/falco/falco_rules.yaml
      - path: /etc/falco/falco_rules.local.yaml
        missing_ok: true
  register: falco_check
"""

RETURN = r"""
errors:
  description: The errors, in load order. Empty when the rule set is valid.
  returned: always
  type: list
  elements: dict
  contains:
    severity:
      description: C(error).
      type: str
    file:
      description: The file name (O(rules_files[].name) or path).
      type: str
    line:
      description: The 1-based line in the YAML file.
      type: int
    item_type:
      description: C(rule), C(macro), C(list), C(required_engine_version), C(item) or C(file).
      type: str
    item:
      description: The name of the rule, macro or list.
      type: str
    key:
      description: The key the finding is about (C(condition), C(output), C(override), ...).
      type: str
    column:
      description: The 1-based column within the condition or output string, when relevant.
      type: int
    message:
      description: What is wrong.
      type: str
    text:
      description: "The whole finding as one line: C(file:line: error: rule 'name': key column N: message)."
      type: str
  sample:
    - severity: error
      file: /etc/falco/falco_rules.local.yaml
      line: 3
      item_type: rule
      item: shell_in_container
      key: condition
      column: 21
      message: "syntax error: expected a field, macro or '(' but found end of condition (near 'k8s.pod.name=nginx and')"
      text: "/etc/falco/falco_rules.local.yaml:3: error: rule 'shell_in_container': condition column 21: ..."
rule_warnings:
  description:
    - The warnings, same shape as RV(errors) (named so because C(warnings) is reserved by Ansible).
  returned: always
  type: list
  elements: dict
counts:
  description: How many files, rules, macros and lists items were read.
  returned: always
  type: dict
  sample: {files: 2, rules: 29, macros: 88, lists: 51}
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.nodesec.kubernetes.plugins.module_utils import falco_rules


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "rules_files": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "path": {"type": "path"},
                    "content": {"type": "str"},
                    "name": {"type": "str"},
                    "missing_ok": {"type": "bool", "default": False},
                },
                "mutually_exclusive": [["path", "content"]],
                "required_one_of": [["path", "content"]],
            },
            "extra_field_classes": {"type": "list", "elements": "str", "default": []},
            "check_field_classes": {"type": "bool", "default": True},
            "fail_on_warnings": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    if not falco_rules.HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=str(falco_rules.YAML_IMPORT_ERROR))

    files = []
    for index, entry in enumerate(module.params["rules_files"]):
        path = entry.get("path")
        if path is not None:
            name = entry.get("name") or path
            if not os.path.exists(path):
                if entry["missing_ok"]:
                    continue
                module.fail_json(msg=f"Rules file {path} does not exist")
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                module.fail_json(msg=f"Cannot read rules file {path}: {exc}")
            files.append((name, text))
        else:
            files.append((entry.get("name") or f"inline-{index + 1}", entry["content"] or ""))

    result = falco_rules.check_rules(
        files,
        extra_field_classes=module.params["extra_field_classes"],
        check_field_classes=module.params["check_field_classes"],
    )
    data = result.to_dict()
    output = {
        "changed": False,
        "errors": data["errors"],
        "rule_warnings": data["warnings"],
        "counts": data["counts"],
    }
    if result.warnings:
        module.warn(f"Falco rules check: {len(result.warnings)} warning(s), first: {result.warnings[0].format()}")
    failing = list(result.errors)
    if module.params["fail_on_warnings"]:
        failing += result.warnings
    if failing:
        shown = "; ".join(f.format() for f in failing[:5])
        more = f" (and {len(failing) - 5} more)" if len(failing) > 5 else ""
        module.fail_json(msg=f"Falco rules check failed with {len(failing)} finding(s): {shown}{more}", **output)
    module.exit_json(msg=f"Falco rules check passed ({len(files)} file(s))", **output)


if __name__ == "__main__":
    main()
