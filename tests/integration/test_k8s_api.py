"""The local Kubernetes API behaves like a real control plane without nodes.

Pods can be created, listed and deleted (they stay Pending: no scheduler, no kubelet); the
controller manager runs the Deployment, ReplicaSet, ServiceAccount, root-CA publisher and
namespace controllers; authentication and RBAC are enforced.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Callable

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

Waiter = Callable[..., None]

pytestmark = pytest.mark.integration

IMAGE = "registry.k8s.io/pause:3.10"


def _pod(name: str, labels: dict[str, str]) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1PodSpec(containers=[client.V1Container(name="main", image=IMAGE)]),
    )


def _exists(read: object) -> bool:
    try:
        read()  # type: ignore[operator]
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def test_admin_kubeconfig_verifies_tls(k8s_kubeconfig: str, k8s_client: client.ApiClient) -> None:
    with open(k8s_kubeconfig) as fh:
        kubeconfig = yaml.safe_load(fh)
    cluster = kubeconfig["clusters"][0]["cluster"]
    assert cluster["server"] == f"https://127.0.0.1:{os.environ.get('NODESEC_K8S_API_PORT', '16443')}"
    assert cluster["certificate-authority-data"]
    assert not cluster.get("insecure-skip-tls-verify", False)
    assert k8s_client.configuration.verify_ssl is True

    review = client.AuthenticationV1Api(k8s_client).create_self_subject_review(
        client.V1SelfSubjectReview(metadata=client.V1ObjectMeta())
    )
    assert "system:masters" in review.status.user_info.groups


def test_pods_create_list_delete(k8s_client: client.ApiClient, k8s_namespace: str, wait_until: Waiter) -> None:
    core = client.CoreV1Api(k8s_client)
    for name in ("web-1", "web-2", "other"):
        core.create_namespaced_pod(k8s_namespace, _pod(name, {"app": "web" if name != "other" else "other"}))

    pods = core.list_namespaced_pod(k8s_namespace, label_selector="app=web").items
    assert sorted(p.metadata.name for p in pods) == ["web-1", "web-2"]
    for pod in pods:
        # No scheduler and no kubelet: the pod is stored, defaulted and admitted, never bound.
        assert pod.status.phase == "Pending"
        assert pod.spec.node_name is None
        assert pod.spec.service_account_name == "default"
        assert pod.spec.containers[0].image == IMAGE

    core.delete_namespaced_pod("web-1", k8s_namespace)
    # An unbound pod is removed at once (graceful deletion only applies to pods on a node).
    wait_until("pod web-1 to disappear", lambda: not _exists(lambda: core.read_namespaced_pod("web-1", k8s_namespace)))
    remaining = core.list_namespaced_pod(k8s_namespace).items
    assert sorted(p.metadata.name for p in remaining) == ["other", "web-2"]

    with pytest.raises(ApiException) as err:
        core.delete_namespaced_pod("web-1", k8s_namespace)
    assert err.value.status == 404


def test_deployment_gets_replicaset_and_pods(
    k8s_client: client.ApiClient, k8s_namespace: str, wait_until: Waiter
) -> None:
    apps = client.AppsV1Api(k8s_client)
    core = client.CoreV1Api(k8s_client)
    labels = {"app": "shop"}
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="shop"),
        spec=client.V1DeploymentSpec(
            replicas=3,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="shop", image=IMAGE)]),
            ),
        ),
    )
    created = apps.create_namespaced_deployment(k8s_namespace, deployment)

    def replicasets() -> list[client.V1ReplicaSet]:
        return [
            rs
            for rs in apps.list_namespaced_replica_set(k8s_namespace).items
            if any(ref.uid == created.metadata.uid for ref in rs.metadata.owner_references or [])
        ]

    wait_until("a ReplicaSet owned by deployment shop", lambda: len(replicasets()) == 1)
    rs = replicasets()[0]
    assert rs.spec.replicas == 3

    def owned_pods() -> list[client.V1Pod]:
        return [
            p
            for p in core.list_namespaced_pod(k8s_namespace, label_selector="app=shop").items
            if any(ref.uid == rs.metadata.uid and ref.controller for ref in p.metadata.owner_references or [])
        ]

    wait_until("3 pods owned by the ReplicaSet", lambda: len(owned_pods()) == 3)
    assert {p.status.phase for p in owned_pods()} == {"Pending"}
    wait_until(
        "the Deployment status to count 3 replicas",
        lambda: apps.read_namespaced_deployment(name="shop", namespace=k8s_namespace).status.replicas == 3,
    )

    # Scaling goes through the same controllers.
    apps.patch_namespaced_deployment_scale("shop", k8s_namespace, {"spec": {"replicas": 1}})
    wait_until("the ReplicaSet to scale down to 1 pod", lambda: len(owned_pods()) == 1)


def test_new_namespace_gets_default_service_account(k8s_client: client.ApiClient, wait_until: Waiter) -> None:
    core = client.CoreV1Api(k8s_client)
    name = f"it-sa-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        wait_until(
            f"ServiceAccount {name}/default",
            lambda: _exists(lambda: core.read_namespaced_service_account("default", name)),
            timeout=30,
        )
        # The root-CA publisher puts the cluster CA in every namespace, as in a real cluster.
        wait_until(
            f"ConfigMap {name}/kube-root-ca.crt",
            lambda: _exists(lambda: core.read_namespaced_config_map("kube-root-ca.crt", name)),
            timeout=30,
        )
        ca = core.read_namespaced_config_map("kube-root-ca.crt", name).data["ca.crt"]
        assert ca.startswith("-----BEGIN CERTIFICATE-----")
    finally:
        core.delete_namespace(name)


def test_namespace_deletion_completes(k8s_client: client.ApiClient, wait_until: Waiter) -> None:
    core = client.CoreV1Api(k8s_client)
    apps = client.AppsV1Api(k8s_client)
    name = f"it-del-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_until(
        f"ServiceAccount {name}/default",
        lambda: _exists(lambda: core.read_namespaced_service_account("default", name)),
        timeout=30,
    )
    core.create_namespaced_pod(name, _pod("doomed", {"app": "doomed"}))
    core.create_namespaced_config_map(
        name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"), data={"k": "v"})
    )
    apps.create_namespaced_deployment(
        name,
        {
            "metadata": {"name": "doomed"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "doomed-deploy"}},
                "template": {
                    "metadata": {"labels": {"app": "doomed-deploy"}},
                    "spec": {"containers": [{"name": "main", "image": IMAGE}]},
                },
            },
        },
    )

    core.delete_namespace(name)
    assert core.read_namespace(name).status.phase == "Terminating"
    # The namespace controller empties the namespace and removes the `kubernetes` finalizer.
    wait_until(f"namespace {name} to be gone", lambda: not _exists(lambda: core.read_namespace(name)), timeout=90)
    assert core.list_namespaced_pod(name).items == []


@pytest.fixture
def token_client(k8s_client: client.ApiClient, k8s_namespace: str) -> Iterator[client.ApiClient]:
    """An API client authenticated as ServiceAccount <ns>/reader through a bound token."""
    core = client.CoreV1Api(k8s_client)
    core.create_namespaced_service_account(
        k8s_namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="reader"))
    )
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600))
    token = core.create_namespaced_service_account_token("reader", k8s_namespace, request).status.token
    assert token.count(".") == 2  # a signed JWT

    cfg = client.Configuration()
    cfg.host = k8s_client.configuration.host
    cfg.ssl_ca_cert = k8s_client.configuration.ssl_ca_cert
    cfg.verify_ssl = True
    cfg.api_key = {"authorization": token}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    api = client.ApiClient(cfg)
    try:
        yield api
    finally:
        api.close()


def test_rbac_is_enforced_for_service_account_tokens(
    k8s_client: client.ApiClient, k8s_namespace: str, token_client: client.ApiClient, wait_until: Waiter
) -> None:
    review = client.AuthenticationV1Api(token_client).create_self_subject_review(
        client.V1SelfSubjectReview(metadata=client.V1ObjectMeta())
    )
    assert review.status.user_info.username == f"system:serviceaccount:{k8s_namespace}:reader"

    as_reader = client.CoreV1Api(token_client)
    with pytest.raises(ApiException) as err:
        as_reader.list_namespaced_pod(k8s_namespace)
    assert err.value.status == 403
    assert "cannot list resource" in err.value.body

    rbac = client.RbacAuthorizationV1Api(k8s_client)
    rbac.create_namespaced_role(
        k8s_namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="pod-reader"),
            rules=[client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["get", "list"])],
        ),
    )
    rbac.create_namespaced_role_binding(
        k8s_namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="reader-reads-pods"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="pod-reader"),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name="reader", namespace=k8s_namespace)],
        ),
    )

    def can_list() -> bool:
        try:
            as_reader.list_namespaced_pod(k8s_namespace)
        except ApiException as exc:
            if exc.status == 403:
                return False
            raise
        return True

    wait_until("the RoleBinding to take effect", can_list, timeout=15)
    # The grant is exactly what the Role says: still no delete, and nothing in other namespaces.
    with pytest.raises(ApiException) as err:
        as_reader.delete_collection_namespaced_pod(k8s_namespace)
    assert err.value.status == 403
    with pytest.raises(ApiException) as err:
        as_reader.list_namespaced_pod("kube-system")
    assert err.value.status == 403
