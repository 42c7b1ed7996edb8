# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The sysdig command line: filter helpers, the capture argv and the validation argv (pure)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, List, Optional, Sequence

from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.driver import driver_flags
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.errors import SysdigError
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.output import ensure_star

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.capture import CaptureParams

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


def build_command(sysdig: str, params: CaptureParams, filter_text: str = "", fmt: Optional[str] = None) -> List[str]:
    """The argv of the capture: options first, the filter last (one argument).

    ``filter_text`` is the filter built from the options (:func:`build_filter`), ``fmt`` the
    output format (None: sysdig's default).
    """
    req = params
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
    else:
        # the resolved capture driver (driver.resolve_driver); "auto" unresolved adds nothing
        argv += driver_flags(req.driver)
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
    elif fmt:
        argv += ["-p", ensure_star(fmt)]
    if filter_text:
        argv.append(filter_text)
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
