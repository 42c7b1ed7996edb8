# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Which capture driver a live sysdig capture uses: the option's choices and ``auto``'s resolution.

sysdig opens the kernel module (``/dev/scap0``, older ``/dev/sysdig0``) unless told otherwise;
``-B`` opens the legacy eBPF probe and ``--modern-bpf`` (sysdig >= 0.31, when built with it) the
modern eBPF probe compiled into the binary, which needs no module, no headers, only a kernel with
BTF. ``auto`` picks the modern probe when all of that holds and no module device is there, and
otherwise leaves sysdig to its default, so a node with a loaded module keeps using it.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

DRIVERS = ("auto", "kmod", "ebpf", "modern_ebpf")

# The flags each resolved driver adds to the capture's argv.
DRIVER_FLAGS = {"kmod": [], "ebpf": ["-B"], "modern_ebpf": ["--modern-bpf"]}

KMOD_DEVICES = ("/dev/scap0", "/dev/sysdig0")
KERNEL_BTF = "/sys/kernel/btf/vmlinux"
# sysdig's usage text, compiled into every build that has the option (0.29 has none).
MODERN_BPF_MARK = b"--modern-bpf"


def binary_has_modern_bpf(path: str) -> bool:
    """Whether the sysdig binary at ``path`` knows ``--modern-bpf`` (its usage text names it).

    Read, not run: a scan of the file (memory-mapped, no process started), so that ``auto``
    costs no extra sysdig run. Unreadable or empty files answer False.
    """
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                return False
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return data.find(MODERN_BPF_MARK) >= 0
    except (OSError, ValueError):
        return False


@dataclass(frozen=True)
class NodeDrivers:
    """What the node offers, as ``auto`` sees it."""

    modern_bpf_in_binary: bool
    kernel_btf: bool
    kmod_devices: List[str]


def probe_node(sysdig: str, devices: Sequence[str] = KMOD_DEVICES, btf: str = KERNEL_BTF) -> NodeDrivers:
    return NodeDrivers(
        modern_bpf_in_binary=binary_has_modern_bpf(sysdig),
        kernel_btf=os.path.exists(btf),
        kmod_devices=[d for d in devices if os.path.exists(d)],
    )


def resolve_driver(requested: Optional[str], sysdig: str, probe: Callable[[str], NodeDrivers] = probe_node) -> str:
    """The driver a live capture uses: ``requested`` unless it is ``auto`` (or None)."""
    if requested and requested != "auto":
        return requested
    node = probe(sysdig)
    if node.modern_bpf_in_binary and node.kernel_btf and not node.kmod_devices:
        return "modern_ebpf"
    return "kmod"


def driver_flags(driver: Optional[str]) -> List[str]:
    """The argv flags of a resolved driver (``auto``/None: none, sysdig's own default)."""
    return list(DRIVER_FLAGS.get(driver or "kmod", []))
