# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Controller-side checker for Falco rules files (no Falco binary needed), held to Falco 0.44.1.

Pure logic, no Ansible imports. It reads an ORDERED set of rules files the way Falco's rule
loader does and gives the verdict ``falco -V`` gives (tests/integration/test_falco_differential.py
runs both side by side):

* the reader and collector (falco/rule_set.py, ``RuleSetReader`` -> ``RuleSet``): item types,
  value types as yaml-cpp decodes them, priorities, ``exceptions``, ``override`` / ``append`` /
  ``enabled``-only items onto targets defined earlier, unknown keys and items as warnings;
* the compiler (falco/checker.py, ``check_rule_set``): lists substituted into condition text as
  Falco does, macros resolved in definition order, conditions parsed with libsinsp's grammar
  (falco/condition.py) and compiled against the real binary's field catalogue
  (falco/vocabulary.py, falco/semantics.py), outputs as libsinsp's formatter reads them, then
  the warnings Falco gives (unused macros and lists, deprecated fields, too many event types);
* findings and the result: falco/findings.py; conditions and outputs alone: falco/syntax.py.

This file is the façade the module (falco_rules_check), the filters and the tests import.

Falco stops at the first error of a file; this checker reports every error it finds (the
verdict is the same: any error rejects). Every finding names the file, the item (rule, macro
or list) and the position: the line in the YAML file and, for conditions and outputs, the
1-based column within that string (appended fragments are attributed to the file and line
where they lie).
"""

from __future__ import annotations

from typing import Iterable, Sequence, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.checker import check_rule_set
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.condition import deep_call
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.findings import CheckResult, Finding
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.load_order import ordered_rule_set
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.rule_set import RuleSet, RuleSetReader
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.syntax import (
    ConditionInfo,
    ConditionSyntaxError,
    parse_condition,
    parse_output,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.vocabulary import (
    SYSCALL_FIELD_CLASSES,
    field_class,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.yaml_nodes import (
    HAS_YAML,
    YAML_IMPORT_ERROR,
    Node,
    load_yaml_nodes,
)

# the façade: what the module, the filters and the tests import from here
__all__ = [
    "HAS_YAML",
    "SYSCALL_FIELD_CLASSES",
    "YAML_IMPORT_ERROR",
    "CheckResult",
    "ConditionInfo",
    "ConditionSyntaxError",
    "Finding",
    "Node",
    "RuleSet",
    "RuleSetReader",
    "check_rule_set",
    "check_rules",
    "expand_condition",
    "field_class",
    "load_yaml_nodes",
    "ordered_rule_set",
    "parse_condition",
    "parse_output",
    "read_rule_set",
]


def read_rule_set(
    files: Sequence[Tuple[str, str]],
    extra_field_classes: Iterable[str] = (),
    check_field_classes: bool = True,
) -> RuleSet:
    """Read an ordered list of (file name, YAML text) into one rule set (the read phase only)."""
    reader = RuleSetReader(extra_field_classes=extra_field_classes, check_field_classes=check_field_classes)
    for name, text in files:
        # the reader parses exception fields and walks trees: room for deep nesting
        deep_call(reader.add_file, name, text)
    return reader.rule_set()


def check_rules(
    files: Sequence[Tuple[str, str]],
    extra_field_classes: Iterable[str] = (),
    check_field_classes: bool = True,
) -> CheckResult:
    """Check an ordered list of (file name, YAML text) as one Falco rule set."""
    rule_set = read_rule_set(files, extra_field_classes, check_field_classes)
    return check_rule_set(rule_set, extra_field_classes, check_field_classes)


def expand_condition(name_or_text: str, files: Sequence[Tuple[str, str]]) -> str:
    """A rule's (or a raw) condition with macros and lists expanded (``RuleSet.expand_condition``)."""
    rule_set = read_rule_set(files, check_field_classes=False)
    return deep_call(rule_set.expand_condition, name_or_text)
