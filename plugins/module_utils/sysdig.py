# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic for bounded Sysdig captures (no Ansible imports, unit-testable alone).

What lives here:

* building the sysdig command line (filter helpers, ``-M``, ``-n``, ``-p`` with ``*``, ``-r``, ``-w``);
* parsing a ``-p`` output format into its field names and the literal text between them;
* parsing sysdig's output lines into mappings keyed by field name;
* recognising sysdig's own error messages (filter compiler, format, missing capture driver).

Splitting a line back into fields uses the literal text of the format between two fields as
the separator. When a value itself contains its separator (e.g. ``%evt.info`` contains spaces)
the split is ambiguous; :func:`parse_line` then gives the extra separators to one "free text"
field (``evt.info``, ``proc.cmdline``, ``fd.name``, ... or, failing that, the last field) and
splits the fields before it from the left and the fields after it from the right. This is
exact as long as at most one field of a line contains its separator; choose separators that
do not occur in the values (a tab, ``|``) when several fields may contain spaces.
"""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import time
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

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

_FILTER_ERROR_RE = re.compile(r"filter error at position (?P<pos>\d+):\s*(?P<msg>.*)")
_UNKNOWN_FIELD_RE = re.compile(
    r"(?:unrecognized|nonexistent|unknown|invalid) field[:\s]+['\"]?(?P<field>[A-Za-z_][\w.\[\]-]*)['\"]?"
    r"(?: at pos (?P<fpos>\d+))?"
)
_FORMAT_ERROR_RE = re.compile(r"(invalid formatting (?:token|syntax)[^\n]*)")
_DEVICE_RE = re.compile(r"error opening device (?P<device>/\S*?/(?P<name>[a-z_-]+?)-?\d*)[.\s]")
_NO_DRIVER_PATTERNS = (
    re.compile(r"error opening device \S+"),
    re.compile(r"Unable to load the driver"),
    re.compile(r"Unable to load the (?:scap |sysdig )?(?:eBPF|BPF) probe"),
    re.compile(r"(?:scap|sysdig|sysdig-probe|falco) (?:kernel )?module is loaded"),
    re.compile(r"Unable to open the (?:kernel module|driver)"),
    re.compile(r"Make sure you have root credentials"),
)


class SysdigError(Exception):
    """Base class of the errors raised by this module."""


class SysdigFormatError(SysdigError):
    """An output format that sysdig rejects or whose output cannot be split."""


class SysdigFilterError(SysdigError):
    """A filter that sysdig's compiler rejected."""

    def __init__(
        self, message: str, filter_text: str, position: Optional[int] = None, unknown_field: Optional[str] = None
    ) -> None:
        super().__init__(message)
        self.filter_text = filter_text
        self.position = position
        self.unknown_field = unknown_field


class SysdigNoDriverError(SysdigError):
    """A live capture was requested but no capture driver (kernel module / eBPF probe) is loaded."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.raw = raw


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


def cut_at_limit(data: bytes, limit: int) -> Tuple[bytes, bool]:
    """Keep at most ``limit`` bytes of output, ending on a whole line; tell whether it was cut."""
    if limit <= 0 or len(data) <= limit:
        return data, False
    head = data[:limit]
    last_nl = head.rfind(b"\n")
    return (head[: last_nl + 1] if last_nl >= 0 else b""), True


# --------------------------------------------------------------------------------------------
# Filter and command line
# --------------------------------------------------------------------------------------------


def quote_value(value: str) -> str:
    """Quote a value for a sysdig filter (double quotes, backslash escapes)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def normalise_container_id(container_id: str) -> str:
    """Sysdig's ``container.id`` is the short (12 hex) id; accept Kubernetes' ``containerd://<64 hex>``."""
    cid = container_id.strip()
    if "://" in cid:
        cid = cid.split("://", 1)[1]
    if re.fullmatch(r"[0-9a-fA-F]{13,64}", cid):
        cid = cid[:12]
    return cid.lower() if re.fullmatch(r"[0-9a-fA-F]+", cid) else cid


