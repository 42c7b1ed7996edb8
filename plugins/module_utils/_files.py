# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The one atomic file writer of the collection.

The new content goes to a dotfile in the target's own folder (same filesystem, so the rename is
atomic; a dotfile, so watchers such as the kubelet, which ignore names starting with a dot, never
see it), or in ``tmp_dir`` when the caller gives one on the same filesystem (so that a process
killed between writing and renaming leaves nothing in a watched folder), is synced, given the
owner and mode of the file it replaces, and renamed over it. The folders are synced afterwards
so the rename survives a crash.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from typing import Optional, Union

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import FileIOError


def _fsync_dir(directory: str) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _same_filesystem_dir(candidate: Optional[str], directory: str) -> Optional[str]:
    """``candidate`` when it is a folder on ``directory``'s filesystem, else ``None``."""
    if not candidate:
        return None
    try:
        return candidate if os.stat(candidate).st_dev == os.stat(directory).st_dev else None
    except OSError:
        return None


def write_atomic(
    path: str,
    content: Union[str, bytes],
    mode: Optional[int] = None,
    field: str = "path",
    tmp_dir: Optional[str] = None,
) -> None:
    """Replace ``path`` with ``content`` atomically.

    An existing file keeps its owner (when running as root) and its mode; a new file gets ``mode``
    (default ``0o600``). ``mode`` given for an existing file overrides its mode. Errors raise
    :class:`FileIOError` naming ``field``; the temporary file never stays behind (unless the
    process is killed, which no code can clean up after: then it is a dotfile in ``tmp_dir``,
    or in the target's folder). ``tmp_dir`` is used only when it exists on the target folder's
    filesystem (a rename across filesystems is not atomic); else the target's folder is.
    """
    path = os.path.abspath(path)
    directory, name = os.path.split(path)
    staging = _same_filesystem_dir(tmp_dir, directory) or directory
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        st: Optional[os.stat_result] = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise FileIOError(f"cannot stat {path}: {exc}", field) from exc
    if mode is None:
        mode = stat.S_IMODE(st.st_mode) if st is not None else 0o600
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=staging)
    except OSError as exc:
        raise FileIOError(f"cannot write {path}: {exc}", field) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if st is not None and hasattr(os, "geteuid") and os.geteuid() == 0:
            os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise FileIOError(f"cannot write {path}: {exc}", field) from exc
    _fsync_dir(directory)
    if staging != directory:
        _fsync_dir(staging)
