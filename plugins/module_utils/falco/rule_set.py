# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Falco's rule reader and collector: an ordered set of rules files to one ``RuleSet``.

``RuleSetReader.add_file()`` reads each file as Falco's rule loader does: item types, value
types as yaml-cpp decodes them, priority names (case-insensitive), ``exceptions`` shapes,
``override`` (append / replace per key, including ``capture`` and ``capture_duration``),
``enabled``-only items, legacy ``append: true``; unknown keys and items are warnings (Falco
ignores them), as are invalid list/macro names. It collects them as Falco's collector does:
``append`` / ``override`` / ``enabled``-only items need a target defined earlier (possibly in an
earlier file); exception fields must be fields, comps operators. ``rule_set()`` gives the
result: lists, macros and rules with where each piece came from, and the read phase's findings.
The compiling of the whole set is falco/checker.py's.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import AbstractSet, Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import condition as fcond
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import semantics as fsem
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import vocabulary as fvoc
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.findings import (
    ERROR,
    WARNING,
    Finding,
    Findings,
    Origin,
    did_you_mean,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.syntax import (
    ConditionSyntaxError,
    parse_condition,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.vocabulary import field_class
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.yaml_nodes import Node, _convert, yaml

# --------------------------------------------------------------------------------------------
# The rules file schema
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

_IDENT_RE = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_LIST_NAME_RE = re.compile(r"[^()\"' \t\n\r\f\v=,]+")
_SEMVER_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
_BARESTR_RE = re.compile(r"[^ \b\t\n\r(),=\"']+")


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


@dataclass
class MacroDef:
    name: str
    fragments: List[Fragment]
    origin: Origin
    index: int
    visibility: int


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


class _RuleLoadError(Exception):
    def __init__(self, message: str, origin: Optional[Origin] = None, column: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.origin = origin
        self.column = column


def _entry_valid(entry: Any) -> bool:
    if entry is None:
        return False
    _kind, value = entry
    return bool(value)


@dataclass(frozen=True)
class RuleSet:
    """The collected rule set after every file is read (read-only): lists, macros and rules
    by name in definition order, the read phase's findings and the counts of items read."""

    lists: Mapping[str, ListDef]
    macros: Mapping[str, MacroDef]
    rules: Mapping[str, RuleDef]
    errors: Tuple[Finding, ...] = ()
    warnings: Tuple[Finding, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)

    def expand_condition(self, name_or_text: str) -> str:
        """A rule's (or a raw) condition with macros and lists expanded, as plain filter text.

        Used to cross-check the parser against a real filter compiler (sysdig). Macros are
        substituted recursively in parentheses; list names in value lists are replaced by their
        (quoted when needed) items, as Falco does.
        """
        rule = self.rules.get(name_or_text)
        condition = " ".join(f.text for f in rule.condition) if rule else name_or_text
        return self.expand(condition)

    def expand(self, condition: str, depth: int = 0) -> str:
        """Condition text with macros and lists expanded (see ``expand_condition``)."""
        if depth > 50:
            raise ConditionSyntaxError(0, "macro expansion too deep")
        info = parse_condition(condition)
        replacements: List[Tuple[int, int, str]] = []
        for name, offset in info.macros:
            macro = self.macros.get(name)
            if macro is None:
                continue
            body = " ".join(f.text for f in macro.fragments)
            replacements.append((offset, offset + len(name), "(" + self.expand(body, depth + 1) + ")"))
        for value, offset in info.list_values:
            if value in self.lists:
                items = [_quote(v) for v in self._list_items(value)]
                replacements.append((offset, offset + len(value), ", ".join(items)))
        result = condition
        for start, end, text in sorted(replacements, reverse=True):
            result = result[:start] + text + result[end:]
        # An empty list leaves a dangling comma: "(, a)" / "(a, )" / "(, )".
        result = re.sub(r"\(\s*,", "(", result)
        result = re.sub(r",\s*(?=,|\))", "", result)
        return result

    def _list_items(self, name: str, depth: int = 0) -> List[str]:
        lst = self.lists[name]
        out: List[str] = []
        for value, _origin in lst.items:
            ref = self.lists.get(value)
            if ref is not None and ref.index < lst.index and depth < 20:
                out.extend(self._list_items(value, depth + 1))
            else:
                out.append(value)
        return out


def _quote(value: str) -> str:
    if _BARESTR_RE.fullmatch(value):
        return value
    if value.startswith(("'", '"')):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def uses_field_class(tree: Any, classes: AbstractSet[str]) -> bool:
    """Whether the (parsed) tree refers to a field of one of ``classes``."""
    return any(isinstance(n, fcond.FieldRef) and field_class(n.name) in classes for n in fcond.walk(tree))


class RuleSetReader:
    """Reads rules files in order, as Falco's rule reader and collector do.

    ``add_file()`` once per file, in load order; ``rule_set()`` then gives the collected set
    with the read phase's findings, and the reader takes no more files (the set's definitions
    are the reader's own, handed over, never changed after).
    """

    def __init__(self, extra_field_classes: Iterable[str] = (), check_field_classes: bool = True) -> None:
        self.findings = Findings()
        self.lists: Dict[str, ListDef] = {}
        self.macros: Dict[str, MacroDef] = {}
        self.rules: Dict[str, RuleDef] = {}
        self.order = 0
        self.extra_field_classes = frozenset(extra_field_classes)
        self.check_field_classes = check_field_classes
        self.counts = {"files": 0, "rules": 0, "macros": 0, "lists": 0}
        self._done = False

    def rule_set(self) -> RuleSet:
        """The rule set read so far; the reader is finished after this."""
        self._done = True
        return RuleSet(
            MappingProxyType(self.lists),
            MappingProxyType(self.macros),
            MappingProxyType(self.rules),
            tuple(self.findings.errors),
            tuple(self.findings.warnings),
            MappingProxyType(dict(self.counts)),
        )

    def add_file(self, name: str, text: str) -> None:
        """Read one rules file (its YAML text) after the ones added before."""
        if self._done:
            raise RuntimeError("RuleSetReader.add_file() after rule_set(): read the files first")
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
            hint = did_you_mean(next(iter(keys), ""), ["rule", "macro", "list"])
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
            hint = did_you_mean(key, sorted(allowed))
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
        legacy_append, appends, _replaces = self._update_mode(item, origin, "items", {"items"}, {"items"})
        self.counts["lists"] += 1
        if legacy_append or appends:
            self._append_target(self.lists, origin, legacy_append).items.extend(items)
            return
        self._define(self.lists, ListDef(name, items, origin, 0))

    def _update_mode(
        self, item: Node, origin: Origin, main_key: str, appendable: Set[str], replaceable: Set[str]
    ) -> Tuple[bool, Set[str], Set[str]]:
        """How an item updates an earlier one: (legacy ``append: true``, keys appended, keys replaced)."""
        legacy_append = bool(self._bool(item, "append", origin))
        if legacy_append:
            self.findings.add(
                WARNING,
                origin,
                f"'append: true' is deprecated; use 'override: {{{main_key}: append}}'",
                key="append",
            )
        appends, replaces = self._overrides(item, origin, appendable, replaceable)
        if legacy_append and (appends or replaces):
            self._fail(origin, "keys 'override' and 'append: true' cannot be used together", key="append")
        return legacy_append, appends, replaces

    def _append_target(self, table: Dict[str, Any], origin: Origin, legacy_append: bool) -> Any:
        """The earlier list or macro an item appends to (now visible from this point on)."""
        kind, name = origin.item_type, origin.item
        target = table.get(name)
        if target is None:
            how = "append" if legacy_append else "override"
            self._fail(origin, f"{kind} has an '{how}' but no {kind} named '{name}' is defined earlier in the rule set")
        target.visibility = self.order
        self.order += 1
        return target

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
        legacy_append, appends, _replaces = self._update_mode(item, origin, "condition", {"condition"}, {"condition"})
        self.counts["macros"] += 1
        fragment = Fragment(
            condition, Origin(origin.file, item.key_lines.get("condition", item.line), "macro", name, "condition")
        )
        if legacy_append or appends:
            self._append_target(self.macros, origin, legacy_append).fragments.append(fragment)
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
                    hint = did_you_mean(key, sorted(EXCEPTION_KEYS))
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
                if comp not in fcond.ALL_OPERATORS and not fcond.is_modifier_operator(comp):
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
            if comp not in ("in", "pmatch", "intersects") and not fcond.is_modifier_operator(comp):
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
            if uses_field_class(tree, self.extra_field_classes):
                return True
            fsem.extractor(tree)
        except (fcond.FilterSyntaxError, fsem.CompileError, fvoc.FieldError):
            return False
        return True

    def _read_rule(self, item: Node, origin: Origin) -> None:
        name = origin.item
        keys = item.value
        source = self._string(item, "source", origin, optional=True, can_be_empty=True) or ""
        legacy_append, appends, replaces = self._update_mode(
            item, origin, "condition", set(RULE_APPENDABLE), set(RULE_REPLACEABLE)
        )
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
