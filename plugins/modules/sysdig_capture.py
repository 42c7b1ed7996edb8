#!/usr/bin/python
# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sysdig_capture
short_description: Bounded Sysdig capture on a node, returned as structured events
version_added: 0.1.0
description:
  - Runs one bounded C(sysdig) capture on the managed node (live for O(duration) seconds and/or
    O(max_events) events, or offline from an existing capture with O(read_file)) and returns the
    printed events parsed into mappings keyed by the field names of O(format).
  - The filter (built from O(filter) and the helpers O(container_id), O(pod_name), O(namespace),
    combined with C(and)) and the format are first compiled by sysdig itself, offline, against an
    empty input; an invalid filter fails with the position and the unknown field before anything
    is captured.
  - A live capture goes through the capture driver of O(driver); by default the modern eBPF probe
    when this sysdig has it compiled in (no kernel module needed), else the kernel module.
  - When no capture driver (kernel module or eBPF probe) is loaded, a live capture fails with a
    message saying so and which driver to install, instead of sysdig's raw error.
  - The output kept is bounded by O(output_limit); past it the capture is stopped and
    RV(truncated) is set.
  - To copy a capture saved with O(write_file) to the controller, follow this task with
    M(ansible.builtin.fetch) (see EXAMPLES); a module runs on the node and cannot write on the
    controller itself.
author:
  - nodesec maintainers (@nodesec)
requirements:
  - sysdig on the managed node (role M(nodesec.kubernetes.sysdig) installs it).
  - For live captures, a capture driver (kernel module C(scap), an eBPF probe, or the modern eBPF probe
    compiled into sysdig >= 0.31, see O(driver)) and root.
extends_documentation_fragment:
  - nodesec.kubernetes.attributes
attributes:
  check_mode:
    support: full
    details:
      - Validates the filter and the format with sysdig, runs no capture, writes no file.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - Reading a capture (O(read_file)) changes nothing and returns the same events every time.
      - A live capture observes a moving system; with O(write_file) it (re)writes that file and
        reports a change.
