#!/usr/bin/python
# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: falco_rules_test
short_description: Test an ordered Falco rule set against recorded captures with the real Falco engine
version_added: 0.2.0
description:
  - Runs the Falco binary of the node over each recorded capture (C(.scap)) with the given rules
    files, in the given order, and reports which rules fired on which events. Per capture it gives each
    rule's name, priority and number of alerts, and its first events with C(evt.num), C(evt.time),
    C(proc.name), the alert's output and output fields.
  - With O(expected), checks that rules fire (optionally at least or at most some number of
    times) or do not fire, per capture, and fails with a message naming the rule and the capture
    when an expectation does not hold. A role can so gate a rollout of new rules on the hits they
    must (and must not) give, before the rules go live.
  - Falco (0.44) replays a capture with its C(replay) engine
    (C(-o engine.kind=replay -o engine.replay.capture_file=FILE)), which needs no driver, no
    kernel access and no root (the capture must be readable). The node's configuration
    (O(config)) is used with a small configuration of this module merged last, so that the
    alerts of the test go to a temporary file only; every output the node sends alerts to
    (syslog, HTTP, program, file, standard output), its webserver, metrics and capture feature
    are switched off for the test run. Everything else (minimum C(priority), C(rule_matching),
    the C(rules) selection, C(append_output), the plugins and their settings) is the node's.
  - The rule set is first loaded with C(falco -L); rules Falco refuses fail the task with
    Falco's own message (the file names as given in O(rules_files)).
  - Read-only; it never changes anything on the node (C(changed) is always V(false)).
author:
  - nodesec maintainers (@nodesec)
requirements:
  - Falco 0.44 or later on the node (the role C(nodesec.kubernetes.falco) installs it).
  - The plugins the rules require (the released rules need the container plugin, which the Falco
    package installs and its configuration loads).
extends_documentation_fragment:
  - nodesec.kubernetes.attributes
attributes:
  check_mode:
    support: full
    details:
      - Runs Falco over the captures in check mode too, since it only reads (the rules files, the
        captures, the configuration), and reports the same result as in a normal run.
  diff_mode:
    support: none
    details:
      - This action does not modify state.
  idempotent:
    support: full
