"""Run one of our modules on localhost through the real `ansible` command line.

Integration tests drive modules the way users do (argument parsing, check and diff mode, the
JSON result Ansible prints), not by importing them. One helper for every test module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

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


class PlaybookResult:
    """An ``ansible-playbook`` run: return code, the JSON callback's result, stderr."""

    def __init__(self, proc: subprocess.CompletedProcess, seconds: float) -> None:
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.seconds = seconds
        try:
            self.json: Dict[str, Any] = json.loads(proc.stdout)
        except ValueError:
            self.json = {}

    @property
    def stats(self) -> Dict[str, Dict[str, int]]:
        """The recap: host -> {ok, changed, failures, rescued, ...}."""
        return self.json.get("stats", {})

    def messages(self) -> str:
        """Every ``msg`` the play printed (task results and loop items), one per line."""
        found: List[str] = []

        def walk(obj: Any) -> None:
            if isinstance(obj, dict):
                if isinstance(obj.get("msg"), str):
                    found.append(obj["msg"])
                for value in obj.values():
                    walk(value)
            elif isinstance(obj, list):
                for value in obj:
                    walk(value)

        walk(self.json.get("plays", []))
        return "\n".join(found)

    def explain(self) -> str:
        return f"rc={self.returncode}\n{self.messages()[-4000:]}\n{self.stderr[-2000:]}"


def run_playbook(
    playbook: str | Path,
    inventory: str | Path,
    extra_vars: Optional[List[Any]] = None,
    *,
    check: bool = False,
    diff: bool = False,
    limit: Optional[str] = None,
    env: Optional[Dict[str, str]] = None,
    timeout: int = 900,
) -> PlaybookResult:
    """Run ``ansible-playbook`` against this checkout; ``extra_vars``: dicts or ``@file`` paths."""
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook)]
    for item in extra_vars or []:
        cmd += ["-e", item if isinstance(item, str) else json.dumps(item)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if limit:
        cmd += ["--limit", limit]
    start = time.monotonic()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=ansible_env(env), cwd=REPO, timeout=timeout, check=False
    )
    return PlaybookResult(proc, time.monotonic() - start)
