# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Condition and output strings checked on their own, with libsinsp's grammar and messages.

``parse_condition`` parses a condition as Falco's engine does (falco/condition.py) and says what
it refers to (fields, macros, lists, operators); ``parse_output`` reads an output format as
libsinsp's formatter does. Both raise ``ConditionSyntaxError`` with a 0-based offset and a
message that says what stands at the position (``friendly``, also used by the checker).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import condition as fcond
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import semantics as fsem
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import vocabulary as fvoc


class ConditionSyntaxError(Exception):
    """A condition or output string does not parse; ``offset`` is 0-based in the string."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"{message} (offset {offset})")
        self.offset = offset
        self.message = message


@dataclass
class ConditionInfo:
    """What a parsed condition refers to."""

    fields: List[Tuple[str, int]] = field(default_factory=list)  # (field name with [arg], offset)
    macros: List[Tuple[str, int]] = field(default_factory=list)  # (identifier, offset)
    list_values: List[Tuple[str, int]] = field(default_factory=list)  # values in (...) lists
    list_identifiers: List[Tuple[str, int]] = field(default_factory=list)  # `in some_list` form
    operators: List[Tuple[str, int]] = field(default_factory=list)
    transformers: List[Tuple[str, int]] = field(default_factory=list)
    tree: Any = None


def _info(tree: Any) -> ConditionInfo:
    info = ConditionInfo(tree=tree)
    for node in fcond.walk(tree):
        if isinstance(node, fcond.FieldRef):
            info.fields.append((node.full, node.pos))
        elif isinstance(node, fcond.Identifier):
            info.macros.append((node.name, node.pos))
        elif isinstance(node, fcond.Transformer):
            info.transformers.append((node.name, node.pos))
        elif isinstance(node, fcond.Check):
            info.operators.append((node.op, node.pos))
            if isinstance(node.right, fcond.ValueList):
                info.list_values.extend(zip(node.right.values, node.right.positions))
            elif isinstance(node.right, fcond.Value) and node.op in ("in", "intersects", "pmatch"):
                info.list_identifiers.append((node.right.text, node.right.pos))
    return info


def parse_condition(text: str) -> ConditionInfo:
    """Parse a condition as libsinsp does; raise ConditionSyntaxError with a 0-based offset."""
    try:
        return fcond.deep_call(lambda: _info(fcond.parse(text)))
    except fcond.FilterSyntaxError as exc:
        raise ConditionSyntaxError(exc.offset, friendly(exc.message, text, exc.offset)) from None
    except RecursionError:
        raise ConditionSyntaxError(0, fcond.nesting_message()) from None


def friendly(message: str, text: str, offset: int) -> str:
    """libsinsp's message, plus what stands at the position."""
    if offset >= len(text.rstrip()):
        found = "end of condition"
    else:
        found = repr(text[offset : offset + 12].split()[0] if text[offset:].split() else text[offset])
    if message == "filter input string is empty":
        return "empty condition"
    if message.startswith("unexpected token after"):
        after = message[len("unexpected token after ") :].split(", expecting")[0]
        return f"unexpected {found} after {after}: expected 'and', 'or' or the end of the condition"
    if message.startswith("expected a valid check operator"):
        message = "expected an operator (" + ", ".join(fcond.ALL_OPERATORS) + ")"
    message = message.replace("expected a ')' token", "expected ')'").replace("expected a ']' token", "expected ']'")
    return f"{message} but found {found}"


def parse_output(text: str) -> List[Tuple[str, int]]:
    """Check an output format as libsinsp's formatter reads it; return [(field, offset)]."""
    try:
        return fcond.deep_call(_parse_output, text)
    except RecursionError:
        raise ConditionSyntaxError(0, fcond.nesting_message()) from None


def _parse_output(text: str) -> List[Tuple[str, int]]:
    problem = fsem.check_output(text)
    if problem is not None:
        raise ConditionSyntaxError(problem[1], problem[0])
    fields: List[Tuple[str, int]] = []
    body = text[1:] if text.startswith("*") else text
    shift = len(text) - len(body)
    pos = 0
    while True:
        pos = body.find("%", pos)
        if pos < 0 or pos == len(body) - 1:
            return fields
        start = pos + 1
        while start < len(body) and body[start].isdigit():
            start += 1
        rest = body[start:]
        size = len(rest)
        while size > 0:
            try:
                parser = fcond.Parser(rest[:size])
                tree = parser.parse_field_or_transformer()
                fsem.extractor(tree)
                for node in fcond.walk(tree):
                    if isinstance(node, fcond.FieldRef):
                        fields.append((node.full, start + shift + node.pos))
                size = parser.pos
                break
            except (fcond.FilterSyntaxError, fsem.CompileError, fvoc.FieldError):
                size -= 1
        pos = start + max(size, 1)
