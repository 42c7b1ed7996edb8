"""The sysdig role's renamed variables through the real ansible-playbook (localhost, no node).

The old names (sysdig_vendor_*, sysdig_package_file_dest_dir) still set the new ones for one
release, with a deprecation warning naming the new name; the new name wins when both are set;
without either the documented defaults hold and nothing is deprecated. The play runs the real
role with ``--check --tags nodesec-none``: only its ``always`` setup tasks run (among them the
warning), nothing is installed.
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

RENAMED = {
    "sysdig_vendor_repo_url": "sysdig_repo_url",
    "sysdig_vendor_repo_suite": "sysdig_repo_suite",
    "sysdig_vendor_key_url": "sysdig_repo_key_url",
    "sysdig_vendor_key_content": "sysdig_repo_key_content",
    "sysdig_vendor_keyring": "sysdig_repo_keyring",
    "sysdig_package_file_dest_dir": "sysdig_package_file_dir",
}


def run(tmp_path: Path, play_vars: dict) -> tuple[dict, str]:
    out = tmp_path / "out.json"
    saved = "{" + ", ".join(f"'{new}': {new}" for new in RENAMED.values()) + "}"
    playbook = [
        {
            "name": "Renamed sysdig variables",
            "hosts": "localhost",
            "gather_facts": False,
            "vars": play_vars,
            "tasks": [
                {
                    "name": "Facts the role reads",
                    "ansible.builtin.setup": {"gather_subset": ["min"]},
                    "tags": ["always"],
                },
                {
                    "name": "The role's setup tasks",
                    "ansible.builtin.include_role": {"name": "nodesec.kubernetes.sysdig", "public": True},
                    "tags": ["always"],
                },
                {
                    "name": "Save",
                    "ansible.builtin.copy": {
                        "content": "{{ {'values': " + saved + ", 'renamed': __sysdig_renamed.renamed,"
                        " 'arch': __sysdig_deb_arch} | to_json }}",
                        "dest": str(out),
                    },
                    "check_mode": False,
                    "tags": ["always"],
                },
            ],
        }
    ]
    (tmp_path / "play.yml").write_text(json.dumps(playbook))
    proc = subprocess.run(
        [
            ANSIBLE_PLAYBOOK,
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "--check",
            "--tags",
            "nodesec-none",
            str(tmp_path / "play.yml"),
        ],
        capture_output=True,
        text=True,
        env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_DEPRECATION_WARNINGS": "true"}),
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text()), " ".join((proc.stdout + proc.stderr).split())


def test_old_names_still_set_the_new_ones_with_a_deprecation_warning(tmp_path):
    old_values = {old: f"/from/{old}" for old in RENAMED}
    result, output = run(tmp_path, old_values)
    assert result["values"] == {new: old_values[old] for old, new in RENAMED.items()}
    assert result["renamed"] == RENAMED
    assert output.count("[DEPRECATION WARNING]") >= len(RENAMED), output
    for old, new in RENAMED.items():
        assert f"The variable {old} is deprecated: it is now called {new}" in output, old
    assert "0.3.0" in output


def test_the_new_name_wins_when_both_are_set(tmp_path):
    result, output = run(
        tmp_path, {"sysdig_vendor_repo_url": "http://old.invalid", "sysdig_repo_url": "http://new.invalid"}
    )
    assert result["values"]["sysdig_repo_url"] == "http://new.invalid"
    assert result["renamed"] == {"sysdig_vendor_repo_url": "sysdig_repo_url"}
    assert "The variable sysdig_vendor_repo_url is deprecated" in output


def test_without_old_names_the_defaults_hold_and_nothing_is_deprecated(tmp_path):
    result, output = run(tmp_path, {})
    assert result["values"] == {
        "sysdig_repo_url": "https://download.sysdig.com/stable/deb",
        "sysdig_repo_suite": f"stable-{result['arch']}/",
        "sysdig_repo_key_url": "https://download.sysdig.com/DRAIOS-GPG-KEY.public",
        "sysdig_repo_key_content": "",
        "sysdig_repo_keyring": "/etc/apt/keyrings/sysdig.asc",
        "sysdig_package_file_dir": "/var/cache/nodesec",
    }
    assert result["renamed"] == {}
    assert "DEPRECATION" not in output
