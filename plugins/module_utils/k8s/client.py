# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The Kubernetes client of the pod compliance modules: configuration, pod API, typed errors.

- ``build_configuration``: a client configuration from the connection options of ``k8s.args``
  (in-cluster configuration when nothing is given). Unlike kubernetes.core, ``validate_certs``
  defaults to true and wins over a kubeconfig's ``insecure-skip-tls-verify``.
- ``PodApi``: paginated pod LIST returning plain dicts page by page (no model deserialisation), owner
  metadata reads, pod deletion with server-side dry run and a UID precondition.
- Typed exceptions, all :class:`NodesecError`: the module wrapper turns them into ``fail_json``.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import NodesecError

try:
    import kubernetes
    import urllib3
    from kubernetes.client.exceptions import ApiException
except ImportError:  # pragma: no cover - the modules' NodesecModule.requires("kubernetes") reports it
    ApiException = Exception  # type: ignore[assignment,misc]


class K8sError(NodesecError):
    """Base class: a message that names the object and the cause."""


class K8sConfigError(K8sError):
    pass


class K8sUnreachableError(K8sError):
    pass


class K8sApiError(K8sError):
    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


def api_error_text(exc: Any) -> str:
    """``403 Forbidden (pods "x" is forbidden: ...)`` from an ApiException."""
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None) or ""
    detail = ""
    body = getattr(exc, "body", None)
    if body:
        try:
            detail = json.loads(body).get("message", "")
        except (ValueError, AttributeError, TypeError):
            detail = str(body)[:300]
    text = f"{status} {reason}".strip()
    return f"{text} ({detail})" if detail else text


def build_configuration(params: Mapping[str, Any]) -> Any:
    """A ``kubernetes.client.Configuration`` from the auth options (already env-resolved).

    Order, as in kubernetes.core: explicit host + credentials; else kubeconfig/context; else
    in-cluster service account; else the default kubeconfig (``KUBECONFIG`` or ~/.kube/config).
    """
    cfg = kubernetes.client.Configuration()
    host = (params.get("host") or "").rstrip("/") or None
    api_key = params.get("api_key")
    cert, key = params.get("client_cert"), params.get("client_key")
    kubeconfig, context = params.get("kubeconfig"), params.get("context")
    try:
        if host and (api_key or (cert and key)):
            pass
        elif kubeconfig or context:
            if isinstance(kubeconfig, Mapping):
                kubernetes.config.load_kube_config_from_dict(
                    config_dict=dict(kubeconfig), context=context, client_configuration=cfg
                )
            else:
                kubernetes.config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg)
        else:
            try:
                kubernetes.config.load_incluster_config(client_configuration=cfg)
            except kubernetes.config.ConfigException:
                kubernetes.config.load_kube_config(context=context, client_configuration=cfg)
    except kubernetes.config.ConfigException as exc:
        raise K8sConfigError(f"Invalid Kubernetes configuration: {exc}") from exc
    except OSError as exc:
        raise K8sConfigError(f"Cannot read kubeconfig {kubeconfig or '~/.kube/config'}: {exc}") from exc
    if host:
        cfg.host = host
    if api_key:
        # Replaces a kubeconfig's token; its refresh hook would otherwise put that token back.
        # "authorization" is the key every kubernetes client reads, as kubernetes.core uses it;
        # older clients (35.0.0, the newest for Python 3.8, among them) ignore "BearerToken".
        cfg.refresh_api_key_hook = None
        cfg.api_key = {"authorization": f"Bearer {api_key}"}
        cfg.api_key_prefix = {}
    if params.get("ca_cert"):
        cfg.ssl_ca_cert = params["ca_cert"]
    if cert:
        cfg.cert_file = cert
    if key:
        cfg.key_file = key
    validate = params.get("validate_certs")
    cfg.verify_ssl = True if validate is None else bool(validate)
    return cfg


