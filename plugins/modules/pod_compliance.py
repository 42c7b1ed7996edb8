#!/usr/bin/python
# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pod_compliance
short_description: Delete the pods that are not stateless or not immutable
version_added: 0.1.0
description:
  - Finds the offending pods exactly as M(nodesec.kubernetes.pod_compliance_info) does and deletes them.
  - Safe by default. In check mode the deletions are sent as server-side dry runs, so permissions and
    admission are checked and nothing is deleted. When more than O(max_deletions) pods would be deleted
    the module fails before deleting any. A pod already gone (404), or replaced meanwhile by a new pod of
    the same name (the UID precondition fails), is not an error.
  - Each deleted pod's owner is resolved. A warning names each owner (Deployment, StatefulSet, DaemonSet,
    Job, CronJob, or the Node of a static pod) whose controller will recreate the pods, and whose
    template has to be fixed. O(skip_owned) leaves owned pods alone.
  - Deletions run in parallel, at most O(parallelism) at a time.
author:
  - nodesec maintainers (@nodesec)
extends_documentation_fragment:
  - nodesec.kubernetes.k8s_auth
  - nodesec.kubernetes.pod_compliance
  - nodesec.kubernetes.attributes
  - nodesec.kubernetes.attributes.MUTATING
options:
  all_namespaces:
    description:
      - Deleting needs a choice of namespaces. With O(namespaces) empty the module refuses to run, deleting
        nothing, unless this is V(true); then every namespace but O(exclude_namespaces) is scanned and its
        offending pods deleted.
      - The read-only M(nodesec.kubernetes.pod_compliance_info) scans all namespaces when O(namespaces) is empty.
    type: bool
    default: false
  max_deletions:
    description:
      - Fail, deleting nothing, when more pods than this would be deleted.
    type: int
    default: 50
  grace_period:
    description:
      - Seconds the pods get to terminate. The pod's own C(terminationGracePeriodSeconds) when not set;
        V(0) deletes immediately.
    type: int
  skip_owned:
    description:
      - Leave pods that have an owner (controller) alone; they are reported with action C(skipped_owned).
      - Their controller would recreate them from the same template anyway.
    type: bool
    default: false
  parallelism:
    description:
      - How many deletions run at the same time, each on its own connection to the API server.
      - Deleting 1,000 pods with 10 is 2.2x faster than one after another when the API is on the same
        small machine (the API server's CPU is the limit) and 6.9x faster when it is 22 ms away; raising it
        to 32 helps a distant API most (11.7x at 22 ms). Figures and method in the collection's
        C(bench/README.md).
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Delete the pods of namespace shop that are not stateless or not immutable (CKS task)
  nodesec.kubernetes.pod_compliance:
    kubeconfig: /etc/kubernetes/admin.conf
    namespaces: [shop]
  register: deleted

- name: Preview first; check mode sends server-side dry runs only
  nodesec.kubernetes.pod_compliance:
    namespaces: [shop, db]
    max_deletions: 10
  check_mode: true
  diff: true

- name: Delete bare offending pods only, leave controller-owned ones, write a summary on the controller
  nodesec.kubernetes.pod_compliance:
    all_namespaces: true
    skip_owned: true
    exclude_namespaces: [kube-system, calico-system]
    grace_period: 0
    summary_path: reports/pod-compliance-deleted.md
  delegate_to: localhost

- name: Connection options set once for the collection's Kubernetes modules
  module_defaults:
    group/nodesec.kubernetes.k8s:
      kubeconfig: "{{ nodesec_kubeconfig }}"
      context: prod
  block:
    - name: Report first
      nodesec.kubernetes.pod_compliance_info:
        namespaces: [batch]

    - name: Then delete
      nodesec.kubernetes.pod_compliance:
        namespaces: [batch]
"""

RETURN = r"""
pods:
  description:
    - The offending pods, sorted by namespace and name, as returned by M(nodesec.kubernetes.pod_compliance_info)
      (namespace, name, uid, owner, stateless, immutable, rules, violations).
    - Their C(action) is C(deleted) (C(would_delete) in check mode), C(already_gone), C(skipped_owned) or
      C(exempt).
  returned: always
  type: list
  elements: dict
  sample:
    - namespace: shop
      name: debug
      uid: 2c6f3b1e-3f0a-4a59-9a57-0b8f7f1c2d3e
      owner: null
      stateless: false
      immutable: false
      rules: [privileged]
      violations:
        - rule: privileged
          categories: [immutable, stateless]
          reason: "container 'debug': spec.containers[0].securityContext.privileged is true"
      action: deleted
deleted:
  description: The pods deleted (in check mode, that would be deleted), as C(namespace/name).
  returned: always
  type: list
  elements: str
  sample: [shop/debug]
already_gone:
  description: Offending pods that were gone by the time of their deletion.
  returned: always
  type: list
  elements: str
  sample: []
summary:
  description: Counts over the scanned pods, as M(nodesec.kubernetes.pod_compliance_info) returns them.
  returned: always
  type: dict
  sample: {scanned: 42, compliant: 41, offending: 1, by_rule: {privileged: 1}, by_namespace: {shop: 1},
           by_action: {deleted: 1}}
report_files:
  description: Paths of the report files written (keys C(report_path), C(summary_path)).
  returned: always
  type: dict
  sample: {}
diff:
  description: The pods deleted (or to be deleted in check mode), before and after.
  returned: when diff mode is on
  type: dict
  sample: {before: {pods: [shop/debug]}, after: {pods: []}}
"""

from ansible_collections.nodesec.kubernetes.plugins.module_utils._module import NodesecModule
from ansible_collections.nodesec.kubernetes.plugins.module_utils.k8s.args import argspec
from ansible_collections.nodesec.kubernetes.plugins.module_utils.k8s.client import PodApi
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.args import (
    DELETE_ARG_SPEC,
    SCAN_ARG_SPEC,
    DeleteOptions,
    ReportFiles,
    ScanOptions,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.service import PodComplianceService


def main() -> None:
    module = NodesecModule(argument_spec=argspec(SCAN_ARG_SPEC, DELETE_ARG_SPEC), supports_check_mode=True)
    module.requires("kubernetes", minimum="24.2.0")
    with module.expected_errors():
        deletion = DeleteOptions.from_params(module.params, module.check_mode)
        options = ScanOptions.from_params(module.params)
        timeout, pool = module.params["request_timeout"], deletion.parallelism
        with PodApi.from_params(module.params, request_timeout=timeout, pool_size=pool) as client:
            result = PodComplianceService(client).delete(options, deletion, ReportFiles.from_params(module.params))
    if result.error is not None:
        module.fail_json(**result.as_failure())
    for warning in result.warnings:
        module.warn(warning)
    module.exit_json(**result.as_dict(diff=module._diff))


if __name__ == "__main__":
    main()
