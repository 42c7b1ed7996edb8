# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The Kubernetes connection options of the collection's modules (documented in doc_fragments/k8s_auth.py).

Named as in kubernetes.core (``kubeconfig``, ``context``, ``host``, ``api_key``,
``validate_certs``, ``ca_cert``, ``client_cert``, ``client_key``) with the same ``K8S_AUTH_*``
environment fallbacks: ``K8S_AUTH_<OPTION>`` and ``K8S_AUTH_<ALIAS>``.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping, Tuple

from ansible.module_utils.basic import env_fallback

AUTH_ENV: Dict[str, Tuple[str, ...]] = {
    "kubeconfig": ("K8S_AUTH_KUBECONFIG",),
    "context": ("K8S_AUTH_CONTEXT",),
    "host": ("K8S_AUTH_HOST",),
    "api_key": ("K8S_AUTH_API_KEY",),
    "validate_certs": ("K8S_AUTH_VALIDATE_CERTS", "K8S_AUTH_VERIFY_SSL"),
    "ca_cert": ("K8S_AUTH_CA_CERT", "K8S_AUTH_SSL_CA_CERT"),
    "client_cert": ("K8S_AUTH_CLIENT_CERT", "K8S_AUTH_CERT_FILE"),
    "client_key": ("K8S_AUTH_CLIENT_KEY", "K8S_AUTH_KEY_FILE"),
}


def _fb(name: str) -> Tuple[Any, List[str]]:
    return (env_fallback, list(AUTH_ENV[name]))


AUTH_ARG_SPEC: Dict[str, Dict[str, Any]] = {
    "kubeconfig": {"type": "raw", "no_log": True, "fallback": _fb("kubeconfig")},
    "context": {"type": "str", "fallback": _fb("context")},
    "host": {"type": "str", "fallback": _fb("host")},
    "api_key": {"type": "str", "no_log": True, "fallback": _fb("api_key")},
    "validate_certs": {"type": "bool", "default": True, "aliases": ["verify_ssl"], "fallback": _fb("validate_certs")},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"], "fallback": _fb("ca_cert")},
    "client_cert": {"type": "path", "aliases": ["cert_file"], "fallback": _fb("client_cert")},
    "client_key": {"type": "path", "aliases": ["key_file"], "no_log": True, "fallback": _fb("client_key")},
}


def argspec(*extra: Mapping[str, Mapping[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """The connection options plus ``extra`` specs (later ones win), deep-copied as kubernetes.core does.

    A copy per module, so no module's ``AnsibleModule`` can change the shared specs.
    """
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    for more in extra:
        spec.update(copy.deepcopy(dict(more)))
    return spec