def build_filter(
    filter_text: Optional[str] = None,
    container_id: Optional[str] = None,
    pod_name: Optional[str] = None,
    namespace: Optional[str] = None,
) -> str:
    """Combine the user's filter and the helpers with ``and`` (user filter in parentheses)."""
    parts: List[str] = []
    if filter_text and filter_text.strip():
        parts.append(f"({filter_text.strip()})")
    if container_id:
        parts.append(f"container.id={quote_value(normalise_container_id(container_id))}")
    if pod_name:
        parts.append(f"k8s.pod.name={quote_value(pod_name)}")
    if namespace:
        parts.append(f"k8s.ns.name={quote_value(namespace)}")
    if len(parts) == 1 and parts[0].startswith("(") and filter_text:
        return filter_text.strip()
    return " and ".join(parts)


@dataclass(frozen=True)
class CaptureRequest:
    filter: str = ""
    duration: Optional[int] = None
    max_events: Optional[int] = None
    format: Optional[str] = None
    read_file: Optional[str] = None
    write_file: Optional[str] = None
    snaplen: Optional[int] = None
    cri_socket: Optional[str] = None


def build_command(sysdig: str, req: CaptureRequest) -> List[str]:
    """The argv of the capture: options first, the filter last (one argument)."""
    if req.read_file and req.write_file:
        raise SysdigError("read_file and write_file are mutually exclusive")
    if not req.read_file and not req.duration and not req.max_events:
        raise SysdigError("A live capture needs a bound: set duration and/or max_events")
    for name, value in (("duration", req.duration), ("max_events", req.max_events), ("snaplen", req.snaplen)):
        if value is not None and value <= 0:
            raise SysdigError(f"{name} must be a positive integer, got {value!r}")
    argv = [sysdig]
    if req.read_file:
        argv += ["-r", req.read_file]
    if req.cri_socket:
        argv += ["--cri", req.cri_socket]
    if req.duration:
        argv += ["-M", str(req.duration)]
    if req.max_events:
        argv += ["-n", str(req.max_events)]
    if req.snaplen:
        argv += ["-s", str(req.snaplen)]
    if req.write_file:
        argv += ["-w", req.write_file]
    elif req.format:
        argv += ["-p", ensure_star(req.format)]
    if req.filter:
        argv.append(req.filter)
    return argv


def build_validation_command(sysdig: str, filter_text: str, fmt: Optional[str], empty_file: str) -> List[str]:
    """Compile filter (and format) with sysdig itself, reading an empty file: no capture happens."""
    argv = [sysdig, "-r", empty_file]
    if fmt:
        argv += ["-p", ensure_star(fmt)]
    if filter_text:
        argv.append(filter_text)
    return argv


def shell_join(argv: Sequence[str]) -> str:
    """The command as one would type it in a POSIX shell (for display only)."""
    out = []
    for arg in argv:
        if arg and re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", arg):
            out.append(arg)
        else:
            out.append("'" + arg.replace("'", "'\"'\"'") + "'")
    return " ".join(out)


# --------------------------------------------------------------------------------------------
# Recognising sysdig's errors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilterErrorInfo:
    message: str
    position: Optional[int]
    unknown_field: Optional[str]


def parse_filter_error(output: str) -> Optional[FilterErrorInfo]:
    """Recognise sysdig's filter compiler message, e.g.

    ``filter error at position 8: filter error: unrecognized field proc.nme at pos 0``.
    ``position`` is where the compiler stopped (0-based offset in the filter); when the
    message names an unknown field, its own start offset is preferred.
    """
    match = _FILTER_ERROR_RE.search(output)
    if match is None:
        return None
    msg = match.group("msg").strip()
    if msg.startswith("filter error:"):
        msg = msg[len("filter error:") :].strip()
    position: Optional[int] = int(match.group("pos"))
    unknown = None
    fmatch = _UNKNOWN_FIELD_RE.search(msg)
    if fmatch:
        unknown = fmatch.group("field")
        if fmatch.group("fpos") is not None:
            position = int(fmatch.group("fpos"))
    return FilterErrorInfo(message=msg, position=position, unknown_field=unknown)


