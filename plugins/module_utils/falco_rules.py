# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Controller-side checker for Falco rules files (no Falco binary needed), held to Falco 0.44.1.

Pure logic, no Ansible imports. It reads an ORDERED set of rules files the way Falco's rule
loader does and gives the verdict ``falco -V`` gives (tests/integration/test_falco_differential.py
runs both side by side):

* the reader: item types, value types as yaml-cpp decodes them, priority names
  (case-insensitive), ``exceptions`` shapes, ``override`` (append / replace per key, including
  ``capture`` and ``capture_duration``), ``enabled``-only items, legacy ``append: true``;
  unknown keys and items are warnings (Falco ignores them), as are invalid list/macro names;
* the collector: ``append`` / ``override`` / ``enabled``-only items need a target defined
  earlier (possibly in an earlier file); exception fields must be fields, comps operators;
* the compiler: lists substituted into condition text as Falco does, every macro parsed and
  resolved in definition order, rule conditions (with their exceptions) parsed with libsinsp's
  grammar (falco/condition.py) and compiled against the field catalogue of the real binary
  (falco/vocabulary.py, falco/semantics.py: field existence, transformer and operator types,
  constant values), outputs checked as libsinsp's formatter reads them, then the warnings Falco
  gives (unused macros and lists, deprecated fields, too many event types, suspicious values).

Falco stops at the first error of a file; this checker reports every error it finds (the
verdict is the same: any error rejects). Every finding names the file, the item (rule, macro
or list) and the position: the line in the YAML file and, for conditions and outputs, the
1-based column within that string (appended fragments are attributed to the file and line
where they lie).
"""

from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import condition as fcond
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import semantics as fsem
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import vocabulary as fvoc
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.findings import (
    ERROR,
    WARNING,
    CheckResult,
    Finding,
    Findings,
    Origin,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.load_order import ordered_rule_set
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.yaml_nodes import (
    HAS_YAML,
    YAML_IMPORT_ERROR,
    Node,
    _convert,
    load_yaml_nodes,
    yaml,
)

# the façade: what the module, the filters and the tests import from here
__all__ = [
    "HAS_YAML",
    "YAML_IMPORT_ERROR",
    "CheckResult",
    "ConditionInfo",
    "ConditionSyntaxError",
    "Finding",
    "Node",
    "RuleSetChecker",
    "check_rules",
    "expand_condition",
    "field_class",
    "load_yaml_nodes",
    "ordered_rule_set",
    "parse_condition",
    "parse_output",
]

# --------------------------------------------------------------------------------------------
# Vocabulary (Falco rules file schema)
# --------------------------------------------------------------------------------------------

PRIORITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "info", "debug")

RULE_KEYS = frozenset(
    {
        "rule",
        "desc",
        "condition",
        "output",
        "priority",
        "enabled",
        "tags",
        "exceptions",
        "override",
        "append",
        "source",
        "warn_evttypes",
        "skip-if-unknown-filter",
        "capture",
        "capture_duration",
    }
)
MACRO_KEYS = frozenset({"macro", "condition", "append", "override"})
LIST_KEYS = frozenset({"list", "items", "append", "override"})
ENGINE_KEYS = frozenset({"required_engine_version"})
PLUGIN_KEYS = frozenset({"required_plugin_versions"})

RULE_APPENDABLE = frozenset({"condition", "output", "desc", "tags", "exceptions"})
RULE_REPLACEABLE = frozenset(
    {
        "condition",
        "output",
        "desc",
        "priority",
        "capture",
        "capture_duration",
        "tags",
        "exceptions",
        "enabled",
        "warn_evttypes",
        "skip-if-unknown-filter",
    }
)
EXCEPTION_KEYS = frozenset({"name", "fields", "comps", "values"})
# the event sources of the Falco this checker is held to (the container plugin adds fields only)
SOURCES = ("syscall",)

# Field classes (the part of a field name before the first dot) the catalogue knows.
SYSCALL_FIELD_CLASSES = frozenset(name.split(".", 1)[0] for name in fvoc.FIELDS)

_IDENT_RE = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_LIST_NAME_RE = re.compile(r"[^()\"' \t\n\r\f\v=,]+")
_SEMVER_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
_BARESTR_RE = re.compile(r"[^ \b\t\n\r(),=\"']+")


# --------------------------------------------------------------------------------------------
# Condition language (the parser itself is falco/condition.py, libsinsp's grammar)
# --------------------------------------------------------------------------------------------


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
        return _info(fcond.parse(text))
    except fcond.FilterSyntaxError as exc:
        raise ConditionSyntaxError(exc.offset, _friendly(exc.message, text, exc.offset)) from None


def _friendly(message: str, text: str, offset: int) -> str:
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


def field_class(name: str) -> str:
    return name.split(".", 1)[0]


# --------------------------------------------------------------------------------------------
# Collected definitions (Falco's rule collector: the rule set after all files are read, in order)
# --------------------------------------------------------------------------------------------


@dataclass
class Fragment:
    """A piece of condition/output text and where it came from (appends add fragments)."""

    text: str
    origin: Origin


@dataclass
class ListDef:
    name: str
    items: List[Tuple[str, Origin]]
    origin: Origin
    index: int
    visibility: int = 0
    used: bool = False


@dataclass
class MacroDef:
    name: str
    fragments: List[Fragment]
    origin: Origin
    index: int
    visibility: int
    used: bool = False
    tree: Any = None  # the parsed (then macro-resolved) condition
    broken: bool = False
    mapper: Any = None


@dataclass
class ExceptionDef:
    name: str
    fields: Any  # str | list[str] | None
    comps: Any  # str | list[str] | None
    values: List[Any]
    origin: Origin


@dataclass
class RuleDef:
    name: str
    origin: Origin
    condition: List[Fragment]
    output: List[Fragment]
    source: str
    enabled: bool
    skip_unknown: bool
    exceptions: List[ExceptionDef]
    warn_evttypes: bool = True
    unknown_source: bool = False


def _plain(node: Node) -> Any:
    """Plain Python value of a node (scalars stay text)."""
    if node.kind == "map":
        return {k: _plain(v) for k, v in node.value.items()}
    if node.kind == "seq":
        return [_plain(v) for v in node.value]
    return node.value


_YAML_TRUE = ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")
_YAML_FALSE = ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")


def _yaml_cpp_bool(node: Node) -> Optional[bool]:
    """A boolean as yaml-cpp decodes it (None when it cannot)."""
    if node.kind != "scalar":
        return None
    text = str(node.value)
    if text in _YAML_TRUE:
        return True
    if text in _YAML_FALSE:
        return False
    return None


class _Mapped:
    """Condition text assembled from fragments, with the origin of each character."""

    def __init__(self) -> None:
        self.text = ""
        self.where: List[Tuple[int, int]] = []  # (piece index, offset in piece) per character
        self.pieces: List[Tuple[Origin, str, bool]] = []  # (origin, text, has columns)

    def add(self, text: str, origin: Optional[Origin] = None, columns: bool = True) -> None:
        if origin is None:
            anchor = self.where[-1] if self.where else (-1, 0)
            self.text += text
            self.where.extend([anchor] * len(text))
            return
        self.pieces.append((origin, text, columns))
        index = len(self.pieces) - 1
        self.text += text
        self.where.extend((index, i) for i in range(len(text)))

    def locate(self, offset: int) -> Tuple[Optional[Origin], Optional[int], str]:
        if not self.where:
            return None, None, ""
        piece, pos = self.where[min(max(offset, 0), len(self.where) - 1)]
        if offset >= len(self.where):
            pos += 1
        if piece < 0:
            return None, None, ""
        origin, text, columns = self.pieces[piece]
        return origin, (pos + 1 if columns else None), text

    def resolve_list(self, name: str, items: Sequence[str]) -> bool:
        """Falco's textual list substitution (rule_loader_compiler's resolve_list)."""
        blanks = " \t\n\r"
        delims = blanks + "(),="
        cnd = self.text
        where = self.where
        used = False
        start = cnd.find(name)
        while start >= 0:
            end = start + len(name)
            if (start == 0 or cnd[start - 1] in delims) and (end >= len(cnd) or cnd[end] in delims):
                anchor = where[start]
                while start > 0 and cnd[start - 1] in blanks:
                    start -= 1
                while end < len(cnd) and cnd[end] in blanks:
                    end += 1
                sub = ", ".join(_quote_item(v) for v in items)
                if not sub:
                    if start > 0 and cnd[start - 1] == ",":
                        start -= 1
                    elif end < len(cnd) and cnd[end] == ",":
                        end += 1
                new = ""
                new_where: List[Tuple[int, int]] = []
                if start > 0:
                    new = cnd[:start] + " "
                    new_where = [*where[:start], anchor]
                new += sub + " "
                new_where += [anchor] * (len(sub) + 1)
                new += cnd[end:]
                new_where += where[end:]
                cnd, where = new, new_where
                start += len(sub) + 1
                used = True
            start = cnd.find(name, start + 1)
        self.text, self.where = cnd, where
        return used


def _quote_item(value: str) -> str:
    if " " in value and value[:1] not in ("'", '"'):
        return '"' + value + '"'
    return value


def _paren_item(value: str) -> str:
    return value if value.startswith("(") else "(" + value + ")"


class _RuleLoadError(Exception):
    def __init__(self, message: str, origin: Optional[Origin] = None, column: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.origin = origin
        self.column = column


@dataclass
class MacroRef(fcond.Node):
    """A macro reference replaced by the macro's (resolved) condition."""

    name: str = ""
    expansion: Any = None
    mapper: Any = None


