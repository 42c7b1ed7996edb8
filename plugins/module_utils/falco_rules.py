# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller-side checker for Falco rules files (no Falco binary needed).

Pure logic, no Ansible imports. It checks an ORDERED set of rules files the way Falco's rule
loader reads them:

* the rules file format: item types, known keys per item type, value types, priority names
  (case-insensitive), ``exceptions`` shapes (name / fields / comps / values), ``override``
  shapes (append / replace per key), ``enabled``-only items, legacy ``append: true``;
* references across the whole ordered set: ``append`` / ``override`` / ``enabled``-only items
  need a target defined earlier (possibly in an earlier file), macros used in conditions must be
  defined somewhere, list names are expanded in ``in (...)`` values;
* the condition language: a tokenizer with lexer modes and a recursive-descent parser of the
  libsinsp filter grammar (``and``/``or``/``not``, parentheses, comparison operators, ``in`` /
  ``intersects`` / ``pmatch`` with value lists, ``exists``, field names with arguments such as
  ``proc.aname[2]``, quoted strings, field transformers, macro references);
* output format strings (``%field``, ``%field[arg]``, ``%(field)``, length modifiers).

Every finding names the file, the item (rule, macro or list) and the position: the line in the
YAML file and, for conditions and outputs, the 1-based column within that string. Appended
condition fragments are parsed together (as Falco does) and an error is attributed to the
fragment, file and line where it lies.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR: Optional[BaseException] = None
except ImportError as _exc:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False
    YAML_IMPORT_ERROR = _exc

# --------------------------------------------------------------------------------------------
# Vocabulary (Falco rules file schema and libsinsp filter grammar)
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
        "capture_events",
        "capture_filesize",
    }
)
MACRO_KEYS = frozenset({"macro", "condition", "append", "override"})
LIST_KEYS = frozenset({"list", "items", "append", "override"})
ENGINE_KEYS = frozenset({"required_engine_version"})
PLUGIN_KEYS = frozenset({"required_plugin_versions"})
# Keys accepted by Falco's JSON schema for any item (schema is a union of all item types).
SCHEMA_KEYS = RULE_KEYS | MACRO_KEYS | LIST_KEYS | ENGINE_KEYS | PLUGIN_KEYS | {"items"}

RULE_APPENDABLE = frozenset({"condition", "output", "desc", "tags", "exceptions"})
RULE_REPLACEABLE = frozenset(
    {
        "condition",
        "output",
        "desc",
        "priority",
        "tags",
        "exceptions",
        "enabled",
        "warn_evttypes",
        "skip-if-unknown-filter",
    }
)
RULE_BOOL_KEYS = ("enabled", "warn_evttypes", "skip-if-unknown-filter", "capture", "append")
EXCEPTION_KEYS = frozenset({"name", "fields", "comps", "values"})

UNARY_OPS = ("exists",)
NUM_OPS = ("<=", "<", ">=", ">")
SYMBOL_STR_OPS = ("==", "=", "!=")
WORD_STR_OPS = (
    "bcontains",
    "bstartswith",
    "contains",
    "endswith",
    "glob",
    "icontains",
    "iglob",
    "startswith",
    "regex",
)
LIST_OPS = ("in", "intersects", "pmatch")
ALL_OPS = frozenset(UNARY_OPS + NUM_OPS + SYMBOL_STR_OPS + WORD_STR_OPS + LIST_OPS)
TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len")
KEYWORDS = frozenset({"and", "or", "not"})

# Field classes of the syscall source (libsinsp) and of the container plugin, plus the classes of
# the common Falco plugins. A field outside these classes is reported; add plugin classes with
# ``extra_field_classes``.
SYSCALL_FIELD_CLASSES = frozenset(
    {
        "evt",
        "proc",
        "thread",
        "fd",
        "fdlist",
        "fs",
        "user",
        "group",
        "container",
        "k8s",
        "syslog",
        "span",
        "evtin",
        "mesos",
        "marathon",
        "proc_group",
    }
)
PLUGIN_FIELD_CLASSES = frozenset(
    {"ka", "jevt", "json", "ct", "s3", "aws", "gcp", "okta", "github", "k8smeta", "k8sres", "cloudtrail", "dummy"}
)

# Bare values that look like list names (``foo_binaries``): used to warn when a list is
# referenced in ``in (...)`` but never defined (Falco would silently compare the literal text).
LIST_NAME_HINT = re.compile(
    r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*_(?:binaries|procs|names|list|images|dirs|directories|files|"
    r"ports|users|containers|ids|cmdlines|repositories|hosts|domains|paths|commands|groups|"
    r"namespaces|parents|servers|items|types)$"
)

_IDENT_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_FIELD_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+")
_FIELD_ARG_BARE_RE = re.compile(r"[^ \b\t\n\r\[\]\"']+")
_BARESTR_RE = re.compile(r"[^ \b\t\n\r(),=\"']+")
_NUMBER_RE = re.compile(r"[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?")
_HEX_RE = re.compile(r"0[xX][0-9a-zA-Z]+")
_BLANKS = " \t\n\r\b"
_LIST_NAME_RE = re.compile(r"[^()\"'\s=,]+")
_SEMVER_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")


# --------------------------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One error or warning, with its position."""

    severity: str  # "error" or "warning"
    file: str
    line: int  # 1-based line in the YAML file (0 when unknown)
    item_type: str  # rule, macro, list, exception, required_engine_version, file, ...
    item: str  # the item's name ("" when it has none)
    message: str
    key: str = ""  # the key in the item the finding is about (condition, output, ...)
    column: Optional[int] = None  # 1-based column within the condition/output string

    def to_dict(self) -> Dict[str, Any]:
        return {
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "item_type": self.item_type,
            "item": self.item,
            "key": self.key,
            "column": self.column,
            "message": self.message,
            "text": self.format(),
        }

    def format(self) -> str:
        where = f"{self.file}:{self.line}"
        what = f"{self.item_type} '{self.item}'" if self.item else self.item_type
        key = ""
        if self.key:
            key = f" {self.key}"
            if self.column is not None:
                key += f" column {self.column}"
            key += ":"
        return f"{where}: {self.severity}: {what}:{key} {self.message}"


@dataclass
class CheckResult:
    errors: List[Finding] = field(default_factory=list)
    warnings: List[Finding] = field(default_factory=list)
    counts: Dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> Dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": [f.to_dict() for f in self.errors],
            "warnings": [f.to_dict() for f in self.warnings],
            "counts": dict(self.counts),
        }


# --------------------------------------------------------------------------------------------
# Condition language: tokenizer (with lexer modes) and recursive-descent parser
# --------------------------------------------------------------------------------------------


