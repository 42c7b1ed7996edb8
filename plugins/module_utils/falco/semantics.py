# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""What libsinsp's filter compiler refuses in a parsed condition (and what it warns about).

After parsing and macro expansion, Falco compiles each rule condition into a filter: every
field must exist (see vocabulary), transformers must accept the field's type, the operator must
suit the (transformed) type, constant values must parse as that type (numbers as C's sscanf
reads them, IP addresses and networks with inet_pton, ports as numbers or service names,
``evt.type`` values as event names), and a right-hand-side field must have exactly the
left-hand side's type. Output formats are checked the way libsinsp's formatter reads them.
"""

from __future__ import annotations

import difflib
import socket
from dataclasses import dataclass
from typing import List, Optional, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import condition as ast
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import vocabulary as voc


class CompileError(Exception):
    def __init__(self, message: str, node: Optional[ast.Node] = None, unknown: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.node = node
        self.unknown = unknown


@dataclass
class Ext:
    """What an extractor yields: its (transformed) type and list-ness, and the original ones."""

    type: str
    is_list: bool
    orig_type: str
    orig_list: bool
    name: str
    field: Optional[voc.FieldInfo] = None
    no_rhs: bool = False
    is_event_type: bool = False
    is_around: bool = False
    multi: bool = False  # a join/concat/getopt check: libsinsp skips its rhs-field type check


def _transform(name: str, ext: Ext) -> Tuple[str, bool]:
    t, lst = ext.type, ext.is_list
    if name in ("tolower", "toupper", "basename"):
        if t in voc.STRING_TYPES:
            return t, lst
    elif name == "b64":
        if t in ("CHARBUF", "BYTEBUF"):
            return t, lst
    elif name == "len":
        if lst:
            return "UINT64", False
        if t in voc.STRING_TYPES or t == "BYTEBUF":
            return "UINT64", False
    else:
        raise CompileError(f"unknown field transfomer '{name}'")
    raise CompileError(
        f"can't add field transformer: type '{t}' is not supported by '{name}' transformer applied on "
        f"{'list ' if lst else ''}field '{ext.name}'"
    )


def extractor(node: ast.Expr) -> Ext:
    """Compile the extraction side of a check (field, transformer, value or list)."""
    if isinstance(node, ast.FieldRef):
        try:
            res = voc.resolve(node.full)
        except voc.FieldError as exc:
            message = exc.message
            if exc.unknown:
                close = difflib.get_close_matches(node.name, list(voc.FIELDS), n=1)
                message += f" (did you mean '{close[0]}'?)" if close else ""
            raise CompileError(message, node, exc.unknown) from None
        return Ext(
            res.type,
            res.is_list,
            res.type,
            res.is_list,
            node.full,
            res.info,
            res.info.no_rhs,
            res.info.name == "evt.type",
            res.info.name == "evt.around",
        )
    if isinstance(node, ast.Value):
        return Ext("CHARBUF", False, "CHARBUF", False, "RAWSTRING")
    if isinstance(node, ast.TransformerList):
        for child in node.children:
            extractor(child)
        return Ext("CHARBUF", True, "CHARBUF", True, "LIST")
    if isinstance(node, ast.Transformer):
        args = [extractor(child) for child in node.args]
        if node.name == "val":
            if node.arg is not None:
                raise CompileError("filter error: transformer 'val' does not support field arguments", node)
            return args[0]
        if len(args) == 1:
            if node.arg is not None:
                raise CompileError(f"filter error: transformer '{node.name}' does not support field arguments", node)
            ext = args[0]
            if ext.field is not None and ext.field.no_transformer:
                raise CompileError(f"field '{ext.field.name}' does not support transformers", node)
            try:
                t, lst = _transform(node.name, ext)
            except CompileError as exc:
                raise CompileError(exc.message, node) from None
            return Ext(
                t,
                lst,
                ext.orig_type,
                ext.orig_list,
                ext.name,
                ext.field,
                ext.no_rhs,
                ext.is_event_type,
                ext.is_around,
                ext.multi,
            )
        kinds = [(a.orig_type, a.orig_list) for a in args]
        if node.name == "join":
            if len(kinds) != 2:
                raise CompileError("join() requires exactly 2 arguments: separator and list", node)
            if kinds[0][1]:
                raise CompileError("join() first argument (separator) must be a single value, not a list", node)
            if not kinds[1][1]:
                raise CompileError("join() second argument must be a list", node)
            result = ("CHARBUF", False)
        elif node.name == "concat":
            if any(k != ("CHARBUF", False) for k in kinds):
                raise CompileError("concat() arguments must be strings", node)
            result = ("CHARBUF", False)
        elif node.name == "getopt":
            if len(kinds) != 2:
                raise CompileError("getopt() requires exactly 2 arguments: args list and optstring", node)
            if not kinds[0][1]:
                raise CompileError("getopt() first argument must be a list", node)
            if kinds[1][1]:
                raise CompileError("getopt() second argument (optstring) must be a single value", node)
            if kinds[0][0] != "CHARBUF" or kinds[1][0] != "CHARBUF":
                raise CompileError("getopt() arguments must be strings", node)
            if node.arg is not None and len(node.arg) != 1:
                raise CompileError("getopt() field argument must be a single option character", node)
            result = ("CHARBUF", node.arg is None)
        else:
            raise CompileError(f"unknown multivalue transformer '{node.name}'", node)
        if node.arg is not None and node.name != "getopt":
            raise CompileError(f"transformer '{node.name}' does not support field arguments", node)
        return Ext(result[0], result[1], "CHARBUF", result[1], node.name, multi=True)
    raise CompileError("unexpected expression", node)


_NUM_OPS = frozenset({"=", "==", "!=", "<", "<=", ">", ">=", "in", "intersects", "exists"})
_BOOL_OPS = frozenset({"=", "==", "!=", "in", "intersects", "exists"})
_STR_OPS = frozenset(
    {
        "=",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "contains",
        "in",
        "exists",
        "icontains",
        "startswith",
        "glob",
        "pmatch",
        "endswith",
        "intersects",
        "iglob",
        "regex",
    }
)
_BUF_OPS = frozenset(
    {"=", "==", "!=", "contains", "in", "exists", "startswith", "endswith", "intersects", "bcontains", "bstartswith"}
)
_IP_OPS = frozenset({"=", "==", "!=", "in", "exists", "intersects"})
_LIST_OPS = frozenset({"in", "exists", "intersects"})


def comparable(op: str, ftype: str, is_list: bool) -> Optional[str]:
    """libsinsp's operator/type table; the error text, or None when the pair is fine."""
    base, _sep, modifier = op.partition(" ")
    if base == "exists":
        return None
    if is_list:
        if ftype in voc.LISTABLE_TYPES:
            return None if base in _LIST_OPS else f"'{op}' operator not supported list filters"
        return f"list filters are not supported for type '{ftype}'"
    if ftype in voc.NUMERIC_TYPES:
        return None if base in _NUM_OPS else f"'{op}' operator not supported for numeric filters"
    if ftype == "BOOL":
        return None if base in _BOOL_OPS else f"'{op}' operator not supported for numeric filters"
    if ftype in voc.IP_TYPES:
        if base in _IP_OPS:
            return None
        if modifier:
            return f"'{op}' with modifier not supported for ip address and network filters"
        return f"'{op}' operator not supported for ip address and network filters"
    if ftype in voc.STRING_TYPES:
        return None if base in _STR_OPS else f"'{op}' operator not supported for string filters"
    if ftype == "BYTEBUF":
        return None if base in _BUF_OPS else f"'{op}' operator not supported for buffer filters"
    return f"'{op}' operator not supported for type '{ftype}'"


