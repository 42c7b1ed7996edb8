"""Connection options: kubernetes.core names, K8S_AUTH_* fallbacks, TLS verification by default."""

from __future__ import annotations

import json

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.nodesec.kubernetes.plugins.module_utils.k8s.args import AUTH_ARG_SPEC
from ansible_collections.nodesec.kubernetes.plugins.module_utils.k8s.client import (
    K8sConfigError,
    api_error_text,
    build_configuration,
)
from kubernetes.client.exceptions import ApiException

# A syntactically complete kubeconfig; nothing connects to it.
KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [
        {"name": "lab", "cluster": {"server": "https://127.0.0.1:16443", "insecure-skip-tls-verify": True}},
        {"name": "prod", "cluster": {"server": "https://10.0.0.1:6443"}},
    ],
    "users": [{"name": "admin", "user": {"token": "s3cr3t-token"}}],
    "contexts": [
        {"name": "lab", "context": {"cluster": "lab", "user": "admin"}},
        {"name": "prod", "context": {"cluster": "prod", "user": "admin"}},
    ],
    "current-context": "lab",
}


@pytest.fixture
def kubeconfig(tmp_path):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    return str(path)


def validate(params, monkeypatch, env=None):
    for key in list(__import__("os").environ):
        if key.startswith("K8S_AUTH_"):
            monkeypatch.delenv(key)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    result = ArgumentSpecValidator(AUTH_ARG_SPEC).validate(params)
    assert not result.error_messages, result.error_messages
    return result.validated_parameters, result._no_log_values


def test_option_names_and_aliases_match_kubernetes_core():
    assert set(AUTH_ARG_SPEC) == {
        "kubeconfig",
        "context",
        "host",
        "api_key",
        "validate_certs",
        "ca_cert",
        "client_cert",
        "client_key",
    }
    assert AUTH_ARG_SPEC["validate_certs"]["aliases"] == ["verify_ssl"]
    assert AUTH_ARG_SPEC["ca_cert"]["aliases"] == ["ssl_ca_cert"]
    assert AUTH_ARG_SPEC["client_cert"]["aliases"] == ["cert_file"]
    assert AUTH_ARG_SPEC["client_key"]["aliases"] == ["key_file"]
    assert AUTH_ARG_SPEC["api_key"]["no_log"] and AUTH_ARG_SPEC["client_key"]["no_log"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"K8S_AUTH_HOST": "https://api:6443"}, {"host": "https://api:6443"}),
        ({"K8S_AUTH_API_KEY": "tok"}, {"api_key": "tok"}),
        (
            {"K8S_AUTH_KUBECONFIG": "/k/config", "K8S_AUTH_CONTEXT": "prod"},
            {"kubeconfig": "/k/config", "context": "prod"},
        ),
        ({"K8S_AUTH_VERIFY_SSL": "no"}, {"validate_certs": False}),
        ({"K8S_AUTH_VALIDATE_CERTS": "false"}, {"validate_certs": False}),
        ({"K8S_AUTH_SSL_CA_CERT": "/ca.crt"}, {"ca_cert": "/ca.crt"}),
        (
            {"K8S_AUTH_CERT_FILE": "/c.crt", "K8S_AUTH_KEY_FILE": "/c.key"},
            {"client_cert": "/c.crt", "client_key": "/c.key"},
        ),
        ({}, {"validate_certs": True, "host": None, "api_key": None}),
    ],
)
def test_environment_fallbacks(env, expected, monkeypatch):
    params, _no_log = validate({}, monkeypatch, env)
    assert {k: params[k] for k in expected} == expected


def test_explicit_option_wins_over_environment_and_secrets_are_no_log(monkeypatch):
    params, no_log = validate(
        {"api_key": "explicit", "validate_certs": True},
        monkeypatch,
        {"K8S_AUTH_API_KEY": "from-env", "K8S_AUTH_VERIFY_SSL": "no"},
    )
    assert params["api_key"] == "explicit" and params["validate_certs"] is True
    assert "explicit" in no_log
    _params, no_log = validate({}, monkeypatch, {"K8S_AUTH_API_KEY": "from-env"})
    assert "from-env" in no_log


def test_validate_certs_true_overrides_insecure_kubeconfig(kubeconfig):
    cfg = build_configuration({"kubeconfig": kubeconfig, "validate_certs": True})
    assert cfg.host == "https://127.0.0.1:16443"
    assert cfg.verify_ssl is True
    assert cfg.auth_settings()["BearerToken"]["value"] == "Bearer s3cr3t-token"
    assert build_configuration({"kubeconfig": kubeconfig, "validate_certs": False}).verify_ssl is False
    assert build_configuration({"kubeconfig": kubeconfig}).verify_ssl is True


def test_context_and_dict_kubeconfig(kubeconfig):
    assert build_configuration({"kubeconfig": kubeconfig, "context": "prod"}).host == "https://10.0.0.1:6443"
    cfg = build_configuration({"kubeconfig": KUBECONFIG, "context": "prod"})
    assert cfg.host == "https://10.0.0.1:6443"


def test_host_and_api_key_need_no_kubeconfig(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "does-not-exist"))
    cfg = build_configuration({"host": "https://api.example:6443/", "api_key": "tok", "ca_cert": "/ca.crt"})
    assert cfg.host == "https://api.example:6443"
    assert cfg.auth_settings()["BearerToken"]["value"] == "Bearer tok"
    assert cfg.ssl_ca_cert == "/ca.crt" and cfg.verify_ssl is True


def test_explicit_api_key_replaces_the_kubeconfig_token(kubeconfig):
    cfg = build_configuration({"kubeconfig": kubeconfig, "api_key": "mine"})
    assert cfg.auth_settings()["BearerToken"]["value"] == "Bearer mine"


@pytest.mark.parametrize("source", ["host", "kubeconfig"])
def test_api_key_under_the_key_every_client_reads(kubeconfig, source):
    # Older kubernetes clients (35.0.0, the newest for Python 3.8, among them) look the token up as
    # "authorization" only; a "BearerToken" entry would be ignored and requests go out unauthenticated.
    where = {"host": "https://api.example:6443"} if source == "host" else {"kubeconfig": kubeconfig}
    cfg = build_configuration({**where, "api_key": "tok"})
    assert cfg.api_key == {"authorization": "Bearer tok"}
    assert cfg.get_api_key_with_prefix("authorization") == "Bearer tok"


def test_host_overrides_kubeconfig_server(kubeconfig):
    cfg = build_configuration(
        {"kubeconfig": kubeconfig, "host": "https://other:6443", "client_cert": "/c", "client_key": "/k"}
    )
    assert (cfg.host, cfg.cert_file, cfg.key_file) == ("https://other:6443", "/c", "/k")


def test_missing_kubeconfig_or_context_is_a_config_error(kubeconfig, tmp_path):
    with pytest.raises(K8sConfigError, match="Invalid Kubernetes configuration"):
        build_configuration({"kubeconfig": str(tmp_path / "missing")})
    with pytest.raises(K8sConfigError, match="nope"):
        build_configuration({"kubeconfig": kubeconfig, "context": "nope"})


def test_api_error_text_uses_status_message():
    exc = ApiException(status=403, reason="Forbidden")
    exc.body = json.dumps(
        {"kind": "Status", "message": 'pods "x" is forbidden: User "u" cannot delete resource "pods"'}
    )
    assert api_error_text(exc) == '403 Forbidden (pods "x" is forbidden: User "u" cannot delete resource "pods")'
    plain = ApiException(status=500, reason="Internal Server Error")
    plain.body = "not json"
    assert api_error_text(plain) == "500 Internal Server Error (not json)"
