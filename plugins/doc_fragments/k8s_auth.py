# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Kubernetes connection options, named as in kubernetes.core with the same K8S_AUTH_*
    # environment fallbacks, so module_defaults written for kubernetes.core carry over.
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig content as a dictionary.
      - Can also be given with the E(K8S_AUTH_KUBECONFIG) environment variable.
      - When no connection option is given at all, the in-cluster service account configuration is used if
        present, else the default kubeconfig (E(KUBECONFIG) or C(~/.kube/config)).
    type: raw
  context:
    description:
      - The name of a context found in the kubeconfig. Can also be given with E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - The URL of the API server. Can also be given with E(K8S_AUTH_HOST).
      - With O(api_key), or with O(client_cert) and O(client_key), no kubeconfig is read.
    type: str
  api_key:
    description:
      - Bearer token used to authenticate with the API. Can also be given with E(K8S_AUTH_API_KEY).
      - Never logged.
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate.
      - Can also be given with E(K8S_AUTH_VALIDATE_CERTS) or E(K8S_AUTH_VERIFY_SSL).
      - Defaults to V(true), also when the kubeconfig says C(insecure-skip-tls-verify); set it to V(false)
        explicitly to connect to an API server whose certificate cannot be verified.
    type: bool
    default: true
    aliases: [verify_ssl]
  ca_cert:
    description:
      - Path to the CA certificate (full chain) that signed the API server's certificate.
      - Can also be given with E(K8S_AUTH_CA_CERT) or E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate used to authenticate with the API.
      - Can also be given with E(K8S_AUTH_CLIENT_CERT) or E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the private key of O(client_cert).
      - Can also be given with E(K8S_AUTH_CLIENT_KEY) or E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
requirements:
  - kubernetes >= 24.2.0 (the Python client)
notes:
  - The connection options can be set once for all modules of the collection with
    C(module_defaults) and the action group C(group/nodesec.kubernetes.k8s).
"""
