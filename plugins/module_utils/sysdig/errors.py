# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Recognising sysdig's own error messages: filter compiler, format, missing capture driver (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import NodesecError

# sysdig 0.29: "filter error at position 8: ..."; sysdig 0.36 (libs 0.15): "filter error at index 10,
# line 1, column 11: ...", and for an unknown field "filter contains an unknown field 'proc.nme',
# and none of the loaded plugins is capable of extracting it" (no position: taken from the filter).
_FILTER_ERROR_RE = re.compile(
    r"filter error at (?:position|index) (?P<pos>\d+)(?:, line \d+, column \d+)?:\s*(?P<msg>.*)"
)
_UNKNOWN_FIELD_036_RE = re.compile(r"filter contains an unknown field '(?P<field>[^']+)'[^\n]*")
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


class SysdigError(NodesecError):
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
        unknown_036 = _UNKNOWN_FIELD_036_RE.search(output)
        if unknown_036 is None:
            return None
        return FilterErrorInfo(
            message=unknown_036.group(0).strip(), position=None, unknown_field=unknown_036.group("field")
        )
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


def locate_unknown_field(filter_text: str, info: FilterErrorInfo) -> FilterErrorInfo:
    """``info`` with the unknown field's offset in ``filter_text`` when sysdig gave no position."""
    if info.position is not None or not info.unknown_field:
        return info
    match = re.search(r"(?<![\w.])" + re.escape(info.unknown_field) + r"(?![\w.])", filter_text)
    return info if match is None else FilterErrorInfo(info.message, match.start(), info.unknown_field)


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
    output: str,
    os_family: Optional[str] = None,
    kernel_modules_supported: Optional[bool] = None,
    modern_bpf: Optional[bool] = None,
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
    if modern_bpf is True:
        lines.append(
            "  This sysdig has the modern eBPF probe compiled in, which needs no kernel module:"
            " set driver: modern_ebpf (sysdig --modern-bpf; needs root or CAP_SYS_ADMIN/CAP_BPF/CAP_PERFMON)."
        )
    elif modern_bpf is False:
        lines.append(
            "  This sysdig has no modern eBPF probe (sysdig >= 0.31 built with it captures without a kernel"
            " module, e.g. the sysdig 0.36.0 package of the collection's scripts/sysdig-build.sh)."
        )
    if os_family and os_family.lower() not in ("debian",):
        lines.append(f"  (on {os_family} use the vendor package: the distribution may not ship the driver)")
    lines.append(
        "The role nodesec.kubernetes.sysdig installs the prerequisites with sysdig_driver_wanted: true. "
        "Existing captures can still be analysed offline with read_file."
    )
    return "\n".join(lines)
