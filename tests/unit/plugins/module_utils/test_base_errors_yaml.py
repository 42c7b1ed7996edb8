"""The shared base: the error class with a field, and the guarded YAML import with kubeadm's layout."""

from __future__ import annotations

import pytest
import yaml
from ansible_collections.nodesec.kubernetes.plugins.module_utils import _errors, _yaml


@pytest.mark.parametrize(
    "cls",
    [
        _errors.InvalidInputError,
        _errors.InvalidRequestError,
        _errors.ConflictError,
        _errors.FileIOError,
        _errors.MissingDependencyError,
    ],
)
def test_every_error_is_a_nodesec_error_with_a_field(cls):
    exc = cls("volume 'audit' mounts /x twice", "volumes[0].mount_path")
    assert isinstance(exc, _errors.NodesecError)
    assert str(exc) == "volume 'audit' mounts /x twice"
    assert exc.field == "volumes[0].mount_path"
    assert cls("no field").field == ""


def test_yaml_is_found_on_this_controller():
    assert _yaml.HAS_YAML is True
    assert _yaml.YAML_IMPORT_ERROR is None


def test_dump_kube_lays_out_like_kubeadm():
    data = {
        "kind": "Pod",
        "apiVersion": "v1",
        "spec": {"containers": [{"name": "a", "command": ["kube-apiserver", "--x=1"]}]},
        "script": "line one\nline two\n",
    }
    text = _yaml.dump_kube(data)
    assert text == (
        "kind: Pod\n"
        "apiVersion: v1\n"
        "spec:\n"
        "  containers:\n"
        "  - name: a\n"
        "    command:\n"
        "    - kube-apiserver\n"
        "    - --x=1\n"
        "script: |\n"
        "  line one\n"
        "  line two\n"
    )
    assert yaml.safe_load(text) == data


def test_dump_kube_never_wraps_long_values():
    value = "--tls-cipher-suites=" + ",".join(["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"] * 20)
    assert _yaml.dump_kube({"a": [value]}) == f"a:\n- {value}\n"
