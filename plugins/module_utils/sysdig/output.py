# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Sysdig's ``-p`` output format and output lines, parsed (pure: no Ansible imports, no I/O).

Splitting a line back into fields uses the literal text of the format between two fields as
the separator. When a value itself contains its separator (e.g. ``%evt.info`` contains spaces)
the split is ambiguous; :func:`parse_line` then gives the extra separators to one "free text"
field (``evt.info``, ``proc.cmdline``, ``fd.name``, ... or, failing that, the last field) and
splits the fields before it from the left and the fields after it from the right. This is
exact as long as at most one field of a line contains its separator; choose separators that
do not occur in the values (a tab, ``|``) when several fields may contain spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.errors import SysdigFormatError

NA_VALUE = "<NA>"

# Fields whose values are free text and so the likeliest to contain a separator.
FREE_TEXT_FIELDS = (
    "evt.info",
    "evt.args",
    "evt.buffer",
    "evt.arg",
    "evt.rawarg",
    "proc.cmdline",
    "proc.exeline",
    "proc.args",
    "proc.env",
    "proc.pcmdline",
    "proc.acmdline",
    "fd.name",
    "fd.directory",
    "fs.path.name",
    "container.mounts",
    "k8s.pod.labels",
)

# One format token: %field, %field[arg], %-20field (width, newer sysdig), %(field) (newer libs).
_FIELD_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*"
_TOKEN_RE = re.compile(
    r"%(?:\((?P<pname>" + _FIELD_NAME + r")(?:\[(?P<parg>[^\]]*)\])?\)"
    r"|(?P<width>-?[0-9]+)?(?P<name>" + _FIELD_NAME + r")(?:\[(?P<arg>[^\]]*)\])?)"
)


# --------------------------------------------------------------------------------------------
# Output format
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormatField:
    """One ``%field`` of an output format."""

    key: str  # key in the parsed event: the field as written, without width, e.g. proc.aname[2]
    name: str  # the field itself, e.g. proc.aname
    arg: Optional[str] = None  # argument between brackets, e.g. "2"


@dataclass(frozen=True)
class OutputFormat:
    """A parsed ``-p`` format: ``literals[i]`` precedes ``fields[i]``; ``literals[-1]`` ends the line."""

    raw: str
    star: bool
    fields: Tuple[FormatField, ...]
    literals: Tuple[str, ...]

    @property
    def keys(self) -> List[str]:
        return [f.key for f in self.fields]


