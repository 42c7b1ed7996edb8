# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the pod compliance scan and deletion against the real local Kubernetes API.

For each N: creates N pods (one in ten offending) in a fresh namespace, then measures, each in
a fresh Python process (so peak RSS is the measurement's own):

- raw:    a paginated LIST (limit 500) with the Python client, JSON decoded, nothing else;
- models: the same LIST deserialised into V1Pod models (what most client code does);
- scan:   the modules' scan (list page by page + classify + resolve owners).

Then deletes 1,000 offending pods sequentially (parallelism 1) and in parallel, and removes
the namespaces. Prints a Markdown table; ``--json`` writes the raw figures.

    .venv/bin/python bench/pod_compliance_bench.py --sizes 1000 10000 50000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / ".build" / "collections"))

from ansible_collections.nodesec.kubernetes.plugins.module_utils.k8s.client import (  # noqa: E402
    PodApi,
    build_configuration,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.args import DeleteOptions, ScanOptions  # noqa: E402
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.service import (  # noqa: E402
    delete_offenders,
    scan,
)
from kubernetes import client, config  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

DEFAULT_KUBECONFIG = str(REPO / ".lab" / "k8s" / "admin.kubeconfig")
IMAGE = "registry.k8s.io/pause:3.10"
PAGE = 500


def proc_status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_kib() -> int:
    return proc_status_kib("VmRSS")


def peak_rss_kib() -> int:
    # VmHWM is this process image's high-water mark. getrusage()'s ru_maxrss is not: Linux
    # carries it over fork+exec, so a child would report its parent's peak.
    return proc_status_kib("VmHWM")


def pod_body(i: int, offending: bool) -> Dict[str, Any]:
    """A realistic small pod: token volume mount, security context; every 10th offends."""
    container: Dict[str, Any] = {
        "name": "app",
        "image": IMAGE,
        "ports": [{"containerPort": 8080, "name": "http"}],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": True}],
    }
    volumes: List[Dict[str, Any]] = [{"name": "config", "configMap": {"name": "app-config", "optional": True}}]
    if offending:
        if i % 20 == 0:
            container["securityContext"] = {"privileged": True}
        else:
            container["volumeMounts"].append({"name": "scratch", "mountPath": "/scratch"})
            volumes.append({"name": "scratch", "emptyDir": {}})
    return {
        "metadata": {"name": f"p-{i:06d}", "labels": {"app": "bench", "offending": str(offending).lower()}},
        "spec": {"containers": [container], "volumes": volumes, "automountServiceAccountToken": True},
    }


def create_namespace(core: client.CoreV1Api, name: str) -> None:
    core.create_namespace({"metadata": {"name": name, "labels": {"nodesec.bench": "true"}}})
    for _wait in range(120):
        try:
            core.read_namespaced_service_account("default", name)
            return
        except ApiException:
            time.sleep(0.5)
    raise RuntimeError(f"no default ServiceAccount in {name}")


def create_pods(
    core: client.CoreV1Api,
    ns: str,
    n: int,
    every: int = 10,
    workers: int = 16,
    make_body: Optional[Callable[[int], Dict[str, Any]]] = None,
) -> float:
    """Create pods 0..n-1 (``make_body(i)``, default: every ``every``-th offending); returns seconds."""
    start = time.perf_counter()

    def one(i: int) -> None:
        body = make_body(i) if make_body else pod_body(i, i % every == 0)
        for attempt in range(5):
            try:
                resp = core.create_namespaced_pod(ns, body, _preload_content=False)
                resp.drain_conn()  # read the body before the connection goes back to the pool
                resp.release_conn()
                return
            except ApiException as exc:
                if exc.status == 409:
                    return
                if exc.status in (429, 500, 503, 504) and attempt < 4:
                    time.sleep(0.5 * (attempt + 1))
                    continue
                raise

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - start


def delete_namespace(core: client.CoreV1Api, ns: str, wait: bool = True) -> None:
    try:
        core.delete_namespace(ns)
    except ApiException as exc:
        if exc.status != 404:
            raise
    while wait:
        try:
            core.read_namespace(ns)
            time.sleep(1)
        except ApiException:
            return


# -- measurements (each runs in its own process) -------------------------------------------


def measure(kind: str, kubeconfig: str, ns: str) -> Dict[str, Any]:
    cfg = build_configuration({"kubeconfig": kubeconfig})
    k8s = PodApi(cfg)
    api = client.CoreV1Api(k8s.api_client)
    base = rss_kib()
    cpu0, start = time.process_time(), time.perf_counter()
    count = offending = 0
    if kind == "raw":
        token = None
        while True:
            kw: Dict[str, Any] = {"limit": PAGE, "_preload_content": False}
            if token:
                kw["_continue"] = token
            resp = api.list_namespaced_pod(ns, **kw)
            page = json.loads(resp.data)
            resp.release_conn()
            count += len(page["items"])
            token = page["metadata"].get("continue")
            if not token:
                break
    elif kind == "models":
        token = None
        while True:
            kw = {"limit": PAGE}
            if token:
                kw["_continue"] = token
            page = api.list_namespaced_pod(ns, **kw)
            count += len(page.items)
            token = page.metadata._continue
            if not token:
                break
    elif kind == "scan":
        result = scan(k8s, ScanOptions(namespaces=[ns], page_size=PAGE))
        count, offending = result.report.scanned, len(result.report.findings)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    peak = peak_rss_kib()
    k8s.close()
    return {
        "kind": kind,
        "count": count,
        "offending": offending,
        "wall": wall,
        "cpu": cpu,
        "rss_base_kib": base,
        "rss_peak_kib": peak,
    }


def run_child(kind: str, kubeconfig: str, ns: str) -> Dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "_measure", kind, kubeconfig, ns], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def bench_scan(core: client.CoreV1Api, kubeconfig: str, n: int, repeats: int) -> Dict[str, Any]:
    ns = f"bench-pc-{n}-{uuid.uuid4().hex[:5]}"
    create_namespace(core, ns)
    try:
        created = create_pods(core, ns, n)
        print(f"[bench] N={n}: created in {created:.1f}s", file=sys.stderr)
        rows: Dict[str, List[Dict[str, Any]]] = {"raw": [], "models": [], "scan": []}
        for _repeat in range(repeats):
            for kind in ("raw", "scan", "models"):
                rows[kind].append(run_child(kind, kubeconfig, ns))
        for kind, runs in rows.items():
            assert all(r["count"] == n for r in runs), (kind, [r["count"] for r in runs])
        assert all(r["offending"] == (n + 9) // 10 for r in rows["scan"])
        best = {k: min(r["wall"] for r in v) for k, v in rows.items()}
        med = {k: statistics.median(r["wall"] for r in v) for k, v in rows.items()}
        cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in rows.items()}
        growth = {k: max(r["rss_peak_kib"] - r["rss_base_kib"] for r in v) / 1024 for k, v in rows.items()}
        return {
            "n": n,
            "create_s": created,
            "wall": best,
            "wall_median": med,
            "cpu": cpu,
            "rss_growth_mib": growth,
            "runs": rows,
        }
    finally:
        delete_namespace(core, ns, wait=False)


