# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet scaling of site.yml's node roles: playbooks/sysdig.yml then playbooks/falco.yml.

For each fleet size N: N lab nodes (Docker containers of the locally built nodesec-node image,
systemd as PID 1, host network, reached with community.docker.docker), named
``nodesec-fleet-<i>`` and labelled ``org.nodesec.bench=fleet``; then, with ``--forks N``:

1. (``--probe``) a transport probe: five ``ping`` tasks and one ``command``, the fixed cost of one
   task on N hosts, with each transport (unpipelined, lab, tuned);
2. the first converge, ``ansible-playbook playbooks/sysdig.yml playbooks/falco.yml`` (the node
   plays of playbooks/site.yml, in its order), the real Falco package of scripts/falco-build.sh
   installed as the lab does (``NODESEC_FALCO_DEB``, falco_install_method package_file);
3. the fleet at rest for ``--idle-sample`` s: the nodes' CPU (Falco's, when it runs);
4. the re-run of the same command: its wall time and ``changed`` (must be 0 on every host);
5. the nodes removed (only containers named nodesec-fleet-<i> that carry the label).

Variants (``--variants``): ``service`` is the default path (Falco's unit started, /healthz
waited for); ``masked`` masks falco-modern-bpf.service on the nodes before the converge and sets
falco_service_manage=false: Falco installed, rules validated (falco -V) and configured, no
service (20 eBPF Falcos on one 2-core machine each process every syscall of the host).
Transports (``--transports``): ``lab`` is what inventories/lab*/hosts.yml and ansible.cfg do
(``ansible_user: root``, pipelining on since 3 Dec 2026); ``tuned`` also drops ansible_user;
``unpipelined`` is the lab before that change (``ansible_user: root``, pipelining off).

Every run records its wall time, a timing callback's per-task and per-host times (grouped into
phases: facts, apt, package copy and install, controller rules check, falco -V, Falco start and
health, other tasks), the CPU of the controller (ansible-playbook and the docker CLIs it runs),
of the Docker daemons (dockerd, containerd and the shims with their runc children), of the
nodes (their cgroups) and of the whole host, and the load average. ``--json`` writes it all
(``--append`` adds to an existing file); a Markdown table is printed.

    nice -n 5 .venv/bin/python bench/fleet_bench.py --sizes 1 5 10 20 --probe \\
        --json bench/results/fleet.json
    .venv/bin/python bench/fleet_bench.py --sizes 1 5 --dry-run     # print the plan only
    .venv/bin/python bench/fleet_bench.py --down                    # remove leftover nodes
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("NODESEC_CACHE", Path.home() / ".cache" / "nodesec"))
LABEL = "org.nodesec.bench=fleet"
NAME_RE = re.compile(r"^nodesec-fleet-\d+$")
PORT_BASE = 19100  # Falco's webserver: one loopback port per node (host network)
FALCO_UNIT = "falco-modern-bpf.service"
PLAYBOOKS = ["playbooks/sysdig.yml", "playbooks/falco.yml"]  # site.yml's node plays, in order
CLK = os.sysconf("SC_CLK_TCK")

# Task name (as the timing callback records it, "role : name") -> phase; first match wins.
PHASES: List[Tuple[str, str]] = [
    ("facts", r"^Gathering Facts$"),
    ("apt index", r"Refresh the apt package index"),
    ("sysdig install", r"Install the distribution's sysdig package|Ask apt whether the distribution"),
    ("sysdig verify", r"Read the sysdig (version|field list)"),
    ("falco package copy", r"Copy the package file to the node"),
    ("falco package install", r"Install the package file"),
    (
        "falco rules check (controller)",
        r"Check the whole ordered rule set on the controller|rules files we do not manage",
    ),
    ("falco -V", r"Run falco -V"),
    (
        "falco start + health",
        r"Restart Falco|Check that Falco is running|Wait until Falco reports ready|Read the state of the Falco unit"
        r"|Enable and start the Falco unit|Gather the systemd units|Falco unit to settle|units of the other drivers"
        r"|falcoctl's automatic",
    ),
    ("other tasks", r""),
]