def _inet_pton(family: int, text: str) -> bool:
    try:
        socket.inet_pton(family, text)
    except (OSError, ValueError):
        return False
    return True


def parse_value(ftype: str, value: str) -> Optional[str]:
    """The error libsinsp gives when parsing a constant as ``ftype`` (None when it parses)."""
    if "\x00" in value:
        value = value.split("\x00", 1)[0]
    if ftype in (
        "INT8",
        "INT16",
        "INT32",
        "INT64",
        "FD",
        "ERRNO",
        "PID",
        "L4PROTO",
        "FLAGS8",
        "UINT8",
        "ENUMFLAGS8",
        "FLAGS16",
        "UINT16",
        "ENUMFLAGS16",
        "FLAGS32",
        "UINT32",
        "MODE",
        "ENUMFLAGS32",
        "UID",
        "GID",
        "UINT64",
        "RELTIME",
        "ABSTIME",
        "DOUBLE",
        "SIGTYPE",
        "SYSCALLID",
    ):
        return None if voc.sscanf_int(value) else f"{value} is not a valid number"
    if ftype == "PORT":
        if value == "" or value.isdigit():
            return None
        try:
            socket.getservbyname(value)
        except OSError:
            return f"unrecognized protocol {value}"
        return None
    if ftype in ("CHARBUF", "SOCKADDR", "SOCKTUPLE", "SOCKFAMILY", "FSPATH", "FSRELPATH", "BYTEBUF"):
        return None
    if ftype == "BOOL":
        return None if value in ("true", "false") else f"filter error: unrecognized boolean value {value}"
    if ftype == "IPADDR":
        ftype = "IPV4ADDR" if "." in value else "IPV6ADDR"
    if ftype == "IPNET":
        ftype = "IPV4NET" if "." in value else "IPV6NET"
    if ftype == "IPV4ADDR":
        return None if _inet_pton(socket.AF_INET, value) else f"unrecognized IPv4 address {value}"
    if ftype == "IPV6ADDR":
        return None if _inet_pton(socket.AF_INET6, value) else f"unrecognized IPv6 address {value}"
    if ftype == "IPV4NET":
        if "/" not in value:
            return f"unrecognized IP network {value}"
        ip, _sep, mask = value.partition("/")
        mask = mask.split("\n", 1)[0]
        if not _inet_pton(socket.AF_INET, ip):
            return f"unrecognized IP address {value}"
        if not voc.sscanf_int(mask):
            return f"{mask} is not a valid number"
        if (int(mask) & 0xFF) > 32:
            return f"invalid netmask {mask}"
        return None
    if ftype == "IPV6NET":
        if "/" not in value:
            return f"invalid v6 netmask: {value}"
        ip, _sep, mask = value.partition("/")
        if not _inet_pton(socket.AF_INET6, ip):
            return f"unrecognized IPv6 address {ip}"
        return None
    return f"wrong parameter type {ftype}"