class ConditionSyntaxError(Exception):
    """A condition or output string does not parse; ``offset`` is 0-based in the string."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"{message} (offset {offset})")
        self.offset = offset
        self.message = message


@dataclass(frozen=True)
class Token:
    kind: str  # LPAREN RPAREN COMMA IDENT FIELD OP TRANSFORMER VAL STRING BARE NUMBER EOF
    text: str  # the token text (for STRING: the unquoted value)
    offset: int  # 0-based offset in the input
    end: int


class Tokenizer:
    """Splits a condition into tokens. Two lexer modes, as the grammar is context-dependent:

    * ``check`` mode: parentheses, keywords, identifiers (macro names), field names with an
      optional ``[arg]``, operators, transformers;
    * ``value`` mode: quoted strings, bare strings and numbers (``evt.dir = <`` and
      ``proc.name = runc:[0:PARENT]`` are valid values, which no single token regex covers).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _BLANKS:
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_blanks()
        return self.pos >= len(self.text)

    def peek_char(self) -> str:
        self.skip_blanks()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _make(self, kind: str, text: str, start: int, end: int) -> Token:
        self.pos = end
        return Token(kind, text, start, end)

    def next_check(self) -> Token:
        """Next token in check mode."""
        self.skip_blanks()
        start = self.pos
        text = self.text
        if start >= len(text):
            return Token("EOF", "", start, start)
        char = text[start]
        if char in "(),":
            return self._make({"(": "LPAREN", ")": "RPAREN", ",": "COMMA"}[char], char, start, start + 1)
        for sym in ("==", "!=", "<=", ">=", "=", "<", ">"):
            if text.startswith(sym, start):
                return self._make("OP", sym, start, start + len(sym))
        match = _FIELD_RE.match(text, start)
        if match:
            end = match.end()
            name = match.group(0)
            if end < len(text) and text[end] == "[":
                arg_end = self._field_arg(end)
                return self._make("FIELD", text[start:arg_end], start, arg_end)
            return self._make("FIELD", name, start, end)
        match = _IDENT_RE.match(text, start)
        if match:
            end = match.end()
            word = match.group(0)
            nxt = text[end] if end < len(text) else ""
            if word in TRANSFORMERS and nxt == "(":
                return self._make("TRANSFORMER", word, start, end + 1)
            if word == "val" and nxt == "(":
                return self._make("VAL", word, start, end + 1)
            if word in KEYWORDS or word in ALL_OPS:
                return self._make("OP" if word in ALL_OPS else word.upper(), word, start, end)
            return self._make("IDENT", word, start, end)
        raise ConditionSyntaxError(start, f"unexpected character {char!r}")

    def _field_arg(self, bracket: int) -> int:
        """Parse ``[arg]`` after a field name; return the offset after ``]``."""
        text = self.text
        pos = bracket + 1
        if pos < len(text) and text[pos] in "\"'":
            end = self._quoted_end(pos)
            pos = end
        else:
            match = _FIELD_ARG_BARE_RE.match(text, pos)
            if not match:
                raise ConditionSyntaxError(pos, "expected a field argument after '['")
            pos = match.end()
        if pos >= len(text) or text[pos] != "]":
            raise ConditionSyntaxError(pos, "expected ']' to close the field argument")
        return pos + 1

    def _quoted_end(self, start: int) -> int:
        quote = self.text[start]
        pos = start + 1
        while pos < len(self.text):
            char = self.text[pos]
            if char == "\\" and pos + 1 < len(self.text):
                pos += 2
                continue
            if char == quote:
                return pos + 1
            pos += 1
        raise ConditionSyntaxError(start, "unterminated quoted string")

    def next_value(self) -> Token:
        """Next token in value mode: a quoted string or a bare string."""
        self.skip_blanks()
        start = self.pos
        text = self.text
        if start >= len(text):
            return Token("EOF", "", start, start)
        char = text[start]
        if char in "\"'":
            end = self._quoted_end(start)
            raw = text[start + 1 : end - 1]
            value = re.sub(r"\\(.)", r"\1", raw)
            return self._make("STRING", value, start, end)
        if char in "(),":
            return self._make({"(": "LPAREN", ")": "RPAREN", ",": "COMMA"}[char], char, start, start + 1)
        match = _BARESTR_RE.match(text, start)
        if not match:
            raise ConditionSyntaxError(start, f"unexpected character {char!r} where a value was expected")
        return self._make("BARE", match.group(0), start, match.end())


@dataclass
class ConditionInfo:
    """What a parsed condition refers to (the parser builds no evaluation tree: we only check)."""

    fields: List[Tuple[str, int]] = field(default_factory=list)  # (field name, offset)
    macros: List[Tuple[str, int]] = field(default_factory=list)  # (identifier, offset)
    list_values: List[Tuple[str, int]] = field(default_factory=list)  # bare values in (...) lists
    list_identifiers: List[Tuple[str, int]] = field(default_factory=list)  # `in some_list` form
    operators: List[Tuple[str, int]] = field(default_factory=list)
    transformers: List[Tuple[str, int]] = field(default_factory=list)