def filter_error_message(filter_text: str, info: FilterErrorInfo) -> str:
    """A message naming the position and the unknown field, with a caret under the filter."""
    where = "" if info.position is None else f" at position {info.position}"
    text = f"Invalid sysdig filter{where}: {info.message}"
    if info.unknown_field:
        text += f" (unknown field {info.unknown_field!r}; `sysdig -l` lists the fields)"
    if info.position is not None and info.position <= len(filter_text):
        text += "\n  {}\n  {}^".format(filter_text, " " * info.position)
    return text


def parse_format_error(output: str) -> Optional[str]:
    match = _FORMAT_ERROR_RE.search(output)
    return match.group(1).strip() if match else None


def detect_no_driver(output: str) -> bool:
    """True when sysdig's output says a live capture could not start for lack of a driver."""
    return any(p.search(output) for p in _NO_DRIVER_PATTERNS)


def no_driver_message(
    output: str, os_family: Optional[str] = None, kernel_modules_supported: Optional[bool] = None
) -> str:
    """Explain that no capture driver is loaded and which one to install."""
    device = None
    module = "scap"
    match = _DEVICE_RE.search(output)
    if match:
        device = match.group("device")
        module = "sysdig-probe" if match.group("name").startswith("sysdig") else match.group("name")
    lines = [
        "No Sysdig capture driver is loaded on this node, so a live capture cannot start"
        + (f" (sysdig could not open {device})." if device else "."),
        "Install and load the kernel driver, then retry:",
    ]
    if module == "sysdig-probe":
        lines.append("  vendor package: `sysdig-probe-loader` (or `scap-driver-loader`) builds/loads `sysdig-probe`")
    else:
        lines.append(
            "  Debian/Ubuntu package: `apt-get install falcosecurity-scap-dkms linux-headers-$(uname -r)`"
            " then `modprobe scap`"
        )
        lines.append("  vendor package: `scap-driver-loader` (kernel module) or `scap-driver-loader bpf` (eBPF probe)")
    if kernel_modules_supported is False:
        lines.append(
            "  This kernel has no loadable module support (/proc/modules is absent): a kernel module cannot"
            " be loaded here; only an eBPF probe built for this kernel can work (sysdig -B)."
        )
    if os_family and os_family.lower() not in ("debian",):
        lines.append(f"  (on {os_family} use the vendor package: the distribution may not ship the driver)")
    lines.append(
        "The role nodesec.kubernetes.sysdig installs the prerequisites with sysdig_driver_wanted: true. "
        "Existing captures can still be analysed offline with read_file."
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Running sysdig with bounded output (I/O)
# --------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    rc: int
    stdout: bytes
    stderr: bytes
    truncated: bool
    timed_out: bool


def run_bounded(argv: Sequence[str], output_limit: int, timeout: float, stderr_limit: int = 65536) -> RunResult:
    """Run ``argv`` and keep at most ``output_limit`` bytes of standard output (whole lines).

    When the output passes the limit, or ``timeout`` seconds pass, the process is stopped
    with SIGTERM (sysdig then ends its capture cleanly) and, if needed, SIGKILL.
    """
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.stdout is None or proc.stderr is None:  # pragma: no cover - both are pipes
        raise SysdigError(f"could not open pipes to {argv[0]}")
    out = bytearray()
    err = bytearray()
    over_limit = False
    timed_out = False
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    stopped = False
    while sel.get_map():
        remaining = deadline - time.monotonic()
        if remaining <= 0 and not stopped:
            timed_out = True
            proc.terminate()
            stopped = True
            deadline = time.monotonic() + 5
            continue
        if remaining <= 0 and stopped:
            proc.kill()
            break
        for key, _mask in sel.select(timeout=min(remaining, 1.0)):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            if key.data == "err":
                if len(err) < stderr_limit:
                    err += chunk[: stderr_limit - len(err)]
                continue
            if over_limit:
                continue
            out += chunk
            if output_limit > 0 and len(out) > output_limit:
                over_limit = True
                if not stopped:
                    proc.terminate()
                    stopped = True
                    deadline = time.monotonic() + 5
    sel.close()
    try:
        rc = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    kept, cut = cut_at_limit(bytes(out), output_limit)
    return RunResult(rc=rc, stdout=kept, stderr=bytes(err), truncated=cut or over_limit, timed_out=timed_out)