LAB_RUN = REPO / ".lab" / "k8s" / "run"
SERVER_PARTS = ("kube-apiserver", "etcd", "kube-controller-manager")


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (from /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pids() -> Dict[str, int]:
    """PIDs of the lab's API server, etcd and controller manager (empty for another cluster)."""
    pids: Dict[str, int] = {}
    for part in SERVER_PARTS:
        try:
            pid = int((LAB_RUN / f"{part}.pid").read_text().strip())
            proc_cpu_s(pid)
        except (OSError, ValueError):
            continue
        pids[part] = pid
    return pids


def start_latency_proxy(target: str, rtt_ms: float) -> Tuple[subprocess.Popen, int]:
    proxy = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "latency_proxy.py"), "--target", target, "--rtt-ms", str(rtt_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proxy.stdout is not None
    return proxy, int(proxy.stdout.readline())


def version_latency_ms(cfg: Any, samples: int = 30) -> float:
    """Median wall time of GET /version on a kept-alive connection: the API's round trip."""
    k8s = PodApi(cfg, pool_size=1)
    api = client.VersionApi(k8s.api_client)
    times = []
    for _sample in range(samples + 1):
        start = time.perf_counter()
        resp = api.get_code(_preload_content=False)
        resp.drain_conn()
        resp.release_conn()
        times.append(time.perf_counter() - start)
    k8s.close()
    return statistics.median(times[1:]) * 1000  # the first one opens the connection


def bench_delete(
    core: client.CoreV1Api, kubeconfig: str, n: int, parallelisms: List[int], rtts: List[float]
) -> List[Dict[str, Any]]:
    """Delete n offending pods with each parallelism (1 = one after another) at each API RTT.

    RTT 0 talks to the API directly over loopback; RTT > 0 goes through latency_proxy.py,
    which delays every chunk by RTT/2 each way. The CPU time the API server, etcd and the
    controller manager spend during the deletions is recorded beside the client's.
    """
    results: List[Dict[str, Any]] = []
    pids = server_pids()
    direct_host = build_configuration({"kubeconfig": kubeconfig}).host

    def configuration(host: str) -> Any:
        cfg = build_configuration({"kubeconfig": kubeconfig})
        cfg.host = host
        return cfg

    for rtt in rtts:
        proxy = None
        host = direct_host
        watched = dict(pids)  # processes whose CPU time is recorded
        if rtt > 0:
            proxy, port = start_latency_proxy(direct_host.split("://", 1)[1], rtt)
            host = f"https://127.0.0.1:{port}"
            watched["proxy"] = proxy.pid
        try:
            added_ms = version_latency_ms(configuration(host)) - version_latency_ms(configuration(direct_host))
            print(f"[bench] rtt={rtt:g}ms: GET /version takes {added_ms:.2f} ms more than straight", file=sys.stderr)
            sequential_wall = 0.0  # set by the first run, workers == 1
            for workers in [1, *parallelisms]:
                label = "sequential" if workers == 1 else f"parallel-{workers}"
                ns = f"bench-pc-del-{workers}-{uuid.uuid4().hex[:5]}"
                create_namespace(core, ns)
                try:
                    create_pods(core, ns, n, every=1)  # every pod offends
                    k8s = PodApi(configuration(host), pool_size=workers)
                    report = scan(k8s, ScanOptions(namespaces=[ns])).report
                    assert len(report.findings) == n
                    time.sleep(1)  # let the watchers of the creations settle
                    load = os.getloadavg()[0]
                    before = {part: proc_cpu_s(pid) for part, pid in watched.items()}
                    cpu0, start = time.process_time(), time.perf_counter()
                    delete_offenders(k8s, report, DeleteOptions(max_deletions=n, parallelism=workers))
                    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
                    others = {part: proc_cpu_s(pid) - before[part] for part, pid in watched.items()}
                    k8s.close()
                    assert sum(f.action == "deleted" for f in report.findings) == n
                    assert not core.list_namespaced_pod(ns, limit=1).items, "pods left after deletion"
                    if workers == 1:
                        sequential_wall = wall
                    row = {
                        "rtt_ms": rtt,
                        "measured_added_ms": added_ms,
                        "label": label,
                        "workers": workers,
                        "wall": wall,
                        "client_cpu": cpu,
                        "other_cpu": others,
                        "loadavg": load,
                        "speedup": sequential_wall / wall,
                    }
                    results.append(row)
                    parts = " ".join(f"{k} {v:.2f}s" for k, v in others.items())
                    print(
                        f"[bench] delete {n} rtt={rtt:g}ms {label}: {wall:.2f}s "
                        f"(client CPU {cpu:.2f}s, {parts}, load {load:.1f})",
                        file=sys.stderr,
                    )
                finally:
                    delete_namespace(core, ns, wait=False)
        finally:
            if proxy:
                proxy.terminate()
                proxy.wait()
    return results


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_measure":
        print(json.dumps(measure(*sys.argv[2:5])))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", DEFAULT_KUBECONFIG))
    ap.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000], help="pod counts to scan (none: skip)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--delete", type=int, default=1000, help="offending pods to delete (0 to skip)")
    ap.add_argument("--parallelism", type=int, nargs="+", default=[10], help="parallel worker counts to compare")
    ap.add_argument(
        "--rtt-ms",
        type=float,
        nargs="+",
        default=[0],
        help="network round-trip times to emulate for the deletions (0: straight to the API over loopback)",
    )
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    args = ap.parse_args()

    config.load_kube_config(config_file=args.kubeconfig)
    core = client.CoreV1Api()
    out: Dict[str, Any] = {"scan": [], "delete": None}
    for n in args.sizes:
        out["scan"].append(bench_scan(core, args.kubeconfig, n, args.repeats))
    if args.delete:
        out["delete"] = bench_delete(
            core, args.kubeconfig, args.delete, [p for p in args.parallelism if p > 1], args.rtt_ms
        )

    print(
        "| N pods | raw LIST best / median (s) | scan best / median (s) | scan / raw (best) "
        "| client CPU raw / scan (s) | LIST to models best (s) | RSS growth raw / scan / models (MiB) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in out["scan"]:
        w, m, c, g = row["wall"], row["wall_median"], row["cpu"], row["rss_growth_mib"]
        print(
            f"| {row['n']:,} | {w['raw']:.2f} / {m['raw']:.2f} | {w['scan']:.2f} / {m['scan']:.2f} "
            f"| {w['scan'] / w['raw']:.2f}x | {c['raw']:.2f} / {c['scan']:.2f} | {w['models']:.2f} "
            f"| {g['raw']:.1f} / {g['scan']:.1f} / {g['models']:.1f} |"
        )
    if out["delete"]:
        print()
        print(
            f"| Deleting {args.delete:,} offending pods | API RTT added (ms): set / measured | wall (s) | speedup "
            "| CPU client / API server / etcd / controller manager / proxy (s) | load average |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for r in out["delete"]:
            o = r["other_cpu"]
            cpus = " / ".join(
                f"{o[k]:.2f}" if k in o else "-" for k in ("kube-apiserver", "etcd", "kube-controller-manager", "proxy")
            )
            print(
                f"| {r['label']} ({r['workers']} workers) | {r['rtt_ms']:g} / {r['measured_added_ms']:.1f} "
                f"| {r['wall']:.2f} "
                f"| {r['speedup']:.1f}x | {r['client_cpu']:.2f} / {cpus} | {r['loadavg']:.1f} |"
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