# An aggregate callback: per task its start, per host its start, end, status and changed; the
# play recap per host. Written as JSON to $NODESEC_FLEET_TIMING at the end of the playbook run.
TIMING_CALLBACK = """
import json, os, time
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "nodesec_fleet_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.tasks, self.play, self.current, self.t0 = [], "", None, time.time()

    def v2_playbook_on_play_start(self, play):
        self.play = play.get_name()

    def _task(self, task, handler):
        self.current = {"name": task.get_name(), "action": task.action, "play": self.play,
                        "handler": handler, "start": time.time(), "hosts": {}}
        self.tasks.append(self.current)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task(task, False)

    def v2_playbook_on_handler_task_start(self, task):
        self._task(task, True)

    def v2_runner_on_start(self, host, task):
        if self.current is not None:
            self.current["hosts"].setdefault(host.get_name(), {})["start"] = time.time()

    def _end(self, result, status):
        if self.current is None:
            return
        h = self.current["hosts"].setdefault(result._host.get_name(), {})
        h["end"] = time.time()
        h["status"] = status
        h["changed"] = bool(result._result.get("changed"))

    def v2_runner_on_ok(self, result):
        self._end(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._end(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._end(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._end(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        recap = {h: stats.summarize(h) for h in sorted(stats.processed)}
        with open(os.environ["NODESEC_FLEET_TIMING"], "w") as fh:
            json.dump({"t0": self.t0, "t_end": time.time(), "tasks": self.tasks, "recap": recap}, fh)
"""

PROBE_PLAYBOOK = [
    {
        "name": "Transport probe",
        "hosts": "nodes",
        "gather_facts": False,
        "tasks": [{"name": f"Ping {i}", "ansible.builtin.ping": {}} for i in range(1, 6)]
        + [{"name": "Run a command", "ansible.builtin.command": {"argv": ["/bin/true"]}, "changed_when": False}],
    }
]


# -- the host's figures ---------------------------------------------------------------------


def host_busy_s() -> Tuple[float, float]:
    """(busy, total) CPU seconds of the whole host so far, from /proc/stat."""
    with open("/proc/stat") as fh:
        f = [int(x) for x in fh.readline().split()[1:]]
    idle = f[3] + (f[4] if len(f) > 4 else 0)
    return (sum(f) - idle) / CLK, sum(f) / CLK


def proc_cpu_with_children(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        f = fh.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in f[11:15]) / CLK  # utime stime cutime cstime


def daemon_cpu_s() -> float:
    """CPU of dockerd, containerd and the shims (with the runc processes they waited for)."""
    total = 0.0
    for comm in glob.glob("/proc/[0-9]*/comm"):
        try:
            name = Path(comm).read_text().strip()
            if name in ("dockerd", "containerd") or name.startswith("containerd-shim"):
                total += proc_cpu_with_children(int(Path(comm).parent.name))
        except (OSError, ValueError):
            continue
    return total


def container_cgroup(cid: str) -> Optional[Path]:
    for pattern in (
        f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage",
        f"/sys/fs/cgroup/cpu,cpuacct/docker/{cid}/cpuacct.usage",
        f"/sys/fs/cgroup/cpuacct/system.slice/docker-{cid}.scope/cpuacct.usage",
        f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat",
        f"/sys/fs/cgroup/docker/{cid}/cpu.stat",
    ):
        if os.path.exists(pattern):
            return Path(pattern)
    return None


def cgroup_cpu_s(path: Optional[Path]) -> float:
    if path is None:
        return 0.0
    text = path.read_text()
    if path.name == "cpu.stat":  # cgroup v2: usage_usec
        return int(text.split("usage_usec", 1)[1].split()[0]) / 1e6
    return int(text) / 1e9