class PodApi:
    """The few API calls the pod compliance modules need, returning plain dicts.

    Also a context manager that closes its connections on the way out.
    """

    def __init__(self, configuration: Any, request_timeout: Optional[float] = 60, pool_size: int = 10) -> None:
        configuration.connection_pool_maxsize = max(pool_size, configuration.connection_pool_maxsize or 0)
        self.host = configuration.host
        self.api_client = kubernetes.client.ApiClient(configuration)
        self.core = kubernetes.client.CoreV1Api(self.api_client)
        self.apps = kubernetes.client.AppsV1Api(self.api_client)
        self.batch = kubernetes.client.BatchV1Api(self.api_client)
        self.timeout = request_timeout
        self.warnings: List[str] = []
        self._owner_cache: Dict[Tuple[str, str, str], Optional[Mapping[str, Any]]] = {}

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **kwargs: Any) -> PodApi:
        return cls(build_configuration(params), **kwargs)

    def close(self) -> None:
        self.api_client.close()

    def __enter__(self) -> PodApi:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    def _unreachable(self, exc: Exception) -> K8sUnreachableError:
        text = str(getattr(exc, "reason", None) or exc)
        hint = ""
        if "CERTIFICATE_VERIFY_FAILED" in text:
            hint = " (TLS verification failed: give the cluster CA with ca_cert or in the kubeconfig)"
        return K8sUnreachableError(f"Cannot reach the Kubernetes API at {self.host}: {text}{hint}")

    @staticmethod
    def _json(response: Any) -> Dict[str, Any]:
        try:
            return json.loads(response.data)
        finally:
            response.release_conn()

    # -- pods --------------------------------------------------------------------------------

    def iter_pod_pages(
        self,
        namespace: Optional[str] = None,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        limit: int = 500,
    ) -> Iterator[List[Dict[str, Any]]]:
        """Yield pods page by page (``limit``/``continue``); memory is bounded by the page size."""
        where = f"namespace {namespace}" if namespace else "all namespaces"
        token: Optional[str] = None
        while True:
            kwargs: Dict[str, Any] = {"limit": limit, "_preload_content": False, "_request_timeout": self.timeout}
            if token:
                kwargs["_continue"] = token
            if label_selector:
                kwargs["label_selector"] = label_selector
            if field_selector:
                kwargs["field_selector"] = field_selector
            try:
                if namespace:
                    resp = self.core.list_namespaced_pod(namespace, **kwargs)
                else:
                    resp = self.core.list_pod_for_all_namespaces(**kwargs)
                page = self._json(resp)
            except ApiException as exc:
                if exc.status == 410 and token:
                    # The snapshot behind the continue token expired (etcd compaction). The
                    # server offers a token to go on with an inconsistent list.
                    fresh = _continue_from_gone(exc)
                    if fresh:
                        self.warnings.append(
                            f"Pod list in {where} continued past an expired snapshot; pods created or "
                            "deleted meanwhile may be missed or seen twice"
                        )
                        token = fresh
                        continue
                raise K8sApiError(f"Failed to list pods in {where}: {api_error_text(exc)}", exc.status) from exc
            except urllib3.exceptions.HTTPError as exc:
                raise self._unreachable(exc) from exc
            yield page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    def delete_pod(
        self,
        namespace: str,
        name: str,
        uid: Optional[str] = None,
        grace_period: Optional[int] = None,
        dry_run: bool = False,
    ) -> str:
        """Delete one pod. Returns ``deleted`` or ``already_gone``.

        A UID precondition makes sure the pod deleted is the one classified: a pod of the same
        name recreated meanwhile (StatefulSet) fails the precondition (409) and counts as gone.
        """
        # Every option goes in the DeleteOptions body: when a body is sent the API server reads
        # the options from it alone, and a ?dryRun=All query parameter would be ignored (the pod
        # really deleted). Proven by tests/integration/test_pod_compliance.py.
        body: Dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if uid:
            body["preconditions"] = {"uid": uid}
        if grace_period is not None:
            body["gracePeriodSeconds"] = grace_period
        if dry_run:
            body["dryRun"] = ["All"]
        kwargs: Dict[str, Any] = {"body": body, "_preload_content": False, "_request_timeout": self.timeout}
        try:
            self._json(self.core.delete_namespaced_pod(name, namespace, **kwargs))
        except ApiException as exc:
            if exc.status == 404:
                return "already_gone"
            if exc.status == 409 and uid and "precondition" in (exc.body or "").lower():
                return "already_gone"
            raise K8sApiError(f"Failed to delete pod {namespace}/{name}: {api_error_text(exc)}", exc.status) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise self._unreachable(exc) from exc
        return "deleted"

    # -- owners ------------------------------------------------------------------------------

    def owner_metadata(self, kind: str, namespace: str, name: str) -> Optional[Mapping[str, Any]]:
        """Metadata of a ReplicaSet or Job (the owners we follow up), cached; None when unknown."""
        key = (kind, namespace, name)
        if key in self._owner_cache:
            return self._owner_cache[key]
        readers = {
            "ReplicaSet": self.apps.read_namespaced_replica_set,
            "Job": self.batch.read_namespaced_job,
        }
        meta: Optional[Mapping[str, Any]] = None
        reader = readers.get(kind)
        if reader is not None:
            try:
                meta = self._json(reader(name, namespace, _preload_content=False, _request_timeout=self.timeout)).get(
                    "metadata"
                )
            except ApiException as exc:
                if exc.status not in (403, 404):
                    raise K8sApiError(
                        f"Failed to read {kind} {namespace}/{name}: {api_error_text(exc)}", exc.status
                    ) from exc
                if exc.status == 403:
                    self.warnings.append(
                        f"Cannot read {kind} {namespace}/{name} (403 Forbidden): its owner is not resolved"
                    )
            except urllib3.exceptions.HTTPError as exc:
                raise self._unreachable(exc) from exc
        self._owner_cache[key] = meta
        return meta


def _continue_from_gone(exc: Any) -> Optional[str]:
    try:
        return (json.loads(exc.body).get("metadata") or {}).get("continue")
    except (ValueError, AttributeError, TypeError):
        return None
