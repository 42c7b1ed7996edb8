# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""File I/O for static-pod manifests: read, back up outside the manifests folder, write atomically.

The kubelet reads every file of its static-pod folder whose name does not start with a dot
(``filepath.Glob(dir, "[^.]*")``) and ignores dotfiles in its inotify handler, so the new
content is written to a dotfile in the same folder, synced, given the original owner and mode,
and renamed over the manifest: the kubelet never sees a half-written file or a second copy.
"""

from __future__ import annotations

import datetime
import os
import stat
from dataclasses import dataclass
from typing import Optional

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import FileIOError, InvalidRequestError
from ansible_collections.nodesec.kubernetes.plugins.module_utils._files import write_atomic
from ansible_collections.nodesec.kubernetes.plugins.module_utils.static_pod.patch import (
    ManifestEdit,
    PatchResult,
    patch_manifest_text,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.static_pod.schema import (
    InvalidManifestError,
    ManifestIOError,
)

DEFAULT_BACKUP_DIR = "/var/backups/nodesec/static-pods"


@dataclass
class FileOutcome:
    result: PatchResult
    backup_file: Optional[str] = None
    written: bool = False


class ManifestFile:
    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.directory = os.path.dirname(self.path)
        self.name = os.path.basename(self.path)

    def read(self) -> str:
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError as exc:
            raise ManifestIOError(f"{self.path} does not exist", "path") from exc
        except OSError as exc:
            raise ManifestIOError(f"cannot read {self.path}: {exc}", "path") from exc
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidManifestError(f"{self.path} is not UTF-8 text: {exc}", "path") from exc

    def check_backup_dir(self, backup_dir: str) -> str:
        """A backup inside the manifests folder would be started by the kubelet as a second pod."""
        real_backup = os.path.realpath(backup_dir)
        if real_backup == os.path.realpath(self.directory):
            raise InvalidRequestError(
                f"backup_dir {backup_dir} is the static-pod folder of {self.path}: the kubelet would run the "
                "backup as a second pod; choose a folder outside it (default " + DEFAULT_BACKUP_DIR + ")",
                "backup_dir",
            )
        return real_backup

    def backup(self, backup_dir: str, text: str) -> str:
        """Write ``text`` (the manifest as read) to a new file in ``backup_dir`` through the atomic
        writer, with the manifest's mode, owner and times: a run killed while backing up leaves
        either no backup or a whole one (a copy straight to the final name left an empty one)."""
        target_dir = self.check_backup_dir(backup_dir)
        try:
            os.makedirs(target_dir, mode=0o700, exist_ok=True)
            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
            dest = os.path.join(target_dir, f"{self.name}.{stamp}.bak")
            st = os.stat(self.path)
            write_atomic(dest, text, mode=stat.S_IMODE(st.st_mode), field="backup_dir")
            if hasattr(os, "chown") and os.geteuid() == 0:
                os.chown(dest, st.st_uid, st.st_gid)
            os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))
        except (FileIOError, OSError) as exc:
            raise ManifestIOError(f"cannot back up {self.path} to {backup_dir}: {exc}", "backup_dir") from exc
        return dest

    def write_atomic(self, text: str) -> None:
        """Through the collection's atomic writer, the temporary file made in the manifests
        folder's parent (``/etc/kubernetes`` for kubeadm) when it is on the same filesystem: a
        run killed between writing and renaming leaves no file in the folder the kubelet
        watches (it would ignore a dotfile, but kubeadm, backups and people would see it)."""
        try:
            write_atomic(self.path, text, tmp_dir=os.path.dirname(os.path.dirname(os.path.abspath(self.path))))
        except FileIOError as exc:
            raise ManifestIOError(str(exc), "path") from exc


def update_manifest_file(
    path: str,
    edit: ManifestEdit,
    backup: bool = False,
    backup_dir: str = DEFAULT_BACKUP_DIR,
    check_mode: bool = False,
) -> FileOutcome:
    """Patch the manifest at ``path``. Any refusal is raised before the file is touched."""
    manifest = ManifestFile(path)
    if backup:
        manifest.check_backup_dir(backup_dir)
    before = manifest.read()
    result = patch_manifest_text(before, edit)
    outcome = FileOutcome(result=result)
    if not result.changed or check_mode:
        return outcome
    if backup:
        outcome.backup_file = manifest.backup(backup_dir, before)
    manifest.write_atomic(result.after)
    outcome.written = True
    return outcome
