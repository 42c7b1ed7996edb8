# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter ``kubeadm_apiserver_config``: API server flags and volumes in a kubeadm ClusterConfiguration."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible.errors import AnsibleFilterError
from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import NodesecError
from ansible_collections.nodesec.kubernetes.plugins.module_utils.kubeadm_config import patch_cluster_configuration


def kubeadm_apiserver_config(
    text: str, flags: Optional[Dict[str, Any]] = None, volumes: Optional[List[Dict[str, Any]]] = None
) -> str:
    try:
        return patch_cluster_configuration(text, flags, volumes)[0]
    except NodesecError as exc:
        raise AnsibleFilterError(f"kubeadm_apiserver_config: {exc}") from exc


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"kubeadm_apiserver_config": kubeadm_apiserver_config}
