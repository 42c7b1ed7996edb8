"""The module wrapper: library and version checks, expected errors become fail_json, others do not."""

from __future__ import annotations

import json

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import InvalidRequestError
from ansible_collections.nodesec.kubernetes.plugins.module_utils._module import NodesecModule, version_at_least
from ansible_collections.nodesec.kubernetes.tests.unit.module_args import patch_module_args


def make_module() -> NodesecModule:
    return NodesecModule(argument_spec={"name": {"type": "str"}}, supports_check_mode=True)


def failure(capsys, call):
    with patch_module_args({}), pytest.raises(SystemExit) as excinfo:
        call(make_module())
    assert excinfo.value.code == 1
    return json.loads(capsys.readouterr().out)


def test_requires_returns_the_library():
    import yaml

    with patch_module_args({}):
        assert make_module().requires("yaml", minimum="3.10") is yaml


def test_missing_library_says_what_to_install(capsys):
    out = failure(capsys, lambda m: m.requires("nodesec_no_such_lib", package="nodesec-no-such-lib"))
    assert out["failed"] is True
    assert "nodesec-no-such-lib" in out["msg"]


def test_too_old_library_names_found_and_needed_versions(capsys):
    import yaml

    out = failure(capsys, lambda m: m.requires("yaml", minimum="999.0"))
    assert "yaml >= 999.0" in out["msg"]
    assert f"The installed version is {yaml.__version__}" in out["msg"]


def test_expected_error_becomes_fail_json_with_field(capsys):
    def call(module):
        with module.expected_errors(prefix="/etc/x.yaml: ", path="/etc/x.yaml"):
            raise InvalidRequestError("flag name '' is empty", "flags")

    out = failure(capsys, call)
    assert out["msg"] == "/etc/x.yaml: flag name '' is empty"
    assert out["field"] == "flags"
    assert out["path"] == "/etc/x.yaml"


def test_unexpected_error_is_not_caught():
    with patch_module_args({}):
        module = make_module()
        with pytest.raises(KeyError), module.expected_errors():
            raise KeyError("bug")


@pytest.mark.parametrize(
    ("found", "minimum", "ok"),
    [("24.2.0", "24.2.0", True), ("35.0.0", "24.2.0", True), ("9.0.1", "24.2.0", False), ("6.0.2", "5.1", True)],
)
def test_version_comparison_is_numeric(found, minimum, ok):
    assert version_at_least(found, minimum) is ok