_LIST_OPERATORS = ("in", "intersects", "pmatch")
_DEPRECATED_FIELDS = (
    "evt.dir",
    "evt.latency",
    "evt.latency.s",
    "evt.latency.ns",
    "evt.latency.human",
    "evt.wait_latency",
)


def _is_list_operator(op: str) -> bool:
    if op in _LIST_OPERATORS:
        return True
    return _is_modifier_operator(op)


def _is_modifier_operator(op: str) -> bool:
    base, _sep, modifier = op.partition(" ")
    return modifier in ("oneof", "anyof", "allof") and base in fcond.MODIFIABLE_OPS


class _Codes:
    """An event-code set for the 'too many evt.type values' warning: names, or all but names."""

    def __init__(self, names: Iterable[str] = (), complement: bool = False) -> None:
        self.names = frozenset(names)
        self.complement = complement

    @classmethod
    def everything(cls) -> _Codes:
        return cls((), True)

    def invert(self) -> _Codes:
        return _Codes(self.names, not self.complement)

    def intersect(self, other: _Codes) -> _Codes:
        if self.complement and other.complement:
            return _Codes(self.names | other.names, True)
        if self.complement:
            return _Codes(other.names - self.names)
        if other.complement:
            return _Codes(self.names - other.names)
        return _Codes(self.names & other.names)

    def merge(self, other: _Codes) -> _Codes:
        if self.complement and other.complement:
            return _Codes(self.names & other.names, True)
        if self.complement:
            return _Codes(self.names - other.names, True)
        if other.complement:
            return _Codes(other.names - self.names, True)
        return _Codes(self.names | other.names)

    def too_many(self) -> bool:
        if self.complement:
            return True
        codes = 2 * len(self.names & fvoc.EVENT_NAMES)
        return codes == 0 or codes > 100


class _CodeVisitor:
    """libsinsp's event-code search over a condition (ppm_event_codes)."""

    def __init__(self) -> None:
        self.negated = False
        self.has_codes = False
        self.codes = _Codes.everything()
        self.is_evttype = False
        self.is_field = True

    def _try_invert(self) -> None:
        if self.negated and self.has_codes:
            self.codes = self.codes.invert()

    def visit(self, node: Any) -> None:
        if isinstance(node, MacroRef):
            self.visit(node.expansion)
        elif isinstance(node, fcond.BoolOp):
            conj = (node.op == "and") != self.negated
            acc = _Codes.everything() if conj else _Codes()
            for child in node.children:
                self.visit(child)
                acc = acc.intersect(self.codes) if conj else acc.merge(self.codes)
            self.codes = acc
            self.is_evttype = False
        elif isinstance(node, fcond.Not):
            self.codes = _Codes()
            saved = self.negated
            self.negated = not self.negated
            self.visit(node.child)
            self.negated = saved
            self.is_evttype = False
        elif isinstance(node, fcond.Check) and node.right is not None:
            self.has_codes = False
            if node.op in ("==", "=", "!=", "in"):
                self.visit(node.left)
                if self.is_evttype:
                    self.is_field = False
                    self.visit(node.right)
                    if self.is_field:
                        raise fsem.CompileError(
                            "right-hand field comparisons on `evt.type`/`syscall.type` checks are not supported "
                            "by event code search"
                        )
                    if node.op == "!=" and self.has_codes:
                        self.codes = self.codes.invert()
                    self.is_evttype = False
                    return
            self.codes = _Codes.everything()
            self.is_evttype = False
            self._try_invert()
        elif isinstance(node, fcond.Check):
            self.visit(node.left)
            self.has_codes = self.is_evttype and node.op == "exists"
            self.codes = _Codes.everything()
            self.is_evttype = False
            self._try_invert()
        elif isinstance(node, fcond.Identifier):
            self.has_codes = False
            self.codes = _Codes.everything()
            self.is_evttype = False
            self._try_invert()
        elif isinstance(node, fcond.Value):
            self.has_codes = True
            self.codes = _Codes([node.text])
            self.is_evttype = False
            self._try_invert()
        elif isinstance(node, fcond.ValueList):
            self.has_codes = True
            self.codes = _Codes(node.values)
            self.is_evttype = False
            self._try_invert()
        elif isinstance(node, fcond.TransformerList):
            for child in node.children:
                self.visit(child)
        elif isinstance(node, fcond.FieldRef):
            self.has_codes = False
            self.is_field = True
            self.is_evttype = node.name in ("evt.type", "syscall.type") and node.arg is None
            self.codes = _Codes.everything()
            self._try_invert()
        elif isinstance(node, fcond.Transformer):
            for child in node.args:
                self.visit(child)
                if self.is_evttype:
                    raise fsem.CompileError("event code search does not support `evt.type` checks with transformers")
            self.is_field = True


