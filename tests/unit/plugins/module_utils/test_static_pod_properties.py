"""Property tests: any manifest either patches to a valid, idempotent result or fails cleanly."""

from __future__ import annotations

import posixpath

import yaml
from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import NodesecError
from ansible_collections.nodesec.kubernetes.plugins.module_utils.kube_flags import current_flags
from ansible_collections.nodesec.kubernetes.plugins.module_utils.static_pod import file as _file
from ansible_collections.nodesec.kubernetes.plugins.module_utils.static_pod import patch as _patch
from ansible_collections.nodesec.kubernetes.plugins.module_utils.static_pod.patch import ManifestEdit
from ansible_collections.nodesec.kubernetes.plugins.module_utils.static_pod.schema import dump_manifest, load_manifest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st


def patch_manifest_text(text, **edit):
    """The edit options as keywords, in one ManifestEdit (what the module builds from its parameters)."""
    return _patch.patch_manifest_text(text, ManifestEdit(**edit))


def update_manifest_file(path, backup=False, backup_dir=_file.DEFAULT_BACKUP_DIR, check_mode=False, **edit):
    return _file.update_manifest_file(path, ManifestEdit(**edit), backup, backup_dir, check_mode)


FLAG_NAMES = ["audit-log-path", "audit-policy-file", "audit-log-maxage", "v", "profiling", "tls-sni-cert-key"]
PATHS = ["/etc/kubernetes", "/etc/kubernetes/audit", "/var/log", "/var/log/kubernetes", "/etc/kubernetes/pki", "/x"]
VOL_NAMES = ["audit-log", "audit-policy", "k8s-certs", "logs"]

flag_value = st.one_of(
    st.sampled_from(["10", "true", "false", "/var/log/kubernetes/a.log", "/etc/kubernetes/audit/p.yaml", "-"]),
    st.text(alphabet="abc=/,.-0123456789", min_size=0, max_size=8),
)


@st.composite
def flag_tokens(draw):
    name = draw(st.sampled_from(FLAG_NAMES))
    form = draw(st.sampled_from(["eq", "space", "bare"]))
    if form == "eq":
        return [f"--{name}={draw(flag_value)}"]
    if form == "space":
        return [f"--{name}", draw(st.sampled_from(["10", "a", "/var/log/x"]))]
    return [f"--{name}"]


@st.composite
def manifests(draw):
    vol_names = draw(st.lists(st.sampled_from(VOL_NAMES), unique=True, max_size=3))
    volumes = [
        {
            "hostPath": {
                "path": draw(st.sampled_from(PATHS)),
                "type": draw(st.sampled_from(["DirectoryOrCreate", "File"])),
            },
            "name": n,
        }
        for n in vol_names
    ]
    mount_names = draw(st.lists(st.sampled_from(vol_names), unique=True)) if vol_names else []
    mounts = [{"mountPath": draw(st.sampled_from(PATHS)), "name": n} for n in mount_names]
    tokens = [t for group in draw(st.lists(flag_tokens(), max_size=6)) for t in group]
    in_args = draw(st.booleans())
    container = {"name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:v1.35.4"}
    if in_args:
        container["command"] = ["kube-apiserver"]
        container["args"] = tokens
    else:
        container["command"] = ["kube-apiserver", *tokens]
    if mounts or draw(st.booleans()):
        container["volumeMounts"] = mounts
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kube-apiserver", "namespace": "kube-system"},
        "spec": {"containers": [container], "hostNetwork": True},
    }
    if volumes or draw(st.booleans()):
        pod["spec"]["volumes"] = volumes
    return dump_manifest(pod)


requests_flags = st.dictionaries(
    st.sampled_from(FLAG_NAMES),
    st.one_of(st.none(), flag_value, st.integers(0, 100), st.booleans(), st.lists(flag_value, min_size=1, max_size=2)),
    max_size=4,
)
requests_volumes = st.lists(
    st.fixed_dictionaries(
        {"name": st.sampled_from(VOL_NAMES), "host_path": st.sampled_from(PATHS), "mount_path": st.sampled_from(PATHS)},
        optional={
            "type": st.sampled_from(["DirectoryOrCreate", "File", ""]),
            "read_only": st.booleans(),
            "state": st.sampled_from(["present", "absent"]),
        },
    ),
    max_size=3,
)


def _as_list(value):
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifests(), requests_flags, requests_volumes)
def test_patch_is_valid_and_idempotent_or_refused(text, flags, volumes):
    try:
        result = patch_manifest_text(text, flags=flags, volumes=volumes)
    except NodesecError as exc:
        event(f"refused: {type(exc).__name__}")
        return  # a clean refusal; the file layer writes nothing in that case
    event("patched" if result.changed else "unchanged")
    pod = load_manifest(result.after)  # still a valid manifest
    ctr = pod["spec"]["containers"][0]
    have = current_flags(ctr)
    for name, value in flags.items():
        if value is None:
            assert name not in have
        else:
            assert [("true" if v is None else v) for v in have[name]] == _as_list(value)
    mount_paths = [posixpath.normpath(m["mountPath"]) for m in ctr.get("volumeMounts", [])]
    names = [v["name"] for v in pod["spec"].get("volumes", [])]
    assert len(names) == len(set(names))
    for vol in volumes:
        present = vol.get("state", "present") == "present"
        assert (vol["name"] in names) == present
        assert any(m["name"] == vol["name"] for m in ctr.get("volumeMounts", [])) == present
    # kubernetes refuses duplicate mount paths; we never create one
    before_paths = [
        posixpath.normpath(m["mountPath"])
        for m in yaml.safe_load(text)["spec"]["containers"][0].get("volumeMounts", [])
    ]
    if len(set(before_paths)) == len(before_paths):
        assert len(set(mount_paths)) == len(mount_paths)
    again = patch_manifest_text(result.after, flags=flags, volumes=volumes)
    assert not again.changed and again.after == result.after


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_fails_cleanly(text):
    try:
        result = patch_manifest_text(text, flags={"v": 2})
    except NodesecError as exc:
        assert str(exc)
        return
    assert current_flags(load_manifest(result.after)["spec"]["containers"][0])["v"] == ["2"]


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
        lambda children: st.one_of(
            st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_arbitrary_yaml_documents_fail_cleanly(data):
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": data}
    try:
        result = patch_manifest_text(yaml.safe_dump(doc), flags={"v": 2})
    except NodesecError as exc:
        assert str(exc)
        return
    assert current_flags(load_manifest(result.after)["spec"]["containers"][0])["v"] == ["2"]


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(manifests(), requests_flags, requests_volumes)
def test_file_is_byte_identical_after_a_refusal_and_idempotent_after_a_write(tmp_path_factory, text, flags, volumes):
    folder = tmp_path_factory.mktemp("manifests")
    target = folder / "kube-apiserver.yaml"
    target.write_text(text)
    target.chmod(0o600)
    backups = folder.parent / (folder.name + "-backups")
    try:
        outcome = update_manifest_file(str(target), flags=flags, volumes=volumes, backup=True, backup_dir=str(backups))
    except NodesecError:
        assert target.read_text() == text
        assert not backups.exists()
        assert sorted(p.name for p in folder.iterdir()) == ["kube-apiserver.yaml"]
        return
    assert target.read_text() == outcome.result.after
    assert (target.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == ["kube-apiserver.yaml"]
    assert outcome.written == outcome.result.changed
    again = update_manifest_file(str(target), flags=flags, volumes=volumes, backup=True, backup_dir=str(backups))
    assert not again.written and target.read_text() == outcome.result.after
