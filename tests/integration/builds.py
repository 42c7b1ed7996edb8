"""The programs our build scripts make from ../shared/vendor (scripts/falco-build.sh,
scripts/sysdig-build.sh), as the tests that run them find them: the script is run (a warm call
only prints its output folder; a cold one builds, which is why the timeout is long) and the
folder's ``env`` file (``KEY=path`` lines) names what it built."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Dict

REPO = Path(__file__).resolve().parents[2]


def build_env_file(script: str) -> Path:
    """scripts/<script> run to its end: the ``env`` file of the folder it prints last."""
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / script)], capture_output=True, text=True, check=False, timeout=7200
    )
    assert proc.returncode == 0, f"scripts/{script} failed:\n{proc.stderr[-3000:]}"
    folder = Path(proc.stdout.strip().splitlines()[-1])
    env = folder / "env"
    assert env.is_file(), f"no env file in {folder}"
    return env


def read_env(path: Path) -> Dict[str, str]:
    """An ``env`` file's ``KEY=value`` lines (values may be double-quoted)."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v.strip('"') for k, v in pairs}


def build_env(script: str) -> Dict[str, str]:
    """What scripts/<script> built, by its ``env`` file's keys."""
    return read_env(build_env_file(script))
