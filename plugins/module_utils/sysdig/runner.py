# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Running sysdig with bounded output: the only I/O of the sysdig package besides the capture service."""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from dataclasses import dataclass
from typing import Sequence, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.errors import SysdigError


def cut_at_limit(data: bytes, limit: int) -> Tuple[bytes, bool]:
    """Keep at most ``limit`` bytes of output, ending on a whole line; tell whether it was cut."""
    if limit <= 0 or len(data) <= limit:
        return data, False
    head = data[:limit]
    last_nl = head.rfind(b"\n")
    return (head[: last_nl + 1] if last_nl >= 0 else b""), True


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
    # Not AnsibleModule.run_command: it reads all output into memory and cannot stop the process
    # when the output passes a limit, which is what bounds a capture here (ansible-test 2.21's
    # pylint asks for run_command in module_utils; this is the one place that cannot use it).
    proc = subprocess.Popen(  # pylint: disable=ansible-bad-function
        list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
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
