# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Falco's rule compiler over a collected rule set (falco/rule_set.py): the checking phase.

Lists are substituted into condition text as Falco does, every macro is parsed and resolved in
definition order, rule conditions (with their exceptions) are parsed with libsinsp's grammar
(falco/condition.py) and compiled against the field catalogue of the real binary
(falco/vocabulary.py, falco/semantics.py: field existence, transformer and operator types,
constant values), outputs are checked as libsinsp's formatter reads them, then come the warnings
Falco gives (unused macros and lists, deprecated fields, too many event types, suspicious
values). ``check_rule_set()`` gives the whole verdict: the read phase's findings, then these.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import condition as fcond
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import semantics as fsem
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import vocabulary as fvoc
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.findings import (
    ERROR,
    WARNING,
    CheckResult,
    Findings,
    Origin,
    did_you_mean,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.rule_set import (
    Fragment,
    RuleDef,
    RuleSet,
    uses_field_class,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.syntax import friendly


def check_rule_set(
    rule_set: RuleSet, extra_field_classes: Iterable[str] = (), check_field_classes: bool = True
) -> CheckResult:
    """Compile the whole rule set as Falco does; the result holds the read phase's findings first.

    ``extra_field_classes``: field classes of plugins this checker does not know (their fields
    are taken as they are); ``check_field_classes=False`` checks the syntax and the references
    only, not fields, types and outputs.
    """
    checker = _Checker(rule_set, extra_field_classes, check_field_classes)
    # deeply nested conditions recurse deeply (parse, macro expansion, compile): fcond.deep_call
    fcond.deep_call(checker.run)
    return CheckResult(
        [*rule_set.errors, *checker.findings.errors],
        [*rule_set.warnings, *checker.findings.warnings],
        dict(rule_set.counts),
    )


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
    return fcond.is_modifier_operator(op)


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


@dataclass
class _MacroCode:
    """A macro as the compiler has it: the parsed (then macro-resolved) condition."""

    tree: Any
    broken: bool
    mapper: _Mapped
    resolved: bool = False  # tree is macro-resolved: no Identifier left, never mutated again


class _ExceptionError(Exception):
    """An exception of a rule that cannot be turned into condition text."""

    def __init__(self, message: str, origin: Origin) -> None:
        super().__init__(message)
        self.message = message
        self.origin = origin


class _Checker:
    """Falco's rule compiler over a whole rule set: lists, macros, rules, then the unused ones.

    It reads the rule set and never changes it: what compiling learns (macro trees, which lists
    and macros are used) is the checker's own.
    """

    def __init__(self, rule_set: RuleSet, extra_field_classes: Iterable[str], check_field_classes: bool) -> None:
        self.findings = Findings()
        self.lists = rule_set.lists
        self.macros = rule_set.macros
        self.rules = rule_set.rules
        self.extra_field_classes = frozenset(extra_field_classes)
        self.check_field_classes = check_field_classes
        self.expanded_lists: Dict[str, List[str]] = {}
        self.compiled: Dict[str, _MacroCode] = {}
        self.used_lists: Set[str] = set()
        self.used_macros: Set[str] = set()

    def run(self) -> None:
        self._compile_lists()
        self._compile_macros()
        self._compile_rules()
        for macro in self.macros.values():
            if macro.name not in self.used_macros:
                self.findings.add(WARNING, macro.origin, "macro not referred to by any other rule/macro")
        for lst in self.lists.values():
            if lst.name not in self.used_lists:
                self.findings.add(WARNING, lst.origin, "list not referred to by any other rule/macro")

    def _compile_lists(self) -> None:
        for lst in self.lists.values():
            out: List[str] = []
            for value, _origin in lst.items:
                ref = self.lists.get(value)
                if ref is not None and ref.index < lst.visibility:
                    self.used_lists.add(ref.name)
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
                self.used_lists.add(name)

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
                mapped, exc.offset, "syntax error: " + friendly(exc.message, mapped.text, exc.offset), fallback
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
                code = self.compiled.get(node.name)
                if code is None or node.name not in visible or code.tree is None:
                    if ok:
                        ok = False
                        if code is not None and code.broken:
                            return node
                        hint = did_you_mean(node.name, list(self.macros))
                        if node.name in self.lists:
                            hint = f" ('{node.name}' is a list: use it as 'field in ({node.name})')"
                        if code is not None and node.name not in visible:
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
                self.used_macros.add(node.name)
                if code.resolved:
                    # shared, not copied: a resolved tree holds no macro reference left to
                    # substitute and nothing mutates it later (copying it at every reference
                    # made a chain of n macros cost n^2 node copies: 50 s for 1000 macros)
                    return MacroRef(node.pos, node.name, code.tree, code.mapper)
                clone = copy.deepcopy(code.tree)
                inner = self._resolve(clone, visible, code.mapper, self.macros[node.name].origin, (*path, node.name))
                if inner is None:
                    ok = False
                    return node
                return MacroRef(node.pos, node.name, inner, code.mapper)
            return node

        tree = subst(tree)
        return tree if ok else None

    def _compile_macros(self) -> None:
        for macro in self.macros.values():
            mapped = self._text(macro.fragments)
            self._substitute_lists(mapped)
            try:
                tree = self._parse(mapped, macro.origin)
            except RecursionError:
                self.findings.add(ERROR, macro.origin, fcond.nesting_message(), key="condition")
                tree = None
            self.compiled[macro.name] = _MacroCode(tree, tree is None, mapped)
        by_index = sorted(self.macros.values(), key=lambda m: m.index)
        for macro in by_index:
            code = self.compiled[macro.name]
            if code.tree is None:
                continue
            visible = {m.name for m in self.macros.values() if m.index < macro.visibility}
            try:
                resolved = self._resolve(code.tree, visible, code.mapper, macro.origin, (macro.name,))
            except RecursionError:
                self.findings.add(ERROR, macro.origin, fcond.nesting_message(), key="condition")
                resolved = None
            if resolved is None:
                code.broken = True
                code.tree = None
            else:
                code.tree = resolved
                code.resolved = True

    def _exception_text(self, rule: RuleDef) -> Optional[str]:
        text = ""
        for ex in rule.exceptions:
            fkind, fields = ex.fields if ex.fields is not None else ("item", "")
            ckind, comps = ex.comps if ex.comps is not None else ("item", "")
            if fkind == "list" and (ckind != "list" or len(comps) < len(fields)):
                raise _ExceptionError(f"exception '{ex.name}': 'comps' must list one operator per field", ex.origin)
            icond = ""
            if fkind != "list":
                for vkind, value in ex.values:
                    if vkind == "list":
                        raise _ExceptionError(
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
                        raise _ExceptionError(
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
                self._compile_rule(rule)
            except RecursionError:
                self.findings.add(ERROR, rule.origin, fcond.nesting_message(), key="condition")

    def _compile_rule(self, rule: RuleDef) -> None:
        try:
            exceptions = self._exception_text(rule)
        except _ExceptionError as exc:
            self.findings.add(ERROR, exc.origin, exc.message)
            return
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
                    self.findings.add(WARNING, out_fragment.origin, f"rule skipped (skip-if-unknown-filter): {message}")
                    return
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
            return
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
            return
        tree = self._resolve(tree, set(self.macros), mapped, rule.origin)
        if tree is None:
            return
        self._deprecated_in_condition(tree, rule)
        if not self.check_field_classes:
            return
        warnings: List[Tuple[str, Any]] = []
        try:
            self._compile_tree(tree, warnings, mapped)
        except fsem.CompileError as exc:
            node_mapper = getattr(exc, "mapper", None) or mapped
            if exc.unknown and rule.skip_unknown:
                self.findings.add(
                    WARNING, rule.origin, f"rule skipped (skip-if-unknown-filter): {exc.message}", key="condition"
                )
                return
            self._report(node_mapper, exc.node.pos if exc.node is not None else 0, exc.message, rule.origin)
            return
        for message, (node, node_mapper) in warnings:
            origin, column, _text = node_mapper.locate(node.pos)
            self.findings.add(WARNING, origin or rule.origin, message, column=column)
        if rule.source == "syscall" and rule.warn_evttypes:
            try:
                visitor = _CodeVisitor()
                visitor.visit(tree)
            except fsem.CompileError as exc:
                self.findings.add(ERROR, rule.origin, exc.message, key="condition")
                return
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
            if uses_field_class(node, self.extra_field_classes):
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
