"""An execution environment (AWX, Automation Platform) can be built with this collection.

No image is built here (no container registry is reachable for a base image). What ansible-builder
does without one is tested instead:

- ``ansible-builder create`` on an execution-environment definition that installs our built
  archive (the way an air-gapped user would: the archive copied into the build context) writes
  a complete build context: Containerfile, the galaxy requirements, the archive, the scripts;
- the dependency discovery that the image's builder stage runs (``introspect.py introspect``,
  the very script that ``create`` put into the context) over the archive installed with
  kubernetes.core (scripts/build-check.sh) finds our meta/execution-environment.yml,
  requirements.txt and bindep.txt beside kubernetes.core's;
- pip resolves the merged Python requirements (a dry run against the package index).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_adhoc import BIN, tool_env

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(built_collection: Path) -> Path:
    """The built archive and its installed copy (the session-wide build-check run)."""
    return built_collection


def _core_pin() -> str:
    pins = (REPO / "test-requirements.txt").read_text().splitlines()
    return next(line for line in pins if line.startswith("ansible-core=="))


def test_ansible_builder_create_writes_a_complete_context(built: Path, tmp_path: Path) -> None:
    (archive,) = (built / "dist").glob("nodesec-kubernetes-*.tar.gz")
    definition = {
        "version": 3,
        "images": {"base_image": {"name": "localhost/nodesec/ee-base:latest"}},
        "dependencies": {
            "ansible_core": {"package_pip": _core_pin()},
            "ansible_runner": {"package_pip": "ansible-runner"},
            "galaxy": {"collections": [{"name": f"/build/collections/{archive.name}", "type": "file"}]},
        },
        "additional_build_files": [{"src": str(archive), "dest": "collections"}],
        "additional_build_steps": {"prepend_galaxy": ["COPY _build/collections/ /build/collections/"]},
    }
    (tmp_path / "execution-environment.yml").write_text(yaml.safe_dump(definition, sort_keys=False))
    proc = subprocess.run(
        [
            str(BIN / "ansible-builder"),
            "create",
            "-f",
            "execution-environment.yml",
            "-c",
            "context",
            "--output-filename",
            "Containerfile",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=tool_env(),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ctx = tmp_path / "context"
    containerfile = (ctx / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="localhost/nodesec/ee-base:latest"' in containerfile
    assert f'ARG ANSIBLE_INSTALL_REFS="{_core_pin()} ansible-runner"' in containerfile
    # The archive goes in before the galaxy step that installs it (and its dependency).
    copy = containerfile.index("COPY _build/collections/ /build/collections/")
    install = containerfile.index("ansible-galaxy collection install")
    assert copy < install and "-r requirements.yml" in containerfile[install:].splitlines()[0]
    # The builder stage discovers the collections' Python and system requirements, the final
    # stage installs the system ones.
    assert re.search(r"introspect\.py introspect .*--write-bindep=\S+ .*--write-pip=\S+", containerfile)
    assert "/output/scripts/install-from-bindep" in containerfile
    galaxy = yaml.safe_load((ctx / "_build" / "requirements.yml").read_text())
    assert galaxy == {"collections": [{"name": f"/build/collections/{archive.name}", "type": "file"}]}
    copied = ctx / "_build" / "collections" / archive.name
    assert copied.read_bytes() == archive.read_bytes()
    for script in ("introspect.py", "assemble", "install-from-bindep", "check_galaxy", "pip_install"):
        assert (ctx / "_build" / "scripts" / script).is_file(), script

    # The builder stage's discovery, run here on the archive installed with kubernetes.core.
    pip_out, bindep_out = tmp_path / "requirements.txt", tmp_path / "bindep.txt"
    proc = subprocess.run(
        [
            sys.executable,
            str(ctx / "_build" / "scripts" / "introspect.py"),
            "introspect",
            f"--write-bindep={bindep_out}",
            f"--write-pip={pip_out}",
            str(built / "collections"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pip_lines = pip_out.read_text().splitlines()
    bindep_lines = bindep_out.read_text().splitlines()
    assert "kubernetes>=24.2.0  # from collection nodesec.kubernetes" in pip_lines
    assert any(line.endswith("# from collection kubernetes.core") for line in pip_lines), pip_lines
    assert "helm [platform:fedora]  # from collection nodesec.kubernetes" in bindep_lines
    assert any(line.endswith("# from collection kubernetes.core") for line in bindep_lines), bindep_lines

    # The merged Python requirements resolve (pip's dry run, nothing installed).
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q", "-r", str(pip_out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
