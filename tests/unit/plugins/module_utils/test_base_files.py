"""The one atomic writer, on real files in a temporary folder."""

from __future__ import annotations

import os
import stat

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import FileIOError
from ansible_collections.nodesec.kubernetes.plugins.module_utils._files import write_atomic


def test_replaces_content_and_keeps_mode(tmp_path):
    target = tmp_path / "kube-apiserver.yaml"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    inode = target.stat().st_ino
    write_atomic(str(target), "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != inode  # renamed over, not rewritten in place
    assert os.listdir(tmp_path) == ["kube-apiserver.yaml"]


def test_keeps_owner(tmp_path):
    target = tmp_path / "f"
    target.write_text("old")
    before = target.stat()
    write_atomic(str(target), b"\x00bytes")
    after = target.stat()
    assert target.read_bytes() == b"\x00bytes"
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)


def test_new_file_gets_0600_or_the_given_mode(tmp_path):
    write_atomic(str(tmp_path / "a"), "x")
    write_atomic(str(tmp_path / "b"), "x", mode=0o644)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o644


def test_the_temporary_file_is_a_dotfile_in_the_same_folder(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(src)
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write_atomic(str(tmp_path / "m.yaml"), "x")
    assert os.path.dirname(seen[0]) == str(tmp_path)
    assert os.path.basename(seen[0]).startswith(".m.yaml.")


def test_failure_names_the_field_and_leaves_nothing_behind(tmp_path, monkeypatch):
    target = tmp_path / "m.yaml"
    target.write_text("old")

    def fail(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(FileIOError) as excinfo:
        write_atomic(str(target), "new", field="dest")
    assert excinfo.value.field == "dest"
    assert str(target) in str(excinfo.value)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["m.yaml"]


def test_missing_folder_is_a_file_error(tmp_path):
    with pytest.raises(FileIOError, match="cannot write"):
        write_atomic(str(tmp_path / "nope" / "f"), "x")
