"""Run one of our modules on localhost through the real `ansible` command line.

Integration tests drive modules the way users do (argument parsing, check and diff mode, the
JSON result Ansible prints), not by importing them. One helper for every test module.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ANSIBLE = str(BIN / "ansible")


def tool_env(
    *,
    config: Optional[Path] = None,
    collections: Optional[Path] = None,
    scrub_ansible_env: bool = False,
    scrub_k8s_env: bool = False,
) -> Dict[str, str]:
    """The one place that sets PATH, ANSIBLE_CONFIG and ANSIBLE_COLLECTIONS_PATH for the tests.

    PATH starts with this Python's bin folder (the venv: ansible, ansible-playbook, molecule).
    ``config``/``collections``: this checkout's ansible.cfg and .build/collections unless given
    (an installed copy of the collection, a configuration of its own); ``None`` values are left
    out when ``scrub_ansible_env`` removes every ANSIBLE_* variable of the caller first (a run that
    must not see the checkout). ``scrub_k8s_env``: no K8S_AUTH_* and no KUBECONFIG.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not (scrub_ansible_env and k.startswith("ANSIBLE_"))
        and not (scrub_k8s_env and (k.startswith("K8S_AUTH_") or k == "KUBECONFIG"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    if config is not None or not scrub_ansible_env:
        env["ANSIBLE_CONFIG"] = str(config or REPO / "ansible.cfg")
    if collections is not None or not scrub_ansible_env:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections or REPO / ".build" / "collections")
    return env


def ansible_env(extra: Optional[Dict[str, str]] = None, scrub_k8s_env: bool = False) -> Dict[str, str]:
    """The environment for an `ansible` run against this checkout, JSON on stdout."""
    return {
        **tool_env(scrub_k8s_env=scrub_k8s_env),
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

    def task_results(self, name: str, host: str) -> List[Dict[str, Any]]:
        """The results of every task called ``name`` (as the play names it, role prefix or not) on ``host``."""
        found: List[Dict[str, Any]] = []
        for play in self.json.get("plays", []):
            for task in play.get("tasks", []):
                task_name = task.get("task", {}).get("name", "")
                if (task_name == name or task_name.endswith(" : " + name)) and host in task.get("hosts", {}):
                    found.append(task["hosts"][host])
        return found

    def explain(self) -> str:
        return f"rc={self.returncode}\n{self.messages()[-4000:]}\n{self.stderr[-2000:]}"


def _playbook_cmd(
    playbook: str | Path,
    inventory: str | Path,
    extra_vars: Optional[List[Any]],
    check: bool,
    diff: bool,
    limit: Optional[str],
) -> List[str]:
    cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)]
    for item in extra_vars or []:
        cmd += ["-e", item if isinstance(item, str) else json.dumps(item)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if limit:
        cmd += ["--limit", limit]
    return cmd


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
    cmd = _playbook_cmd(playbook, inventory, extra_vars, check, diff, limit)
    start = time.monotonic()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=ansible_env(env), cwd=REPO, timeout=timeout, check=False
    )
    return PlaybookResult(proc, time.monotonic() - start)


class RunningPlaybook:
    """An ``ansible-playbook`` started in its own process group (``start_playbook``)."""

    def __init__(self, cmd: List[str], env: Dict[str, str]) -> None:
        self.start = time.monotonic()
        # Pipes are enough: the JSON callback prints the whole result at the end of the play.
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the play and every process it started on the controller."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def wait(self, timeout: int = 900) -> PlaybookResult:
        out, err = self.proc.communicate(timeout=timeout)
        seconds = time.monotonic() - self.start
        return PlaybookResult(subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err), seconds)


def start_playbook(
    playbook: str | Path,
    inventory: str | Path,
    extra_vars: Optional[List[Any]] = None,
    *,
    env: Optional[Dict[str, str]] = None,
) -> RunningPlaybook:
    """Start ``ansible-playbook`` as ``run_playbook`` runs it, without waiting for it."""
    return RunningPlaybook(_playbook_cmd(playbook, inventory, extra_vars, False, False, None), ansible_env(env))