class Meter:
    """CPU of the controller, the Docker daemons, the nodes and the host over a span of time."""

    def __init__(self, cgroups: List[Optional[Path]]):
        self.cgroups = cgroups

    def read(self) -> Dict[str, float]:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy, total = host_busy_s()
        return {
            "t": time.perf_counter(),
            "controller": ru.ru_utime + ru.ru_stime,
            "daemons": daemon_cpu_s(),
            "nodes": sum(cgroup_cpu_s(c) for c in self.cgroups),
            "host_busy": busy,
            "host_total": total,
        }

    @staticmethod
    def delta(a: Dict[str, float], b: Dict[str, float]) -> Dict[str, float]:
        d = {k: b[k] - a[k] for k in a}
        wall = d.pop("t")
        d.pop("host_total")
        d["others"] = max(0.0, d["host_busy"] - d["controller"] - d["daemons"] - d["nodes"])
        return {"wall": wall, **{f"cpu_{k}": round(v, 2) for k, v in d.items()}}


def loadavg() -> List[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- nodes ----------------------------------------------------------------------------------


def docker(*args: str, check: bool = True, capture: bool = True) -> str:
    proc = subprocess.run(["docker", *args], capture_output=capture, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {shlex.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout if capture else ""


def node_name(i: int) -> str:
    return f"nodesec-fleet-{i}"


def run_argv(i: int, image: str) -> List[str]:
    """The lab node's docker run, with what Falco needs (as molecule/falco/molecule.yml)."""
    return [
        "run", "-d", "--name", node_name(i), "--hostname", f"fleet-{i}", "--label", LABEL,
        "--network", "host", "--cgroupns", "host", "--cap-add", "SYS_ADMIN", "--cap-add", "SYS_PTRACE",
        "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "-v", "/proc:/host/proc:ro",
        "-v", "/var/run/docker.sock:/host/var/run/docker.sock",
        "--tmpfs", "/run", "--tmpfs", "/run/lock", "--stop-signal", "SIGRTMIN+3", image,
    ]  # fmt: skip


def ours() -> List[str]:
    """Names of the fleet containers that exist: named nodesec-fleet-<i> AND labelled by this bench."""
    out = docker("ps", "-a", "--filter", f"label={LABEL}", "--format", "{{.Names}}")
    return [n for n in out.split() if NAME_RE.match(n)]


def nodes_down() -> None:
    names = ours()
    if names:
        docker("rm", "-f", *names)
        print(f"[fleet] removed {len(names)} nodes", file=sys.stderr)


def nodes_up(n: int, image: str, mask_falco: bool, boot_timeout: float = 180) -> Tuple[float, List[str]]:
    """Start n nodes; wait until systemd has booted in each. Returns (seconds, container ids)."""
    start = time.perf_counter()
    ids = [docker(*run_argv(i, image)).strip() for i in range(1, n + 1)]

    def booted(i: int) -> None:
        deadline = time.monotonic() + boot_timeout
        state = ""
        while time.monotonic() < deadline:
            proc = subprocess.run(
                ["docker", "exec", node_name(i), "systemctl", "is-system-running"],
                capture_output=True,
                text=True,
                check=False,
            )
            state = proc.stdout.strip()
            if state in ("running", "degraded"):
                if mask_falco:  # postinst's `systemctl start` then fails quietly (`|| true`)
                    docker("exec", node_name(i), "systemctl", "mask", FALCO_UNIT)
                return
            time.sleep(1)
        raise RuntimeError(f"{node_name(i)}: systemd did not boot within {boot_timeout:.0f}s (state {state!r})")

    with ThreadPoolExecutor(max_workers=min(n, 8)) as pool:
        list(pool.map(booted, range(1, n + 1)))
    return time.perf_counter() - start, ids


def ports_in_use(ports: List[int]) -> List[int]:
    out = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True, check=False).stdout
    used = {int(m) for m in re.findall(r":(\d+)\s", out)}
    return [p for p in ports if p in used]


# -- inventory and runs ---------------------------------------------------------------------


def falco_deb(given: Optional[str]) -> str:
    """The Falco package: --falco-deb, $NODESEC_FALCO_DEB, or DEB= of the newest cached build's env."""
    if given or os.environ.get("NODESEC_FALCO_DEB"):
        return str(given or os.environ["NODESEC_FALCO_DEB"])
    found = []
    for env in glob.glob(str(CACHE / "falco-*" / "env")):
        for line in Path(env).read_text().splitlines():
            if line.startswith("DEB=") and Path(line[4:]).is_file():
                found.append((Path(env).stat().st_mtime, line[4:]))
    if not found:
        raise SystemExit(f"no Falco package: no {CACHE}/falco-*/env with DEB= (scripts/falco-build.sh), no --falco-deb")
    return max(found)[1]


def inventory(n: int, deb: str, variant: str, transport: str) -> Dict[str, Any]:
    """Like inventories/lab-kubeadm: the package file, modern eBPF, the example rules; Sysdig from Debian 12."""
    example = yaml.safe_load((REPO / "playbooks" / "vars" / "falco_example.yml").read_text())
    node_vars: Dict[str, Any] = {
        "ansible_connection": "community.docker.docker",
        "ansible_python_interpreter": "/usr/bin/python3",
        "falco_install_method": "package_file",
        "falco_package_file": deb,
        "falco_driver": "modern_ebpf",
        "falco_service_manage": variant == "service",
        "falco_service_environment": {"HOST_ROOT": "/host"},
        "falco_json_output": True,
        "falco_priority": "notice",
        "falco_file_output": {"enabled": True, "keep_alive": False, "filename": "/var/log/falco-events.log"},
        "falco_rules": example["falco_rules"],
    }
    if transport in ("lab", "unpipelined"):
        node_vars["ansible_user"] = "root"
    hosts = {
        f"fleet-{i}": {"ansible_host": node_name(i), "falco_webserver_listen_port": PORT_BASE + i}
        for i in range(1, n + 1)
    }
    return {"all": {"children": {"nodes": {"vars": node_vars, "hosts": hosts}}}}


def ansible_env(transport: str, plugins: Path, timing: Path) -> Dict[str, str]:
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build" / "collections"),
        "ANSIBLE_CALLBACK_PLUGINS": str(plugins),
        "ANSIBLE_CALLBACKS_ENABLED": "nodesec_fleet_timing,ansible.posix.profile_tasks",
        "ANSIBLE_FORCE_COLOR": "0",
        "NODESEC_FLEET_TIMING": str(timing),
    }
    env["ANSIBLE_PIPELINING"] = "False" if transport == "unpipelined" else "True"
    return env


def phase_of(task_name: str) -> str:
    name = task_name.split(" : ", 1)[-1]
    return next(p for p, rx in PHASES if re.search(rx, name))


def analyse(timing: Dict[str, Any], wall: float) -> Dict[str, Any]:
    """Per phase: wall (task start to the next task's start), tasks, host time median and max."""
    tasks = timing["tasks"]
    phases: Dict[str, Dict[str, float]] = {}
    per_task = []
    for k, t in enumerate(tasks):
        nxt = tasks[k + 1]["start"] if k + 1 < len(tasks) else timing["t_end"]
        span = nxt - t["start"]
        host_s = [h["end"] - h["start"] for h in t["hosts"].values() if "start" in h and "end" in h]
        ph = phases.setdefault(phase_of(t["name"]), {"wall": 0.0, "tasks": 0, "host_median": 0.0, "host_max": 0.0})
        ph["wall"] += span
        ph["tasks"] += 1
        if host_s:
            ph["host_median"] += statistics.median(host_s)
            ph["host_max"] += max(host_s)
        per_task.append(
            {
                "name": t["name"],
                "handler": t["handler"],
                "span": round(span, 3),
                "hosts": len(host_s),
                "host_median": round(statistics.median(host_s), 3) if host_s else None,
                "host_max": round(max(host_s), 3) if host_s else None,
                "changed": sum(1 for h in t["hosts"].values() if h.get("changed")),
            }
        )
    for ph in phases.values():
        for key in ("wall", "host_median", "host_max"):
            ph[key] = round(ph[key], 2)
    in_tasks = timing["t_end"] - tasks[0]["start"] if tasks else 0.0
    return {
        # ansible-playbook's start (interpreter, imports, inventory, playbook parsing) and exit
        "startup": round(wall - in_tasks, 2),
        "phases": phases,
        "tasks_run": len(tasks),
        "slowest": sorted(per_task, key=lambda x: -x["span"])[:12],
        "per_task": per_task,
        "wall": wall,
    }


def run_playbook(
    label: str, playbooks: List[str], inv: Path, forks: int, env: Dict[str, str], meter: Meter, logdir: Path
) -> Dict[str, Any]:
    timing = Path(env["NODESEC_FLEET_TIMING"])
    timing.unlink(missing_ok=True)
    log = logdir / f"{label}.log"
    argv = ["ansible-playbook", "-i", str(inv), "-f", str(forks), *playbooks]
    load0 = loadavg()
    m0 = meter.read()
    with log.open("w") as fh:
        proc = subprocess.run(argv, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT, check=False)
    m1 = meter.read()
    cpu = Meter.delta(m0, m1)
    out: Dict[str, Any] = {"label": label, "rc": proc.returncode, "log": str(log), "load_before": load0}
    out.update(cpu)
    out["load_after"] = loadavg()
    if timing.exists():
        t = json.loads(timing.read_text())
        out["recap"] = t["recap"]
        out["changed"] = sum(r.get("changed", 0) for r in t["recap"].values())
        out["failed"] = sum(r.get("failures", 0) + r.get("unreachable", 0) for r in t["recap"].values())
        out["analysis"] = analyse(t, cpu["wall"])
    tail = "" if proc.returncode == 0 else f" (FAILED, see {log})"
    print(
        f"[fleet] {label}: {cpu['wall']:.1f}s rc={proc.returncode} changed={out.get('changed')} "
        f"load {load0[0]}->{out['load_after'][0]}{tail}",
        file=sys.stderr,
    )
    return out


def idle_sample(meter: Meter, seconds: float) -> Dict[str, Any]:
    m0 = meter.read()
    time.sleep(seconds)
    d = Meter.delta(m0, meter.read())
    return {"seconds": round(d["wall"], 1), "nodes_cores": round(d["cpu_nodes"] / d["wall"], 3), "load": loadavg()}


def bench_one(n: int, variant: str, transport: str, args: argparse.Namespace, deb: str) -> Dict[str, Any]:
    label = f"{variant}-{transport}-{n}"
    ports = [PORT_BASE + i for i in range(1, n + 1)]
    busy = ports_in_use(ports)
    if busy:
        raise SystemExit(
            f"ports {busy} are in use on the host; the fleet's Falco webservers need {ports[0]}-{ports[-1]}"
        )
    nodes_down()  # leftovers of an interrupted run of this bench (ours only)
    res: Dict[str, Any] = {"nodes": n, "forks": n, "variant": variant, "transport": transport, "image": args.image}
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        tmpd = Path(tmp)
        (tmpd / "plugins").mkdir()
        (tmpd / "plugins" / "nodesec_fleet_timing.py").write_text(TIMING_CALLBACK)
        inv = tmpd / "hosts.yml"
        inv.write_text(yaml.safe_dump(inventory(n, deb, variant, transport), sort_keys=False))
        probe = tmpd / "probe.yml"
        probe.write_text(yaml.safe_dump(PROBE_PLAYBOOK, sort_keys=False))
        try:
            boot, ids = nodes_up(n, args.image, mask_falco=variant == "masked")
            res["boot_s"] = round(boot, 1)
            meter = Meter([container_cgroup(c) for c in ids])
            res["cgroups_found"] = sum(1 for c in meter.cgroups if c is not None)
            if args.probe:
                res["probe"] = {}
                for tr in ("unpipelined", "lab", "tuned"):
                    pinv = tmpd / f"probe-{tr}.yml"
                    pinv.write_text(yaml.safe_dump(inventory(n, deb, variant, tr), sort_keys=False))
                    env = ansible_env(tr, tmpd / "plugins", tmpd / "timing.json")
                    r = run_playbook(f"{label}-probe-{tr}", [str(probe)], pinv, n, env, meter, args.log_dir)
                    r.get("analysis", {}).pop("per_task", None)
                    res["probe"][tr] = r
            env = ansible_env(transport, tmpd / "plugins", tmpd / "timing.json")
            res["first"] = run_playbook(f"{label}-first", PLAYBOOKS, inv, n, env, meter, args.log_dir)
            if res["first"]["rc"] == 0:
                res["idle"] = idle_sample(meter, args.idle_sample)
                res["rerun"] = run_playbook(f"{label}-rerun", PLAYBOOKS, inv, n, env, meter, args.log_dir)
        finally:
            if not args.keep:
                nodes_down()
    return res


# -- report ---------------------------------------------------------------------------------


def markdown(runs: List[Dict[str, Any]]) -> str:
    base = {
        (r["variant"], r["transport"]): r["first"]["wall"]
        for r in runs
        if r["nodes"] == 1 and r.get("first", {}).get("rc") == 0
    }
    lines = [
        "| variant | transport | nodes | forks | first converge (s) | ratio to 1 node | re-run (s) | re-run / first "
        "| changed on re-run | load before first / re-run |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in sorted(runs, key=lambda r: (r["variant"], r["transport"], r["nodes"])):
        f, rr = r.get("first", {}), r.get("rerun")
        if f.get("rc") != 0:
            lines.append(f"| {r['variant']} | {r['transport']} | {r['nodes']} | {r['forks']} | failed | | | | | |")
            continue
        b = base.get((r["variant"], r["transport"]))
        ratio = f"{f['wall'] / b:.2f}x" if b else "-"
        rerun = f"{rr['wall']:.1f}" if rr else "-"
        rratio = f"{rr['wall'] / f['wall']:.0%}" if rr else "-"
        changed = str(rr.get("changed")) if rr else "-"
        load = f"{f['load_before'][0]} / {rr['load_before'][0]}" if rr else f"{f['load_before'][0]}"
        lines.append(
            f"| {r['variant']} | {r['transport']} | {r['nodes']} | {r['forks']} | {f['wall']:.1f} | {ratio} "
            f"| {rerun} | {rratio} | {changed} | {load} |"
        )
    lines += ["", "Per phase, wall s (first converge / re-run):", ""]
    names = [phase[0] for phase in PHASES]
    lines.append("| variant | transport | nodes | " + " | ".join(names) + " | startup |")
    lines.append("| --- | --- | ---: |" + " ---: |" * (len(names) + 1))
    for r in sorted(runs, key=lambda r: (r["variant"], r["transport"], r["nodes"])):
        f, rr = r.get("first", {}), r.get("rerun") or {}
        if "analysis" not in f:
            continue
        cells = []
        for p in names:
            a = f["analysis"]["phases"].get(p, {}).get("wall", 0.0)
            b = rr.get("analysis", {}).get("phases", {}).get(p, {}).get("wall", 0.0) if rr else 0.0
            cells.append(f"{a:.1f} / {b:.1f}")
        st = f"{f['analysis']['startup']:.1f}"
        lines.append(f"| {r['variant']} | {r['transport']} | {r['nodes']} | " + " | ".join(cells) + f" | {st} |")
    lines += ["", "CPU s during the first converge / re-run (controller, Docker daemons, nodes, others):", ""]
    for r in sorted(runs, key=lambda r: (r["variant"], r["transport"], r["nodes"])):
        parts = []
        for key in ("first", "rerun"):
            x = r.get(key)
            if x:
                cpu = " / ".join(f"{x['cpu_' + k]:.0f}" for k in ("controller", "daemons", "nodes", "others"))
                parts.append(f"{key} {cpu}")
        idle = r.get("idle")
        extra = f"; fleet at rest {idle['nodes_cores']:.2f} cores" if idle else ""
        probe = r.get("probe")
        if probe:
            extra += "; probe (6 tasks) " + ", ".join(f"{k} {v['wall']:.1f}s" for k, v in probe.items())
        lines.append(f"- {r['variant']} {r['transport']} {r['nodes']} nodes: " + "; ".join(parts) + extra)
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 10, 20])
    ap.add_argument("--variants", nargs="+", default=["service"], choices=["service", "masked"])
    ap.add_argument("--transports", nargs="+", default=["lab"], choices=["lab", "tuned", "unpipelined"])
    ap.add_argument("--image", default="nodesec-node:debian12")
    ap.add_argument("--falco-deb", help="the Falco .deb (default: $NODESEC_FALCO_DEB or the cached build's)")
    ap.add_argument("--probe", action="store_true", help="time a 6-task probe play with each transport first")
    ap.add_argument("--idle-sample", type=float, default=15.0, help="seconds the fleet's CPU at rest is sampled")
    ap.add_argument("--keep", action="store_true", help="leave the nodes running after the last run")
    ap.add_argument("--log-dir", type=Path, default=Path(tempfile.gettempdir()) / "nodesec-fleet-bench")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--append", action="store_true", help="add to the runs already in --json")
    ap.add_argument("--dry-run", action="store_true", help="print the plan (docker run, inventory, command) only")
    ap.add_argument("--down", action="store_true", help="remove this bench's nodes and exit")
    args = ap.parse_args()
    if any(n < 1 for n in args.sizes):
        ap.error("--sizes: fleet sizes are positive")
    if args.down:
        nodes_down()
        return
    if args.dry_run:
        deb = args.falco_deb or os.environ.get("NODESEC_FALCO_DEB") or "<the cached Falco build's DEB>"
        for variant in args.variants:
            for transport in args.transports:
                for n in args.sizes:
                    print(f"# {variant}, {transport} transport, {n} nodes, forks {n}")
                    print("docker " + shlex.join(run_argv(1, args.image)) + f"   # ... up to {node_name(n)}")
                    if variant == "masked":
                        print(f"docker exec nodesec-fleet-<i> systemctl mask {FALCO_UNIT}")
                    env = ansible_env(transport, Path("<tmp>/plugins"), Path("<tmp>/timing.json"))
                    shown = {k: v for k, v in env.items() if k.startswith(("ANSIBLE_", "NODESEC_"))}
                    print(" ".join(f"{k}={shlex.quote(v)}" for k, v in shown.items()))
                    print(shlex.join(["ansible-playbook", "-i", "<tmp>/hosts.yml", "-f", str(n), *PLAYBOOKS]))
                    inv = inventory(min(n, 2), deb, variant, transport)
                    inv["all"]["children"]["nodes"]["vars"]["falco_rules"] = "<playbooks/vars/falco_example.yml>"
                    print(yaml.safe_dump(inv, sort_keys=False))
        return
    deb = falco_deb(args.falco_deb)
    args.log_dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_a: sys.exit(143))  # the finally blocks remove the nodes
    runs: List[Dict[str, Any]] = []
    if args.append and args.json and Path(args.json).exists():
        runs = json.loads(Path(args.json).read_text())["runs"]
    host = {
        "cpus": os.cpu_count(),
        "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": os.uname().release,
        "docker": docker("version", "--format", "{{.Server.Version}}").strip(),
        "ansible": subprocess.run(
            [str(Path(sys.executable).parent / "ansible"), "--version"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[0],
        "falco_deb": deb,
    }
    try:
        for variant in args.variants:
            for transport in args.transports:
                for n in args.sizes:
                    res = bench_one(n, variant, transport, args, deb)
                    res["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    runs.append(res)
                    if args.json:  # after every size: an interrupted bench keeps what it measured
                        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                        Path(args.json).write_text(json.dumps({"host": host, "runs": runs}, indent=1))
    finally:
        if not args.keep:
            nodes_down()
    print(markdown(runs))


if __name__ == "__main__":
    main()