options:
  filter:
    description:
      - A sysdig filter, e.g. C(proc.name=nginx and evt.type=execve).
      - Combined with the helper options with C(and); the filter is put in parentheses first.
    type: str
  container_id:
    description:
      - Only events of this container. Adds C(container.id="<id>").
      - Accepts the 12-character id sysdig uses, a full 64-character id, or Kubernetes'
        C(containerd://<id>) form (shortened to 12 characters).
    type: str
  pod_name:
    description:
      - Only events of this pod. Adds C(k8s.pod.name="<name>").
      - The C(k8s.*) fields come from the container runtime's metadata; see O(cri_socket).
    type: str
  namespace:
    description: Only events of pods in this namespace. Adds C(k8s.ns.name="<namespace>").
    type: str
  duration:
    description:
      - Stop a live capture after this many seconds (sysdig C(-M)).
      - A live capture needs O(duration) and/or O(max_events).
    type: int
  max_events:
    description:
      - Stop after this many events (sysdig C(-n)).
      - Sysdig counts every event it reads, including those it does not print (e.g. the
        process-table events at the start of a capture file), so fewer events may be returned.
    type: int
  format:
    description:
      - Output format (sysdig C(-p)). A leading C(*) is added when missing, so that events with
        missing fields are printed (as C(<NA>), returned as V(null)).
      - The literal text between two fields (a tab, C(,), C( | ) ...) splits each line back into
        fields. When a value contains its separator the split is ambiguous; the extra separators
        go to one free-text field (C(evt.info), C(proc.cmdline), C(fd.name), ... or else the last
        field). Use separators that cannot occur in the values when several fields may contain them.
      - C(\t) in the format is a tab, as for sysdig. Two fields with nothing between them are rejected.
    type: str
    default: "*%evt.time\t%user.uid\t%user.name\t%proc.pid\t%proc.name\t%container.id\t%k8s.pod.name\t%evt.type"
  driver:
    description:
      - The capture driver of a live capture (ignored with O(read_file)).
      - V(auto) uses the modern eBPF probe (sysdig C(--modern-bpf)) when this sysdig has it
        compiled in (sysdig >= 0.31 built with it, e.g. the collection's sysdig 0.36.0 build), the
        kernel exposes BTF (C(/sys/kernel/btf/vmlinux)) and no kernel module device
        (C(/dev/scap0), C(/dev/sysdig0)) is present; otherwise sysdig's default, the kernel module.
        RV(driver) says which was used.
      - V(kmod) is the kernel module (sysdig's default, no flag), V(ebpf) the legacy eBPF probe
        (sysdig C(-B), the probe file of E(SYSDIG_BPF_PROBE)), V(modern_ebpf) the modern eBPF probe
        (sysdig C(--modern-bpf); needs root or C(CAP_SYS_ADMIN) or C(CAP_BPF) with C(CAP_PERFMON)).
    type: str
    choices: [auto, kmod, ebpf, modern_ebpf]
    default: auto
  read_file:
    description:
      - Analyse an existing capture file on the node instead of capturing live (sysdig C(-r)).
    type: path
  write_file:
    description:
      - Also save the capture to this file on the node (sysdig C(-w)); the events are then read back
        from it with O(format). Fetch it to the controller with M(ansible.builtin.fetch).
      - Mutually exclusive with O(read_file).
    type: path
  cri_socket:
    description:
      - Path to the CRI socket (sysdig C(--cri)) used for container and pod metadata, e.g.
        C(/run/containerd/containerd.sock).
    type: path
  snaplen:
    description: Bytes captured of each I/O buffer (sysdig C(-s)).
    type: int
  output_limit:
    description:
      - Keep at most this many bytes of sysdig's output (whole lines). Past it the capture is
        stopped and RV(truncated) is V(true).
    type: int
    default: 4194304
  timeout:
    description:
      - Stop sysdig after this many seconds whatever happens. Defaults to O(duration) + 120.
    type: int
  validate:
    description:
      - Compile the filter and the format with sysdig before capturing.
    type: bool
    default: true
  executable:
    description: Path of the sysdig binary; by default it is looked up in E(PATH).
    type: path
  summary_fields:
    description:
      - Count the events per combination of these fields (which must be in O(format)) and return
        the counts in RV(summary), e.g. V([user.uid, proc.name]) for "which processes ran as which user".
    type: list
    elements: str
    default: []
notes:
  - Live captures need root and a capture driver; offline analysis (O(read_file)) needs neither.
  - The C(k8s.*) and C(container.*) values come from container runtime metadata; when sysdig has none
    (no O(cri_socket), no container), they print as C(<NA>) and a pod filter matches nothing.
    Check RV(event_count) before concluding that nothing ran.
  - O(read_file) and O(write_file) are exclusive because sysdig 0.29 (Debian 12) writes an unreadable
    file when both C(-r) and C(-w) are given.
seealso:
  - name: Sysdig filter and output format reference
    description: The fields usable in O(filter) and O(format) are listed by C(sysdig -l).
    link: https://github.com/draios/sysdig/wiki/Sysdig-User-Guide
  - module: ansible.builtin.fetch
"""

EXAMPLES = r"""
- name: Which processes ran in pod nginx, and as which user, for 30 seconds
  nodesec.kubernetes.sysdig_capture:
    pod_name: nginx
    namespace: default
    duration: 30
    format: "*%evt.time,%user.uid,%proc.name"
    summary_fields: [user.uid, proc.name]
  register: nginx_capture

- name: Which processes ran in a container, live through the modern eBPF probe (no kernel module)
  nodesec.kubernetes.sysdig_capture:
    filter: container.name=nodesec-sysdig-probe and evt.type in (execve, execveat) and evt.dir=<
    duration: 30
    driver: modern_ebpf
    format: "*%evt.time,%user.uid,%proc.name"
    summary_fields: [user.uid, proc.name]

- name: Same, by container id, with tabs between fields
  nodesec.kubernetes.sysdig_capture:
    container_id: "{{ container_status.containerID }}"
    duration: 30
    format: '*%evt.time\t%user.uid\t%proc.name\t%k8s.pod.name\t%container.name'

- name: Analyse an existing capture offline
  nodesec.kubernetes.sysdig_capture:
    read_file: /var/tmp/incident.scap
    filter: proc.name=curl and evt.type in (connect, execve)
    format: "*%evt.num|%proc.name|%evt.type|%fd.name"

- name: Save a 10 second capture on the node ...
  nodesec.kubernetes.sysdig_capture:
    pod_name: nginx
    duration: 10
    write_file: /var/tmp/nginx.scap
- name: ... and copy it to the controller
  ansible.builtin.fetch:
    src: /var/tmp/nginx.scap
    dest: "captures/{{ inventory_hostname }}-nginx.scap"
    flat: true

- name: Only check that a filter compiles (no capture)
  nodesec.kubernetes.sysdig_capture:
    filter: k8s.pod.name=nginx and evt.type=execve
    duration: 1
  check_mode: true
"""

RETURN = r"""
events:
  description: The events, one mapping per printed line, keyed by the format's field names; C(<NA>) is V(null).
  returned: always
  type: list
  elements: dict
  sample: [{"evt.time": "17:35:48.514632619", "user.uid": "0", "proc.name": "nginx"}]
event_count:
  description: Number of events in RV(events).
  returned: always
  type: int
  sample: 42
fields:
  description: The field names of the format, in order.
  returned: always
  type: list
  elements: str
  sample: ["evt.time", "user.uid", "proc.name"]
command:
  description: The exact argv of the sysdig capture that ran (or would run in check mode).
  returned: always
  type: list
  elements: str
  sample: ["/usr/bin/sysdig", "-M", "30", "-p", "*%evt.time,%user.uid,%proc.name", "k8s.pod.name=\"nginx\""]
cmd:
  description: RV(command) as a shell command line.
  returned: always
  type: str
  sample: "/usr/bin/sysdig -M 30 -p '*%evt.time,%user.uid,%proc.name' 'k8s.pod.name=\"nginx\"'"
read_command:
  description: With O(write_file), the argv that read the saved capture back.
  returned: when O(write_file) is set and not in check mode
  type: list
  elements: str
filter:
  description: The filter given to sysdig, after the helpers were added.
  returned: always
  type: str
  sample: 'k8s.pod.name="nginx" and k8s.ns.name="default"'
format:
  description: The format given to sysdig (with the leading C(*)).
  returned: always
  type: str
driver:
  description:
    - The capture driver of a live capture after O(driver=auto) was resolved (V(kmod), V(ebpf) or
      V(modern_ebpf)); V(null) when reading a file.
  returned: always
  type: str
  sample: modern_ebpf
filter_validated:
  description: Whether sysdig's compiler accepted the filter and format before the capture.
  returned: always
  type: bool
truncated:
  description: Whether the output passed O(output_limit) and was cut at the last whole line.
  returned: always
  type: bool
timed_out:
  description: Whether sysdig had to be stopped at O(timeout).
  returned: always
  type: bool
captured:
  description: Whether a capture ran (V(false) in check mode).
  returned: always
  type: bool
summary:
  description:
    - With O(summary_fields), one entry per combination of their values with its C(count), most frequent first.
  returned: always
  type: list
  elements: dict
  sample:
    - {"user.uid": "0", "proc.name": "nginx", "count": 120}
    - {"user.uid": "101", "proc.name": "nginx", "count": 17}
unparsed_lines:
  description: Up to 20 output lines that did not have the format's shape.
  returned: always
  type: list
  elements: str
unparsed_count:
  description: Number of output lines that did not have the format's shape.
  returned: always
  type: int
write_file:
  description: The capture file written on the node.
  returned: when O(write_file) is set and not in check mode
  type: str
rc:
  description: Exit status of sysdig.
  returned: when a capture ran
  type: int
stderr:
  description: What sysdig printed on standard error.
  returned: when a capture ran
  type: str
"""

import traceback

from ansible_collections.nodesec.kubernetes.plugins.module_utils._module import NodesecModule
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.capture import CaptureParams, SysdigCapture
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.driver import DRIVERS
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.errors import (
    SysdigError,
    SysdigFilterError,
    SysdigNoDriverError,
)


def os_family() -> str:
    """The node's OS family as in the ansible_facts (Debian, RedHat, ...), for OS-specific hints."""
    from ansible.module_utils.common.sys_info import get_distribution
    from ansible.module_utils.facts.system.distribution import Distribution

    distribution = get_distribution() or ""
    return Distribution.OS_FAMILY.get(distribution, distribution)


def main():
    module = NodesecModule(
        argument_spec=dict(
            filter=dict(type="str"),
            container_id=dict(type="str"),
            pod_name=dict(type="str"),
            namespace=dict(type="str"),
            duration=dict(type="int"),
            max_events=dict(type="int"),
            format=dict(type="str", default=CaptureParams.format),
            read_file=dict(type="path"),
            write_file=dict(type="path"),
            cri_socket=dict(type="path"),
            snaplen=dict(type="int"),
            output_limit=dict(type="int", default=CaptureParams.output_limit),
            timeout=dict(type="int"),
            validate=dict(type="bool", default=CaptureParams.validate),
            executable=dict(type="path"),
            driver=dict(type="str", choices=list(DRIVERS), default=CaptureParams.driver),
            summary_fields=dict(type="list", elements="str", default=[]),
        ),
        mutually_exclusive=[("read_file", "write_file")],
        supports_check_mode=True,
    )
    p = module.params
    sysdig = p["executable"] or module.get_bin_path("sysdig", required=False)
    if not sysdig:
        module.fail_json(msg="sysdig is not installed on this node: run the role nodesec.kubernetes.sysdig first")

    params = CaptureParams.from_params(p)
    service = SysdigCapture(sysdig, os_family=os_family())
    try:
        result = service.run(params, check_mode=module.check_mode)
    except SysdigFilterError as exc:
        module.fail_json(
            msg=str(exc), filter=exc.filter_text, error_position=exc.position, unknown_field=exc.unknown_field
        )
    except SysdigNoDriverError as exc:
        module.fail_json(msg=str(exc), driver_loaded=False, sysdig_output=exc.raw)
    except SysdigError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"Could not run sysdig ({sysdig}): {exc}", exception=traceback.format_exc())
    for warning in service.warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