def unescape_format(text: str) -> str:
    r"""Apply the escapes sysdig applies to a ``-p`` format: ``\t``, ``\n`` and ``\\``."""
    out: List[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "tn\\":
            out.append({"t": "\t", "n": "\n", "\\": "\\"}[text[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def ensure_star(fmt: str) -> str:
    """Return the format with sysdig's leading ``*`` (print events even when fields are missing)."""
    return fmt if fmt.startswith("*") else "*" + fmt


def parse_format(fmt: str) -> OutputFormat:
    """Parse a ``-p`` format into field names and the literal text around them.

    Raises SysdigFormatError when the format has no field, ends with a lone ``%``, contains
    a newline (one event would span several lines), or has two fields with no text between
    them (their values could not be told apart).
    """
    if not fmt or not fmt.strip():
        raise SysdigFormatError("The output format is empty")
    star = fmt.startswith("*")
    body = unescape_format(fmt[1:] if star else fmt)
    if "\n" in body:
        raise SysdigFormatError("The output format must not contain a newline: each event must print as one line")
    fields: List[FormatField] = []
    literals: List[str] = []
    pos = 0
    current: List[str] = []
    while pos < len(body):
        ch = body[pos]
        if ch != "%":
            current.append(ch)
            pos += 1
            continue
        match = _TOKEN_RE.match(body, pos)
        if match is None:
            rest = body[pos + 1 :]
            if not rest:
                raise SysdigFormatError(f"Invalid output format {fmt!r}: it cannot end with a %")
            raise SysdigFormatError(f"Invalid output format {fmt!r}: bad field token at {body[pos:]!r}")
        name = match.group("pname") or match.group("name")
        arg = match.group("parg") if match.group("pname") else match.group("arg")
        key = name if arg is None else f"{name}[{arg}]"
        literals.append("".join(current))
        current = []
        fields.append(FormatField(key=key, name=name, arg=arg))
        pos = match.end()
    literals.append("".join(current))
    if not fields:
        raise SysdigFormatError(f"The output format {fmt!r} has no %field")
    for i in range(1, len(fields)):
        if literals[i] == "":
            raise SysdigFormatError(
                f"Fields %{fields[i - 1].key} and %{fields[i].key} are not separated by any text in format"
                f" {fmt!r}: their values cannot be split"
            )
    return OutputFormat(raw=fmt, star=star, fields=tuple(fields), literals=tuple(literals))


def _free_text_index(fields: Sequence[FormatField]) -> int:
    for i in range(len(fields) - 1, -1, -1):
        name = fields[i].name
        for free in FREE_TEXT_FIELDS:
            if name == free or name.startswith(free + "."):
                return i
    return len(fields) - 1


def _na(value: str) -> Optional[str]:
    return None if value == NA_VALUE else value


def parse_line(line: str, fmt: OutputFormat) -> Optional[Dict[str, Optional[str]]]:
    """Split one output line into ``{field key: value}`` (``<NA>`` becomes None).

    Returns None when the line does not have the format's shape (e.g. a warning sysdig
    printed on standard output). See the module docstring for the ambiguity rule.
    """
    line = line.rstrip("\r\n")
    prefix, suffix = fmt.literals[0], fmt.literals[-1]
    if not line.startswith(prefix) or len(line) < len(prefix) + len(suffix):
        return None
    if suffix:
        # sysdig keeps trailing separators; tolerate a suffix made only of blanks being trimmed.
        if line.endswith(suffix):
            line = line[len(prefix) : len(line) - len(suffix)]
        elif suffix.strip() == "":
            line = line[len(prefix) :].rstrip(suffix)
        else:
            return None
    else:
        line = line[len(prefix) :]
    seps = list(fmt.literals[1:-1])
    n = len(fmt.fields)
    free = _free_text_index(fmt.fields)
    values: List[str] = [""] * n
    rest = line
    # Fields before the free-text one: split from the left.
    for i in range(free):
        idx = rest.find(seps[i])
        if idx < 0:
            return None
        values[i] = rest[:idx]
        rest = rest[idx + len(seps[i]) :]
    # Fields after the free-text one: split from the right.
    for i in range(n - 1, free, -1):
        sep = seps[i - 1]
        idx = rest.rfind(sep)
        if idx < 0:
            return None
        values[i] = rest[idx + len(sep) :]
        rest = rest[:idx]
    values[free] = rest
    return {f.key: _na(v) for f, v in zip(fmt.fields, values)}


@dataclass
class ParsedOutput:
    events: List[Dict[str, Optional[str]]] = field(default_factory=list)
    unparsed: List[str] = field(default_factory=list)
    unparsed_count: int = 0


def parse_output(lines: Iterable[str], fmt: OutputFormat, keep_unparsed: int = 20) -> ParsedOutput:
    """Parse sysdig's output lines; lines that do not fit the format are kept (up to a limit)."""
    result = ParsedOutput()
    for line in lines:
        if line.strip() == "":
            continue
        event = parse_line(line, fmt)
        if event is None:
            result.unparsed_count += 1
            if len(result.unparsed) < keep_unparsed:
                result.unparsed.append(line.rstrip("\r\n"))
            continue
        result.events.append(event)
    return result


def summarize(events: Sequence[Dict[str, Optional[str]]], keys: Sequence[str]) -> List[Dict[str, object]]:
    """Count the events per combination of ``keys`` values, most frequent first (ties: by values)."""
    counts: Dict[Tuple[Optional[str], ...], int] = {}
    for event in events:
        combo = tuple(event.get(k) for k in keys)
        counts[combo] = counts.get(combo, 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], tuple("" if v is None else v for v in kv[0])))
    rows: List[Dict[str, object]] = []
    for combo, count in ordered:
        row: Dict[str, object] = dict(zip(keys, combo))
        row["count"] = count
        rows.append(row)
    return rows