class ConditionParser:
    """Recursive-descent parser of the Falco (libsinsp) condition language.

    Grammar (precedence low to high)::

        expr    := or
        or      := and ('or' and)*
        and     := not ('and' not)*
        not     := 'not' not | primary
        primary := '(' expr ')' | IDENT | operand condition
        operand := FIELD | TRANSFORMER operand ')'
        condition := 'exists'
                   | ('<'|'<='|'>'|'>=') (NUMBER | rhs_field)
                   | ('='|'=='|'!='|contains|...|regex) (STRING | BARE | rhs_field)
                   | ('in'|'intersects'|'pmatch') ('(' [value (',' value)*] ')' | IDENT | rhs_field)
        rhs_field := 'val(' FIELD ')' | TRANSFORMER operand ')'
    """

    MAX_DEPTH = 1000

    def __init__(self, text: str) -> None:
        self.text = text
        self.lex = Tokenizer(text)
        self.info = ConditionInfo()
        self.depth = 0

    def parse(self) -> ConditionInfo:
        if not self.text.strip():
            raise ConditionSyntaxError(0, "empty condition")
        self._or()
        if not self.lex.at_end():
            tok = self._peek_check()
            raise ConditionSyntaxError(tok.offset, f"unexpected {self._describe(tok)}; expected 'and', 'or' or end")
        return self.info

    # helpers --------------------------------------------------------------------------------
    def _peek_check(self) -> Token:
        saved = self.lex.pos
        try:
            return self.lex.next_check()
        finally:
            self.lex.pos = saved

    @staticmethod
    def _describe(tok: Token) -> str:
        if tok.kind == "EOF":
            return "end of condition"
        return f"{tok.text!r}"

    def _keyword_follows_ok(self, tok: Token) -> bool:
        """'and'/'or'/'not' must be followed by a blank or '(' (libsinsp lexes them so)."""
        nxt = self.text[tok.end] if tok.end < len(self.text) else ""
        return nxt == "" or nxt in _BLANKS or nxt == "("

    # grammar --------------------------------------------------------------------------------
    def _or(self) -> None:
        self._and()
        while True:
            tok = self._peek_check()
            if tok.kind == "OR":
                self.lex.next_check()
                self._and()
            else:
                return

    def _and(self) -> None:
        self._not()
        while True:
            tok = self._peek_check()
            if tok.kind == "AND":
                self.lex.next_check()
                self._not()
            else:
                return

    def _not(self) -> None:
        tok = self._peek_check()
        if tok.kind == "NOT":
            if not self._keyword_follows_ok(tok):
                raise ConditionSyntaxError(tok.end, "expected a blank or '(' after 'not'")
            self.lex.next_check()
            self._not()
            return
        self._primary()

    def _primary(self) -> None:
        self.depth += 1
        if self.depth > self.MAX_DEPTH:
            raise ConditionSyntaxError(self.lex.pos, "condition nested too deeply")
        try:
            tok = self.lex.next_check()
            if tok.kind == "LPAREN":
                self._or()
                close = self.lex.next_check()
                if close.kind != "RPAREN":
                    raise ConditionSyntaxError(close.offset, f"expected ')' but found {self._describe(close)}")
                return
            if tok.kind == "IDENT":
                self.info.macros.append((tok.text, tok.offset))
                nxt = self._peek_check()
                if nxt.kind == "OP":
                    raise ConditionSyntaxError(
                        tok.offset,
                        f"'{tok.text}' is not a field name (fields have a class prefix, e.g. proc.name); "
                        f"a macro reference cannot be followed by '{nxt.text}'",
                    )
                return
            if tok.kind in ("FIELD", "TRANSFORMER"):
                self._operand_rest(tok)
                self._condition(tok)
                return
            if tok.kind in ("AND", "OR"):
                raise ConditionSyntaxError(tok.offset, f"expected a field, macro or '(' but found '{tok.text}'")
            raise ConditionSyntaxError(tok.offset, f"expected a field, macro or '(' but found {self._describe(tok)}")
        finally:
            self.depth -= 1

    def _operand_rest(self, tok: Token) -> None:
        """Finish an operand that starts with ``tok`` (a FIELD or a TRANSFORMER)."""
        if tok.kind == "FIELD":
            self.info.fields.append((tok.text, tok.offset))
            return
        self.info.transformers.append((tok.text, tok.offset))
        inner = self.lex.next_check()
        if inner.kind not in ("FIELD", "TRANSFORMER"):
            raise ConditionSyntaxError(inner.offset, f"expected a field inside {tok.text}(...)")
        self._operand_rest(inner)
        close = self.lex.next_check()
        if close.kind != "RPAREN":
            raise ConditionSyntaxError(close.offset, f"expected ')' to close {tok.text}(")

    def _rhs_field(self, tok: Token) -> bool:
        """``val(field)`` or ``transformer(field)`` on the right-hand side; True when consumed."""
        if tok.kind == "VAL":
            inner = self.lex.next_check()
            if inner.kind not in ("FIELD", "TRANSFORMER"):
                raise ConditionSyntaxError(inner.offset, "expected a field inside val(...)")
            self._operand_rest(inner)
            close = self.lex.next_check()
            if close.kind != "RPAREN":
                raise ConditionSyntaxError(close.offset, "expected ')' to close val(")
            return True
        if tok.kind == "TRANSFORMER":
            self._operand_rest(tok)
            return True
        return False

    def _try_rhs_field(self) -> bool:
        saved = self.lex.pos
        try:
            tok = self.lex.next_check()
        except ConditionSyntaxError:
            self.lex.pos = saved
            return False
        if tok.kind in ("VAL", "TRANSFORMER"):
            return self._rhs_field(tok)
        self.lex.pos = saved
        return False

    def _condition(self, left: Token) -> None:
        op = self.lex.next_check()
        if op.kind != "OP":
            name = left.text
            raise ConditionSyntaxError(op.offset, f"expected an operator after '{name}' but found {self._describe(op)}")
        self.info.operators.append((op.text, op.offset))
        if op.text in UNARY_OPS:
            return
        if op.text in LIST_OPS:
            self._list_value(op)
            return
        if op.text in WORD_STR_OPS:
            nxt = self.text[op.end] if op.end < len(self.text) else ""
            if nxt not in _BLANKS or nxt == "":
                raise ConditionSyntaxError(op.end, f"expected a blank after '{op.text}'")
        if self._try_rhs_field():
            return
        val = self.lex.next_value()
        if val.kind == "EOF":
            raise ConditionSyntaxError(val.offset, f"expected a value after '{op.text}'")
        if val.kind not in ("STRING", "BARE"):
            raise ConditionSyntaxError(val.offset, f"expected a value after '{op.text}' but found {val.text!r}")
        if op.text in NUM_OPS and (
            val.kind != "BARE" or not (_HEX_RE.fullmatch(val.text) or _NUMBER_RE.fullmatch(val.text))
        ):
            raise ConditionSyntaxError(val.offset, f"expected a number after '{op.text}' but found {val.text!r}")

    def _list_value(self, op: Token) -> None:
        nxt = self.text[op.end] if op.end < len(self.text) else ""
        if nxt not in _BLANKS + "(" or nxt == "":
            raise ConditionSyntaxError(op.end, f"expected a blank or '(' after '{op.text}'")
        if self._try_rhs_field():
            return
        start = self.lex.next_value()
        if start.kind == "BARE" and _IDENT_RE.fullmatch(start.text):
            self.info.list_identifiers.append((start.text, start.offset))
            return
        if start.kind != "LPAREN":
            raise ConditionSyntaxError(start.offset, f"expected '(' to start the value list after '{op.text}'")
        tok = self.lex.next_value()
        if tok.kind == "RPAREN":
            return
        while True:
            if tok.kind not in ("STRING", "BARE"):
                raise ConditionSyntaxError(tok.offset, f"expected a list value but found {self._describe(tok)}")
            if tok.kind == "BARE":
                self.info.list_values.append((tok.text, tok.offset))
            sep = self.lex.next_value()
            if sep.kind == "RPAREN":
                return
            if sep.kind != "COMMA":
                raise ConditionSyntaxError(
                    sep.offset, f"expected ',' or ')' in the value list but found {self._describe(sep)}"
                )
            tok = self.lex.next_value()


def parse_condition(text: str) -> ConditionInfo:
    """Parse a condition; raise ConditionSyntaxError with a 0-based offset on failure."""
    return ConditionParser(text).parse()


