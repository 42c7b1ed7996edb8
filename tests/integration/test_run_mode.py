"""The run_mode action plugin through the real ansible-playbook, in every way check mode is set.

``ansible_check_mode`` is only true with ``--check``; run_mode must also see ``check_mode: true``
on the play, on a block around include_role (which takes no check_mode itself), and on the
import_role task, and ``check_mode:
false`` that overrides ``--check``. Runs on localhost with the local connection (no node needed).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_adhoc import REPO, ansible_env

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")

pytestmark = pytest.mark.integration

ROLE_TASKS = """\
- name: Probe
  nodesec.kubernetes.run_mode:
  register: probe
- name: Record
  ansible.builtin.set_fact:
    seen: "{{ (seen | default({})) | combine({label: probe.check_mode}) }}"
"""

PLAYBOOK = """\
- name: No check_mode on the play
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Plain task
      nodesec.kubernetes.run_mode:
      register: plain
    - name: Block with check_mode true
      check_mode: true
      block:
        - name: In the block
          nodesec.kubernetes.run_mode:
          register: in_block
    - name: Task with check_mode false
      nodesec.kubernetes.run_mode:
      check_mode: false
      register: forced_off
    - name: Role included in a block with check_mode true
      check_mode: true
      block:
        - name: Include it
          ansible.builtin.include_role:
            name: probe
          vars:
            label: include_role
    - name: Role imported with check_mode true
      ansible.builtin.import_role:
        name: probe
      vars:
        label: import_role
      check_mode: true
    - name: Role included without check_mode
      ansible.builtin.include_role:
        name: probe
      vars:
        label: include_role_plain
    - name: Save
      ansible.builtin.copy:
        content: "{{ {'plain': plain.check_mode, 'block': in_block.check_mode, 'forced_off': forced_off.check_mode,
          'diff': plain.diff_mode, 'ansible_check_mode': ansible_check_mode, 'roles': seen} | to_json }}"
        dest: "{{ out }}"
      check_mode: false
      diff: false

- name: check_mode true on the play
  hosts: localhost
  gather_facts: false
  check_mode: true
  tasks:
    - name: Probe
      nodesec.kubernetes.run_mode:
      register: probe
    - name: Save
      ansible.builtin.copy:
        content: "{{ {'play': probe.check_mode, 'ansible_check_mode': ansible_check_mode} | to_json }}"
        dest: "{{ out }}.play"
      check_mode: false
"""


def run(tmp_path: Path, *cli: str) -> tuple:
    role = tmp_path / "roles" / "probe" / "tasks"
    role.mkdir(parents=True, exist_ok=True)
    (role / "main.yml").write_text(ROLE_TASKS)
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [
            ANSIBLE_PLAYBOOK,
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"out={out}",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            *cli,
            str(tmp_path / "play.yml"),
        ],
        capture_output=True,
        text=True,
        env=ansible_env({"ANSIBLE_ROLES_PATH": str(tmp_path / "roles"), "ANSIBLE_STDOUT_CALLBACK": "default"}),
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text()), json.loads(Path(f"{out}.play").read_text())


# (ansible-playbook options, what the first play records, what the check_mode-true play records)
CASES = {
    "without --check": (
        (),
        {
            "plain": False,
            "block": True,
            "forced_off": False,
            "diff": False,
            "ansible_check_mode": False,
            "roles": {"include_role": True, "import_role": True, "include_role_plain": False},
        },
        # The case the two-task probe existed for: ansible_check_mode misses play-level check mode.
        {"play": True, "ansible_check_mode": False},
    ),
    "with --check --diff": (
        ("--check", "--diff"),
        {
            "plain": True,
            "block": True,
            "forced_off": False,
            "diff": True,
            "ansible_check_mode": True,
            "roles": {"include_role": True, "import_role": True, "include_role_plain": True},
        },
        {"play": True, "ansible_check_mode": True},
    ),
}


@pytest.mark.parametrize(("cli", "expected_main", "expected_play"), list(CASES.values()), ids=list(CASES))
def test_run_mode_sees_the_effective_check_mode(tmp_path, cli, expected_main, expected_play):
    main, play = run(tmp_path, *cli)
    assert main == expected_main
    assert play == expected_play