options:
  rules_files:
    description:
      - The rules files, in the order Falco loads them (the first is usually the released
        C(/etc/falco/falco_rules.yaml)). Each entry gives either O(rules_files[].path) or
        O(rules_files[].content).
      - Replaces the C(rules_files) of the configuration for the test (C(falco -r)).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - A rules file or a folder of rules files on the node (a folder's C(*.yaml) and
            C(*.yml) files are loaded in alphabetical order, as Falco does).
          - A file whose name does not end in C(.yaml) or C(.yml) is refused, since Falco skips
            such files without a word.
        type: path
      content:
        description:
          - The YAML text of a rules file (for example rules staged on the controller that are
            not on the node yet). Written to a temporary file for the test.
        type: str
      name:
        description:
          - The name used in messages (Falco's own included) instead of the path, or of
            C(inline-N) for content. Give the path the file has, or will have, on the node.
        type: str
      missing_ok:
        description:
          - When O(rules_files[].path) does not exist, leave it out (with a warning) instead of failing.
        type: bool
        default: false
  captures:
    description:
      - The capture files (C(.scap)) on the node, each replayed by its own Falco run, in order.
      - Record them with M(nodesec.kubernetes.sysdig_capture) (O(nodesec.kubernetes.sysdig_capture#module:write_file))
        or Falco's capture feature (C(capture) in C(falco.yaml)).
    type: list
    elements: path
    required: true
  falco:
    description:
      - Path of the Falco binary on the node.
    type: path
    default: /usr/bin/falco
  config:
    description:
      - The Falco configuration file the test starts from.
      - V(auto) uses the package's C(/etc/falco/falco.yaml) (with its C(config_files) drop-ins)
        when it exists, and no configuration file otherwise.
      - V(none) uses none (Falco's built-in defaults); then the rules that need a plugin need
        O(plugins).
      - Any other value is the path of a configuration file, which must exist.
    type: str
    default: auto
  plugins:
    description:
      - The plugins to load for the test, replacing the configuration's C(load_plugins) and
        C(plugins). When not given, the configuration's plugins are loaded (with O(config=none),
        none).
      - V([]) loads no plugin at all.
    type: list
    elements: dict
    suboptions:
      library_path:
        description:
          - Path of the plugin's shared library on the node, for example
            C(/usr/share/falco/plugins/libcontainer.so).
        type: path
        required: true
      name:
        description:
          - The plugin's name. Defaults to the library's file name without C(lib) and C(.so)
            (C(libcontainer.so) is C(container)).
        type: str
      init_config:
        description:
          - The plugin's C(init_config) (a mapping or a string), as in C(falco.yaml).
        type: raw
      open_params:
        description:
          - The plugin's C(open_params), as in C(falco.yaml).
        type: str
  timeout:
    description:
      - Seconds each Falco run (loading the rules, replaying one capture) may take before it is
        stopped and the task fails.
    type: int
    default: 300
  max_events:
    description:
      - How many events are returned per rule and capture (the first ones); counts are always complete.
    type: int
    default: 5
  options:
    description:
      - More C(key=value) settings for Falco (its C(-o)), applied after the configuration, for
        example V(priority=debug) to test rules below the node's minimum priority, or
        V(rule_matching=all) to count every rule an event matches, not only the first.
    type: list
    elements: str
    default: []
  expected:
    description:
      - What must hold for the task to succeed. Each entry names a rule, whether it must fire, and
        optionally on which capture and how often.
      - A rule the rule set does not define, or a capture not in O(captures), is an error (a
        misspelt rule never makes "must not fire" hold).
    type: list
    elements: dict
    default: []
    suboptions:
      rule:
        description:
          - The rule's name, as in its rules file.
        type: str
        required: true
      capture:
        description:
          - The capture it applies to, its path as in O(captures) (or its file name when that is
            unique). When not given, the expectation applies to every capture, each on its own.
        type: str
      fires:
        description:
          - V(true) the rule must fire (at least once, or O(expected[].min_count) times);
            V(false) it must not fire at all.
        type: bool
        default: true
      min_count:
        description:
          - The rule must fire at least this many times (default 1 when O(expected[].fires=true)).
        type: int
      max_count:
        description:
          - The rule must fire at most this many times.
        type: int
notes:
  - Each capture is replayed by its own Falco process, which loads the whole rule set again.
    Measured with Falco 0.44.1 and the container plugin on a small capture (about 1,000 events),
    a run takes about 0.2 s with the released C(falco_rules.yaml) and 0.8 s with the three
    released rule sets; the rule set is loaded once more first (C(falco -L)).
  - Which rule fires on an event follows the node's C(rule_matching). With Falco's default,
    C(first), only the first matching rule in load order fires; use O(options) to change it for the test.
  - The container plugin gives C(container.*) and C(k8s.*) fields from the events recorded in the
    capture; for a capture recorded without it they are empty.
seealso:
  - module: nodesec.kubernetes.falco_rules_check
  - module: nodesec.kubernetes.sysdig_capture
  - name: Falco configuration, engine replay
    description: The C(engine.kind=replay) engine and C(engine.replay.capture_file).
    link: https://falco.org/docs/reference/daemon/config-options/
"""

EXAMPLES = r"""
- name: Our rules must flag curl in the recorded incident, and not the noisy shell rule
  nodesec.kubernetes.falco_rules_test:
    rules_files:
      - path: /etc/falco/falco_rules.yaml
      - content: "{{ lookup('ansible.builtin.file', 'files/falco_rules.local.yaml') }}"
        name: /etc/falco/falco_rules.local.yaml
    captures:
      - /var/lib/nodesec/captures/curl_google.scap
    expected:
      - rule: Outbound curl
        min_count: 1
      - rule: Terminal shell in container
        fires: false
  register: rules_test

- name: Show what fired
  ansible.builtin.debug:
    msg: "{{ rules_test.hits }}"

- name: Without the node's configuration, loading the container plugin explicitly
  nodesec.kubernetes.falco_rules_test:
    config: none
    plugins:
      - library_path: /usr/share/falco/plugins/libcontainer.so
    rules_files:
      - path: /etc/falco/falco_rules.yaml
      - path: /etc/falco/rules.d
    captures:
      - /tmp/a.scap
      - /tmp/b.scap
    options:
      - rule_matching=all
    expected:
      - rule: Read sensitive file untrusted
        capture: /tmp/a.scap
        min_count: 2
        max_count: 10
"""

RETURN = r"""
captures:
  description: One entry per capture, in the order of O(captures).
  returned: success, and when an expectation failed
  type: list
  elements: dict
  contains:
    capture:
      description: The capture file, as given.
      type: str
    events_read:
      description: How many events Falco read from the capture (its C(Captured Events)), when it said.
      type: int
    alerts:
      description: How many alerts the capture raised, all rules together.
      type: int
    duration_s:
      description: Seconds the Falco run over this capture took.
      type: float
    command:
      description: The argv of that Falco run.
      type: list
      elements: str
    rules:
      description: The rules that fired, most frequent first.
      type: list
      elements: dict
      contains:
        rule:
          description: The rule's name.
          type: str
        priority:
          description: The rule's priority as Falco prints it (C(Warning), C(Notice), ...).
          type: str
        source:
          description: The event source (C(syscall)).
          type: str
        tags:
          description: The rule's tags.
          type: list
          elements: str
        count:
          description: How many times it fired on this capture.
          type: int
        events:
          description:
            - The first O(max_events) events it fired on, each with C(evt.num), C(evt.time)
              (nanoseconds since the epoch), C(time) (ISO 8601), C(evt.type), C(proc.name),
              C(output) (the alert's text) and C(output_fields) (the fields of the rule's output
              plus those four).
          type: list
          elements: dict
  sample:
    - capture: /var/lib/nodesec/captures/curl_google.scap
      events_read: 2101
      alerts: 1
      duration_s: 1.4
      rules:
        - rule: Outbound curl
          priority: Notice
          source: syscall
          tags: []
          count: 1
          events:
            - evt.num: 1402
              evt.time: 1569429590395498286
              time: "2019-09-25T16:39:50.395498286Z"
              evt.type: connect
              proc.name: curl
              output: "16:39:50.395498286: Notice curl connects (connection=...)"
              output_fields: {"evt.num": 1402, "proc.name": "curl"}
hits:
  description: For each capture, the number of alerts per rule (rules that did not fire are left out).
  returned: success, and when an expectation failed
  type: dict
  sample: {"/var/lib/nodesec/captures/curl_google.scap": {"Outbound curl": 1}}
expectations:
  description: One result per expectation and capture it applies to.
  returned: success, and when an expectation failed
  type: list
  elements: dict
  contains:
    rule:
      description: The rule.
      type: str
    capture:
      description: The capture.
      type: str
    fires:
      description: Whether the rule had to fire.
      type: bool
    min_count:
      description: The least count accepted.
      type: int
    max_count:
      description: The greatest count accepted (V(null) for no limit).
      type: int
    count:
      description: How many times the rule fired on the capture.
      type: int
    passed:
      description: Whether the expectation holds.
      type: bool
    message:
      description: The verdict in words, naming the rule and the capture.
      type: str
failed_expectations:
  description: The entries of RV(expectations) that do not hold.
  returned: success, and when an expectation failed
  type: list
  elements: dict
rules_loaded:
  description: How many rules the rule set defines (Falco's C(-L)).
  returned: success, and when an expectation failed
  type: int
rules_files:
  description:
    - The rules files loaded, in order (names as given; a missing O(rules_files[].missing_ok) file is left out).
  returned: success, and when an expectation failed
  type: list
  elements: str
config:
  description: The configuration file Falco started from (V(null) for none).
  returned: success, and when an expectation failed
  type: str
load_duration_s:
  description: Seconds Falco took to load the rule set (C(falco -L)).
  returned: success, and when an expectation failed
  type: float
falco_message:
  description: Falco's own message when it refused the rule set.
  returned: when Falco refused the rules
  type: str
field:
  description: The option at fault when the task failed on bad input.
  returned: failure
  type: str
  sample: captures[0]
"""

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import NodesecError
from ansible_collections.nodesec.kubernetes.plugins.module_utils._module import NodesecModule
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.replay import (
    DEFAULT_FALCO,
    DEFAULT_MAX_EVENTS,
    DEFAULT_TIMEOUT,
    FalcoRulesTest,
    FalcoRunError,
    RulesRefusedError,
    RulesTestParams,
    failure_message,
)

ARGUMENT_SPEC = {
    "rules_files": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "path": {"type": "path"},
            "content": {"type": "str"},
            "name": {"type": "str"},
            "missing_ok": {"type": "bool", "default": False},
        },
        "mutually_exclusive": [["path", "content"]],
        "required_one_of": [["path", "content"]],
    },
    "captures": {"type": "list", "elements": "path", "required": True},
    "falco": {"type": "path", "default": DEFAULT_FALCO},
    "config": {"type": "str", "default": "auto"},
    "plugins": {
        "type": "list",
        "elements": "dict",
        "options": {
            "library_path": {"type": "path", "required": True},
            "name": {"type": "str"},
            "init_config": {"type": "raw"},
            "open_params": {"type": "str"},
        },
    },
    "timeout": {"type": "int", "default": DEFAULT_TIMEOUT},
    "max_events": {"type": "int", "default": DEFAULT_MAX_EVENTS},
    "options": {"type": "list", "elements": "str", "default": []},
    "expected": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "rule": {"type": "str", "required": True},
            "capture": {"type": "str"},
            "fires": {"type": "bool", "default": True},
            "min_count": {"type": "int"},
            "max_count": {"type": "int"},
        },
    },
}


def main() -> None:
    module = NodesecModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    service = FalcoRulesTest(tmpdir=module.tmpdir)
    result = {}
    try:
        result = service.run(RulesTestParams.from_params(module.params))
    except RulesRefusedError as exc:
        module.fail_from_error(exc, changed=False, falco_message=exc.falco_message)
    except FalcoRunError as exc:
        module.fail_from_error(exc, changed=False, stderr=exc.stderr)
    except NodesecError as exc:
        module.fail_from_error(exc, changed=False)
    for warning in service.warnings:
        module.warn(warning)
    if result["failed_expectations"]:
        module.fail_json(msg=failure_message(result["expectations"]), changed=False, **result)
    fired = sum(len(c["rules"]) for c in result["captures"])
    module.exit_json(
        msg=f"{len(result['captures'])} capture(s) replayed: {fired} rule hit(s) by capture, "
        f"{len(result['expectations'])} expectation(s) held",
        changed=False,
        **result,
    )


if __name__ == "__main__":
    main()