class RuleSetChecker:
    """Reads rules files in order (Falco's reader and collector), then compiles the resulting
    rule set as a whole (Falco's rule compiler): lists, macros, rules, then the unused ones."""

    def __init__(self, extra_field_classes: Iterable[str] = (), check_field_classes: bool = True) -> None:
        self.findings = Findings()
        self.lists: Dict[str, ListDef] = {}
        self.macros: Dict[str, MacroDef] = {}
        self.rules: Dict[str, RuleDef] = {}
        self.order = 0
        self.extra_field_classes = set(extra_field_classes)
        self.check_field_classes = check_field_classes
        self.counts = {"files": 0, "rules": 0, "macros": 0, "lists": 0}

    # reading ----------------------------------------------------------------------------------
    def add_file(self, name: str, text: str) -> None:
        self.counts["files"] += 1
        file_origin = Origin(name, 0, "file", "")
        try:
            docs = [_convert(doc) for doc in yaml.compose_all(text, Loader=yaml.SafeLoader)]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line = mark.line + 1 if mark is not None else 0
            column = mark.column + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            self.findings.add(ERROR, file_origin, f"YAML syntax error: {problem}", key="yaml", column=column, line=line)
            return
        for root in docs:
            if root.is_null():
                continue
            if root.kind != "seq":
                file_origin.line = root.line
                self.findings.add(ERROR, file_origin, "a rules file must be a YAML sequence of lists, macros and rules")
                return
            for item in root.value:
                if item.is_null():
                    continue
                try:
                    self._read_item(name, item)
                except _RuleLoadError as exc:
                    # Falco stops reading a file at its first error (the file is refused); we
                    # read on to report the other items' errors too
                    self.findings.add(
                        ERROR, exc.origin or Origin(name, item.line, "item", ""), exc.message, column=exc.column
                    )

    def _fail(self, origin: Origin, message: str, key: str = "", line: int = 0) -> None:
        where = Origin(origin.file, line or origin.line, origin.item_type, origin.item, key or origin.key)
        raise _RuleLoadError(message, where)

    def _read_item(self, file: str, item: Node) -> None:
        if item.kind != "map":
            self._fail(
                Origin(file, item.line, "item", ""),
                "unexpected element type: each element must be a mapping (a list, macro or rule)",
            )
        keys = item.value
        for kind in ("required_engine_version", "required_plugin_versions", "list", "macro", "rule"):
            if kind in keys:
                break
        else:
            close = difflib.get_close_matches(next(iter(keys), ""), ["rule", "macro", "list"], n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            self.findings.add(
                WARNING,
                Origin(file, item.line, "item", ""),
                f"unknown top-level item with keys {sorted(keys)}: expected one of rule, macro, list, "
                f"required_engine_version, required_plugin_versions{hint}; Falco ignores it",
            )
            return
        if kind == "required_engine_version":
            origin = Origin(file, item.line, kind, "")
            self._read_engine_version(item, origin)
        elif kind == "required_plugin_versions":
            origin = Origin(file, item.line, kind, "")
            self._read_plugin_versions(item, origin)
        else:
            name = self._string(item, kind, Origin(file, item.line, kind, ""))
            origin = Origin(file, item.line, kind, name)
            if kind == "list":
                self._read_list(item, origin)
            elif kind == "macro":
                self._read_macro(item, origin)
            else:
                self._read_rule(item, origin)
        self._unknown_keys(item, kind, origin)

    def _unknown_keys(self, item: Node, kind: str, origin: Origin) -> None:
        allowed = {
            "rule": RULE_KEYS,
            "macro": MACRO_KEYS,
            "list": LIST_KEYS,
            "required_engine_version": ENGINE_KEYS,
            "required_plugin_versions": PLUGIN_KEYS,
        }[kind]
        for key in item.value:
            if key in allowed:
                continue
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            self.findings.add(
                WARNING,
                origin,
                f"unknown key '{key}' for a {kind}{hint}: Falco ignores it",
                key=key,
                line=item.key_lines.get(key, item.line),
            )

    def _string(
        self, item: Node, key: str, origin: Origin, optional: bool = False, can_be_empty: bool = False
    ) -> Optional[str]:
        """A scalar as Falco's decode_val reads it (raise _RuleLoadError)."""
        node = item.value.get(key)
        line = item.key_lines.get(key, item.line)
        if node is None:
            if optional:
                return None
            self._fail(origin, f"missing required key '{key}'")
        if node.is_null():
            if can_be_empty:
                return None
            self._fail(origin, f"value of '{key}' is empty", key=key, line=line)
        if node.kind != "scalar":
            self._fail(
                origin,
                f"value of '{key}' must be a scalar, got a {'sequence' if node.kind == 'seq' else 'mapping'}",
                key=key,
                line=line,
            )
        if str(node.value) == "":
            if can_be_empty:
                return None
            self._fail(origin, f"value of '{key}' must be non-empty", key=key, line=line)
        return str(node.value)

    def _bool(self, item: Node, key: str, origin: Origin, optional: bool = True) -> Optional[bool]:
        text = self._string(item, key, origin, optional=optional)
        if text is None:
            return None
        value = _yaml_cpp_bool(item.value[key])
        if value is None:
            self._fail(
                origin,
                f"value of '{key}' must be a boolean (true/false), got {text!r}",
                key=key,
                line=item.key_lines.get(key, item.line),
            )
        return value

    def _read_engine_version(self, item: Node, origin: Origin) -> None:
        value = self._string(item, "required_engine_version", origin) or ""
        if value.isdigit():
            required = (0, int(value), 0)
        elif _SEMVER_RE.match(value):
            required = tuple(int(p) for p in value.split("."))
        else:
            self._fail(origin, f"unable to parse engine version '{value}': expected an integer or x.y.z semver")
            return
        engine = tuple(int(p) for p in fvoc.ENGINE_VERSION.split("."))
        if required[0] != engine[0] or required > engine:
            self._fail(
                origin,
                f"rules require engine version {'.'.join(map(str, required))}, "
                f"but engine version is {fvoc.ENGINE_VERSION}",
            )

    def _read_plugin_versions(self, item: Node, origin: Origin) -> None:
        node = item.value["required_plugin_versions"]
        if node.kind != "seq":
            self._fail(origin, "value of required_plugin_versions must be a sequence")
        for entry in node.value:
            entry_origin = Origin(origin.file, entry.line, "required_plugin_versions", "")
            if entry.kind != "map":
                self._fail(entry_origin, "plugin version must be a mapping with name and version")
            entry_origin.item = self._string(entry, "name", entry_origin) or ""
            names = {entry_origin.item}
            version = self._string(entry, "version", entry_origin) or ""
            if not _SEMVER_RE.match(version):
                self._fail(entry_origin, f"invalid required version '{version}' for plugin '{entry_origin.item}'")
            alternatives = entry.value.get("alternatives")
            if alternatives is not None:
                if alternatives.kind != "seq":
                    self._fail(entry_origin, "value of plugin version alternatives must be a sequence")
                for alt in alternatives.value:
                    alt_origin = Origin(origin.file, alt.line, "required_plugin_versions", entry_origin.item)
                    if alt.kind != "map":
                        self._fail(alt_origin, "plugin version alternative must be a mapping")
                    alt_name = self._string(alt, "name", alt_origin) or ""
                    alt_version = self._string(alt, "version", alt_origin) or ""
                    if not _SEMVER_RE.match(alt_version):
                        self._fail(alt_origin, f"invalid required version '{alt_version}' for plugin '{alt_name}'")
                    if alt_name in names:
                        self._fail(alt_origin, f"multiple alternative version requirements for plugin '{alt_name}'")
                    names.add(alt_name)

    def _overrides(
        self, item: Node, origin: Origin, appendable: Set[str], replaceable: Set[str]
    ) -> Tuple[Set[str], Set[str]]:
        node = item.value.get("override")
        if node is None or node.kind == "scalar":
            return set(), set()
        if node.kind == "seq":
            self._fail(origin, "'override' must be a mapping of key: append|replace", key="override")
        line = item.key_lines.get("override", item.line)
        appends: Set[str] = set()
        replaces: Set[str] = set()
        for key, op_node in node.value.items():
            key_line = node.key_lines.get(key, line)
            operation = op_node.scalar() if op_node.kind == "scalar" else None
            if operation == "append":
                if key not in appendable:
                    hint = ", use 'replace' instead" if key in replaceable else ""
                    self._fail(origin, f"key '{key}' cannot be appended to{hint}", key="override", line=key_line)
                appends.add(key)
            elif operation == "replace":
                if key not in replaceable:
                    self._fail(origin, f"key '{key}' cannot be replaced", key="override", line=key_line)
                replaces.add(key)
            else:
                allowed = [op for op, keys in (("append", appendable), ("replace", replaceable)) if key in keys]
                self._fail(
                    origin,
                    f"invalid override operation for key '{key}': {_plain(op_node)!r}; allowed: "
                    f"{', '.join(allowed) or 'none (key cannot be overridden)'}",
                    key="override",
                    line=key_line,
                )
        return appends, replaces

    def _read_list(self, item: Node, origin: Origin) -> None:
        name = origin.item
        if not _LIST_NAME_RE.fullmatch(name):
            self.findings.add(
                WARNING,
                origin,
                f"invalid list name {name!r}: list names should be bare strings without blanks, quotes, ( ) , =",
            )
        items_node = item.value.get("items")
        if items_node is None:
            self._fail(origin, "missing required key 'items'")
        line = item.key_lines.get("items", item.line)
        if items_node.kind != "seq":
            self._fail(origin, "value of 'items' must be a sequence", key="items", line=line)
        items: List[Tuple[str, Origin]] = []
        for child in items_node.value:
            if child.kind != "scalar" or child.is_null():
                self._fail(origin, "list items must be scalars (strings or numbers)", key="items", line=child.line)
            items.append((str(child.value), Origin(origin.file, child.line, "list", name, "items")))
        legacy_append = bool(self._bool(item, "append", origin))
        if legacy_append:
            self.findings.add(
                WARNING, origin, "'append: true' is deprecated; use 'override: {items: append}'", key="append"
            )
        appends, replaces = self._overrides(item, origin, {"items"}, {"items"})
        if legacy_append and (appends or replaces):
            self._fail(origin, "keys 'override' and 'append: true' cannot be used together", key="append")
        self.counts["lists"] += 1
        if legacy_append or appends:
            target = self.lists.get(name)
            if target is None:
                how = "append" if legacy_append else "override"
                self._fail(origin, f"list has an '{how}' but no list named '{name}' is defined earlier in the rule set")
            target.items.extend(items)
            target.visibility = self.order
            self.order += 1
            return
        self._define(self.lists, ListDef(name, items, origin, 0))

    def _define(self, table: Dict[str, Any], info: Any) -> None:
        previous = table.get(info.name)
        info.index = previous.index if previous else self.order
        info.visibility = self.order
        self.order += 1
        table[info.name] = info

    def _read_macro(self, item: Node, origin: Origin) -> None:
        name = origin.item
        if not _IDENT_RE.fullmatch(name):
            self.findings.add(
                WARNING, origin, f"invalid macro name {name!r}: macro names should match [a-zA-Z]+[a-zA-Z0-9_]*"
            )
        condition = self._string(item, "condition", origin) or ""
        legacy_append = bool(self._bool(item, "append", origin))
        if legacy_append:
            self.findings.add(
                WARNING, origin, "'append: true' is deprecated; use 'override: {condition: append}'", key="append"
            )
        appends, replaces = self._overrides(item, origin, {"condition"}, {"condition"})
        if legacy_append and (appends or replaces):
            self._fail(origin, "keys 'override' and 'append: true' cannot be used together", key="append")
        self.counts["macros"] += 1
        fragment = Fragment(
            condition, Origin(origin.file, item.key_lines.get("condition", item.line), "macro", name, "condition")
        )
        if legacy_append or appends:
            target = self.macros.get(name)
            if target is None:
                how = "append" if legacy_append else "override"
                self._fail(
                    origin, f"macro has an '{how}' but no macro named '{name}' is defined earlier in the rule set"
                )
            target.fragments.append(fragment)
            target.visibility = self.order
            self.order += 1
            return
        self._define(self.macros, MacroDef(name, [fragment], origin, 0, 0))

    def _exception_entry(self, node: Node, origin: Origin, line: int) -> Any:
        """A fields/comps/values entry: a string or a (nested) list, as Falco decodes it."""
        if node.kind == "scalar":
            if node.is_null():
                return ("item", "")
            if str(node.value) == "":
                self._fail(origin, "exception value must be non-empty", line=line)
            return ("item", str(node.value))
        if node.kind == "seq":
            return ("list", [self._exception_entry(child, origin, child.line) for child in node.value])
        return ("item", "")

    def _read_exceptions(self, item: Node, origin: Origin, appending: bool) -> List[ExceptionDef]:
        node = item.value.get("exceptions")
        if node is None or node.is_null():
            return []
        line = item.key_lines.get("exceptions", item.line)
        if node.kind != "seq":
            self._fail(origin, "rule exceptions must be a sequence", key="exceptions", line=line)
        result: List[ExceptionDef] = []
        for ex in node.value:
            ex_origin = Origin(origin.file, ex.line, "rule", origin.item, "exceptions")
            if ex.kind != "map":
                self._fail(ex_origin, "rule exception must be a mapping with name, fields, comps, values")
            for key in ex.value:
                if key not in EXCEPTION_KEYS:
                    close = difflib.get_close_matches(key, sorted(EXCEPTION_KEYS), n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    self.findings.add(
                        WARNING,
                        ex_origin,
                        f"unknown key '{key}' in an exception{hint}: Falco ignores it",
                        line=ex.key_lines.get(key, ex.line),
                    )
            ex_name = self._string(ex, "name", Origin(ex_origin.file, ex.line, "rule", origin.item, "exceptions"))
            if ex_name is None:
                self._fail(ex_origin, "exception has no 'name'")
            ex_origin.key = f"exceptions[{ex_name}]"
            if any(other.name == ex_name for other in result):
                self.findings.add(WARNING, ex_origin, f"multiple definitions of exception '{ex_name}' in the same rule")
            fields = comps = None
            if "fields" in ex.value:
                fields = self._exception_entry(ex.value["fields"], ex_origin, ex.key_lines.get("fields", ex.line))
            elif not appending:
                self._fail(ex_origin, "exception has no 'fields'")
            if "comps" in ex.value:
                comps = self._exception_entry(ex.value["comps"], ex_origin, ex.key_lines.get("comps", ex.line))
            values: List[Any] = []
            values_node = ex.value.get("values")
            if values_node is not None:
                if values_node.kind != "seq":
                    self._fail(
                        ex_origin, "exception values must be a sequence", line=ex.key_lines.get("values", ex.line)
                    )
                values = [self._exception_entry(v, ex_origin, v.line) for v in values_node.value]
            elif appending:
                self.findings.add(WARNING, ex_origin, "overriding/appending an exception with no values")
            result.append(ExceptionDef(ex_name, fields, comps, values, ex_origin))
        return result

    def _validate_exception(self, ex: ExceptionDef, source_known: bool) -> None:
        """Falco's collector checks of an exception (fields, comps)."""
        kind, fields = ex.fields
        if kind == "list":
            if not _entry_valid(ex.comps):
                ex.comps = ("list", [("item", "=") for _f in fields])
            if ex.comps[0] != "list" or len(ex.comps[1]) != len(fields):  # type: ignore[index]
                self._fail(ex.origin, f"exception '{ex.name}': 'fields' and 'comps' lists must have equal length")
            for ckind, comp in ex.comps[1]:
                comp = comp.strip() if ckind == "item" else ""
                if comp not in fcond.ALL_OPERATORS and not _is_modifier_operator(comp):
                    self._fail(ex.origin, f"exception '{ex.name}': '{comp}' is not a supported comparison operator")
            if source_known:
                for fkind, fld in fields:
                    if fkind != "item" or not self._valid_lhs(fld):
                        self._fail(
                            ex.origin,
                            f"exception '{ex.name}': {fld!r} is not a supported filter field",
                        )
            ex.comps = ("list", [("item", c.strip()) for _k, c in ex.comps[1]])
        else:
            if not _entry_valid(ex.comps):
                ex.comps = ("item", "in")
            if ex.comps[0] != "item":
                self._fail(
                    ex.origin, f"exception '{ex.name}': 'fields' is a single field so 'comps' must be a single operator"
                )
            comp = ex.comps[1].strip()
            if comp not in ("in", "pmatch", "intersects") and not _is_modifier_operator(comp):
                self._fail(
                    ex.origin,
                    f"exception '{ex.name}': when 'fields' is a single field, 'comps' must be one "
                    "of in, pmatch, intersects or a modifier operator (e.g. startswith oneof)",
                )
            ex.comps = ("item", comp)
            if source_known and not self._valid_lhs(fields):
                self._fail(ex.origin, f"exception '{ex.name}': '{fields}' is not a supported filter field")

    def _valid_lhs(self, text: str) -> bool:
        """A field or transformer expression Falco accepts on the left of a check."""
        if not self.check_field_classes:
            return True
        try:
            parser = fcond.Parser(text)
            tree = parser.parse_field_or_transformer()
            if parser.pos != len(text):
                return False
            if self._extra_class(tree):
                return True
            fsem.extractor(tree)
        except (fcond.FilterSyntaxError, fsem.CompileError, fvoc.FieldError):
            return False
        return True

    def _extra_class(self, tree: Any) -> bool:
        return any(
            isinstance(n, fcond.FieldRef) and field_class(n.name) in self.extra_field_classes for n in fcond.walk(tree)
        )

    def _read_rule(self, item: Node, origin: Origin) -> None:
        name = origin.item
        keys = item.value
        source = self._string(item, "source", origin, optional=True, can_be_empty=True) or ""
        legacy_append = bool(self._bool(item, "append", origin))
        if legacy_append:
            self.findings.add(
                WARNING, origin, "'append: true' is deprecated; use 'override: {condition: append}'", key="append"
            )
        appends, replaces = self._overrides(item, origin, set(RULE_APPENDABLE), set(RULE_REPLACEABLE))
        if legacy_append and (appends or replaces):
            self._fail(origin, "keys 'override' and 'append: true' cannot be used together", key="append")
        self.counts["rules"] += 1
        cond_line = item.key_lines.get("condition", item.line)
        out_line = item.key_lines.get("output", item.line)
        if appends or replaces:
            expected = {k for k in RULE_APPENDABLE | RULE_REPLACEABLE if k in keys}
            updates: List[Tuple[str, Set[str]]] = []
            for how, chosen in (("append", appends), ("replace", replaces)):
                if not chosen:
                    continue
                for key in chosen:
                    if key not in expected:
                        self._fail(
                            origin,
                            f"an {how} override for '{key}' was specified but '{key}' is not defined in the item",
                            key="override",
                            line=item.value["override"].key_lines.get(key, item.line),
                        )
                    expected.discard(key)
                updates.append((how, chosen))
            for how, chosen in updates:
                self._apply_update(name, item, origin, how, chosen, source, cond_line, out_line)
            for key in sorted(expected):
                self._fail(
                    origin,
                    f"unexpected key '{key}': no corresponding entry under 'override' is defined",
                    key=key,
                    line=item.key_lines.get(key, item.line),
                )
            return
        if legacy_append:
            chosen = {k for k in ("condition", "exceptions") if k in keys}
            self._apply_update(name, item, origin, "legacy", chosen, source, cond_line, out_line)
            return
        if not any(k in keys for k in ("condition", "output", "desc", "priority")):
            enabled = self._bool(item, "enabled", origin, optional=False)
            self.findings.add(
                WARNING, origin, "standalone 'enabled' is deprecated; use 'override: {enabled: replace}'", key="enabled"
            )
            target = self.rules.get(name)
            if target is None:
                self._fail(origin, f"rule sets 'enabled' but no rule named '{name}' is defined earlier in the rule set")
            target.enabled = bool(enabled)
            return
        condition = self._string(item, "condition", origin)
        output = self._string(item, "output", origin)
        self._string(item, "desc", origin)
        priority = self._string(item, "priority", origin)
        self._check_priority(item, origin, priority)
        rule_source = self._string(item, "source", origin, optional=True) or "syscall"
        enabled = self._bool(item, "enabled", origin)
        self._bool(item, "capture", origin)
        self._uint(item, "capture_duration", origin)
        warn_evttypes = self._bool(item, "warn_evttypes", origin)
        skip = self._bool(item, "skip-if-unknown-filter", origin)
        self._check_tags(item, origin)
        exceptions = self._read_exceptions(item, origin, appending=False)
        previous = self.rules.get(name)
        if previous is not None and previous.source and rule_source and previous.source != rule_source:
            self._fail(origin, "rule has been re-defined with a different source")
        unknown_source = rule_source not in SOURCES
        if unknown_source:
            self.findings.add(
                WARNING,
                origin,
                f"unknown source {rule_source}, skipping the rule (this Falco loads the sources {', '.join(SOURCES)})",
                key="source",
            )
        for ex in exceptions:
            if not _entry_valid(ex.fields):
                self._fail(ex.origin, "rule exception item must have fields property with a list of fields")
            self._validate_exception(ex, not unknown_source)
        rule = RuleDef(
            name,
            origin,
            [Fragment(str(condition), Origin(origin.file, cond_line, "rule", name, "condition"))],
            [Fragment(str(output).strip(), Origin(origin.file, out_line, "rule", name, "output"))],
            rule_source,
            True if enabled is None else enabled,
            bool(skip),
            exceptions,
            True if warn_evttypes is None else warn_evttypes,
            unknown_source,
        )
        self._define(self.rules, rule)

    def _uint(self, item: Node, key: str, origin: Origin) -> None:
        text = self._string(item, key, origin, optional=True)
        if text is not None and not re.fullmatch(r"[0-9]+", text):
            self._fail(
                origin,
                f"value of '{key}' must be an unsigned integer, got {text!r}",
                key=key,
                line=item.key_lines.get(key, item.line),
            )

    def _check_priority(self, item: Node, origin: Origin, priority: Optional[str]) -> None:
        if priority is not None and priority.lower() not in PRIORITIES:
            close = difflib.get_close_matches(priority.lower(), PRIORITIES, n=1)
            hint = f" (did you mean '{close[0].upper()}'?)" if close else ""
            self._fail(
                origin,
                f"invalid priority '{priority}': expected one of EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, "
                f"NOTICE, INFORMATIONAL (INFO), DEBUG (case-insensitive){hint}",
                key="priority",
                line=item.key_lines.get("priority", item.line),
            )

    def _check_tags(self, item: Node, origin: Origin) -> None:
        node = item.value.get("tags")
        if node is None:
            return
        if node.kind != "seq" or any(c.kind != "scalar" or c.is_null() for c in node.value):
            self._fail(
                origin,
                "value of 'tags' must be a sequence of strings",
                key="tags",
                line=item.key_lines.get("tags", item.line),
            )

    def _apply_update(
        self,
        name: str,
        item: Node,
        origin: Origin,
        how: str,
        chosen: Set[str],
        source: str,
        cond_line: int,
        out_line: int,
    ) -> None:
        """An append (``how`` append/legacy) or a selective replace onto an earlier rule."""
        keys = item.value
        condition = output = None
        exceptions: Optional[List[ExceptionDef]] = None
        values: Dict[str, Any] = {}
        if "condition" in chosen:
            condition = self._string(item, "condition", origin)
        if "exceptions" in chosen:
            exceptions = self._read_exceptions(item, origin, appending=how != "replace")
        if "output" in chosen:
            output = self._string(item, "output", origin)
        if "desc" in chosen:
            self._string(item, "desc", origin)
        if "tags" in chosen:
            self._check_tags(item, origin)
        if "priority" in chosen:
            priority = self._string(item, "priority", origin)
            self._check_priority(item, origin, priority)
        for key in ("capture", "enabled", "warn_evttypes", "skip-if-unknown-filter"):
            if key in chosen:
                values[key] = self._bool(item, key, origin, optional=False)
        if "capture_duration" in chosen:
            self._string(item, "capture_duration", origin)
            self._uint(item, "capture_duration", origin)
        target = self.rules.get(name)
        checked_source = source if ("condition" in chosen or how == "legacy") else ""
        if target is not None and target.source and checked_source and target.source != checked_source:
            self._fail(origin, "rule has been re-defined with a different source")
        if target is None:
            word = "an override" if how != "legacy" else "'append: true'"
            self._fail(origin, f"rule has {word} but no rule named '{name}' is defined earlier in the rule set")
        if how == "legacy" and not chosen:
            self._fail(origin, "an appended rule must have exceptions or condition property")
        for key, text, line, attr in (
            ("condition", condition, cond_line, "condition"),
            ("output", output, out_line, "output"),
        ):
            if text is None:
                continue
            fragment = Fragment(text, Origin(origin.file, line, "rule", name, key))
            if how == "replace":
                setattr(target, attr, [fragment])
            elif text:
                getattr(target, attr).append(fragment)
        for key, value in values.items():
            if key == "enabled" and value is not None:
                target.enabled = value
            elif key == "warn_evttypes" and value is not None:
                target.warn_evttypes = value
            elif key == "skip-if-unknown-filter" and value is not None:
                target.skip_unknown = value
        if exceptions is not None:
            if how == "replace":
                # Falco's selective replace takes the exceptions as they are (no checks, no defaults)
                target.exceptions = list(exceptions)
            else:
                for ex in exceptions:
                    current = next((e for e in target.exceptions if e.name == ex.name), None)
                    if current is None:
                        if not _entry_valid(ex.fields):
                            self._fail(ex.origin, f"new exception '{ex.name}' appended without 'fields'")
                        if not ex.values:
                            self._fail(ex.origin, f"new exception '{ex.name}' appended without 'values'")
                        self._validate_exception(ex, not target.unknown_source)
                        target.exceptions.append(ex)
                        continue
                    if _entry_valid(ex.fields) or _entry_valid(ex.comps):
                        self._fail(
                            ex.origin, f"can not append fields or comps to existing exception '{ex.name}', only values"
                        )
                    current.values.extend(ex.values)
        self.order += 1
        del keys

    # compiling the whole set ------------------------------------------------------------------
    def finish(self) -> CheckResult:
        self._compile_lists()
        self._compile_macros()
        self._compile_rules()
        for macro in self.macros.values():
            if not macro.used:
                self.findings.add(WARNING, macro.origin, "macro not referred to by any other rule/macro")
        for lst in self.lists.values():
            if not lst.used:
                self.findings.add(WARNING, lst.origin, "list not referred to by any other rule/macro")
        return CheckResult(self.findings.errors, self.findings.warnings, dict(self.counts))

    def _compile_lists(self) -> None:
        self.expanded_lists: Dict[str, List[str]] = {}
        for lst in self.lists.values():
            out: List[str] = []
            for value, _origin in lst.items:
                ref = self.lists.get(value)
                if ref is not None and ref.index < lst.visibility:
                    ref.used = True
                    out.extend(v for v, _o in ref.items)
                else:
                    out.append(value)
            self.expanded_lists[lst.name] = out

    def _text(self, fragments: Sequence[Fragment]) -> _Mapped:
        mapped = _Mapped()
        for i, fragment in enumerate(fragments):
            if i:
                mapped.add(" ")
            mapped.add(fragment.text, fragment.origin)
        return mapped

    def _substitute_lists(self, mapped: _Mapped) -> None:
        for name, items in self.expanded_lists.items():
            if name in mapped.text and mapped.resolve_list(name, items):
                self.lists[name].used = True

    def _report(self, mapped: _Mapped, offset: int, message: str, fallback: Origin) -> None:
        origin, column, text = mapped.locate(offset)
        if origin is None:
            self.findings.add(ERROR, fallback, message)
            return
        near = f" (near {_context(text, column - 1)})" if column is not None else ""
        self.findings.add(ERROR, origin, message + near, column=column)

    def _parse(self, mapped: _Mapped, fallback: Origin) -> Any:
        try:
            return fcond.parse(mapped.text)
        except fcond.FilterSyntaxError as exc:
            self._report(
                mapped, exc.offset, "syntax error: " + _friendly(exc.message, mapped.text, exc.offset), fallback
            )
            return None

    def _resolve(
        self, tree: Any, visible: Set[str], mapped: _Mapped, fallback: Origin, path: Tuple[str, ...] = ()
    ) -> Any:
        """Replace macro references by the macros' conditions; report undefined ones and loops."""
        ok = True

        def subst(node: Any) -> Any:
            nonlocal ok
            if isinstance(node, fcond.BoolOp):
                node.children = [subst(c) for c in node.children]
                return node
            if isinstance(node, fcond.Not):
                node.child = subst(node.child)
                return node
            if isinstance(node, fcond.Identifier):
                macro = self.macros.get(node.name)
                if macro is None or node.name not in visible or macro.tree is None:
                    if ok:
                        ok = False
                        if macro is not None and macro.broken:
                            return node
                        close = difflib.get_close_matches(node.name, list(self.macros), n=1)
                        hint = f" (did you mean '{close[0]}'?)" if close else ""
                        if node.name in self.lists:
                            hint = f" ('{node.name}' is a list: use it as 'field in ({node.name})')"
                        if macro is not None and node.name not in visible:
                            hint = f" (macro '{node.name}' is defined later than where it is used)"
                        self._report(
                            mapped, node.pos, f"undefined macro '{node.name}' used in condition{hint}", fallback
                        )
                    return node
                if node.name in path:
                    if ok:
                        ok = False
                        self._report(
                            mapped, node.pos, "macro reference cycle: " + " -> ".join([*path, node.name]), fallback
                        )
                    return node
                macro.used = True
                clone = copy.deepcopy(macro.tree)
                inner = self._resolve(clone, visible, macro.mapper, macro.origin, (*path, node.name))
                if inner is None:
                    ok = False
                    return node
                return MacroRef(node.pos, node.name, inner, macro.mapper)
            return node

        tree = subst(tree)
        return tree if ok else None

    def _compile_macros(self) -> None:
        for macro in self.macros.values():
            mapped = self._text(macro.fragments)
            self._substitute_lists(mapped)
            macro.mapper = mapped
            macro.tree = self._parse(mapped, macro.origin)
            macro.broken = macro.tree is None
        by_index = sorted(self.macros.values(), key=lambda m: m.index)
        for macro in by_index:
            if macro.tree is None:
                continue
            visible = {m.name for m in self.macros.values() if m.index < macro.visibility}
            resolved = self._resolve(macro.tree, visible, macro.mapper, macro.origin, (macro.name,))
            if resolved is None:
                macro.broken = True
                macro.tree = None
            else:
                macro.tree = resolved

    def _exception_text(self, rule: RuleDef) -> Optional[str]:
        text = ""
        for ex in rule.exceptions:
            fkind, fields = ex.fields if ex.fields is not None else ("item", "")
            ckind, comps = ex.comps if ex.comps is not None else ("item", "")
            if fkind == "list" and (ckind != "list" or len(comps) < len(fields)):
                raise _RuleLoadError(f"exception '{ex.name}': 'comps' must list one operator per field", ex.origin)
            icond = ""
            if fkind != "list":
                for vkind, value in ex.values:
                    if vkind == "list":
                        raise _RuleLoadError(
                            f"exception '{ex.name}': expected 'values' to be a list of strings "
                            "when 'fields' is a single field",
                            ex.origin,
                        )
                    icond += f"({fields} {comps} (" if not icond else ", "
                    icond += _quote_item(value)
                icond += "))" if icond else ""
            else:
                icond = "("
                for vkind, row in ex.values:
                    items = row if vkind == "list" else []
                    if vkind != "list" or len(items) != len(fields):
                        raise _RuleLoadError(
                            f"exception '{ex.name}': fields and values lists must have equal length", ex.origin
                        )
                    icond += "" if icond == "(" else " or "
                    icond += "("
                    for k, ((_fk, fld), (vk, val)) in enumerate(zip(fields, items)):
                        icond += "" if k == 0 else " and "
                        if vk == "list":
                            istr = "(" + ", ".join(_quote_item(v) for _x, v in val) + ")"
                        else:
                            istr = _paren_item(val) if _is_list_operator(comps[k][1]) else _quote_item(val)
                        icond += f" {fld} {comps[k][1]} {istr}"
                    icond += ")"
                icond += ")"
                if icond == "()":
                    icond = ""
            if icond:
                text += " and not " + icond
        return text

    def _compile_rules(self) -> None:
        for rule in self.rules.values():
            if rule.unknown_source:
                continue
            try:
                exceptions = self._exception_text(rule)
            except _RuleLoadError as exc:
                self.findings.add(ERROR, exc.origin or rule.origin, exc.message)
                continue
            output = " ".join(f.text for f in rule.output)
            out_fragment = rule.output[0] if rule.output else Fragment("", rule.origin)
            if "%container.info" in output:
                self.findings.add(
                    WARNING,
                    rule.origin,
                    "%container.info is deprecated and no more useful (the container plugin adds "
                    "the container fields to the output)",
                    key="output",
                )
                output = output.replace("%container.info", "")
            skip = False
            if self.check_field_classes:
                problem = fsem.check_output(output)
                if problem is not None:
                    message, offset = problem
                    if rule.skip_unknown and _unknown_kind(message):
                        self.findings.add(
                            WARNING, out_fragment.origin, f"rule skipped (skip-if-unknown-filter): {message}"
                        )
                        continue
                    if not self._extra_output(output):
                        column = offset + 1 if len(rule.output) == 1 else None
                        self.findings.add(ERROR, out_fragment.origin, f"output error: {message}", column=column)
                        skip = True
            for name in _DEPRECATED_FIELDS:
                if name in output:
                    self.findings.add(
                        WARNING,
                        out_fragment.origin,
                        f"usage of deprecated field '{name}' has been detected in the rule output",
                    )
            if skip:
                continue
            if rule.exceptions:
                mapped = _Mapped()
                mapped.add("(", rule.condition[0].origin, False)
                for i, fragment in enumerate(rule.condition):
                    if i:
                        mapped.add(" ")
                    mapped.add(fragment.text, fragment.origin)
                mapped.add(")")
                if exceptions:
                    origin = rule.exceptions[0].origin
                    mapped.add(exceptions, Origin(origin.file, origin.line, "rule", rule.name, "exceptions"), False)
            else:
                mapped = self._text(rule.condition)
            self._substitute_lists(mapped)
            tree = self._parse(mapped, rule.origin)
            if tree is None:
                continue
            tree = self._resolve(tree, set(self.macros), mapped, rule.origin)
            if tree is None:
                continue
            self._deprecated_in_condition(tree, rule)
            if not self.check_field_classes:
                continue
            warnings: List[Tuple[str, Any]] = []
            try:
                self._compile_tree(tree, warnings, mapped)
            except fsem.CompileError as exc:
                node_mapper = getattr(exc, "mapper", None) or mapped
                if exc.unknown and rule.skip_unknown:
                    self.findings.add(
                        WARNING, rule.origin, f"rule skipped (skip-if-unknown-filter): {exc.message}", key="condition"
                    )
                    continue
                self._report(node_mapper, exc.node.pos if exc.node is not None else 0, exc.message, rule.origin)
                continue
            for message, (node, node_mapper) in warnings:
                origin, column, _text = node_mapper.locate(node.pos)
                self.findings.add(WARNING, origin or rule.origin, message, column=column)
            if rule.source == "syscall" and rule.warn_evttypes:
                try:
                    visitor = _CodeVisitor()
                    visitor.visit(tree)
                except fsem.CompileError as exc:
                    self.findings.add(ERROR, rule.origin, exc.message, key="condition")
                    continue
                if visitor.codes.too_many():
                    self.findings.add(
                        WARNING,
                        rule.origin,
                        "rule matches too many evt.type values: this has a significant performance penalty",
                        key="condition",
                    )

    def _extra_output(self, output: str) -> bool:
        return any(f"%{c}." in output or f"%({c}." in output for c in self.extra_field_classes)

    def _deprecated_in_condition(self, tree: Any, rule: RuleDef) -> None:
        found: List[str] = []

        def visit(node: Any) -> None:
            if isinstance(node, MacroRef):
                visit(node.expansion)
                return
            if isinstance(node, fcond.FieldRef) and node.name in _DEPRECATED_FIELDS and node.name not in found:
                found.append(node.name)
            for child in _children(node):
                visit(child)

        visit(tree)
        for name in found:
            self.findings.add(
                WARNING, rule.origin, f"usage of deprecated field '{name}' in the condition", key="condition"
            )

    def _compile_tree(self, node: Any, warnings: List[Tuple[str, Any]], mapped: _Mapped) -> None:
        if isinstance(node, MacroRef):
            self._compile_tree(node.expansion, warnings, node.mapper)
            return
        if isinstance(node, fcond.BoolOp):
            for child in node.children:
                self._compile_tree(child, warnings, mapped)
            return
        if isinstance(node, fcond.Not):
            self._compile_tree(node.child, warnings, mapped)
            return
        if isinstance(node, fcond.Check):
            if self._extra_class(node):
                return
            found: List[Tuple[str, Any]] = []
            try:
                fsem.check(node, found)
            except fsem.CompileError as exc:
                exc.mapper = mapped  # type: ignore[attr-defined]
                if exc.node is None:
                    exc.node = node
                raise
            warnings.extend((message, (where, mapped)) for message, where in found)
            return
        if isinstance(node, fcond.Identifier):
            error = fsem.CompileError(f"unexpected identifier '{node.name}'", node)
            error.mapper = mapped  # type: ignore[attr-defined]
            raise error


def _entry_valid(entry: Any) -> bool:
    if entry is None:
        return False
    _kind, value = entry
    return bool(value)


def _children(node: Any) -> List[Any]:
    if isinstance(node, fcond.BoolOp):
        return list(node.children)
    if isinstance(node, fcond.Not):
        return [node.child]
    if isinstance(node, fcond.Check):
        return [c for c in (node.left, node.right) if c is not None]
    if isinstance(node, fcond.Transformer):
        return list(node.args)
    if isinstance(node, fcond.TransformerList):
        return list(node.children)
    return []


def _unknown_kind(message: str) -> bool:
    return any(
        marker in message
        for marker in ("nonexistent field", "invalid formatting token", "unknown event type", "unknown filter:")
    )


def _context(text: str, offset: int, width: int = 24) -> str:
    """A short excerpt of ``text`` around ``offset`` for messages."""
    offset = max(0, min(offset, len(text)))
    start = max(0, offset - width)
    end = min(len(text), offset + width)
    excerpt = text[start:end].replace("\n", " ")
    return f"{'...' if start else ''}{excerpt!r}{'...' if end < len(text) else ''}"


def check_rules(
    files: Sequence[Tuple[str, str]],
    extra_field_classes: Iterable[str] = (),
    check_field_classes: bool = True,
) -> CheckResult:
    """Check an ordered list of (file name, YAML text) as one Falco rule set."""
    checker = RuleSetChecker(extra_field_classes=extra_field_classes, check_field_classes=check_field_classes)
    for name, text in files:
        checker.add_file(name, text)
    return checker.finish()


def expand_condition(name_or_text: str, files: Sequence[Tuple[str, str]]) -> str:
    """Return a rule's (or a raw) condition with macros and lists expanded, as plain filter text.

    Used to cross-check the parser against a real filter compiler (sysdig). Macros are
    substituted recursively in parentheses; list names in value lists are replaced by their
    (quoted when needed) items, as Falco does.
    """
    checker = RuleSetChecker(check_field_classes=False)
    for name, text in files:
        checker.add_file(name, text)
    rule = checker.rules.get(name_or_text)
    condition = " ".join(f.text for f in rule.condition) if rule else name_or_text
    return _expand(condition, checker, 0)


def _expand_list(name: str, checker: RuleSetChecker, depth: int = 0) -> List[str]:
    lst = checker.lists[name]
    out: List[str] = []
    for value, _origin in lst.items:
        ref = checker.lists.get(value)
        if ref is not None and ref.index < lst.index and depth < 20:
            out.extend(_expand_list(value, checker, depth + 1))
        else:
            out.append(value)
    return out


def _quote(value: str) -> str:
    if _BARESTR_RE.fullmatch(value):
        return value
    if value.startswith(("'", '"')):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _expand(condition: str, checker: RuleSetChecker, depth: int) -> str:
    if depth > 50:
        raise ConditionSyntaxError(0, "macro expansion too deep")
    info = parse_condition(condition)
    replacements: List[Tuple[int, int, str]] = []
    for name, offset in info.macros:
        macro = checker.macros.get(name)
        if macro is None:
            continue
        body = " ".join(f.text for f in macro.fragments)
        replacements.append((offset, offset + len(name), "(" + _expand(body, checker, depth + 1) + ")"))
    for value, offset in info.list_values:
        if value in checker.lists:
            items = [_quote(v) for v in _expand_list(value, checker)]
            replacements.append((offset, offset + len(value), ", ".join(items)))
    result = condition
    for start, end, text in sorted(replacements, reverse=True):
        result = result[:start] + text + result[end:]
    # An empty list leaves a dangling comma: "(, a)" / "(a, )" / "(, )".
    result = re.sub(r"\(\s*,", "(", result)
    result = re.sub(r",\s*(?=,|\))", "", result)
    return result
