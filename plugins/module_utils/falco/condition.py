# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The Falco condition language as libsinsp 0.25 (Falco 0.44) reads it: a parser to an AST.

Written from the grammar of libsinsp's filter parser (a character-level recursive descent with
regular-expression lexemes, leftmost-longest): ``or`` / ``and`` / ``not`` (``not`` needs a
blank or ``not(``), parentheses, field checks ``field[arg] op value``, unary ``exists``,
numeric operators taking a number or a transformed field, string operators (words need a
blank after them) with the list modifiers ``oneof`` / ``anyof`` / ``allof``, list operators
``in`` / ``intersects`` / ``pmatch`` taking ``(v, ...)``, an identifier or a transformed field,
field transformers (``tolower``, ``toupper``, ``b64``, ``basename``, ``len``, ``join``,
``concat``, ``getopt``, with transformer lists ``(a, b)`` and quoted/number arguments) and
``val(field)``, and bare identifiers (macro references). Positions are 0-based offsets.

Pure Python, no Ansible imports.
"""

from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, TypeVar, Union

_T = TypeVar("_T")

_RGX_NOT_BLANK = re.compile(r"not[ \t\n\r\f\v]+")
_RGX_IDENTIFIER = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_RGX_FIELD_NAME = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+")
_RGX_FIELD_ARG_BARE = re.compile(r"[^\]\[\"' \t\n\r\f\v]+")
_RGX_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
_RGX_NUMBER = re.compile(r"[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?")
_RGX_BARESTR = re.compile(r"[^()\"' \t\n\r\f\v=,]+")
_BLANKS = " \t\b\r\n"

UNARY_OPS = ("exists",)
NUM_OPS = ("<=", "<", ">=", ">")
# a trailing blank: the operator needs a blank after it
STR_OPS = (
    "==",
    "=",
    "!=",
    "glob ",
    "iglob ",
    "contains ",
    "icontains ",
    "bcontains ",
    "startswith ",
    "bstartswith ",
    "endswith ",
    "regex ",
)
STR_MODIFIERS = ("oneof ", "anyof ", "allof ")
LIST_OPS = ("intersects", "in", "pmatch")
TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt")
ALL_OPERATORS = tuple(op.strip() for op in UNARY_OPS + NUM_OPS + STR_OPS + LIST_OPS)
MODIFIABLE_OPS = (
    "=",
    "==",
    "!=",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
)


def is_modifier_operator(op: str) -> bool:
    """Whether ``op`` is a modifier operator such as ``startswith oneof`` (base, blank, modifier)."""
    base, _sep, modifier = op.partition(" ")
    return modifier in ("oneof", "anyof", "allof") and base in MODIFIABLE_OPS


class FilterSyntaxError(Exception):
    """The condition does not parse; ``offset`` is the 0-based position where the parser stood."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"{message} (offset {offset})")
        self.offset = offset
        self.message = message


# AST ---------------------------------------------------------------------------------------


@dataclass
class Node:
    pos: int


@dataclass
class BoolOp(Node):
    op: str  # "and" / "or"
    children: List[Expr] = field(default_factory=list)


@dataclass
class Not(Node):
    child: Expr = None  # type: ignore[assignment]


@dataclass
class Identifier(Node):
    name: str = ""


@dataclass
class FieldRef(Node):
    name: str = ""
    arg: Optional[str] = None

    @property
    def full(self) -> str:
        return self.name if self.arg is None else f"{self.name}[{self.arg}]"


@dataclass
class Transformer(Node):
    name: str = ""
    args: List[Expr] = field(default_factory=list)
    arg: Optional[str] = None


@dataclass
class Value(Node):
    text: str = ""


@dataclass
class ValueList(Node):
    values: List[str] = field(default_factory=list)
    positions: List[int] = field(default_factory=list)  # where each value starts


@dataclass
class TransformerList(Node):
    children: List[Expr] = field(default_factory=list)


@dataclass
class Check(Node):
    left: Expr = None  # type: ignore[assignment]
    op: str = ""
    right: Optional[Expr] = None  # None for unary checks


Expr = Union[BoolOp, Not, Identifier, FieldRef, Transformer, Value, ValueList, TransformerList, Check]


def unescape(token: str) -> str:
    """Unescape a quoted token (with its quotes), as libsinsp does; raise ValueError."""
    out = []
    escaped = False
    quote = token[0]
    for char in token[1:-1]:
        if not escaped:
            if char == "\\":
                escaped = True
            else:
                out.append(char)
            continue
        escaped = False
        simple = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", " ": "\\", "\\": "\\", "/": "/"}
        if char in simple:
            out.append(simple[char])
        elif char in "\"'":
            if char != quote:
                raise ValueError(f"invalid \\{char} escape in {quote}-quoted string")
            out.append(char)
        else:
            raise ValueError(f"unsupported string escape sequence: \\{char}")
    return "".join(out)


class Parser:
    """One condition string to an AST (raises FilterSyntaxError at the parser's position)."""

    def __init__(self, text: str, max_depth: Optional[int] = None) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0
        self.max_depth = max_depth
        self.last = ""

    # entry points ----------------------------------------------------------------------------
    def parse(self) -> Expr:
        if not self.text:
            raise FilterSyntaxError(0, "filter input string is empty")
        res = self._chain("or")
        if self.pos != len(self.text):
            raise FilterSyntaxError(self.pos, f"unexpected token after '{self.last}', expecting 'or', 'and'")
        return res

    def parse_field_or_transformer(self) -> Expr:
        self._enter()
        try:
            pos = self.pos
            if self._rgx(_RGX_FIELD_NAME):
                return self._field_rest(self.last, pos)
            if self._transformer_type():
                self._blank()
                return self._transformer_rest(self.last[:-1], pos)
            raise FilterSyntaxError(self.pos, f"unexpected token after '{self.last}'")
        finally:
            self.depth -= 1

    # lexing -------------------------------------------------------------------------------------
    def _enter(self) -> None:
        # libsinsp 0.25 declares a max depth of 100 (parser.cpp), but its guard is an unnamed
        # temporary (`depth_guard(m_max_depth, m_depth);`), destroyed at once: the depth never
        # exceeds 1 and Falco 0.44.1 has no nesting limit (measured: 5000 nested parentheses
        # load, 20000 crash falco -V with SIGSEGV). So no limit by default, as Falco.
        self.depth += 1
        if self.max_depth is not None and self.depth >= self.max_depth:
            raise FilterSyntaxError(self.pos, f"exceeded max depth limit of {self.max_depth}")

    def _blank(self) -> bool:
        found = False
        while self.pos < len(self.text) and self.text[self.pos] in _BLANKS:
            self.pos += 1
            found = True
        return found

    def _rgx(self, rgx: re.Pattern[str]) -> bool:
        match = rgx.match(self.text, self.pos)
        if match and match.end() > self.pos:
            self.last = match.group(0)
            self.pos = match.end()
            return True
        return False

    def _str(self, token: str) -> bool:
        if self.text.startswith(token, self.pos):
            self.last = token
            self.pos += len(token)
            return True
        return False

    def _operator(self, ops) -> bool:
        for op in ops:
            if not op.endswith(" "):
                if self._str(op):
                    return True
                continue
            saved = (self.pos, self.last)
            if self._str(op.strip()):
                if self._blank():
                    return True
                self.pos, self.last = saved
        return False

    def _quoted(self) -> bool:
        text = self.text
        if self.pos >= len(text) or text[self.pos] not in "'\"":
            return False
        quote = text[self.pos]
        start = self.pos
        prev = "\\"
        i = self.pos
        while i < len(text):
            char = text[i]
            if char == quote and prev != "\\":
                token = text[start : i + 1]
                self.pos = i + 1
                try:
                    self.last = unescape(token)
                except ValueError as exc:
                    raise FilterSyntaxError(self.pos, str(exc)) from None
                return True
            prev = char
            i += 1
        return False

    def _transformer_type(self) -> bool:
        return any(self._str(name + "(") for name in TRANSFORMERS)

    def _number(self) -> bool:
        return self._rgx(_RGX_HEX) or self._rgx(_RGX_NUMBER)

    # grammar ----------------------------------------------------------------------------------
    def _chain(self, word: str) -> Expr:
        """An ``or`` chain of ``and`` chains, or an ``and`` chain of negations (``word``)."""
        self._enter()
        try:
            pos = self.pos
            self._blank()
            # the operand inline, not in a helper: no extra Python frame per nesting level
            children = [self._chain("and") if word == "or" else self._not()]
            self._blank()
            while self._str(word):
                if not self._blank():
                    if self._str("("):
                        child = self._embedded_rest()
                    else:
                        raise FilterSyntaxError(self.pos, f"expected blank or '(' after '{word}'")
                else:
                    child = self._chain("and") if word == "or" else self._not()
                children.append(child)
                self._blank()
            return BoolOp(pos, word, children) if len(children) > 1 else children[0]
        finally:
            self.depth -= 1

    def _not(self) -> Expr:
        self._enter()
        try:
            pos = self.pos
            negate = False
            self._blank()
            while self._rgx(_RGX_NOT_BLANK):
                negate = not negate
            if self._str("not("):
                negate = not negate
                child = self._embedded_rest()
            else:
                child = self._check()
            return Not(pos, child) if negate else child
        finally:
            self.depth -= 1

    def _embedded_rest(self) -> Expr:
        self._enter()
        try:
            self._blank()
            child = self._chain("or")
            self._blank()
            if not self._str(")"):
                raise FilterSyntaxError(self.pos, "expected a ')' token")
            return child
        finally:
            self.depth -= 1

    def _check(self) -> Expr:
        self._enter()
        try:
            self._blank()
            pos = self.pos
            if self._str("("):
                return self._embedded_rest()
            if self._rgx(_RGX_FIELD_NAME):
                left = self._field_rest(self.last, pos)
                return self._condition(left, pos)
            if self._transformer_type():
                self._blank()
                left = self._transformer_rest(self.last[:-1], pos)
                return self._condition(left, pos)
            if self._rgx(_RGX_IDENTIFIER):
                return Identifier(pos, self.last)
            raise FilterSyntaxError(self.pos, "expected a '(' token, a field check, or an identifier")
        finally:
            self.depth -= 1

    def _field_rest(self, name: str, pos: int) -> FieldRef:
        self._enter()
        try:
            return FieldRef(pos, name, self._optional_field_arg())
        finally:
            self.depth -= 1

    def _optional_field_arg(self) -> Optional[str]:
        if not self._str("["):
            return None
        if not self._quoted() and not self._rgx(_RGX_FIELD_ARG_BARE):
            raise FilterSyntaxError(self.pos, "expected a valid field argument: a quoted string or a bare string")
        arg = self.last
        if not self._str("]"):
            raise FilterSyntaxError(self.pos, "expected a ']' token")
        return arg

    def _transformer_rest(self, name: str, pos: int) -> Transformer:
        self._enter()
        try:
            self._blank()
            args: List[Expr] = []
            while True:
                args.append(self._transformer_arg(self.pos))
                self._blank()
                if not self._str(","):
                    break
            self._blank()
            if not self._str(")"):
                raise FilterSyntaxError(self.pos, "expected a ')' token closing the transformer")
            return Transformer(pos, name, args, self._optional_field_arg())
        finally:
            self.depth -= 1

    def _transformer_arg(self, pos: int) -> Expr:
        self._enter()
        try:
            self._blank()
            if self._number():
                return Value(pos, self.last)
            if self._quoted():
                return Value(pos, self.last)
            if self._str("("):
                return self._transformer_list(pos)
            if self._transformer_type():
                return self._transformer_rest(self.last[:-1], pos)
            if self._rgx(_RGX_FIELD_NAME):
                return self._field_rest(self.last, pos)
            raise FilterSyntaxError(
                self.pos,
                "expected field transformer argument: field, transformer, quoted string, number, or transformer list",
            )
        finally:
            self.depth -= 1

    def _transformer_list(self, pos: int) -> TransformerList:
        children: List[Expr] = []
        self._blank()
        if self._str(")"):
            return TransformerList(pos, children)
        children.append(self._transformer_list_arg(pos))
        self._blank()
        while self._str(","):
            self._blank()
            children.append(self._transformer_list_arg(pos))
            self._blank()
        if not self._str(")"):
            raise FilterSyntaxError(self.pos, "expected ')'")
        return TransformerList(pos, children)

    def _transformer_list_arg(self, pos: int) -> Expr:
        if self._rgx(_RGX_FIELD_NAME):
            return self._field_rest(self.last, pos)
        if self._transformer_type():
            self._blank()
            return self._transformer_rest(self.last[:-1], pos)
        if self._quoted():
            return Value(pos, self.last)
        if self._number():
            return Value(pos, self.last)
        raise FilterSyntaxError(
            self.pos, "expected transformer list argument: field, transformer, quoted string, or number"
        )

    def _condition(self, left: Expr, pos: int) -> Check:
        self._enter()
        try:
            self._blank()
            if self._operator(UNARY_OPS):
                return Check(pos, left, self.last.strip(), None)
            self._blank()
            if self._operator(NUM_OPS):
                op = self.last
                right = self._num_value_or_transformer()
            elif self._operator(STR_OPS):
                op = self.last
                had_blank = op[0].isalpha() or self._blank()
                saved = (self.pos, self.last)
                if had_blank and self._operator(STR_MODIFIERS) and self._list_value_follows() and not self._bool_kw():
                    op = op.strip() + " " + self.last.strip()
                    right = self._list_value()
                else:
                    self.pos, self.last = saved
                    right = self._str_value_or_transformer(False)
            elif self._operator(LIST_OPS):
                op = self.last
                right = self._list_value(transformers=True)
            else:
                raise FilterSyntaxError(
                    self.pos,
                    "expected a valid check operator: one of " + ", ".join(f"'{o}'" for o in ALL_OPERATORS),
                )
            return Check(pos, left, op.strip(), right)
        finally:
            self.depth -= 1

    def _list_value_follows(self) -> bool:
        if self.text.startswith("(", self.pos):
            return True
        return bool(_RGX_IDENTIFIER.match(self.text, self.pos))

    def _bool_kw(self) -> bool:
        rest = self.text[self.pos :]
        for kw in ("and", "or", "not"):
            if rest.startswith(kw) and (len(rest) == len(kw) or not rest[len(kw)].isalnum()):
                return True
        return False

    def _num_value_or_transformer(self) -> Expr:
        self._enter()
        try:
            self._blank()
            pos = self.pos
            res = self._try_transformer_or_val()
            if res is not None:
                return res
            if self._number():
                return Value(pos, self.last)
            raise FilterSyntaxError(self.pos, "expected a number value or a field with a valid transformer")
        finally:
            self.depth -= 1

    def _str_value_or_transformer(self, no_transformer: bool) -> Expr:
        self._enter()
        try:
            self._blank()
            pos = self.pos
            if not no_transformer:
                res = self._try_transformer_or_val()
                if res is not None:
                    return res
            if self._quoted() or self._rgx(_RGX_BARESTR):
                return Value(pos, self.last)
            if no_transformer:
                raise FilterSyntaxError(self.pos, "expected a string value")
            raise FilterSyntaxError(self.pos, "expected a string value or a field with a valid transformer")
        finally:
            self.depth -= 1

    def _try_list(self) -> Optional[ValueList]:
        pos = self.pos
        if not self._str("("):
            return None
        values: List[str] = []
        positions: List[int] = []
        self._blank()
        saved = (self.pos, self.last)
        try:
            first = self._str_value_or_transformer(True)
        except FilterSyntaxError:
            first = None
            self.pos, self.last = saved
        if first is not None:
            values.append(first.text)  # type: ignore[union-attr]
            positions.append(first.pos)
            self._blank()
            while self._str(","):
                item = self._str_value_or_transformer(True)
                values.append(item.text)  # type: ignore[union-attr]
                positions.append(item.pos)
                self._blank()
        if not self._str(")"):
            raise FilterSyntaxError(self.pos, "expected a ')' token")
        return ValueList(pos, values, positions)

    def _list_value(self, transformers: bool = False) -> Expr:
        """A list or an identifier; with ``transformers`` also a field with a transformer (or ``val()``)."""
        self._enter()
        try:
            self._blank()
            pos = self.pos
            res = self._try_list()
            if res is not None:
                return res
            if transformers:
                tres = self._try_transformer_or_val()
                if tres is not None:
                    return tres
            if self._rgx(_RGX_IDENTIFIER):
                return Value(pos, self.last)
            if transformers:
                raise FilterSyntaxError(self.pos, "expected a list, an identifier, or a field with a valid transformer")
            raise FilterSyntaxError(self.pos, "expected a list or an identifier")
        finally:
            self.depth -= 1

    def _try_transformer_or_val(self) -> Optional[Expr]:
        self._enter()
        try:
            self._blank()
            pos = self.pos
            if self._str("val("):
                self._blank()
                field_pos = self.pos
                if not self._rgx(_RGX_FIELD_NAME):
                    raise FilterSyntaxError(self.pos, "expected a field within 'val' transformer")
                child = self._field_rest(self.last, field_pos)
                self._blank()
                if not self._str(")"):
                    raise FilterSyntaxError(self.pos, "expected a ')' token closing the transformer")
                return Transformer(pos, "val", [child], self._optional_field_arg())
            if self._transformer_type():
                self._blank()
                return self._transformer_rest(self.last[:-1], pos)
            return None
        finally:
            self.depth -= 1


def parse(text: str) -> Expr:
    """Parse a whole condition (raise FilterSyntaxError)."""
    return Parser(text).parse()


def walk(node: Optional[Expr]):
    """Every node of the tree, depth first (pre-order), with an explicit stack: no Python
    recursion, so any nesting depth the parser accepts can be walked."""
    stack: List[Any] = [node]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        yield node
        if isinstance(node, BoolOp):
            stack.extend(reversed(node.children))
        elif isinstance(node, Not):
            stack.append(node.child)
        elif isinstance(node, Check):
            stack.append(node.right)
            stack.append(node.left)
        elif isinstance(node, Transformer):
            stack.extend(reversed(node.args))
        elif isinstance(node, TransformerList):
            stack.extend(reversed(node.children))


# deep nesting ------------------------------------------------------------------------------
# The parser, the macro expansion and the compiler are recursive descents: one nesting level of
# a condition costs a few Python frames (about 5 per parenthesis), so Python's default limit of
# 1000 frames is reached at about 200 nested parentheses, while Falco accepts thousands.
# deep_call runs such work in a worker thread with a large C stack and, while it runs, a raised
# recursion limit (restored in a finally). That is safe because the limit only guards the C
# stack: the worker's stack is sized for DEEP_RECURSION_LIMIT frames (the deepest C-level frame
# chains here, copy.deepcopy and nested generators, take well under 2 KiB of C stack a frame),
# the caller waits (join) and runs no Python meanwhile, and the thread's stack is reserved
# virtual memory, committed only as deep as the work goes. Beyond the limit RecursionError is
# raised as usual; the callers turn it into a finding (NESTING_MESSAGE), never a traceback.
DEEP_RECURSION_LIMIT = 120_000
DEEP_STACK_SIZE = 512 * 1024 * 1024
NESTING_MESSAGE = (
    "nested too deeply for this checker (more than about {limit} Python frames); Falco 0.44.1 "
    "itself crashes with a stack overflow (SIGSEGV) near 20000 nested parentheses"
)
_deep = threading.local()


def nesting_message() -> str:
    """The message of a finding for work that exceeded DEEP_RECURSION_LIMIT."""
    return NESTING_MESSAGE.format(limit=DEEP_RECURSION_LIMIT)


def deep_call(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """``fn(*args, **kwargs)`` with room for deep recursion (see above); re-entrant (a call
    from inside deep_call runs directly). Exceptions of ``fn``, RecursionError included,
    propagate to the caller."""
    if getattr(_deep, "active", False):
        return fn(*args, **kwargs)
    outcome: dict = {}

    def run() -> None:
        _deep.active = True
        old_limit = sys.getrecursionlimit()
        try:
            sys.setrecursionlimit(max(old_limit, DEEP_RECURSION_LIMIT))
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller as it is
            outcome["error"] = exc
        finally:
            sys.setrecursionlimit(old_limit)
            _deep.active = False

    old_size = threading.stack_size()
    try:
        threading.stack_size(DEEP_STACK_SIZE)
        worker = threading.Thread(target=run, name="falco-deep-check")
        worker.start()
    finally:
        threading.stack_size(old_size)
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
