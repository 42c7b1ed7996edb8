# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Rules-file YAML composed into nodes that keep their line numbers (for findings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR: Optional[BaseException] = None
except ImportError as _exc:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None
    HAS_YAML = False
    YAML_IMPORT_ERROR = _exc


@dataclass
class Node:
    """A YAML node with its position: kind is map / seq / scalar."""

    kind: str
    value: Any  # dict[str, Node] | list[Node] | str (scalar text)
    line: int  # 1-based
    tag: str = ""
    key_lines: Dict[str, int] = field(default_factory=dict)

    def scalar(self) -> Optional[str]:
        return self.value if self.kind == "scalar" else None

    def is_null(self) -> bool:
        return self.kind == "scalar" and self.tag.endswith(":null")

    def as_bool(self) -> Optional[bool]:
        if self.kind != "scalar":
            return None
        lowered = str(self.value).lower()
        if lowered in ("true", "yes", "on", "y"):
            return True
        if lowered in ("false", "no", "off", "n"):
            return False
        return None


def _convert(node: Any) -> Node:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        mapping: Dict[str, Node] = {}
        key_lines: Dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            mapping[key] = _convert(value_node)
            key_lines[key] = key_node.start_mark.line + 1
        return Node("map", mapping, line, node.tag, key_lines)
    if isinstance(node, yaml.SequenceNode):
        return Node("seq", [_convert(child) for child in node.value], line, node.tag)
    return Node("scalar", node.value, line, node.tag)


def load_yaml_nodes(text: str) -> Node:
    """Compose YAML text into positioned nodes; raise yaml.YAMLError on syntax errors."""
    if not HAS_YAML:  # pragma: no cover
        raise RuntimeError(f"PyYAML is required: {YAML_IMPORT_ERROR}")
    composed = yaml.compose(text, Loader=yaml.SafeLoader)
    if composed is None:
        return Node("seq", [], 1, "tag:yaml.org,2002:seq")
    return _convert(composed)
