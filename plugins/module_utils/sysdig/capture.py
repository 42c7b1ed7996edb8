# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The service behind nodesec.kubernetes.sysdig_capture: validate, capture, parse.

No Ansible imports: the module wires it to NodesecModule; tests call it directly with a real
sysdig (or any runner with the same signature as ``run_bounded``).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.command import (
    build_command,
    build_filter,
    build_validation_command,
    shell_join,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.driver import (
    NodeDrivers,
    binary_has_modern_bpf,
    probe_node,
    resolve_driver,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.errors import (
    SysdigError,
    SysdigFilterError,
    SysdigFormatError,
    SysdigNoDriverError,
    detect_no_driver,
    filter_error_message,
    locate_unknown_field,
    no_driver_message,
    parse_filter_error,
    parse_format_error,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.output import (
    ensure_star,
    parse_format,
    parse_output,
    summarize,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.runner import RunResult, run_bounded

DEFAULT_FORMAT = "*%evt.time\t%user.uid\t%user.name\t%proc.pid\t%proc.name\t%container.id\t%k8s.pod.name\t%evt.type"

# A filter no sysdig knows: if sysdig does not reject it, it reads the input before compiling
# the filter, and the empty-file method cannot validate anything on this version.
_PROBE_FILTER = "nodesec.no_such_field=1"

Runner = Callable[[Sequence[str], int, float], RunResult]


@dataclass(frozen=True)
class CaptureParams:
    """The options of one capture: the only representation, from the module to the command line.

    The defaults here are the module's defaults (its argument spec reads them).
    """

    filter: Optional[str] = None
    container_id: Optional[str] = None
    pod_name: Optional[str] = None
    namespace: Optional[str] = None
    duration: Optional[int] = None
    max_events: Optional[int] = None
    format: str = DEFAULT_FORMAT
    read_file: Optional[str] = None
    write_file: Optional[str] = None
    cri_socket: Optional[str] = None
    snaplen: Optional[int] = None
    output_limit: int = 4 * 1024 * 1024
    timeout: Optional[int] = None
    validate: bool = True
    summary_fields: Optional[List[str]] = None
    driver: str = "auto"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> CaptureParams:
        """From the module's parameters: every field of the same name (the others, e.g. executable, stay out)."""
        return cls(**{f.name: params[f.name] for f in fields(cls) if f.name in params})


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


class SysdigCapture:
    """Validate the filter with sysdig's compiler, then run one bounded capture and parse it."""

    def __init__(
        self,
        sysdig: str,
        runner: Runner = run_bounded,
        os_family: Optional[str] = None,
        node_probe: Callable[[str], NodeDrivers] = probe_node,
    ) -> None:
        self.sysdig = sysdig
        self.runner = runner
        self.os_family = os_family
        self.node_probe = node_probe
        self.warnings: List[str] = []

    # -- validation ---------------------------------------------------------------------------

    def _compile(self, filter_text: str, fmt: Optional[str], empty: str) -> str:
        argv = build_validation_command(self.sysdig, filter_text, fmt, empty)
        res = self.runner(argv, 65536, 60.0)
        return _text(res.stdout) + _text(res.stderr)

    def validate(self, filter_text: str, fmt: Optional[str]) -> bool:
        """Compile ``filter_text`` (and ``fmt``) offline; raise on errors, return True when validated.

        sysdig compiles the filter and the format before it opens its input, so reading an empty
        file makes it report filter/format errors without capturing anything. When the probe
        shows this sysdig version does not behave so, returns False (not validated) with a warning.
        """
        fd, empty = tempfile.mkstemp(prefix="nodesec-sysdig-", suffix=".scap")
        os.close(fd)
        try:
            output = self._compile(filter_text, fmt, empty)
            info = parse_filter_error(output)
            if info is not None:
                info = locate_unknown_field(filter_text, info)
                raise SysdigFilterError(
                    filter_error_message(filter_text, info), filter_text, info.position, info.unknown_field
                )
            format_error = parse_format_error(output)
            if format_error is not None:
                raise SysdigFormatError(f"sysdig rejected the output format {fmt!r}: {format_error}")
            if not filter_text:
                return True
            if parse_filter_error(self._compile(_PROBE_FILTER, None, empty)) is None:
                self.warnings.append(
                    "This sysdig does not compile filters before reading its input: the filter could not be"
                    " validated offline; errors will show when the capture starts."
                )
                return False
            return True
        finally:
            os.unlink(empty)

    # -- capture ------------------------------------------------------------------------------

    def _fail_from_output(self, output: str, live: bool, filter_text: str, argv: Sequence[str]) -> None:
        info = parse_filter_error(output)
        if info is not None:
            info = locate_unknown_field(filter_text, info)
            raise SysdigFilterError(
                filter_error_message(filter_text, info), filter_text, info.position, info.unknown_field
            )
        if live and detect_no_driver(output):
            modules = os.path.exists("/proc/modules")
            modern = binary_has_modern_bpf(self.sysdig)
            raise SysdigNoDriverError(no_driver_message(output, self.os_family, modules, modern), output)
        format_error = parse_format_error(output)
        if format_error is not None:
            raise SysdigFormatError(f"sysdig rejected the output format: {format_error}")
        raise SysdigError(f"sysdig failed: {shell_join(argv)}: {output.strip() or 'no output'}")

    def run(self, params: CaptureParams, check_mode: bool = False) -> Dict[str, Any]:
        fmt = parse_format(ensure_star(params.format))
        summary_fields = list(params.summary_fields or [])
        unknown = [k for k in summary_fields if k not in fmt.keys]
        if unknown:
            raise SysdigError(
                f"summary_fields {', '.join(unknown)} are not fields of the format (its fields: {', '.join(fmt.keys)})"
            )
        filter_text = build_filter(params.filter, params.container_id, params.pod_name, params.namespace)
        live = not params.read_file
        driver = resolve_driver(params.driver, self.sysdig, self.node_probe) if live else None
        params = dataclasses.replace(params, driver=driver)
        argv = build_command(self.sysdig, params, filter_text, fmt.raw)
        validated = self.validate(filter_text, fmt.raw) if params.validate else False
        result: Dict[str, Any] = {
            "changed": bool(params.write_file),
            "command": argv,
            "cmd": shell_join(argv),
            "filter": filter_text,
            "format": fmt.raw,
            "fields": fmt.keys,
            "filter_validated": validated,
            "driver": driver,
            "events": [],
            "event_count": 0,
            "unparsed_lines": [],
            "unparsed_count": 0,
            "truncated": False,
            "timed_out": False,
            "captured": False,
            "summary": [],
        }
        if params.read_file and not os.path.isfile(params.read_file):
            raise SysdigError(f"read_file {params.read_file} does not exist on this node")
        if check_mode:
            result["msg"] = "check mode: filter and format validated, no capture run"
            return result

        timeout = float(params.timeout or ((params.duration or 0) + 120))
        res = self.runner(argv, params.output_limit, timeout)
        output_err = _text(res.stderr)
        stopped_by_us = res.truncated or res.timed_out
        if res.rc != 0 and not stopped_by_us:
            self._fail_from_output(_text(res.stdout) + output_err, live, filter_text, argv)
        events_source = res
        if params.write_file:
            if not os.path.isfile(params.write_file):
                self._fail_from_output(output_err, live, filter_text, argv)
            read_argv = [self.sysdig, "-r", params.write_file, "-p", fmt.raw]
            events_source = self.runner(read_argv, params.output_limit, timeout)
            result["read_command"] = read_argv
            if events_source.rc != 0 and not events_source.truncated:
                self._fail_from_output(_text(events_source.stderr), False, filter_text, read_argv)
        parsed = parse_output(_text(events_source.stdout).splitlines(), fmt)
        result.update(
            events=parsed.events,
            event_count=len(parsed.events),
            unparsed_lines=parsed.unparsed,
            unparsed_count=parsed.unparsed_count,
            truncated=events_source.truncated,
            timed_out=res.timed_out,
            captured=True,
            summary=summarize(parsed.events, summary_fields) if summary_fields else [],
            rc=res.rc,
            stderr=output_err,
        )
        if events_source.truncated:
            self.warnings.append(
                f"sysdig output passed output_limit ({params.output_limit} bytes): the capture was stopped and the"
                " events cut at the last whole line"
            )
        if res.timed_out:
            self.warnings.append(f"sysdig did not finish within {timeout:.0f}s and was stopped")
        if params.write_file:
            result["write_file"] = params.write_file
        return result