def parse_output(text: str) -> List[Tuple[str, int]]:
    """Parse an output format; return [(field, offset)]; raise ConditionSyntaxError."""
    fields: List[Tuple[str, int]] = []
    pos = 0
    length = len(text)
    while True:
        pos = text.find("%", pos)
        if pos < 0:
            return fields
        start = pos
        pos += 1
        if pos >= length:
            raise ConditionSyntaxError(start, "output cannot end with '%'")
        while pos < length and text[pos].isdigit():  # length modifier, e.g. %20proc.name
            pos += 1
        if pos >= length:
            raise ConditionSyntaxError(start, "output cannot end with a '%' length modifier")
        if text[pos] == "(":
            pos = _output_paren(text, pos, fields)
            continue
        match = _FIELD_RE.match(text, pos)
        if not match:
            shown = text[start : start + 16].split("\n")[0]
            raise ConditionSyntaxError(start, f"invalid output token '{shown}': expected a field name after '%'")
        name_end = match.end()
        if name_end < length and text[name_end] == "[":
            close = text.find("]", name_end)
            if close < 0:
                raise ConditionSyntaxError(name_end, "expected ']' to close the field argument")
            if close == name_end + 1:
                raise ConditionSyntaxError(name_end, "empty field argument '[]'")
            name_end = close + 1
        fields.append((text[pos:name_end], pos))
        pos = name_end


def _output_paren(text: str, pos: int, fields: List[Tuple[str, int]]) -> int:
    """``%(field)`` or ``%(transformer(field))``; return the offset after the closing paren."""
    depth = 0
    end = pos
    while end < len(text):
        if text[end] == "(":
            depth += 1
        elif text[end] == ")":
            depth -= 1
            if depth == 0:
                break
        end += 1
    if depth != 0:
        raise ConditionSyntaxError(pos, "unbalanced '(' in output field")
    inner = text[pos + 1 : end]
    inner_parser = ConditionParser(inner)
    tok = inner_parser.lex.next_check()
    if tok.kind not in ("FIELD", "TRANSFORMER"):
        raise ConditionSyntaxError(pos + 1 + tok.offset, f"expected a field inside '%(...)' but found {inner!r}")
    try:
        inner_parser._operand_rest(tok)
    except ConditionSyntaxError as exc:
        raise ConditionSyntaxError(pos + 1 + exc.offset, exc.message) from None
    if not inner_parser.lex.at_end():
        raise ConditionSyntaxError(pos + 1 + inner_parser.lex.pos, f"unexpected text in '%({inner})'")
    for name, offset in inner_parser.info.fields:
        fields.append((name, pos + 1 + offset))
    return end + 1


def field_class(name: str) -> str:
    return name.split(".", 1)[0]


# --------------------------------------------------------------------------------------------
# YAML with positions
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Collected definitions (the rule set after all files are read, in order)
# --------------------------------------------------------------------------------------------


@dataclass
class Origin:
    file: str
    line: int
    item_type: str
    item: str
    key: str = ""


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


def _plain(node: Node) -> Any:
    """Plain Python value of a node (scalars stay text)."""
    if node.kind == "map":
        return {k: _plain(v) for k, v in node.value.items()}
    if node.kind == "seq":
        return [_plain(v) for v in node.value]
    return node.value


