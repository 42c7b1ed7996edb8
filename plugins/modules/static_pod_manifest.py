#!/usr/bin/python
# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: static_pod_manifest
short_description: Safely edit the flags and hostPath volumes of a Kubernetes static-pod manifest
version_added: 0.1.0
description:
  - Edits a static-pod manifest (for example C(/etc/kubernetes/manifests/kube-apiserver.yaml) on a
    kubeadm control-plane node) by parsing it, changing the data and writing it back; never with
    regular expressions.
  - Sets, changes or removes command-line flags of one container, whether they live in C(command)
    or C(args), in C(--flag=value) or C(--flag value) form, once or repeated. Updated flags stay
    where they were; new flags are appended next to the existing ones. A flag, a volume or a mount
    is never duplicated, and everything it was not asked to change is kept.
  - Adds, updates or removes C(hostPath) volumes together with their C(volumeMounts) in the
    container. A managed volume found under the same name with another path is updated, and the
    diff shows it.
  - Refuses, naming the flag, volume or field and the fix, and leaving the file byte-identical,
    when the file is not a valid Pod manifest (including typos such as C(volume:) for
    C(volumes:)), when a path flag it sets (O(path_flags)) is not under a volumeMount of the
    container, or when a mount path it adds is already mounted from a different volume.
  - Writes atomically (a dotfile in the same folder, which the kubelet ignores, renamed over the
    manifest), keeps the owner and mode of the file (CIS 1.1.1/1.1.2 expect C(0600 root:root)),
    and stores the optional backup outside the manifests folder, where the kubelet would
    otherwise start it as a second pod.
  - After a change the kubelet restarts the pod on its own; this module does not wait for it (the
    role C(nodesec.kubernetes.audit_logging) does, and rolls back).
author:
  - nodesec maintainers (@nodesec)
requirements:
  - PyYAML on the managed node (Debian package C(python3-yaml)).
extends_documentation_fragment:
  - nodesec.kubernetes.attributes
  - nodesec.kubernetes.attributes.MUTATING
options:
  path:
    description: Path of the static-pod manifest on the managed node.
    type: path
    required: true
  container:
    description:
      - Name of the container to edit.
      - Default is the container named like the pod (C(metadata.name)), else the only container.
    type: str
  flags:
    description:
      - Flags to set, as a mapping of flag name (with or without the leading C(--)) to value.
      - A string, number or boolean gives one C(--name=value); a list repeats the flag once per
        item, in order; V(null) removes every occurrence of the flag.
      - A bare C(--name) already in the manifest counts as V(true).
      - Flags not listed are left untouched.
    type: dict
    default: {}
  volumes:
    description:
      - C(hostPath) volumes to manage, each with its volumeMount in the container.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the volume and of its volumeMount.
        type: str
        required: true
      host_path:
        description: Absolute path on the node. Required when O(volumes[].state=present).
        type: str
      mount_path:
        description: Absolute path in the container. Required when O(volumes[].state=present).
        type: str
      type:
        description:
          - C(hostPath) type. When omitted, an existing volume keeps its type and a new one gets
            none. V("") removes the type.
        type: str
        choices: ["", DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice, BlockDevice]
      read_only:
        description: Mount read-only.
        type: bool
        default: false
      state:
        description:
          - V(absent) removes the mount from the container, and the volume when no other
            container mounts it.
        type: str
        choices: [present, absent]
        default: present
  path_flags:
    description:
      - Flags whose value is a path the container must see through a volumeMount, as a mapping of
        flag name to V(file) (the path itself must be at or under a mountPath) or V(parent) (its
        folder must be, for log files rotated next to themselves).
      - Merged over the built-in list C(audit-policy-file=file), C(audit-log-path=parent),
        C(audit-webhook-config-file=file), C(admission-control-config-file=file),
        C(encryption-provider-config=file), C(authentication-config=file),
        C(authorization-config=file), C(egress-selector-config-file=file),
        C(tracing-config-file=file).
      - Only flags set by this task are checked. C(--audit-log-path=-) (standard output) is not a path.
    type: dict
    default: {}
  annotations:
    description:
      - Pod annotations to set (V(null) removes one). Any change of the pod, annotations included,
        makes the kubelet recreate a static pod, so an annotation holding the checksum of a
        configuration file the container reads only at start (such as the audit policy) restarts
        it when that file changes.
    type: dict
    default: {}
  backup:
    description: Copy the manifest to O(backup_dir) before changing it.
    type: bool
    default: false
  backup_dir:
    description:
      - Folder for backups, created with mode C(0700) when missing. It must not be the manifests
        folder. Backups are named C(<file name>.<UTC timestamp>.bak) and keep the file's mode.
    type: path
    default: /var/backups/nodesec/static-pods
notes:
  - Comments in the manifest are not kept when it is rewritten (a warning says so). kubeadm writes
    no comments.
  - The rewritten manifest uses kubeadm's layout (block style, keys in their original order), so a
    kubeadm manifest changes only where asked.
seealso:
  - name: Static pods
    description: How the kubelet runs manifests from its static-pod folder.
    link: https://kubernetes.io/docs/tasks/configure-pod-container/static-pod/
