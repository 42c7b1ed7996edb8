#!/usr/bin/python
# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pod_compliance_info
short_description: Report the pods that are not stateless or not immutable
version_added: 0.1.0
description:
  - Lists the selected pods through the Kubernetes API, page by page, and reports those that are not
    stateless (able to store data in a writable data volume) or not immutable (privileged in any way), each
    with its namespace, name, top-level owner and the rules it violates with reasons naming the container
    and the field.
  - Counts offending pods by rule and by namespace, and can write a JSON report and a Markdown summary.
  - Never changes anything in the cluster. Use M(nodesec.kubernetes.pod_compliance) to delete the offenders.
extends_documentation_fragment:
  - nodesec.kubernetes.k8s_auth
  - nodesec.kubernetes.pod_compliance
  - nodesec.kubernetes.attributes
  - nodesec.kubernetes.attributes.INFO_MODULE
author:
  - nodesec maintainers (@nodesec)
"""

EXAMPLES = r"""
- name: Report the pods that are not stateless or not immutable in namespace shop
  nodesec.kubernetes.pod_compliance_info:
    kubeconfig: /etc/kubernetes/admin.conf
    namespaces: [shop]
  register: compliance

- name: Show what offends and why
  ansible.builtin.debug:
    msg: "{{ item.namespace }}/{{ item.name }}: {{ item.violations | map(attribute='reason') | list }}"
  loop: "{{ compliance.pods }}"
  loop_control:
    label: "{{ item.namespace }}/{{ item.name }}"

- name: Whole cluster against Pod Security Standards restricted plus read-only root, reports on the controller
  nodesec.kubernetes.pod_compliance_info:
    profile: restricted
    checks: ["+writable_root_filesystem"]
    exclude_namespaces: [kube-system, calico-system]
    report_path: reports/pod-compliance.json
    summary_path: reports/pod-compliance.md
  delegate_to: localhost

- name: Only the pods of one app on one node
  nodesec.kubernetes.pod_compliance_info:
    label_selectors: [app.kubernetes.io/name=web]
    field_selectors: [spec.nodeName=worker-1]
"""

RETURN = r"""
pods:
  description: The offending pods, sorted by namespace and name.
  returned: always
  type: list
  elements: dict
  contains:
    namespace:
      description: Namespace of the pod.
      type: str
      sample: shop
    name:
      description: Name of the pod.
      type: str
      sample: web-7c9f8b6d5-abcde
    uid:
      description: UID of the pod.
      type: str
      sample: 2c6f3b1e-3f0a-4a59-9a57-0b8f7f1c2d3e
    owner:
      description:
        - Top-level owner (Deployment, StatefulSet, DaemonSet, Job, CronJob, Node for a static pod, or the direct
          owner of another kind); null for a bare pod.
      type: dict
      sample: {kind: Deployment, name: web, namespace: shop, chain: [ReplicaSet/web-7c9f8b6d5, Deployment/web]}
    stateless:
      description: Whether the pod is stateless under the rules in force.
      type: bool
      sample: false
    immutable:
      description: Whether the pod is immutable under the rules in force.
      type: bool
      sample: true
    rules:
      description: Ids of the rules the pod violates.
      type: list
      elements: str
      sample: [writable_volume]
    violations:
      description: One entry per finding, with its rule, the verdicts it breaks and a reason naming the container
        and the field.
      type: list
      elements: dict
      sample:
        - rule: writable_volume
          categories: [stateless]
          reason: >-
            container 'postgresql' mounts persistentVolumeClaim volume 'data' read-write at /bitnami/postgresql
            (spec.containers[0].volumeMounts[2].readOnly is not true)
    action:
      description: C(reported), or C(exempt) for a pod carrying the opt-out label.
      type: str
      sample: reported
summary:
  description: Counts over the scanned pods.
  returned: always
  type: dict
  sample:
    profile: cks
    rules: [writable_volume, privileged, privilege_escalation, added_capabilities, host_namespaces]
    scanned: 42
    compliant: 39
    offending: 3
    not_stateless: 3
    not_immutable: 1
    by_rule: {privileged: 1, writable_volume: 2}
    by_namespace: {shop: 3}
    by_action: {reported: 3}
report_files:
  description: Paths of the report files written (keys C(report_path), C(summary_path)).
  returned: always
  type: dict
  sample: {report_path: /home/me/reports/pod-compliance.json}
"""

from ansible_collections.nodesec.kubernetes.plugins.module_utils._module import NodesecModule
from ansible_collections.nodesec.kubernetes.plugins.module_utils.k8s.args import argspec
from ansible_collections.nodesec.kubernetes.plugins.module_utils.k8s.client import PodApi
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.args import (
    SCAN_ARG_SPEC,
    ReportFiles,
    ScanOptions,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.service import PodComplianceService


def main() -> None:
    module = NodesecModule(argument_spec=argspec(SCAN_ARG_SPEC), supports_check_mode=True)
    module.requires("kubernetes", minimum="24.2.0")
    with module.expected_errors():
        options = ScanOptions.from_params(module.params)
        with PodApi.from_params(module.params, request_timeout=module.params["request_timeout"]) as client:
            result = PodComplianceService(client).report(
                options, ReportFiles.from_params(module.params), module.check_mode
            )
    for warning in result.warnings:
        module.warn(warning)
    module.exit_json(**result.as_dict())


if __name__ == "__main__":
    main()
