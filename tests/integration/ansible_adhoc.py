"""Run one of our modules on localhost through the real `ansible` command line.

Integration tests drive modules the way users do (argument parsing, check and diff mode, the
JSON result Ansible prints), not by importing them. One helper for every test module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = str(Path(sys.executable).parent / "ansible")


def ansible_env(extra: Optional[Dict[str, str]] = None, scrub_k8s_env: bool = False) -> Dict[str, str]:
    """The environment for an `ansible` run against this checkout, JSON on stdout."""
    base = {
        k: v for k, v in os.environ.items() if not (scrub_k8s_env and (k.startswith("K8S_AUTH_") or k == "KUBECONFIG"))
    }
    return {
        **base,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build" / "collections"),
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "ANSIBLE_NOCOLOR": "1",
        **(extra or {}),
    }


def run_module(
    module: str,
    args: Dict[str, Any],
    *,
    check: bool = False,
    diff: bool = False,
    env: Optional[Dict[str, str]] = None,
    scrub_k8s_env: bool = False,
    timeout: int = 300,
) -> Dict[str, Any]:
    """Run ``nodesec.kubernetes.<module>`` with ``args``; return localhost's result.

    The raw JSON that Ansible printed is kept under ``_raw`` (tests check what reaches logs).
    """
    cmd = [
        ANSIBLE,
        "localhost",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "-m",
        f"nodesec.kubernetes.{module}",
        "-a",
        json.dumps(args),
    ]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=ansible_env(env, scrub_k8s_env),
        cwd=REPO,
        timeout=timeout,
        check=False,
    )
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"ansible printed no JSON (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result = out["plays"][0]["tasks"][0]["hosts"]["localhost"]
    result["_raw"] = proc.stdout
    return result