"""

EXAMPLES = r"""
- name: Enable the API server audit log backend (kubeadm control plane)
  nodesec.kubernetes.static_pod_manifest:
    path: /etc/kubernetes/manifests/kube-apiserver.yaml
    flags:
      audit-policy-file: /etc/kubernetes/audit/policy.yaml
      audit-log-path: /var/log/kubernetes/audit/audit.log
      audit-log-maxage: 30
      audit-log-maxbackup: 10
      audit-log-maxsize: 100
    volumes:
      - name: audit-policy
        host_path: /etc/kubernetes/audit
        mount_path: /etc/kubernetes/audit
        type: DirectoryOrCreate
        read_only: true
      - name: audit-log
        host_path: /var/log/kubernetes/audit
        mount_path: /var/log/kubernetes/audit
        type: DirectoryOrCreate
    backup: true
  register: apiserver_manifest

- name: Repeated flag, and removal of another
  nodesec.kubernetes.static_pod_manifest:
    path: /etc/kubernetes/manifests/kube-apiserver.yaml
    flags:
      tls-sni-cert-key:
        - /etc/kubernetes/pki/a.crt,/etc/kubernetes/pki/a.key
        - /etc/kubernetes/pki/b.crt,/etc/kubernetes/pki/b.key
      profiling: null

- name: Remove the audit volumes again
  nodesec.kubernetes.static_pod_manifest:
    path: /etc/kubernetes/manifests/kube-apiserver.yaml
    flags:
      audit-policy-file: null
      audit-log-path: null
    volumes:
      - name: audit-policy
        state: absent
      - name: audit-log
        state: absent
"""

RETURN = r"""
container:
  description: Name of the container that was edited.
  returned: success
  type: str
  sample: kube-apiserver
changes:
  description:
    - What changed (or would change in check mode), one item per flag, volume or volumeMount.
    - Each item has C(type) (V(flag), V(volume), V(volumeMount) or V(annotation)), C(name), C(action) (V(added),
      V(updated) or V(removed)), C(before) and C(after). Flag items hold lists of values; volume and
      volumeMount items hold the objects (V(null) when added or removed).
  returned: success
  type: list
  elements: dict
  sample:
    - type: flag
      name: audit-log-maxage
      action: updated
      before: ["30"]
      after: ["10"]
    - type: volume
      name: audit-log
      action: added
      before: null
      after: {hostPath: {path: /var/log/kubernetes, type: DirectoryOrCreate}, name: audit-log}
flags:
  description: Every flag of the container after the change, name to list of values (V(null) for a bare flag).
  returned: success
  type: dict
  sample: {audit-log-maxage: ["10"], secure-port: ["6443"]}
backup_file:
  description: Path of the backup, outside the manifests folder.
  returned: when O(backup=true) and the file was changed (not in check mode)
  type: str
  sample: /var/backups/nodesec/static-pods/kube-apiserver.yaml.20260101T120000.000000Z.bak
path:
  description: Absolute path of the manifest.
  returned: success
  type: str
  sample: /etc/kubernetes/manifests/kube-apiserver.yaml
"""

from ansible_collections.nodesec.kubernetes.plugins.module_utils._module import NodesecModule
from ansible_collections.nodesec.kubernetes.plugins.module_utils._yaml import YAML_REQUIREMENT
from ansible_collections.nodesec.kubernetes.plugins.module_utils.kube_flags import HOST_PATH_TYPES
from ansible_collections.nodesec.kubernetes.plugins.module_utils.static_pod.file import (
    DEFAULT_BACKUP_DIR,
    update_manifest_file,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.static_pod.patch import ManifestEdit


def main() -> None:
    module = NodesecModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            container=dict(type="str"),
            flags=dict(type="dict", default={}),
            volumes=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    name=dict(type="str", required=True),
                    host_path=dict(type="str"),
                    mount_path=dict(type="str"),
                    type=dict(type="str", choices=list(HOST_PATH_TYPES)),
                    read_only=dict(type="bool", default=False),
                    state=dict(type="str", choices=["present", "absent"], default="present"),
                ),
                required_if=[("state", "present", ("host_path", "mount_path"))],
            ),
            path_flags=dict(type="dict", default={}),
            annotations=dict(type="dict", default={}),
            backup=dict(type="bool", default=False),
            backup_dir=dict(type="path", default=DEFAULT_BACKUP_DIR),
        ),
        supports_check_mode=True,
    )
    module.requires("yaml", package=YAML_REQUIREMENT)

    params = module.params
    with module.expected_errors(prefix=f"{params['path']}: ", path=params["path"]):
        outcome = update_manifest_file(
            params["path"],
            ManifestEdit.from_params(params),
            backup=params["backup"],
            backup_dir=params["backup_dir"],
            check_mode=module.check_mode,
        )

    result = outcome.result
    for warning in result.warnings:
        module.warn(f"{params['path']}: {warning}")
    response = dict(
        changed=result.changed,
        path=params["path"],
        container=result.container,
        changes=result.changes,
        flags=result.flags,
    )
    if outcome.backup_file:
        response["backup_file"] = outcome.backup_file
    if module._diff:
        response["diff"] = dict(
            before=result.before,
            after=result.after,
            before_header=params["path"],
            after_header=params["path"],
        )
    module.exit_json(**response)


if __name__ == "__main__":
    main()
