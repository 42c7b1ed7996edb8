"""static_pod (schema, patch, file): patching real kubeadm manifests, refusals, atomic writes."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
import yaml
from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import InvalidRequestError
from ansible_collections.nodesec.kubernetes.plugins.module_utils.kube_flags import current_flags
from ansible_collections.nodesec.kubernetes.plugins.module_utils.static_pod import file as _file
from ansible_collections.nodesec.kubernetes.plugins.module_utils.static_pod import patch as _patch
from ansible_collections.nodesec.kubernetes.plugins.module_utils.static_pod.patch import ManifestEdit
from ansible_collections.nodesec.kubernetes.plugins.module_utils.static_pod.schema import (
    ContainerSelectionError,
    InvalidManifestError,
    PathNotMountedError,
    StaticPodError,
    VolumeConflictError,
    dump_manifest,
    load_manifest,
)


def patch_manifest_text(text, **edit):
    """The edit options as keywords, in one ManifestEdit (what the module builds from its parameters)."""
    return _patch.patch_manifest_text(text, ManifestEdit(**edit))


def update_manifest_file(path, backup=False, backup_dir=_file.DEFAULT_BACKUP_DIR, check_mode=False, **edit):
    return _file.update_manifest_file(path, ManifestEdit(**edit), backup, backup_dir, check_mode)


TESTDATA = Path(__file__).resolve().parents[3] / "testdata"
KUBEADM = sorted(TESTDATA.glob("kubeadm/v*/kube-apiserver.yaml"))
# Every static pod kubeadm writes on a control-plane node, for every minor in the corpus.
KUBEADM_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
KUBEADM_ALL = sorted(m for c in KUBEADM_COMPONENTS for m in TESTDATA.glob(f"kubeadm/v*/{c}.yaml"))
STATIC = TESTDATA / "static_pods"

# What the audit_logging role asks for to reproduce the user's task.
TASK_FLAGS = {
    "audit-policy-file": "/etc/kubernetes/audit/policy.yaml",
    "audit-log-path": "/var/log/kubernetes/audit-logs.txt",
    "audit-log-maxage": 10,
    "audit-log-maxbackup": 2,
    "audit-log-maxsize": 100,
}
TASK_VOLUMES = yaml.safe_load((TESTDATA / "static_pods" / "cks_task_volumes.yaml").read_text())


def _container(text: str, name: str = "kube-apiserver") -> dict:
    pod = yaml.safe_load(text)
    return next(c for c in pod["spec"]["containers"] if c["name"] == name)


def test_corpus_holds_several_minors():
    versions = {p.parent.name for p in KUBEADM}
    assert {"v1.31", "v1.34", "v1.35"} <= versions


@pytest.mark.parametrize("manifest", KUBEADM, ids=lambda p: p.parent.name)
def test_kubeadm_layout_round_trips_byte_for_byte(manifest):
    text = manifest.read_text()
    assert dump_manifest(load_manifest(text)) == text


def test_corpus_has_every_component_for_every_minor():
    assert len(KUBEADM_ALL) == len(KUBEADM) * len(KUBEADM_COMPONENTS)


@pytest.mark.parametrize("manifest", KUBEADM_ALL, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_every_kubeadm_component_round_trips_and_takes_a_flag(manifest):
    text = manifest.read_text()
    assert dump_manifest(load_manifest(text)) == text
    result = patch_manifest_text(text, flags={"profiling": False})
    assert result.changed and result.container == manifest.stem
    assert _container(result.after, manifest.stem)["command"][-1] == "--profiling=false"
    removed = [line for line in difflib.ndiff(text.splitlines(), result.after.splitlines()) if line.startswith("- ")]
    assert removed == []
    again = patch_manifest_text(result.after, flags={"profiling": False})
    assert not again.changed and again.after == result.after


@pytest.mark.parametrize("manifest", KUBEADM, ids=lambda p: p.parent.name)
def test_user_task_on_kubeadm_manifest(manifest):
    text = manifest.read_text()
    result = patch_manifest_text(text, flags=TASK_FLAGS, volumes=TASK_VOLUMES)
    assert result.changed and result.container == "kube-apiserver"
    # Only additions: kubeadm's own lines all stay, in order.
    removed = [line for line in difflib.ndiff(text.splitlines(), result.after.splitlines()) if line.startswith("- ")]
    assert removed == []
    ctr = _container(result.after)
    assert ctr["command"][: len(_container(text)["command"])] == _container(text)["command"]
    flags = current_flags(ctr)
    assert flags["audit-log-maxage"] == ["10"]
    assert flags["audit-log-maxbackup"] == ["2"]
    assert flags["audit-log-path"] == ["/var/log/kubernetes/audit-logs.txt"]
    assert flags["audit-policy-file"] == ["/etc/kubernetes/audit/policy.yaml"]
    pod = yaml.safe_load(result.after)
    vols = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert vols["audit-log"] == {
        "hostPath": {"path": "/var/log/kubernetes", "type": "DirectoryOrCreate"},
        "name": "audit-log",
    }
    mounts = {m["name"]: m for m in ctr["volumeMounts"]}
    assert mounts["audit-policy"] == {"mountPath": "/etc/kubernetes/audit", "name": "audit-policy", "readOnly": True}
    assert "readOnly" not in mounts["audit-log"]
    assert sorted((c["type"], c["name"], c["action"]) for c in result.changes) == sorted(
        [("flag", f, "added") for f in TASK_FLAGS]
        + [(k, v["name"], "added") for v in TASK_VOLUMES for k in ("volume", "volumeMount")]
    )
    # Idempotent: the patched text is left exactly as it is.
    again = patch_manifest_text(result.after, flags=TASK_FLAGS, volumes=TASK_VOLUMES)
    assert not again.changed and again.after == result.after and again.changes == []


@pytest.mark.parametrize("manifest", KUBEADM, ids=lambda p: p.parent.name)
def test_nothing_requested_changes_nothing(manifest):
    text = manifest.read_text()
    result = patch_manifest_text(text)
    assert not result.changed and result.after is text


def test_existing_audit_setup_with_other_values_is_updated_in_place():
    text = (STATIC / "kube-apiserver-audit-partial.yaml").read_text()
    result = patch_manifest_text(text, flags=TASK_FLAGS, volumes=TASK_VOLUMES)
    ctr = _container(result.after)
    before_cmd = _container(text)["command"]
    # updated flags keep their position; nothing is duplicated
    idx = before_cmd.index("--audit-log-maxage=30")
    assert ctr["command"][idx] == "--audit-log-maxage=10"
    assert ctr["command"].count("--audit-log-maxage=10") == 1
    assert not any(t.startswith("--audit-log-maxage=30") for t in ctr["command"])
    by_key = {(c["type"], c["name"]): c for c in result.changes}
    assert by_key[("flag", "audit-log-maxbackup")]["before"] == ["10"]
    assert by_key[("flag", "audit-log-maxbackup")]["after"] == ["2"]
    # the managed 'audit-log' volume existed with another path: updated, and the change says so
    vol_change = by_key[("volume", "audit-log")]
    assert vol_change["action"] == "updated"
    assert vol_change["before"]["hostPath"]["path"] == "/var/log/kubernetes/audit/"
    assert vol_change["after"]["hostPath"]["path"] == "/var/log/kubernetes"
    mount_change = by_key[("volumeMount", "audit-log")]
    assert mount_change["after"]["mountPath"] == "/var/log/kubernetes"
    assert mount_change["after"].get("readOnly", False) is False
    assert "-    - mountPath: /var/log/kubernetes/audit/" in "\n".join(
        difflib.unified_diff(text.splitlines(), result.after.splitlines(), lineterm="")
    )
    pod = yaml.safe_load(result.after)
    names = [v["name"] for v in pod["spec"]["volumes"]]
    assert len(names) == len(set(names))
    assert not patch_manifest_text(result.after, flags=TASK_FLAGS, volumes=TASK_VOLUMES).changed


ARGS = (STATIC / "kube-apiserver-args.yaml").read_text()


@pytest.mark.parametrize(
    ("flags", "expected_args_change"),
    [
        # ``--flag value`` form in args: replaced at the same place by --flag=value
        ({"audit-log-maxage": 10}, ("--audit-log-maxage", "--audit-log-maxage=10")),
        ({"--audit-log-maxage": "10"}, ("--audit-log-maxage", "--audit-log-maxage=10")),
        ({"profiling": False}, ("--profiling", "--profiling=false")),
    ],
)
def test_flags_in_args_replaced_in_place(flags, expected_args_change):
    result = patch_manifest_text(ARGS, flags=flags)
    old, new = expected_args_change
    before_args = _container(ARGS)["args"]
    after_args = _container(result.after)["args"]
    assert after_args[before_args.index(old)] == new
    assert _container(result.after)["command"] == ["kube-apiserver"]
    assert len(after_args) == len(before_args) - (1 if old == "--audit-log-maxage" else 0)


@pytest.mark.parametrize(
    "flags",
    [
        {"secure-port": 6443},  # "--secure-port 6443" already means that
        {"profiling": True},  # a bare boolean flag is true
        {"audit-log-maxage": "30"},
        {
            "tls-sni-cert-key": [
                "/etc/kubernetes/pki/a.crt,/etc/kubernetes/pki/a.key",
                "/etc/kubernetes/pki/b.crt,/etc/kubernetes/pki/b.key",
            ]
        },
        {"not-there": None},
    ],
)
def test_equivalent_values_are_no_change(flags):
    result = patch_manifest_text(ARGS, flags=flags)
    assert not result.changed and result.after == ARGS


def test_repeated_flags():
    result = patch_manifest_text(ARGS, flags={"tls-sni-cert-key": ["/x.crt,/x.key"]})
    args = _container(result.after)["args"]
    assert [a for a in args if a.startswith("--tls-sni-cert-key")] == ["--tls-sni-cert-key=/x.crt,/x.key"]
    removed = patch_manifest_text(ARGS, flags={"tls-sni-cert-key": None})
    assert not any("tls-sni-cert-key" in a for a in _container(removed.after)["args"])
    assert removed.changes[0]["before"] == [
        "/etc/kubernetes/pki/a.crt,/etc/kubernetes/pki/a.key",
        "/etc/kubernetes/pki/b.crt,/etc/kubernetes/pki/b.key",
    ]


def test_new_flag_goes_to_args_when_args_hold_the_flags():
    result = patch_manifest_text(ARGS, flags={"audit-log-maxbackup": 2})
    assert _container(result.after)["args"][-1] == "--audit-log-maxbackup=2"
    assert _container(result.after)["command"] == ["kube-apiserver"]


def test_remove_flag_in_space_form_removes_its_value_too():
    result = patch_manifest_text(ARGS, flags={"secure-port": None})
    args = _container(result.after)["args"]
    assert "--secure-port" not in args and "6443" not in args


def test_volume_absent_removes_volume_and_mount():
    text = (STATIC / "kube-apiserver-audit-partial.yaml").read_text()
    result = patch_manifest_text(
        text,
        flags={"audit-policy-file": None, "audit-log-path": None},
        volumes=[{"name": "audit", "state": "absent"}, {"name": "audit-log", "state": "absent"}],
    )
    pod = yaml.safe_load(result.after)
    assert not [v for v in pod["spec"]["volumes"] if v["name"].startswith("audit")]
    assert not [m for m in pod["spec"]["containers"][0]["volumeMounts"] if m["name"].startswith("audit")]
    assert not patch_manifest_text(result.after, volumes=[{"name": "audit", "state": "absent"}]).changed


def test_json_manifest_stays_json():
    text = yaml.safe_load((KUBEADM[0]).read_text())
    import json

    raw = json.dumps(text, indent=2) + "\n"
    result = patch_manifest_text(raw, flags={"profiling": False})
    assert result.after.lstrip().startswith("{")
    assert json.loads(result.after)["spec"]["containers"][0]["command"][-1] == "--profiling=false"


# ------------------------------------------------------------------------------------------
# Refusals: the right exception, a message naming the culprit and the fix, file untouched.
# ------------------------------------------------------------------------------------------
V131 = (TESTDATA / "kubeadm" / "v1.31" / "kube-apiserver.yaml").read_text()
REFUSALS = [
    pytest.param("not: [valid", {}, InvalidManifestError, ["not valid YAML"], id="yaml-syntax"),
    pytest.param("", {}, InvalidManifestError, ["empty"], id="empty"),
    pytest.param(V131 + "---\n" + V131, {}, InvalidManifestError, ["2 documents"], id="two-documents"),
    pytest.param(
        V131.replace("kind: Pod", "kind: Deployment"), {}, InvalidManifestError, ["not a Pod"], id="not-a-pod"
    ),
    pytest.param(
        V131.replace("\n  volumes:\n", "\n  volume:\n"),
        {},
        InvalidManifestError,
        ["spec.volume", "spec.volumes"],
        id="volume-instead-of-volumes",
    ),
    pytest.param(
        V131.replace("    volumeMounts:\n", "    volumeMount:\n"),
        {},
        InvalidManifestError,
        ["volumeMount", "volumeMounts"],
        id="volumeMount-typo",
    ),
    pytest.param(
        V131.replace("      name: k8s-certs\n      readOnly", "      name: k8s-cert\n      readOnly"),
        {},
        InvalidManifestError,
        ["k8s-cert", "not in spec.volumes"],
        id="mount-of-missing-volume",
    ),
    pytest.param(
        V131.replace("    name: usr-local-share-ca-certificates\n", "    name: k8s-certs\n"),
        {},
        InvalidManifestError,
        ["spec.volumes has two volumes named 'k8s-certs'", "spec.volumes[3] is the second", "rename or remove one"],
        id="duplicate-volume-name",
    ),
    pytest.param(
        V131.replace("  containers:\n", "  containers:\n  - name: kube-apiserver\n    image: pause\n", 1),
        {},
        InvalidManifestError,
        ["spec.containers has two containers named 'kube-apiserver'", "spec.containers[1]"],
        id="duplicate-container-name",
    ),
    pytest.param(
        V131,
        {"flags": {"audit-policy-file": "/etc/kubernetes/audit/policy.yaml"}},
        PathNotMountedError,
        ["--audit-policy-file", "not under any volumeMount", "add a volume"],
        id="policy-file-not-mounted",
    ),
    pytest.param(
        V131,
        {
            "flags": {"audit-log-path": "/var/log/kubernetes/audit-logs.txt"},
            "volumes": [
                {
                    "name": "audit-log",
                    "host_path": "/var/log/kubernetes/audit-logs.txt",
                    "mount_path": "/var/log/kubernetes/audit-logs.txt",
                    "type": "FileOrCreate",
                }
            ],
        },
        PathNotMountedError,
        ["--audit-log-path", "folder /var/log/kubernetes"],
        id="log-folder-not-mounted",
    ),
    pytest.param(
        V131,
        {
            "volumes": [
                {"name": "audit-policy", "host_path": "/etc/kubernetes/audit", "mount_path": "/etc/kubernetes/pki/"}
            ]
        },
        VolumeConflictError,
        ["/etc/kubernetes/pki", "'k8s-certs'", "audit-policy"],
        id="mount-path-taken",
    ),
    pytest.param(V131, {"container": "etcd"}, ContainerSelectionError, ["'etcd' not found"], id="no-such-container"),
    pytest.param(V131, {"flags": {"x": {"a": 1}}}, InvalidRequestError, ["flags.x"], id="flag-value-mapping"),
    pytest.param(V131, {"flags": {"x": []}}, InvalidRequestError, ["use null"], id="flag-empty-list"),
    pytest.param(V131, {"flags": {"-x": 1}}, InvalidRequestError, ["not valid"], id="flag-bad-name"),
    pytest.param(
        V131,
        {"volumes": [{"name": "a", "host_path": "rel/dir", "mount_path": "/a"}]},
        InvalidRequestError,
        ["host_path must be an absolute path"],
        id="relative-host-path",
    ),
    pytest.param(
        V131,
        {"volumes": [{"name": "a", "host_path": "/a", "mount_path": "/a", "type": "Dir"}]},
        InvalidRequestError,
        ["'Dir' is not a hostPath type"],
        id="bad-type",
    ),
    pytest.param(
        V131.replace(
            "  - hostPath:\n      path: /etc/kubernetes/pki\n      type: DirectoryOrCreate\n    name: k8s-certs\n",
            "  - emptyDir: {}\n    name: k8s-certs\n",
        ),
        {"volumes": [{"name": "k8s-certs", "host_path": "/etc/kubernetes/pki", "mount_path": "/etc/kubernetes/pki"}]},
        VolumeConflictError,
        ["emptyDir", "pick another name"],
        id="same-name-not-hostpath",
    ),
]


@pytest.mark.parametrize(("text", "kwargs", "exc", "phrases"), REFUSALS)
def test_refusals(text, kwargs, exc, phrases):
    assert text != V131 or kwargs  # each case really carries a fault
    with pytest.raises(exc) as info:
        patch_manifest_text(text, **kwargs)
    for phrase in phrases:
        assert phrase in str(info.value)


@pytest.mark.parametrize(("text", "kwargs", "exc", "phrases"), REFUSALS)
def test_refusals_leave_the_file_byte_identical(tmp_path, text, kwargs, exc, phrases):
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    target = manifests / "kube-apiserver.yaml"
    target.write_bytes(text.encode())
    target.chmod(0o600)
    before = (target.read_bytes(), target.stat().st_mode, target.stat().st_mtime_ns)
    with pytest.raises(exc):
        update_manifest_file(str(target), backup=True, backup_dir=str(tmp_path / "backup"), **kwargs)
    assert (target.read_bytes(), target.stat().st_mode, target.stat().st_mtime_ns) == before
    assert os.listdir(manifests) == ["kube-apiserver.yaml"]
    assert not (tmp_path / "backup").exists()


def test_several_containers_need_a_name():
    pod = yaml.safe_load(V131)
    side = dict(pod["spec"]["containers"][0], name="sidecar")
    pod["spec"]["containers"][0]["name"] = "main"
    pod["spec"]["containers"].append(side)
    text = dump_manifest(pod)
    with pytest.raises(ContainerSelectionError, match="set the container option"):
        patch_manifest_text(text, flags={"v": 2})
    result = patch_manifest_text(text, container="sidecar", flags={"v": 2})
    assert current_flags(_container(result.after, "sidecar"))["v"] == ["2"]
    assert "v" not in current_flags(_container(result.after, "main"))


def test_unknown_far_fields_only_warn():
    text = V131.replace("  hostNetwork: true\n", "  hostNetwork: true\n  futureFieldXyz: 1\n")
    result = patch_manifest_text(text, flags={"v": 2})
    assert any("futureFieldXyz" in w for w in result.warnings)
    assert yaml.safe_load(result.after)["spec"]["futureFieldXyz"] == 1


# ------------------------------------------------------------------------------------------
# Files: atomic write, owner/mode kept, backup outside the manifests folder.
# ------------------------------------------------------------------------------------------
def test_file_write_keeps_mode_and_backs_up_outside(tmp_path):
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    target = manifests / "kube-apiserver.yaml"
    target.write_text(V131)
    target.chmod(0o600)
    outcome = update_manifest_file(
        str(target), flags=TASK_FLAGS, volumes=TASK_VOLUMES, backup=True, backup_dir=str(tmp_path / "bk")
    )
    assert outcome.written and outcome.backup_file
    assert Path(outcome.backup_file).parent == tmp_path / "bk"
    assert Path(outcome.backup_file).read_text() == V131
    assert (Path(outcome.backup_file).stat().st_mode & 0o777) == 0o600
    assert (target.stat().st_mode & 0o777) == 0o600
    assert target.read_text() == outcome.result.after
    assert os.listdir(manifests) == ["kube-apiserver.yaml"]  # no temp or backup left next to it
    again = update_manifest_file(
        str(target), flags=TASK_FLAGS, volumes=TASK_VOLUMES, backup=True, backup_dir=str(tmp_path / "bk")
    )
    assert not again.written and again.backup_file is None
    assert len(os.listdir(tmp_path / "bk")) == 1


class _Killed(BaseException):
    """Stands for SIGKILL: no ``except`` of the code under test catches it, so nothing cleans up."""


def test_run_killed_while_backing_up_leaves_no_partial_backup(tmp_path, monkeypatch):
    """The backup goes through the atomic writer: killed before its rename, the backup folder holds
    no file under a backup's name (the role would keep an empty one as the newest backup), and
    the manifest is untouched; the next run backs up the whole manifest."""
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    target = manifests / "kube-apiserver.yaml"
    target.write_text(V131)
    real_replace = os.replace
    args = {"flags": TASK_FLAGS, "volumes": TASK_VOLUMES, "backup": True, "backup_dir": str(tmp_path / "bk")}

    def killed(src, dst):
        raise _Killed(dst)

    monkeypatch.setattr(_file.os, "replace", killed)  # the os module _files renames with
    with pytest.raises(_Killed, match=r"/bk/kube-apiserver\.yaml"):
        update_manifest_file(str(target), **args)
    assert target.read_text() == V131
    assert [n for n in os.listdir(tmp_path / "bk") if not n.startswith(".")] == []
    monkeypatch.setattr(_file.os, "replace", real_replace)
    outcome = update_manifest_file(str(target), **args)
    assert Path(outcome.backup_file).read_text() == V131
    assert target.read_text() == outcome.result.after


def test_check_mode_writes_nothing(tmp_path):
    target = tmp_path / "kube-apiserver.yaml"
    target.write_text(V131)
    outcome = update_manifest_file(
        str(target),
        flags=TASK_FLAGS,
        volumes=TASK_VOLUMES,
        check_mode=True,
        backup=True,
        backup_dir=str(tmp_path / "bk"),
    )
    assert outcome.result.changed and not outcome.written
    assert target.read_text() == V131 and not (tmp_path / "bk").exists()


def test_backup_into_manifests_folder_is_refused(tmp_path):
    target = tmp_path / "kube-apiserver.yaml"
    target.write_text(V131)
    with pytest.raises(InvalidRequestError, match="second pod"):
        update_manifest_file(str(target), flags={"v": 2}, backup=True, backup_dir=str(tmp_path))
    assert target.read_text() == V131


def test_missing_file(tmp_path):
    with pytest.raises(StaticPodError, match="does not exist"):
        update_manifest_file(str(tmp_path / "nope.yaml"), flags={"v": 1})


@pytest.mark.parametrize("manifest", KUBEADM, ids=lambda p: p.parent.name)
def test_annotations(manifest):
    text = manifest.read_text()
    key = "audit.nodesec.io/policy-sha256"
    result = patch_manifest_text(text, annotations={key: "abc"})
    pod = yaml.safe_load(result.after)
    assert pod["metadata"]["annotations"][key] == "abc"
    assert (
        pod["metadata"]["annotations"]["kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"]
        == "192.0.2.10:6443"
    )
    assert result.changes == [{"type": "annotation", "name": key, "action": "added", "before": None, "after": "abc"}]
    assert not patch_manifest_text(result.after, annotations={key: "abc"}).changed
    updated = patch_manifest_text(result.after, annotations={key: "def"})
    assert updated.changes[0]["action"] == "updated" and updated.changes[0]["before"] == "abc"
    removed = patch_manifest_text(updated.after, annotations={key: None})
    assert removed.after == text
