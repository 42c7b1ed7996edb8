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


def _renames(monkeypatch):
    """Record the (source, target) of every os.replace, then do it."""
    seen = []
    real = os.replace

    def replace(src, dst):
        seen.append((os.fspath(src), os.fspath(dst)))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return seen


def test_tmp_dir_on_the_same_filesystem_holds_the_temporary_file(tmp_path, monkeypatch):
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    target = manifests / "kube-apiserver.yaml"
    target.write_text("old")
    seen = _renames(monkeypatch)
    write_atomic(str(target), "new", tmp_dir=str(tmp_path))
    ((src, dst),) = seen
    assert os.path.dirname(src) == str(tmp_path) and os.path.basename(src).startswith(".kube-apiserver.yaml.")
    assert dst == str(target) and target.read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["manifests"] and os.listdir(manifests) == ["kube-apiserver.yaml"]


def test_a_killed_write_leaves_nothing_in_the_watched_folder(tmp_path, monkeypatch):
    # SIGKILL between writing and renaming, as test_audit_logging_safety does on a real node:
    # what is left behind is the dotfile in tmp_dir, never in the target's folder
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    target = manifests / "kube-apiserver.yaml"
    target.write_text("old")

    def killed(src, dst):
        raise KeyboardInterrupt  # not an OSError: the writer's cleanup does not run, as under SIGKILL

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(str(target), "new", tmp_dir=str(tmp_path))
    assert os.listdir(manifests) == ["kube-apiserver.yaml"] and target.read_text() == "old"
    assert [n for n in os.listdir(tmp_path) if n.startswith(".kube-apiserver.yaml.")]


def test_tmp_dir_that_is_not_usable_falls_back_to_the_target_s_folder(tmp_path, monkeypatch):
    target = tmp_path / "kube-apiserver.yaml"
    target.write_text("old")
    seen = _renames(monkeypatch)
    write_atomic(str(target), "new", tmp_dir=str(tmp_path / "absent"))
    ((src, _dst),) = seen
    assert os.path.dirname(src) == str(tmp_path)
    assert target.read_text() == "new"
