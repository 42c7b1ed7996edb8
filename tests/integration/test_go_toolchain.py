"""scripts/lib/go-toolchain.sh: Go for our build scripts on a machine without Go.

With no `go` on PATH the script fetches the pinned toolchain module from the Go module proxy
(GOPROXY, or Go's default), checks its SHA-256, unpacks it into the nodesec cache and puts it
on PATH; the first test does that for real (once per machine: later runs find the cache) and
builds and runs a program with it. The others use stand-ins, named as such: a local file://
GOPROXY serving a zip with the wrong checksum, and fake `go` commands that only report a
version, to show which Go the script picks.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "lib" / "go-toolchain.sh"
XDG_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
CACHE = Path(os.environ.get("NODESEC_CACHE", XDG_CACHE / "nodesec"))


def _pinned() -> str:
    for line in SCRIPT.read_text().splitlines():
        if line.startswith("NODESEC_GO_VERSION="):
            return line.split("=", 1)[1]
    raise AssertionError("NODESEC_GO_VERSION not found in go-toolchain.sh")


def _path_without_go() -> str:
    """PATH minus every folder that holds a `go` command."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / "go").exists()]
    return os.pathsep.join(dirs)


def _run(env: dict, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=900, check=False
    )


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("GOROOT", "NODESEC_GO_FORCE")}
    env["PATH"] = _path_without_go()
    env.update(extra)
    return env


def test_no_go_on_path_fetches_the_pinned_toolchain_and_builds(tmp_path: Path) -> None:
    env = _env()
    assert subprocess.run(["bash", "-c", "command -v go"], env=env, capture_output=True, check=False).returncode != 0
    proc = _run(env)
    assert proc.returncode == 0, proc.stderr
    bindir = Path(proc.stdout.strip().splitlines()[-1])
    assert bindir == CACHE / f"go-{_pinned()}" / "bin"
    go = str(bindir / "go")
    version = subprocess.run([go, "version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith(f"go version go{_pinned()} linux/amd64"), version
    goroot = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, check=True, env=env).stdout
    assert goroot.strip() == str(bindir.parent)
    # A real build with it: a module with one main package, built and run.
    (tmp_path / "go.mod").write_text("module example.invalid/hello\n\ngo 1.25\n")
    (tmp_path / "main.go").write_text('package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from go") }\n')
    build_env = {**env, "PATH": f"{bindir}{os.pathsep}{env['PATH']}", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    subprocess.run([go, "build", "-o", "hello", "."], cwd=tmp_path, env=build_env, check=True, timeout=600)
    out = subprocess.run([str(tmp_path / "hello")], capture_output=True, text=True, check=True).stdout
    assert out == "hello from go\n"
    # A second call finds the cache: nothing is fetched.
    again = _run(env)
    assert again.returncode == 0 and "fetching" not in again.stderr, again.stderr


def test_a_zip_with_the_wrong_checksum_is_refused(tmp_path: Path) -> None:
    """Stand-in proxy: a file:// GOPROXY serving a zip that is not the pinned one."""
    version = _pinned()
    served = tmp_path / "proxy" / "golang.org" / "toolchain" / "@v" / f"v0.0.1-go{version}.linux-amd64.zip"
    served.parent.mkdir(parents=True)
    served.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip archive
    cache = tmp_path / "cache"
    proc = _run(_env(GOPROXY=f"file://{tmp_path / 'proxy'}", NODESEC_CACHE=str(cache)))
    assert proc.returncode != 0
    assert "SHA-256" in proc.stderr and "expected" in proc.stderr and "nothing unpacked" in proc.stderr, proc.stderr
    assert not (cache / f"go-{version}").exists()


def test_no_reachable_proxy_is_a_clear_error(tmp_path: Path) -> None:
    proc = _run(_env(GOPROXY="off", NODESEC_CACHE=str(tmp_path / "cache")))
    assert proc.returncode != 0
    assert "could not fetch the Go toolchain module" in proc.stderr and "GOPROXY" in proc.stderr, proc.stderr


def _fake_go(folder: Path, goversion: str) -> Path:
    """Stand-in `go` that only answers `go env GOVERSION`."""
    folder.mkdir(parents=True)
    fake = folder / "go"
    fake.write_text(f'#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo {goversion} && exit 0\nexit 3\n')
    fake.chmod(0o755)
    return folder


def test_a_recent_go_on_path_is_used_as_it_is(tmp_path: Path) -> None:
    fake = _fake_go(tmp_path / "recent", "go1.26.0")
    proc = _run(_env(PATH=f"{fake}{os.pathsep}{_path_without_go()}", NODESEC_CACHE=str(tmp_path / "cache")))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(fake)
    assert not (tmp_path / "cache").exists()


def test_an_old_go_on_path_gives_way_to_the_pinned_one(tmp_path: Path) -> None:
    fake = _fake_go(tmp_path / "old", "go1.22.5")
    proc = _run(_env(PATH=f"{fake}{os.pathsep}{_path_without_go()}"))
    assert proc.returncode == 0, proc.stderr
    assert "go1.22.5 on PATH is older than 1.25" in proc.stderr
    assert proc.stdout.strip() == str(CACHE / f"go-{_pinned()}" / "bin")