def _value_warnings(op: str, value: str, warnings: List[Tuple[str, ast.Node]], node: ast.Node) -> None:
    nospaces = "".join(c for c in value if not c.isspace())
    if op.partition(" ")[0] == "regex":
        special = ".+*?^$()[]{}|\\"
        length = len(value)
        i = 0
        simple = True
        while i < length:
            char = value[i]
            if (i == 0 and char == "^") or (i == length - 1 and char == "$"):
                i += 1
                continue
            if (
                ((i == 0 and length > 1) or i == length - 2)
                and char == "."
                and i + 1 < length
                and value[i + 1] in "+*?"
            ):
                i += 2
                continue
            if char in special:
                simple = False
                break
            i += 1
        if simple:
            warnings.append((f"regex check with '{value}' may be optimized with simpler operators", node))
    if nospaces and voc.exists(nospaces):
        warnings.append((f"'{value}' may be a valid field misused as a const string value", node))
    for name in ("val", *ast.TRANSFORMERS):
        if len(nospaces) >= len(name) + 2 and nospaces.startswith(name + "(") and nospaces.endswith(")"):
            warnings.append((f"'{value}' may be a valid field transformer misused as a const string value", node))


def check(node: ast.Check, warnings: List[Tuple[str, ast.Node]]) -> None:
    """Compile one field check; raise CompileError."""
    left = extractor(node.left)
    error = comparable(node.op, left.type, left.is_list)
    if error:
        raise CompileError("filter error: " + error, node)
    if node.right is None:
        return
    right = node.right
    if isinstance(right, ast.Transformer):
        rext = extractor(right)
        base = node.op.partition(" ")[0]
        if base in ("pmatch", "regex"):
            raise CompileError(f"operator '{base}' doesn't support right-hand side fields", node)
        if left.type in ("IPNET", "IPV4NET", "IPV6NET"):
            raise CompileError("field type 'IPNET' doesn't support right-hand side fields", node)
        if left.no_rhs:
            raise CompileError(f"field '{left.name}' doesn't support right-hand side fields", node)
        if rext.no_rhs:
            raise CompileError(f"field '{rext.name}' can't be used as a right-hand side field", node)
        if not left.multi and (left.type, left.is_list) != (rext.type, rext.is_list):
            raise CompileError(
                f"field '{left.name}' has type '{left.type}' while the right-hand side field '{rext.name}' "
                f"has incompatible type '{rext.type}'",
                node,
            )
        return
    values = right.values if isinstance(right, ast.ValueList) else [right.text]  # type: ignore[union-attr]
    base = node.op.partition(" ")[0]
    for value in values:
        _value_warnings(node.op, value, warnings, node)
        if base in ("bcontains", "bstartswith"):
            if len(value) % 2 or any(c not in "0123456789abcdefABCDEF" for c in value):
                raise CompileError("filter error: bcontains and bstartswith operator support hex strings only", node)
            continue
        error = parse_value(left.type, value)
        if error:
            raise CompileError(error, node)
        if left.is_event_type and value not in voc.EVENT_NAMES:
            raise CompileError(f"unknown event type {value}", node, unknown=True)
        if left.is_around and base not in ("=", "=="):
            raise CompileError("evt.around supports only '=' comparison operator", node)


