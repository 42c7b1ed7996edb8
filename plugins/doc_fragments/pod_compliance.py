# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Selection, rules and report options shared by pod_compliance and pod_compliance_info.
    DOCUMENTATION = r"""
options:
  namespaces:
    description:
      - Namespaces to scan. All namespaces when empty.
    type: list
    elements: str
    default: []
  exclude_namespaces:
    description:
      - Namespaces never scanned. Exclusion wins over O(namespaces) (with a warning).
      - Set to V([]) to include C(kube-system).
    type: list
    elements: str
    default: [kube-system]
  label_selectors:
    description:
      - Label selectors for the pods to scan, such as C(app=web) or C(tier in (fe,be)); all must match.
    type: list
    elements: str
    default: []
  field_selectors:
    description:
      - Field selectors for the pods to scan, such as C(spec.nodeName=node1) or C(status.phase=Running);
        all must match.
    type: list
    elements: str
    default: []
  profile:
    description:
      - Which rules make a pod not stateless or not immutable.
      - V(cks) is the task "delete the pods that are not stateless or not immutable". Rules C(writable_volume)
        (not stateless), C(privileged), C(privilege_escalation), C(added_capabilities), C(host_namespaces),
        C(host_path_node_access) (a hostPath of the host root or of a container runtime socket, read-only or
        not) and C(selinux_unconfined) (SELinux type C(spc_t) or C(unconfined_t)), which are privileged in any
        way and make a pod neither immutable nor stateless. Seccomp and AppArmor C(Unconfined) and a writable
        root filesystem are not in V(cks); the collection's C(docs/pod_compliance.md) gives the table of what
        V(cks) flags and why.
      - V(baseline) is C(writable_volume) plus the Pod Security Standards baseline level exactly as the
        PodSecurity admission of Kubernetes evaluates it at O(pss_version)
        (C(privileged), C(added_capabilities), C(host_namespaces), C(host_ports), C(host_path_volume),
        C(proc_mount), C(seccomp_unconfined), C(apparmor_unconfined), C(selinux_options), C(unsafe_sysctls),
        C(host_process), C(host_probes)). Fields are read as PodSecurity reads them, so capability names are
        literal strings (C(chown) and C(CAP_CHOWN) are not C(CHOWN)), Windows pods are exempt from the checks
        PodSecurity exempts them from, and C(hostUsers=false) relaxes the checks it relaxes.
      - V(restricted) is V(baseline) plus the Pod Security Standards restricted level
        (C(restricted_volume_types), C(privilege_escalation_not_disabled), C(capabilities_restricted),
        C(seccomp_not_set), C(run_as_root)); as in PodSecurity, the restricted volume, capability, seccomp
        and (from 1.35) procMount checks replace their baseline counterparts.
      - In V(baseline) and V(restricted) each violation names the PodSecurity check id (C(pss_check)) beside
        the rule, and its reason is the reason and detail the API server gives.
      - The rule C(writable_root_filesystem) (C(readOnlyRootFilesystem) not true makes a pod neither stateless
        nor immutable) is in no profile; add it with O(checks).
    type: str
    choices: [cks, baseline, restricted]
    default: cks
  pss_version:
    description:
      - The version of the Pod Security Standards the V(baseline) and V(restricted) profiles apply, as the
        label C(pod-security.kubernetes.io/enforce-version) of a namespace would, from C(1.23) to C(1.35), with or
        without a leading C(v), or V(latest) (C(1.35)).
      - The standards change between Kubernetes minors (for example C(net.ipv4.tcp_rmem) is a safe sysctl
        from 1.32, probe and lifecycle C(host) fields are forbidden from 1.34, C(procMount=Unmasked) with
        C(hostUsers=false) is allowed by baseline from 1.35); pick the version your clusters enforce.
      - Ignored by the V(cks) profile.
    type: str
    default: latest
  checks:
    description:
      - Rule ids that override the profile's rules.
      - Either plain ids (exactly these rules run), or only entries prefixed with C(+) (add a rule to the
        profile's) or C(-) (remove one). Mixing both forms is an error.
      - "Rules: C(writable_volume), C(writable_root_filesystem), C(privileged), C(privilege_escalation),
        C(privilege_escalation_not_disabled), C(added_capabilities), C(capabilities_restricted),
        C(host_namespaces), C(host_ports), C(host_path_volume), C(restricted_volume_types), C(proc_mount),
        C(seccomp_unconfined), C(seccomp_not_set), C(apparmor_unconfined), C(selinux_options),
        C(unsafe_sysctls), C(host_process), C(host_probes), C(host_path_node_access), C(selinux_unconfined),
        C(run_as_root)."
    type: list
    elements: str
    default: []
  exempt_label:
    description:
      - Pods carrying this label with the value C(true) are reported with action C(exempt) and never deleted.
      - Set to an empty string to disable the opt-out.
    type: str
    default: pod-compliance.nodesec.io/exempt
  page_size:
    description:
      - Pods fetched per LIST request (C(limit)/C(continue) pagination). Each page is classified as it
        arrives, so memory use depends on the page size and the number of offending pods, not on the
        cluster size.
    type: int
    default: 500
  request_timeout:
    description:
      - Timeout in seconds of each API request.
    type: int
    default: 60
  report_path:
    description:
      - "Write the full report as JSON to this path, where the module runs. Run the task on the controller
        (C(hosts: localhost) or C(delegate_to: localhost)) to get the file there."
      - Not written in check mode. Writing it is not reported as a change.
    type: path
  summary_path:
    description:
      - Write a Markdown summary (counts by rule and by namespace, one row per offending pod) to this path,
        where the module runs. Same rules as O(report_path).
    type: path
notes:
  - Security contexts are combined as the kubelet does, a container's field winning over the pod's for
    C(runAsUser), C(runAsGroup), C(runAsNonRoot), C(seLinuxOptions), C(seccompProfile), C(appArmorProfile)
    and C(windowsOptions). Init and ephemeral containers are checked like the others.
  - configMap, secret, downwardAPI, projected (including the service-account token) and image volumes never
    make a pod stateful. A volume mounted with C(readOnly) or read-only at its source does not either.
  - Each offending pod's top owner is resolved (ReplicaSet to Deployment, Job to CronJob, StatefulSet,
    DaemonSet; a static pod's Node). This reads ReplicaSets and Jobs; without that permission the direct
    owner is reported, with a warning.
seealso:
  - name: Pod Security Standards
    description: The baseline and restricted controls the rules refer to.
    link: https://kubernetes.io/docs/concepts/security/pod-security-standards/
"""
