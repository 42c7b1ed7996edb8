"""nodesec.kubernetes.sysdig_capture capturing LIVE with the real sysdig 0.36.0 built here.

Debian 12's sysdig 0.29 cannot capture on these machines (no kernel module can be loaded, and
it has no modern eBPF probe). scripts/sysdig-build.sh builds sysdig 0.36.0 from the vendored
sources with the modern eBPF probe compiled in (cached: a warm call only prints its folder; a
cold one builds it, which is CI's job; the folder's ``env`` file names the binary and the .deb).

The module runs as Ansible runs it (ad-hoc, localhost as root, the json callback) with
``executable`` pointing at that binary. While it captures, ``docker exec`` runs ``/bin/echo a``
in a container started for the test, once as root and once as uid 4242; the capture, filtered on
that container by the module's ``container_id`` helper, must name ``proc.name=echo`` with both
uids, in the issue's format ``*%evt.time,%user.uid,%proc.name``.

Needs: root, Docker and the lab image nodesec-node:debian12 (scripts/build-images.sh); each test
skips with the reason when one is missing. Marked ``real_sysdig``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Iterator, List

import ansible_adhoc
import pytest
from builds import build_env_file, read_env

REPO = Path(__file__).resolve().parents[2]
IMAGE = "nodesec-node:debian12"
PROBE = "nodesec-sysdig-probe"
SEED_FORMAT = "*%evt.time,%user.uid,%proc.name"
DEBIAN_SYSDIG = Path("/usr/bin/sysdig")
DOCKER = shutil.which("docker")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.real_sysdig,
    pytest.mark.skipif(os.geteuid() != 0, reason="a live capture loads the eBPF probe: root only"),
]


@pytest.fixture(name="sysdig_build", scope="module")
def sysdig_build_fixture() -> Dict[str, str]:
    env = build_env_file("sysdig-build.sh")
    values = read_env(env)
    for key in ("SYSDIG", "DEB"):
        assert Path(values[key]).is_file(), f"{env}: {key}={values.get(key)} does not exist"
    return values


def docker(*args: str, check: bool = True, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([DOCKER or "docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


@pytest.fixture(name="probe_container")
def probe_container_fixture() -> Iterator[str]:
    """A container that sleeps (no network), its full id; removed afterwards."""
    if DOCKER is None:
        pytest.skip("docker is not installed")
    if docker("image", "inspect", IMAGE, check=False).returncode != 0:
        pytest.skip(f"image {IMAGE} is missing (scripts/build-images.sh debian12)")
    docker("rm", "-f", PROBE, check=False)
    run = docker("run", "-d", "--name", PROBE, "--network", "none", "--entrypoint", "/bin/sleep", IMAGE, "infinity")
    container_id = run.stdout.strip()
    try:
        yield container_id
    finally:
        docker("rm", "-f", PROBE, check=False)


def sysdig_running(marker: str) -> bool:
    """Whether this test's live capture runs: a sysdig with --modern-bpf and ``marker`` in its argv.

    (The module's offline validation runs carry the marker too, but read a file: no --modern-bpf.)
    """
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"sysdig") and b"--modern-bpf" in argv and any(marker.encode() in a for a in argv):
            return True
    return False


def test_version_and_driver_resolution(sysdig_build: Dict[str, str]) -> None:
    """The built binary is sysdig 0.36.0 and ``driver: auto`` picks its modern eBPF probe.

    Check mode runs no capture: the argv shows the driver auto resolved to. Debian's sysdig 0.29,
    when installed, has no modern probe, so auto leaves it to sysdig's default (the module).
    """
    version = subprocess.run([sysdig_build["SYSDIG"], "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == "sysdig version 0.36.0"
    res = ansible_adhoc.run_module(
        "sysdig_capture",
        {"executable": sysdig_build["SYSDIG"], "duration": 5, "filter": "proc.name=echo", "format": SEED_FORMAT},
        check=True,
    )
    assert not res.get("failed"), res
    assert res["driver"] == "modern_ebpf" and res["captured"] is False
    assert res["command"][:2] == [sysdig_build["SYSDIG"], "--modern-bpf"]
    assert res["filter_validated"] is True
    if DEBIAN_SYSDIG.is_file():
        old = ansible_adhoc.run_module(
            "sysdig_capture", {"executable": str(DEBIAN_SYSDIG), "duration": 5, "format": SEED_FORMAT}, check=True
        )
        assert not old.get("failed"), old
        assert old["driver"] == "kmod" and "--modern-bpf" not in old["command"]


def test_live_capture_names_echo_and_uid_in_container(sysdig_build: Dict[str, str], probe_container: str) -> None:
    """The issue's capture, live: which process ran in the container, and as which uid."""
    marker = f"nodesec-live-{uuid.uuid4().hex[:8]}"
    # A filter term no event matches, only to find this capture's process: sysdig gets it in argv.
    args = {
        "executable": sysdig_build["SYSDIG"],
        "container_id": probe_container,  # the full 64-hex id: the module shortens it to sysdig's 12
        "filter": f'not proc.name="{marker}"',
        "duration": 20,
        "format": SEED_FORMAT,
        "summary_fields": ["user.uid", "proc.name"],
    }
    execs: List[subprocess.CompletedProcess] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        capture = pool.submit(ansible_adhoc.run_module, "sysdig_capture", args, timeout=300)
        deadline = time.monotonic() + 60
        while not sysdig_running(marker):
            assert time.monotonic() < deadline and not capture.done(), (
                capture.result() if capture.done() else "sysdig did not start within 60 s"
            )
            time.sleep(0.2)
        time.sleep(5)  # the probe is attached once sysdig has opened its engine
        for user in ("0", "4242", "0", "4242"):
            execs.append(docker("exec", "-u", user, PROBE, "/bin/echo", "a"))
            time.sleep(1)
        res = capture.result()
    assert [e.stdout for e in execs] == ["a\n"] * 4
    assert not res.get("failed"), res
    assert res["driver"] == "modern_ebpf" and res["captured"] is True
    assert res["command"][:2] == [sysdig_build["SYSDIG"], "--modern-bpf"]
    assert f'container.id="{probe_container[:12]}"' in res["filter"]
    assert res["fields"] == ["evt.time", "user.uid", "proc.name"]
    assert res["unparsed_count"] == 0, res["unparsed_lines"]
    echoes = [e for e in res["events"] if e["proc.name"] == "echo"]
    assert {e["user.uid"] for e in echoes} == {"0", "4242"}, res["summary"]
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d\.\d{9}", e["evt.time"]) for e in echoes)
    # only the container's processes: not the capture's own tools on the host
    assert not {"sysdig", "ansible", "python3", "dockerd"} & {e["proc.name"] for e in res["events"]}
    counts = {(s["user.uid"], s["proc.name"]): s["count"] for s in res["summary"]}
    assert counts[("4242", "echo")] > 0 and counts[("0", "echo")] > 0
    print("\n".join(",".join(str(e[k]) for k in res["fields"]) for e in echoes[:10]))


def test_deb_installs_the_binary_and_the_chisels(sysdig_build: Dict[str, str], tmp_path: Path) -> None:
    """The .deb holds what the vendor's package holds (without the DKMS module sources)."""
    listing = subprocess.run(["dpkg-deb", "-c", sysdig_build["DEB"]], capture_output=True, text=True, check=True)
    paths = {line.split()[-1].lstrip(".") for line in listing.stdout.splitlines()}
    for want in ("/usr/bin/sysdig", "/usr/bin/csysdig", "/usr/share/sysdig/chisels/spy_users.lua"):
        assert want in paths
    assert not any(p.startswith("/usr/src/") for p in paths)
    fields = subprocess.run(["dpkg-deb", "-f", sysdig_build["DEB"]], capture_output=True, text=True, check=True)
    assert "Package: sysdig\nVersion: 0.36.0\n" in fields.stdout
    assert "dkms" not in fields.stdout.split("Description:")[0]
    subprocess.run(["dpkg-deb", "-x", sysdig_build["DEB"], str(tmp_path)], check=True)
    ldd = subprocess.run(["ldd", str(tmp_path / "usr/bin/sysdig")], capture_output=True, text=True, check=True)
    assert "not found" not in ldd.stdout
    assert str(tmp_path / "usr/bin/../lib/sysdig/") in ldd.stdout  # bundled, found through the RPATH


def test_kmod_without_module_says_to_use_the_modern_probe(sysdig_build: Dict[str, str]) -> None:
    """``driver: kmod`` where no module can be loaded: the failure names the modern eBPF probe."""
    if any(Path(d).exists() for d in ("/dev/scap0", "/dev/sysdig0")):
        pytest.skip("a kernel module device exists on this host")
    res = ansible_adhoc.run_module(
        "sysdig_capture",
        {"executable": sysdig_build["SYSDIG"], "driver": "kmod", "duration": 2, "filter": "proc.name=echo"},
    )
    assert res.get("failed") is True and res["driver_loaded"] is False, res
    assert "error opening device /dev/scap0" in res["sysdig_output"]
    assert "set driver: modern_ebpf" in res["msg"]