def compile_filter(root: ast.Expr, warnings: List[Tuple[str, ast.Node]]) -> None:
    """Compile a macro-expanded condition tree (raise CompileError on the first refusal)."""
    stack = [root]
    while stack:
        node = stack.pop(0)
        if isinstance(node, ast.BoolOp):
            stack[0:0] = list(node.children)
        elif isinstance(node, ast.Not):
            stack.insert(0, node.child)
        elif isinstance(node, ast.Check):
            check(node, warnings)
        elif isinstance(node, ast.Identifier):
            raise CompileError(f"filter error: unexpected identifier '{node.name}'", node)
        else:
            inner = getattr(node, "expansion", None)
            if inner is not None:
                stack.insert(0, inner)
            else:
                raise CompileError("unexpected expression", node)


def check_output(fmt: str) -> Optional[Tuple[str, int]]:
    """Check an output format like libsinsp's formatter; (error, offset) or None."""
    if fmt == "":
        return ("empty formatting token", 0)
    text = fmt[1:] if fmt.startswith("*") else fmt
    shift = 1 if fmt.startswith("*") else 0
    length = len(text)
    j = 0
    while j < length:
        if text[j] != "%":
            j += 1
            continue
        start = j
        if j == length - 1:
            return ("invalid formatting syntax: formatting cannot end with a %", start + shift)
        if text[j + 1].isdigit():
            while True:
                if j == length - 1:
                    return ("invalid formatting syntax: formatting cannot end with a number", start + shift)
                if text[j + 1].isdigit():
                    j += 1
                    continue
                break
        rest = text[j + 1 :]
        fsize = len(rest)
        first_error = ""
        while True:
            try:
                parser = ast.Parser(rest[:fsize])
                tree = parser.parse_field_or_transformer()
                extractor(tree)
                fsize = parser.pos
                break
            except (ast.FilterSyntaxError, CompileError, voc.FieldError) as exc:
                first_error = first_error or getattr(exc, "message", str(exc))
                fsize -= 1
                if fsize <= 0:
                    token = text[start : start + 16].split("\n")[0]
                    return (f"unknown filter: invalid output token '{token}' ({first_error})", start + shift)
        j += fsize + 1
    return None