class RuleSetChecker:
    """Reads rules files in order, then checks the resulting rule set as a whole."""

    def __init__(self, extra_field_classes: Iterable[str] = (), check_field_classes: bool = True) -> None:
        self.result = CheckResult()
        self.lists: Dict[str, ListDef] = {}
        self.macros: Dict[str, MacroDef] = {}
        self.rules: Dict[str, RuleDef] = {}
        self.order = 0
        self.field_classes = set(SYSCALL_FIELD_CLASSES | PLUGIN_FIELD_CLASSES) | set(extra_field_classes)
        self.check_field_classes = check_field_classes
        self.counts = {"files": 0, "rules": 0, "macros": 0, "lists": 0}

    # reporting --------------------------------------------------------------------------------
    def error(self, origin: Origin, message: str, key: str = "", column: Optional[int] = None, line: int = 0) -> None:
        self.result.errors.append(
            Finding(
                "error",
                origin.file,
                line or origin.line,
                origin.item_type,
                origin.item,
                message,
                key or origin.key,
                column,
            )
        )

    def warn(self, origin: Origin, message: str, key: str = "", column: Optional[int] = None, line: int = 0) -> None:
        self.result.warnings.append(
            Finding(
                "warning",
                origin.file,
                line or origin.line,
                origin.item_type,
                origin.item,
                message,
                key or origin.key,
                column,
            )
        )

    # reading ----------------------------------------------------------------------------------
    def add_file(self, name: str, text: str) -> None:
        self.counts["files"] += 1
        file_origin = Origin(name, 0, "file", "")
        try:
            root = load_yaml_nodes(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line = mark.line + 1 if mark is not None else 0
            column = mark.column + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            self.error(file_origin, f"YAML syntax error: {problem}", key="yaml", column=column, line=line)
            return
        if root.kind != "seq":
            file_origin.line = root.line
            self.error(file_origin, "a rules file must be a YAML sequence of lists, macros and rules")
            return
        for item in root.value:
            self._read_item(name, item)

    def _read_item(self, file: str, item: Node) -> None:
        if item.kind != "map":
            self.error(
                Origin(file, item.line, "item", ""),
                "unexpected element type: each element must be a mapping (a list, macro or rule)",
            )
            return
        keys = item.value
        for kind in ("required_engine_version", "required_plugin_versions", "list", "macro", "rule"):
            if kind in keys:
                break
        else:
            close = difflib.get_close_matches(next(iter(keys), ""), ["rule", "macro", "list"], n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            self.error(
                Origin(file, item.line, "item", ""),
                f"unknown top-level item with keys {sorted(keys)}: expected one of rule, macro, list, "
                f"required_engine_version, required_plugin_versions{hint}; Falco would ignore it",
            )
            return
        name_node = keys[kind]
        name = name_node.scalar() if kind in ("list", "macro", "rule") else ""
        origin = Origin(file, item.line, kind, name or "")
        self._check_keys(item, kind, origin)
        if kind == "required_engine_version":
            self._read_engine_version(item, origin)
        elif kind == "required_plugin_versions":
            self._read_plugin_versions(item, origin)
        elif kind == "list":
            self._read_list(item, origin)
        elif kind == "macro":
            self._read_macro(item, origin)
        else:
            self._read_rule(item, origin)

    def _check_keys(self, item: Node, kind: str, origin: Origin) -> None:
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
            line = item.key_lines.get(key, item.line)
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            if key in SCHEMA_KEYS:
                self.warn(origin, f"key '{key}' has no effect on a {kind}{hint}", key=key, line=line)
            else:
                self.error(origin, f"unknown key '{key}' for a {kind}{hint}", key=key, line=line)

    def _scalar_value(self, item: Node, key: str, origin: Origin, required: bool = True) -> Optional[str]:
        node = item.value.get(key)
        if node is None:
            if required:
                self.error(origin, f"missing required key '{key}'")
            return None
        line = item.key_lines.get(key, item.line)
        if node.kind != "scalar" or node.is_null():
            self.error(origin, f"value of '{key}' must be a non-empty scalar", key=key, line=line)
            return None
        if str(node.value) == "":
            self.error(origin, f"value of '{key}' must be non-empty", key=key, line=line)
            return None
        return str(node.value)

    def _bool_value(self, item: Node, key: str, origin: Origin) -> Optional[bool]:
        node = item.value.get(key)
        if node is None:
            return None
        value = node.as_bool()
        if value is None:
            self.error(
                origin,
                f"value of '{key}' must be a boolean (true/false), got {_plain(node)!r}",
                key=key,
                line=item.key_lines.get(key, item.line),
            )
        return value

    def _read_engine_version(self, item: Node, origin: Origin) -> None:
        value = self._scalar_value(item, "required_engine_version", origin)
        if value is not None and not (value.isdigit() or _SEMVER_RE.match(value)):
            self.error(origin, f"unable to parse engine version '{value}': expected an integer or x.y.z")

    def _read_plugin_versions(self, item: Node, origin: Origin) -> None:
        node = item.value["required_plugin_versions"]
        if node.kind != "seq":
            self.error(origin, "value of required_plugin_versions must be a sequence")
            return
        for entry in node.value:
            entry_origin = Origin(origin.file, entry.line, "required_plugin_versions", "")
            if entry.kind != "map":
                self.error(entry_origin, "plugin version must be a mapping with name and version")
                continue
            entry_origin.item = str(entry.value.get("name", Node("scalar", "", 0)).value)
            for key in entry.value:
                if key not in ("name", "version", "alternatives"):
                    self.error(entry_origin, f"unknown key '{key}' in a plugin version requirement", key=key)
            self._scalar_value(entry, "name", entry_origin)
            self._scalar_value(entry, "version", entry_origin)
            alternatives = entry.value.get("alternatives")
            if alternatives is not None:
                if alternatives.kind != "seq":
                    self.error(entry_origin, "value of plugin version alternatives must be a sequence")
                    continue
                for alt in alternatives.value:
                    alt_origin = Origin(origin.file, alt.line, "required_plugin_versions", entry_origin.item)
                    if alt.kind != "map":
                        self.error(alt_origin, "plugin version alternative must be a mapping")
                        continue
                    self._scalar_value(alt, "name", alt_origin)
                    self._scalar_value(alt, "version", alt_origin)

    def _overrides(
        self, item: Node, origin: Origin, appendable: Set[str], replaceable: Set[str]
    ) -> Tuple[Set[str], Set[str], bool]:
        """Return (append keys, replace keys, valid)."""
        node = item.value.get("override")
        if node is None:
            return set(), set(), True
        line = item.key_lines.get("override", item.line)
        if node.kind != "map" or not node.value:
            self.error(
                origin, "'override' must be a non-empty mapping of key: append|replace", key="override", line=line
            )
            return set(), set(), False
        appends: Set[str] = set()
        replaces: Set[str] = set()
        valid = True
        for key, op_node in node.value.items():
            key_line = node.key_lines.get(key, line)
            operation = op_node.scalar()
            if operation == "append":
                if key not in appendable:
                    hint = ", use 'replace' instead" if key in replaceable else ""
                    self.error(origin, f"key '{key}' cannot be appended to{hint}", key="override", line=key_line)
                    valid = False
                    continue
                appends.add(key)
            elif operation == "replace":
                if key not in replaceable:
                    self.error(origin, f"key '{key}' cannot be replaced", key="override", line=key_line)
                    valid = False
                    continue
                replaces.add(key)
            else:
                allowed = [op for op, keys in (("append", appendable), ("replace", replaceable)) if key in keys]
                self.error(
                    origin,
                    f"invalid override operation for key '{key}': {_plain(op_node)!r}; allowed: "
                    f"{', '.join(allowed) or 'none (key cannot be overridden)'}",
                    key="override",
                    line=key_line,
                )
                valid = False
                continue
            if key not in item.value:
                self.error(
                    origin,
                    f"an override for '{key}' was specified but '{key}' is not defined in the item",
                    key="override",
                    line=key_line,
                )
                valid = False
        return appends, replaces, valid

    def _read_list(self, item: Node, origin: Origin) -> None:
        name = origin.item
        if not name or not _LIST_NAME_RE.fullmatch(name):
            self.error(origin, f"invalid list name {name!r}: it must be a bare string without blanks, quotes, ( ) , =")
            return
        items_node = item.value.get("items")
        items: List[Tuple[str, Origin]] = []
        if items_node is None:
            self.error(origin, "missing required key 'items'")
            return
        if items_node.kind != "seq":
            self.error(
                origin, "value of 'items' must be a sequence", key="items", line=item.key_lines.get("items", item.line)
            )
            return
        for child in items_node.value:
            if child.kind != "scalar" or child.is_null():
                self.error(origin, "list items must be scalars (strings or numbers)", key="items", line=child.line)
                continue
            items.append((str(child.value), Origin(origin.file, child.line, "list", name, "items")))
        legacy_append = self._bool_value(item, "append", origin)
        appends, replaces, valid = self._overrides(item, origin, {"items"}, {"items"})
        if not valid:
            return
        if legacy_append and (appends or replaces):
            self.error(origin, "keys 'override' and 'append: true' cannot be used together", key="append")
            return
        if legacy_append:
            self.warn(origin, "'append: true' is deprecated; use 'override: {items: append}'", key="append")
        self.counts["lists"] += 1
        if legacy_append or appends or replaces:
            target = self.lists.get(name)
            if target is None:
                how = "append" if (legacy_append or appends) else "override"
                self.error(origin, f"list has an '{how}' but no list named '{name}' is defined earlier in the rule set")
                return
            if replaces:
                target.items = items
            else:
                target.items.extend(items)
            return
        previous = self.lists.get(name)
        self.order += 1
        self.lists[name] = ListDef(name, items, origin, previous.index if previous else self.order)

    def _read_macro(self, item: Node, origin: Origin) -> None:
        name = origin.item
        if not name or not _IDENT_RE.fullmatch(name) or name in KEYWORDS:
            self.error(origin, f"invalid macro name {name!r}: it must match [a-zA-Z]+[a-zA-Z0-9_]*")
            return
        condition = self._scalar_value(item, "condition", origin)
        legacy_append = self._bool_value(item, "append", origin)
        appends, replaces, valid = self._overrides(item, origin, {"condition"}, {"condition"})
        if condition is None or not valid:
            return
        if legacy_append and (appends or replaces):
            self.error(origin, "keys 'override' and 'append: true' cannot be used together", key="append")
            return
        if legacy_append:
            self.warn(origin, "'append: true' is deprecated; use 'override: {condition: append}'", key="append")
        self.counts["macros"] += 1
        fragment = Fragment(
            condition, Origin(origin.file, item.key_lines.get("condition", item.line), "macro", name, "condition")
        )
        self.order += 1
        if legacy_append or appends or replaces:
            target = self.macros.get(name)
            if target is None:
                how = "append" if (legacy_append or appends) else "override"
                self.error(
                    origin, f"macro has an '{how}' but no macro named '{name}' is defined earlier in the rule set"
                )
                return
            if replaces:
                target.fragments = [fragment]
            else:
                target.fragments.append(fragment)
            target.visibility = self.order
            return
        previous = self.macros.get(name)
        self.macros[name] = MacroDef(name, [fragment], origin, previous.index if previous else self.order, self.order)

    def _read_exceptions(self, item: Node, origin: Origin, appending: bool) -> Optional[List[ExceptionDef]]:
        node = item.value.get("exceptions")
        if node is None or node.is_null():
            return []
        line = item.key_lines.get("exceptions", item.line)
        if node.kind != "seq":
            self.error(origin, "rule exceptions must be a sequence", key="exceptions", line=line)
            return None
        result: List[ExceptionDef] = []
        names: Set[str] = set()
        ok = True
        for ex in node.value:
            ex_origin = Origin(origin.file, ex.line, "rule", origin.item, "exceptions")
            if ex.kind != "map":
                self.error(ex_origin, "rule exception must be a mapping with name, fields, comps, values")
                ok = False
                continue
            for key in ex.value:
                if key not in EXCEPTION_KEYS:
                    close = difflib.get_close_matches(key, sorted(EXCEPTION_KEYS), n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    self.error(
                        ex_origin, f"unknown key '{key}' in an exception{hint}", line=ex.key_lines.get(key, ex.line)
                    )
                    ok = False
            name = ex.value.get("name")
            if name is None or name.scalar() in (None, "") or name.is_null():
                self.error(ex_origin, "exception has no 'name'")
                ok = False
                continue
            ex_name = str(name.value)
            ex_origin.key = f"exceptions[{ex_name}]"
            if ex_name in names:
                self.error(ex_origin, f"exception names in the same rule must be unique: '{ex_name}' repeats")
                ok = False
                continue
            names.add(ex_name)
            fields = self._exception_entry(ex, "fields", ex_origin, optional=appending)
            comps = self._exception_entry(ex, "comps", ex_origin, optional=True)
            values_node = ex.value.get("values")
            values: List[Any] = []
            if values_node is not None:
                if values_node.kind != "seq":
                    self.error(
                        ex_origin, "exception values must be a sequence", line=ex.key_lines.get("values", ex.line)
                    )
                    ok = False
                    continue
                values = [_plain(v) for v in values_node.value]
            elif appending:
                self.warn(ex_origin, "overriding/appending an exception with no values")
            if fields is False or comps is False:
                ok = False
                continue
            result.append(ExceptionDef(ex_name, fields, comps, values, ex_origin))
        return result if ok else None

    def _exception_entry(self, ex: Node, key: str, origin: Origin, optional: bool) -> Any:
        node = ex.value.get(key)
        line = ex.key_lines.get(key, ex.line)
        if node is None:
            if not optional:
                self.error(origin, f"exception has no '{key}'", line=ex.line)
                return False
            return None
        if node.kind == "scalar" and not node.is_null() and str(node.value) != "":
            return str(node.value)
        if node.kind == "seq" and all(c.kind == "scalar" and not c.is_null() for c in node.value):
            return [str(c.value) for c in node.value]
        self.error(origin, f"exception '{key}' must be a string or a list of strings", line=line)
        return False

    def _read_rule(self, item: Node, origin: Origin) -> None:
        name = origin.item
        if not name:
            self.error(origin, "rule name must be a non-empty string")
            return
        keys = item.value
        legacy_append = self._bool_value(item, "append", origin)
        appends, replaces, valid = self._overrides(item, origin, set(RULE_APPENDABLE), set(RULE_REPLACEABLE))
        if not valid:
            return
        for key in ("enabled", "warn_evttypes", "skip-if-unknown-filter", "capture"):
            self._bool_value(item, key, origin)
        self._check_tags(item, origin)
        priority = None
        if "priority" in keys:
            priority = self._scalar_value(item, "priority", origin)
            if priority is not None and priority.lower() not in PRIORITIES:
                close = difflib.get_close_matches(priority.lower(), PRIORITIES, n=1)
                hint = f" (did you mean '{close[0].upper()}'?)" if close else ""
                self.error(
                    origin,
                    f"invalid priority '{priority}': expected one of EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, "
                    f"NOTICE, INFORMATIONAL (INFO), DEBUG (case-insensitive){hint}",
                    key="priority",
                    line=item.key_lines.get("priority", item.line),
                )
        cond_line = item.key_lines.get("condition", item.line)
        out_line = item.key_lines.get("output", item.line)
        if legacy_append and (appends or replaces):
            self.error(origin, "keys 'override' and 'append: true' cannot be used together", key="append")
            return
        self.counts["rules"] += 1
        if appends or replaces:
            overridden = appends | replaces
            for key in sorted((RULE_APPENDABLE | RULE_REPLACEABLE) & set(keys)):
                if key not in overridden:
                    self.error(
                        origin,
                        f"unexpected key '{key}': no corresponding entry under 'override' is defined",
                        key=key,
                        line=item.key_lines.get(key, item.line),
                    )
            target = self.rules.get(name)
            if target is None:
                self.error(
                    origin, f"rule has an override but no rule named '{name}' is defined earlier in the rule set"
                )
                return
            exceptions = self._read_exceptions(item, origin, appending=True) if "exceptions" in overridden else []
            self._apply_update(target, item, origin, appends, replaces, exceptions or [], cond_line, out_line)
            return
        if legacy_append:
            self.warn(origin, "'append: true' is deprecated; use 'override: {condition: append}'", key="append")
            target = self.rules.get(name)
            if target is None:
                self.error(
                    origin, f"rule has 'append: true' but no rule named '{name}' is defined earlier in the rule set"
                )
                return
            exceptions = self._read_exceptions(item, origin, appending=True)
            extra = {"condition"} if "condition" in keys else set()
            if "exceptions" in keys:
                extra.add("exceptions")
            self._apply_update(target, item, origin, extra, set(), exceptions or [], cond_line, out_line)
            return
        if not any(k in keys for k in ("condition", "output", "desc", "priority")):
            if "enabled" not in keys:
                self.error(origin, "rule has none of condition, output, desc, priority: it must at least set 'enabled'")
                return
            self.warn(origin, "standalone 'enabled' is deprecated; use 'override: {enabled: replace}'", key="enabled")
            target = self.rules.get(name)
            if target is None:
                self.error(origin, f"rule sets 'enabled' but no rule named '{name}' is defined earlier in the rule set")
                return
            value = keys["enabled"].as_bool()
            if value is not None:
                target.enabled = value
            return
        condition = self._scalar_value(item, "condition", origin)
        output = self._scalar_value(item, "output", origin)
        self._scalar_value(item, "desc", origin)
        if "priority" not in keys:
            self.error(origin, "missing required key 'priority'")
        exceptions = self._read_exceptions(item, origin, appending=False)
        if condition is None or output is None or priority is None or exceptions is None:
            return
        source = str(keys["source"].value) if "source" in keys and keys["source"].kind == "scalar" else "syscall"
        enabled = keys["enabled"].as_bool() if "enabled" in keys else True
        skip = keys["skip-if-unknown-filter"].as_bool() if "skip-if-unknown-filter" in keys else False
        self.rules[name] = RuleDef(
            name,
            origin,
            [Fragment(condition, Origin(origin.file, cond_line, "rule", name, "condition"))],
            [Fragment(output, Origin(origin.file, out_line, "rule", name, "output"))],
            source,
            bool(enabled) if enabled is not None else True,
            bool(skip),
            exceptions,
        )

    def _check_tags(self, item: Node, origin: Origin) -> None:
        node = item.value.get("tags")
        if node is None:
            return
        if node.kind != "seq" or any(c.kind != "scalar" for c in node.value):
            self.error(
                origin,
                "value of 'tags' must be a sequence of strings",
                key="tags",
                line=item.key_lines.get("tags", item.line),
            )

    def _apply_update(
        self,
        target: RuleDef,
        item: Node,
        origin: Origin,
        appends: Set[str],
        replaces: Set[str],
        exceptions: List[ExceptionDef],
        cond_line: int,
        out_line: int,
    ) -> None:
        keys = item.value
        for key, fragments_attr, line in (("condition", "condition", cond_line), ("output", "output", out_line)):
            if key not in appends and key not in replaces:
                continue
            text = self._scalar_value(item, key, origin)
            if text is None:
                continue
            fragment = Fragment(text, Origin(origin.file, line, "rule", target.name, key))
            if key in replaces:
                setattr(target, fragments_attr, [fragment])
            else:
                getattr(target, fragments_attr).append(fragment)
        if "enabled" in replaces and "enabled" in keys:
            value = keys["enabled"].as_bool()
            if value is not None:
                target.enabled = value
        if "exceptions" in replaces:
            target.exceptions = list(exceptions)
        elif "exceptions" in appends:
            existing = {ex.name: ex for ex in target.exceptions}
            for ex in exceptions:
                current = existing.get(ex.name)
                if current is None:
                    if ex.fields is None:
                        self.error(ex.origin, f"new exception '{ex.name}' appended without 'fields'")
                        continue
                    target.exceptions.append(ex)
                    continue
                if ex.fields is not None or ex.comps is not None:
                    self.error(
                        ex.origin,
                        f"can not append fields or comps to existing exception '{ex.name}', only values",
                    )
                    continue
                current.values.extend(ex.values)

    # whole-set checks -------------------------------------------------------------------------
    def finish(self) -> CheckResult:
        self._check_list_references()
        macro_refs = self._check_macros()
        self._check_rules(macro_refs)
        self.result.counts = dict(self.counts)
        return self.result

    def _check_list_references(self) -> None:
        for lst in self.lists.values():
            for value, origin in lst.items:
                ref = self.lists.get(value)
                if ref is not None and ref.index >= lst.index and ref.name != lst.name:
                    self.warn(
                        origin,
                        f"item '{value}' names list '{value}', which is defined after list '{lst.name}': "
                        "Falco only expands lists defined earlier, so it is taken literally",
                        key="items",
                    )

    def _combined(self, fragments: Sequence[Fragment]) -> Tuple[str, List[Tuple[int, Fragment]]]:
        text = ""
        starts: List[Tuple[int, Fragment]] = []
        for fragment in fragments:
            if text:
                text += " "
            starts.append((len(text), fragment))
            text += fragment.text
        return text, starts

    @staticmethod
    def _locate(offset: int, starts: List[Tuple[int, Fragment]]) -> Tuple[Fragment, int]:
        chosen = starts[0]
        for start, fragment in starts:
            if offset >= start:
                chosen = (start, fragment)
        start, fragment = chosen
        return fragment, min(offset - start, len(fragment.text)) + 1

    def _parse_fragments(
        self, fragments: Sequence[Fragment]
    ) -> Optional[Tuple[ConditionInfo, List[Tuple[int, Fragment]]]]:
        text, starts = self._combined(fragments)
        try:
            info = parse_condition(text)
        except ConditionSyntaxError as exc:
            fragment, column = self._locate(exc.offset, starts)
            context = _context(fragment.text, column - 1)
            self.error(fragment.origin, f"syntax error: {exc.message} (near {context})", column=column)
            return None
        return info, starts

    def _check_refs(
        self,
        info: ConditionInfo,
        starts: List[Tuple[int, Fragment]],
        owner_macro: Optional[MacroDef],
        source: str,
    ) -> Set[str]:
        used: Set[str] = set()
        for name, offset in info.macros:
            fragment, column = self._locate(offset, starts)
            macro = self.macros.get(name)
            if macro is None:
                close = difflib.get_close_matches(name, list(self.macros), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                if name in self.lists:
                    hint = f" ('{name}' is a list: use it as 'field in ({name})')"
                self.error(fragment.origin, f"undefined macro '{name}' used in condition{hint}", column=column)
                continue
            used.add(name)
            if owner_macro is not None and macro.index >= owner_macro.visibility:
                self.warn(
                    fragment.origin,
                    f"macro '{name}' is defined after macro '{owner_macro.name}': Falco resolves macros "
                    "in definition order and may report it as undefined",
                    column=column,
                )
        for name, offset in info.list_identifiers:
            if name not in self.lists:
                fragment, column = self._locate(offset, starts)
                self.error(fragment.origin, f"undefined list '{name}' used in condition", column=column)
        for value, offset in info.list_values:
            if value in self.lists or value in self.macros:
                continue
            close = difflib.get_close_matches(value, list(self.lists), n=1, cutoff=0.85)
            if close or LIST_NAME_HINT.match(value):
                fragment, column = self._locate(offset, starts)
                hint = f"; did you mean list '{close[0]}'?" if close else ""
                self.warn(
                    fragment.origin,
                    f"'{value}' looks like a list reference but no list of that name is defined in the rule set: "
                    f"Falco compares it as a literal string{hint}",
                    column=column,
                )
        if self.check_field_classes and source == "syscall":
            for name, offset in info.fields:
                if field_class(name) not in self.field_classes:
                    fragment, column = self._locate(offset, starts)
                    close = difflib.get_close_matches(field_class(name), sorted(self.field_classes), n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    self.error(
                        fragment.origin,
                        f"unknown field class '{field_class(name)}' in field '{name}'{hint}",
                        column=column,
                    )
        return used

    def _check_macros(self) -> Dict[str, Set[str]]:
        refs: Dict[str, Set[str]] = {}
        for macro in self.macros.values():
            parsed = self._parse_fragments(macro.fragments)
            if parsed is None:
                continue
            info, starts = parsed
            refs[macro.name] = self._check_refs(info, starts, macro, "syscall")
        # cycles
        state: Dict[str, int] = {}

        def visit(name: str, path: List[str]) -> None:
            state[name] = 1
            for ref in sorted(refs.get(name, ())):
                if state.get(ref) == 1:
                    cycle = " -> ".join([*path[path.index(ref) :], ref]) if ref in path else f"{name} -> {ref}"
                    self.error(self.macros[name].fragments[0].origin, f"macro reference cycle: {cycle}")
                elif state.get(ref) is None:
                    visit(ref, [*path, ref])
            state[name] = 2

        for name in list(refs):
            if state.get(name) is None:
                visit(name, [name])
        return refs

    def _check_rules(self, macro_refs: Dict[str, Set[str]]) -> None:
        for rule in self.rules.values():
            parsed = self._parse_fragments(rule.condition)
            if parsed is not None:
                info, starts = parsed
                self._check_refs(info, starts, None, rule.source if not rule.skip_unknown else "")
            for fragment in rule.output:
                try:
                    out_fields = parse_output(fragment.text)
                except ConditionSyntaxError as exc:
                    self.error(
                        fragment.origin,
                        f"output syntax error: {exc.message} (near {_context(fragment.text, exc.offset)})",
                        column=exc.offset + 1,
                    )
                    continue
                if self.check_field_classes and rule.source == "syscall" and not rule.skip_unknown:
                    for name, offset in out_fields:
                        if field_class(name) not in self.field_classes:
                            self.error(
                                fragment.origin,
                                f"unknown field class '{field_class(name)}' in output field '%{name}'",
                                column=offset + 1,
                            )
            for ex in rule.exceptions:
                self._check_exception(rule, ex)

    def _check_exception(self, rule: RuleDef, ex: ExceptionDef) -> None:
        fields = ex.fields
        if fields is None:
            self.error(ex.origin, f"exception '{ex.name}' has no 'fields'")
            return
        if isinstance(fields, str):
            comp = ex.comps if ex.comps is not None else "in"
            if not isinstance(comp, str):
                self.error(
                    ex.origin, f"exception '{ex.name}': 'fields' is a single field so 'comps' must be a single operator"
                )
                return
            for value in ex.values:
                if isinstance(value, (list, dict)):
                    self.error(ex.origin, f"exception '{ex.name}': expected 'values' to be a list of strings")
                    return
            self._check_exception_clause(rule, ex, fields, comp, None)
            return
        comps = ex.comps if ex.comps is not None else ["="] * len(fields)
        if isinstance(comps, str) or len(comps) != len(fields):
            self.error(ex.origin, f"exception '{ex.name}': 'fields' and 'comps' lists must have equal length")
            return
        for index, row in enumerate(ex.values):
            if not isinstance(row, list) or len(row) != len(fields):
                self.error(
                    ex.origin,
                    f"exception '{ex.name}': values entry {index + 1} must be a list with one value per field "
                    f"({len(fields)}), got {row!r}",
                )
                return
        for position, (fld, comp) in enumerate(zip(fields, comps)):
            sample = ex.values[0][position] if ex.values else None
            self._check_exception_clause(rule, ex, fld, comp, sample)

    def _check_exception_clause(self, rule: RuleDef, ex: ExceptionDef, fld: str, comp: str, sample: Any) -> None:
        if comp not in ALL_OPS or comp in UNARY_OPS:
            self.error(ex.origin, f"exception '{ex.name}': '{comp}' is not a valid comparison operator")
            return
        if not _FIELD_RE.fullmatch(re.sub(r"\[[^\]]*\]$", "", fld)):
            self.error(ex.origin, f"exception '{ex.name}': '{fld}' is not a valid field name")
            return
        if self.check_field_classes and rule.source == "syscall" and field_class(fld) not in self.field_classes:
            self.error(ex.origin, f"exception '{ex.name}': unknown field class '{field_class(fld)}' in field '{fld}'")
        numeric = sample is not None and (_NUMBER_RE.fullmatch(str(sample)) or _HEX_RE.fullmatch(str(sample)))
        if comp in NUM_OPS and sample is not None and not isinstance(sample, list) and not numeric:
            self.error(ex.origin, f"exception '{ex.name}': operator '{comp}' on {fld} needs a number, got {sample!r}")


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


# --------------------------------------------------------------------------------------------
# Load order of the rules files on a node
# --------------------------------------------------------------------------------------------


def ordered_rule_set(
    managed: Sequence[Dict[str, Any]],
    base_files: Sequence[str],
    local_file: str,
    existing: Sequence[str],
    rules_dir_files: Sequence[str],
) -> List[Dict[str, Any]]:
    """The rules files in the order Falco loads them with the upstream ``rules_files`` default
    (base files, the local rules file, then the rules directory in lexicographic order).

    ``managed`` are the files we write: ``{"dest", "staged", "content"}``; they are validated
    from their staged path and replace the live file of the same ``dest``. ``existing`` are the
    base/local paths that exist on the node, ``rules_dir_files`` the files found in the rules
    directory. Returns ``[{"name": live path, "path": path to load now, "managed": bool,
    "content": str (managed only)}]``.
    """
    by_dest = {entry["dest"]: entry for entry in managed}
    present = set(existing)
    result: List[Dict[str, Any]] = []

    def add(dest: str) -> None:
        entry = by_dest.get(dest)
        if entry is not None:
            result.append({"name": dest, "path": entry["staged"], "managed": True, "content": entry["content"]})
        else:
            result.append({"name": dest, "path": dest, "managed": False})

    for path in base_files:
        if path in by_dest or path in present:
            add(path)
    if local_file in by_dest or local_file in present:
        add(local_file)
    in_dir = set(rules_dir_files) | {dest for dest in by_dest if dest not in base_files and dest != local_file}
    for dest in sorted(in_dir, key=lambda p: p.rsplit("/", 1)[-1]):
        add(dest)
    return result
