# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pod compliance and its peers, side by side in one run, on the same pods of the local API.

For each N: N pods in one fresh namespace of the fast API (``scripts/k8s-api.sh start``; pods
are stored, never scheduled), one in nine or so offending in one of the four ways compared
(privileged, host namespaces, hostPath, added capabilities) or another (a read-write emptyDir),
the rest realistic compliant pods. Then every tool scans that namespace, each as its own
process tree under GNU time (wall, user+system CPU of the tree, peak RSS of its largest
process), interleaved, ``--repeats`` times:

- ``raw``:      the paginated LIST (limit 500) in Python, JSON decoded, nothing else (the floor);
- ``scan``:     our scan, in a Python process (``pod_compliance.service.scan``, profile cks);
- ``module``:   ``ansible localhost -m nodesec.kubernetes.pod_compliance_info`` (profile
                baseline, JSON report on disk: the verdicts compared);
- ``polaris``:  ``polaris audit --namespace NS --format json`` (built by bench/peers-build.sh);
- ``kube-score``: ``kubectl get pods -o yaml`` to a file, then ``kube-score score -o json`` on it
                (it reads files only; both steps are counted);
- ``seed-jq``:  ``kubectl get pods -o json | jq`` (one jq program for the four questions);
- ``seed-jsonpath``: the seed's way, two ``kubectl -o jsonpath`` queries piped to grep.

The verdicts of each tool on each pod are compared with what the generator put in the pod.
Prints Markdown tables; ``--json`` writes the raw figures.

    nice -n 10 .venv/bin/python bench/peers_bench.py --sizes 1000 10000 --repeats 3 \\
        --json bench/results/peers_1k_10k.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import pod_compliance_bench as pcb  # noqa: E402
from kubernetes import client, config  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

CACHE = Path(os.environ.get("NODESEC_CACHE", Path.home() / ".cache" / "nodesec"))
PEERS_BIN = CACHE / "peers" / "bin"
CATEGORIES = ("privileged", "host_namespaces", "host_path", "capabilities")
GNU_TIME = "/usr/bin/time"

# The pod variants, by i % 100 (the rest are compliant). Each: (what it sets, its categories).
VARIANTS: Dict[int, Tuple[str, Tuple[str, ...]]] = {
    0: ("privileged", ("privileged",)),
    1: ("hostNetwork", ("host_namespaces",)),
    2: ("hostPID", ("host_namespaces",)),
    3: ("hostIPC", ("host_namespaces",)),
    4: ("hostPath /var/log read-only", ("host_path",)),
    5: ("hostPath containerd socket", ("host_path",)),
    6: ("capabilities.add SYS_ADMIN", ("capabilities",)),
    7: ("capabilities.add NET_ADMIN, NET_RAW", ("capabilities",)),
    8: ("capabilities.add CHOWN (in the baseline set)", ()),
    9: ("capabilities.add ALL", ("capabilities",)),
    10: ("read-write emptyDir", ()),
}


def pod_body(i: int) -> Dict[str, Any]:
    """pod_compliance_bench's realistic compliant pod, changed as VARIANTS[i % 100] says."""
    body = pcb.pod_body(i, offending=False)
    spec = body["spec"]
    container = spec["containers"][0]
    kind = i % 100
    if kind == 0:
        container["securityContext"] = {"privileged": True}
    elif kind in (1, 2, 3):
        spec[("hostNetwork", "hostPID", "hostIPC")[kind - 1]] = True
    elif kind in (4, 5):
        path = "/var/log" if kind == 4 else "/run/containerd/containerd.sock"
        spec["volumes"].append({"name": "host", "hostPath": {"path": path}})
        container["volumeMounts"].append({"name": "host", "mountPath": "/host", "readOnly": True})
    elif kind in (6, 7, 8, 9):
        add = {6: ["SYS_ADMIN"], 7: ["NET_ADMIN", "NET_RAW"], 8: ["CHOWN"], 9: ["ALL"]}[kind]
        container["securityContext"]["capabilities"] = {"add": add}
    elif kind == 10:
        container["volumeMounts"].append({"name": "scratch", "mountPath": "/scratch"})
        spec["volumes"].append({"name": "scratch", "emptyDir": {}})
    body["metadata"]["labels"]["variant"] = str(kind if kind in VARIANTS else "compliant")
    return body


def truth(n: int) -> Dict[str, Set[str]]:
    """For each category, the names of the pods the generator made offend in it."""
    out: Dict[str, Set[str]] = {c: set() for c in CATEGORIES}
    for i in range(n):
        for cat in VARIANTS.get(i % 100, ("", ()))[1]:
            out[cat].add(f"p-{i:06d}")
    return out


def create_pods(core: client.CoreV1Api, ns: str, n: int, workers: int = 16) -> float:
    return pcb.create_pods(core, ns, n, workers=workers, make_body=pod_body)


# -- running one tool under GNU time ------------------------------------------------------


def timed(
    argv: List[str], stdout: Any = subprocess.DEVNULL, env: Optional[Dict[str, str]] = None, ok: Tuple[int, ...] = (0,)
) -> Dict[str, Any]:
    """Run ``argv`` under GNU time: wall, CPU (user+sys, with waited-for children), max RSS (KiB).

    GNU time forks the tool itself, so the tool's peak RSS is its own (a child of this Python
    process would carry this process's RSS over fork+exec).
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        start = time.perf_counter()
        proc = subprocess.run(
            [GNU_TIME, "-f", "%U %S %M", "-o", tf.name, *argv],
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=env,
            check=False,
        )
        wall = time.perf_counter() - start
        user, system, rss = tf.read().split()[-3:]
    if proc.returncode not in ok:
        raise RuntimeError(f"{shlex.join(argv)} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    return {"wall": wall, "cpu": float(user) + float(system), "rss_kib": int(rss), "stderr": proc.stderr.decode()}


def timed_pipeline(first: List[str], second: List[str], out_path: Path) -> Dict[str, Any]:
    """``first | second > out_path``, each under GNU time; CPU summed, peak RSS summed (they run together)."""
    with tempfile.TemporaryDirectory() as tmp:
        t1, t2 = Path(tmp) / "1", Path(tmp) / "2"
        script = (
            f"set -o pipefail; {GNU_TIME} -f '%U %S %M' -o {t1} {shlex.join(first)} | "
            f"{GNU_TIME} -f '%U %S %M' -o {t2} {shlex.join(second)} > {shlex.quote(str(out_path))}"
        )
        start = time.perf_counter()
        proc = subprocess.run(["bash", "-c", script], stderr=subprocess.PIPE, check=False)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{script} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
        parts = [t.read_text().split()[-3:] for t in (t1, t2)]
    return {
        "wall": wall,
        "cpu": sum(float(u) + float(s) for u, s, _m in parts),
        "rss_kib": sum(int(m) for _u, _s, m in parts),
    }


def combine(*steps: Dict[str, Any]) -> Dict[str, Any]:
    """Steps run one after another: wall and CPU add up, the peak is the larger."""
    return {
        "wall": sum(s["wall"] for s in steps),
        "cpu": sum(s["cpu"] for s in steps),
        "rss_kib": max(s["rss_kib"] for s in steps),
    }


# -- the tools: each returns (measurement, {category: set of pod names flagged}) -----------

Verdicts = Dict[str, Set[str]]
Tool = Callable[[str, str, Path], Tuple[Dict[str, Any], Optional[Verdicts]]]


def tool_raw(kubeconfig: str, ns: str, _work: Path) -> Tuple[Dict[str, Any], Optional[Verdicts]]:
    argv = [sys.executable, str(REPO / "bench" / "pod_compliance_bench.py"), "_measure", "raw", kubeconfig, ns]
    return _python_measure(argv), None


def tool_scan(kubeconfig: str, ns: str, _work: Path) -> Tuple[Dict[str, Any], Optional[Verdicts]]:
    argv = [sys.executable, str(REPO / "bench" / "pod_compliance_bench.py"), "_measure", "scan", kubeconfig, ns]
    return _python_measure(argv), None


def _python_measure(argv: List[str]) -> Dict[str, Any]:
    with tempfile.NamedTemporaryFile("w+", suffix=".json") as out:
        m = timed(argv, stdout=out)
        out.seek(0)
        inner = json.load(out)
    # The process figures beside the in-process ones (no interpreter start, no imports).
    m.update({"inner_wall": inner["wall"], "inner_cpu": inner["cpu"], "count": inner["count"]})
    return m


# The checks of each tool that answer the four questions, by category.
CHECKS: Dict[str, Dict[str, Tuple[str, ...]]] = {
    "module": {  # the PodSecurity check ids our baseline profile names beside each violation
        "privileged": ("privileged",),
        "host_namespaces": ("hostNamespaces",),
        "host_path": ("hostPathVolumes",),
        "capabilities": ("capabilities_baseline",),
    },
    "polaris": {
        "privileged": ("runAsPrivileged",),
        "host_namespaces": ("hostNetworkSet", "hostPIDSet", "hostIPCSet"),
        "host_path": ("hostPathSet",),
        "capabilities": ("dangerousCapabilities",),
    },
    "kube-score": {"privileged": ("container-security-context-privileged",)},
}


def category_of(tool: str, check_id: str) -> Optional[str]:
    return next((cat for cat, ids in CHECKS[tool].items() if check_id in ids), None)


def tool_module(kubeconfig: str, ns: str, work: Path) -> Tuple[Dict[str, Any], Optional[Verdicts]]:
    report = work / "module-report.json"
    args = {"kubeconfig": kubeconfig, "namespaces": [ns], "profile": "baseline", "report_path": str(report)}
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build" / "collections"),
    }
    ansible = str(Path(sys.executable).with_name("ansible"))
    argv = [ansible, "localhost", "-i", "localhost,", "-c", "local", "-e"]
    argv += [f"ansible_python_interpreter={sys.executable}", "-m", "nodesec.kubernetes.pod_compliance_info"]
    m = timed([*argv, "-a", json.dumps(args)], env=env)
    verdicts: Verdicts = {c: set() for c in CATEGORIES}
    for pod in json.loads(report.read_text())["pods"]:
        for v in pod["violations"]:
            cat = category_of("module", v.get("pss_check", ""))
            if cat:
                verdicts[cat].add(pod["name"])
    return m, verdicts


def tool_polaris(kubeconfig: str, ns: str, work: Path) -> Tuple[Dict[str, Any], Optional[Verdicts]]:
    out = work / "polaris.json"
    argv = [str(PEERS_BIN / "polaris"), "audit", "--namespace", ns, "--format", "json", "--output-file", str(out)]
    m = timed(argv, env={**os.environ, "KUBECONFIG": kubeconfig})
    verdicts: Verdicts = {c: set() for c in CATEGORIES}
    for res in json.loads(out.read_text()).get("Results") or []:
        if res.get("Kind") != "Pod" or res.get("Namespace") != ns:  # it loads the whole cluster
            continue
        pod = res.get("PodResult") or {}
        checks = [pod.get("Results") or {}] + [c.get("Results") or {} for c in pod.get("ContainerResults") or []]
        for results in checks:
            for check_id, r in results.items():
                cat = category_of("polaris", check_id)
                if cat and not r.get("Success", True):
                    verdicts[cat].add(res["Name"])
    return m, verdicts


def tool_kube_score(kubeconfig: str, ns: str, work: Path) -> Tuple[Dict[str, Any], Optional[Verdicts]]:
    pods = work / "pods.yaml"
    out = work / "kube-score.json"
    with pods.open("w") as fh:
        get = timed(["kubectl", "--kubeconfig", kubeconfig, "-n", ns, "get", "pods", "-o", "yaml"], stdout=fh)
    with out.open("w") as fh:
        # kube-score exits 1 when it finds critical issues; its output is complete all the same.
        score = timed([str(PEERS_BIN / "kube-score"), "score", "-o", "json", str(pods)], stdout=fh, ok=(0, 1))
    verdicts: Verdicts = {c: set() for c in CATEGORIES}
    for obj in json.loads(out.read_text()):
        name = obj.get("object_meta", {}).get("name") or obj.get("object_name", "")
        for check in obj.get("checks") or []:
            cat = category_of("kube-score", (check.get("check") or {}).get("id", ""))
            if cat and (check.get("grade", 10) or 10) < 10 and not check.get("skipped"):
                verdicts[cat].add(name)
    # kube-score has no check for host namespaces, hostPath or added capabilities.
    return combine(get, score), {**verdicts, "host_namespaces": None, "host_path": None, "capabilities": None}


# One jq program answers the four questions, one line per (pod, category).
JQ_PROGRAM = r"""
.items[] | .metadata.name as $n | .spec as $s
| ([$s.initContainers[]?, $s.containers[]?, $s.ephemeralContainers[]?]) as $cs
| (if any($cs[]; .securityContext.privileged == true) then "\($n) privileged" else empty end),
  (if ($s.hostNetwork or $s.hostPID or $s.hostIPC) then "\($n) host_namespaces" else empty end),
  (if any($s.volumes[]?; .hostPath != null) then "\($n) host_path" else empty end),
  (if any($cs[]; (.securityContext.capabilities.add // [])
        | any(.[]; IN("AUDIT_WRITE","CHOWN","DAC_OVERRIDE","FOWNER","FSETID","KILL","MKNOD",
                      "NET_BIND_SERVICE","SETFCAP","SETGID","SETPCAP","SETUID","SYS_CHROOT") | not))
   then "\($n) capabilities" else empty end)
"""


def _lines_to_verdicts(text: str) -> Verdicts:
    verdicts: Verdicts = {c: set() for c in CATEGORIES}
    for line in text.splitlines():
        name, _sep, cat = line.partition(" ")
        if cat in verdicts:
            verdicts[cat].add(name)
    return verdicts


def tool_seed_jq(kubeconfig: str, ns: str, work: Path) -> Tuple[Dict[str, Any], Optional[Verdicts]]:
    out = work / "jq.txt"
    kubectl = ["kubectl", "--kubeconfig", kubeconfig, "-n", ns, "get", "pods", "-o", "json"]
    m = timed_pipeline(kubectl, ["jq", "-r", JQ_PROGRAM], out)
    return m, _lines_to_verdicts(out.read_text())


# The seed's way: one jsonpath line per pod (name, then the fields), grep for the offending value.
SEED_QUERIES = {
    "privileged": (
        r"{range .items[*]}{.metadata.name}{' '}{.spec.containers[*].securityContext.privileged}{'\n'}{end}",
        "true",
    ),
    "host_path": (r"{range .items[*]}{.metadata.name}{' '}{.spec.volumes[*].hostPath.path}{'\n'}{end}", "/"),
}


def tool_seed_jsonpath(kubeconfig: str, ns: str, work: Path) -> Tuple[Dict[str, Any], Optional[Verdicts]]:
    steps = []
    verdicts: Verdicts = {c: set() for c in CATEGORIES}
    for cat, (query, needle) in SEED_QUERIES.items():
        out = work / f"jsonpath-{cat}.txt"
        kubectl = ["kubectl", "--kubeconfig", kubeconfig, "-n", ns, "get", "pods", "-o", f"jsonpath={query}"]
        steps.append(timed_pipeline(kubectl, ["grep", "-F", f" {needle}"], out))
        verdicts[cat] = {line.split(" ", 1)[0] for line in out.read_text().splitlines() if line.strip()}
    # Host namespaces and capabilities are not asked by the seed's two queries.
    return combine(*steps), {**verdicts, "host_namespaces": None, "capabilities": None}  # type: ignore[dict-item]


# PodSecurity's reasons (policy.AggregateCheckResults().ForbiddenReason()) for the four questions.
PODSECURITY_REASONS = {
    "privileged": "privileged",
    "host_namespaces": "host namespaces",
    "host_path": "hostPath volumes",
    "capabilities": "non-default capabilities",
}


def tool_podsecurity(kubeconfig: str, ns: str, _work: Path) -> Tuple[Dict[str, Any], Optional[Verdicts]]:
    """The API server's own PodSecurity, read-only: a server-side dry run of the enforce label.

    PodSecurity answers a namespace label update with warnings about the existing pods, but
    groups the pods by identical reasons (one name, ``(and N other pods)``) and checks at most
    3,000 pods within 1 s: a count per reason, not a verdict per pod.
    """
    argv = ["kubectl", "--kubeconfig", kubeconfig, "label", "--dry-run=server", "--overwrite", "namespace", ns]
    labels = ["pod-security.kubernetes.io/enforce=baseline", "pod-security.kubernetes.io/enforce-version=latest"]
    m = timed([*argv, *labels])
    counts = {c: 0 for c in CATEGORIES}
    checked = ""
    for line in m.pop("stderr").splitlines():
        text = line.removeprefix("Warning: ")
        if "new PodSecurity enforce level only checked against" in text:
            checked = text
            continue
        head, sep, reasons = text.partition(": ")
        if not sep or "violate the new PodSecurity" in text:
            continue
        pods = 1
        if " (and " in head:
            pods += int(head.split(" (and ", 1)[1].split()[0])
        for cat, reason in PODSECURITY_REASONS.items():
            if reason in [r.strip() for r in reasons.split(",")]:
                counts[cat] += pods
    m["checked"] = checked
    return m, counts  # type: ignore[return-value]


TOOLS: Dict[str, Tool] = {
    "raw": tool_raw,
    "scan": tool_scan,
    "module": tool_module,
    "polaris": tool_polaris,
    "kube-score": tool_kube_score,
    "seed-jq": tool_seed_jq,
    "seed-jsonpath": tool_seed_jsonpath,
    "podsecurity-dry-run": tool_podsecurity,
}


def available(name: str) -> Optional[str]:
    """Why a tool cannot run here, or None."""
    if name == "polaris" and not (PEERS_BIN / "polaris").exists():
        return f"{PEERS_BIN / 'polaris'} missing (bench/peers-build.sh)"
    if name == "kube-score" and not (PEERS_BIN / "kube-score").exists():
        return f"{PEERS_BIN / 'kube-score'} missing (bench/peers-build.sh)"
    if name.startswith("seed") or name == "kube-score":
        for prog in ("kubectl", "jq") if name == "seed-jq" else ("kubectl",):
            if shutil.which(prog) is None:
                return f"{prog} not on PATH"
    return None


def compare(found: Optional[Verdicts], expected: Dict[str, Set[str]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for cat in CATEGORIES:
        got = None if found is None else found.get(cat)
        if got is None:
            out[cat] = None
            continue
        want = expected[cat]
        if isinstance(got, int):  # a count without names (PodSecurity's grouped warnings)
            out[cat] = {"flagged": got, "missed": "?", "extra": "?"}
            continue
        out[cat] = {"flagged": len(got), "missed": len(want - got), "extra": len(got - want)}
    return out


def server_cpu() -> float:
    """CPU seconds the lab's kube-apiserver and etcd have used so far (0 for another cluster)."""
    pids = pcb.server_pids()
    return sum(pcb.proc_cpu_s(pids[p]) for p in ("kube-apiserver", "etcd") if p in pids)


def bench_size(
    core: client.CoreV1Api, kubeconfig: str, n: int, tools: List[str], repeats: int, list_repeats: int = 0
) -> Dict[str, Any]:
    ns = f"bench-peers-{n}-{uuid.uuid4().hex[:5]}"
    pcb.create_namespace(core, ns)
    try:
        created = create_pods(core, ns, n)
        print(f"[peers] N={n}: {n} pods created in {created:.1f}s (namespace {ns})", file=sys.stderr)
        expected = truth(n)
        runs: Dict[str, List[Dict[str, Any]]] = {t: [] for t in tools}
        verdicts: Dict[str, Any] = {}
        with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
            rounds = [tools] * repeats
            # Extra interleaved rounds of the raw LIST and our scan only (their ratio is a target).
            rounds += [[t for t in tools if t in ("raw", "scan")]] * max(0, list_repeats - repeats)
            for round_tools in rounds:
                for name in round_tools:
                    server0 = server_cpu()
                    m, found = TOOLS[name](kubeconfig, ns, Path(tmp))
                    m["server_cpu"] = server_cpu() - server0
                    m.pop("stderr", None)
                    runs[name].append(m)
                    if found is not None or name not in verdicts:
                        verdicts[name] = compare(found, expected)
                    print(f"[peers] N={n} {name}: {m['wall']:.2f}s wall, {m['cpu']:.2f}s CPU", file=sys.stderr)
        summary = {}
        for name, rs in runs.items():
            summary[name] = {
                "wall_best": min(r["wall"] for r in rs),
                "wall_median": statistics.median(r["wall"] for r in rs),
                "cpu_median": statistics.median(r["cpu"] for r in rs),
                "server_cpu_median": statistics.median(r["server_cpu"] for r in rs),
                "rss_mib": max(r["rss_kib"] for r in rs) / 1024,
            }
            if "inner_wall" in rs[0]:
                summary[name]["inner_wall_best"] = min(r["inner_wall"] for r in rs)
                summary[name]["inner_wall_median"] = statistics.median(r["inner_wall"] for r in rs)
                summary[name]["inner_cpu_median"] = statistics.median(r["inner_cpu"] for r in rs)
        return {
            "n": n,
            "create_s": created,
            "expected": {c: len(v) for c, v in expected.items()},
            "summary": summary,
            "verdicts": verdicts,
            "runs": runs,
        }
    finally:
        pcb.delete_namespace(core, ns, wait=False)


def markdown(results: List[Dict[str, Any]], skipped: Dict[str, str]) -> str:
    lines = [
        "| N pods | tool | wall best / median (s) | CPU median (s) | API server + etcd CPU (s) | peak RSS (MiB) "
        "| in process best / median (s) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for res in results:
        for name, s in res["summary"].items():
            inner = f"{s['inner_wall_best']:.2f} / {s['inner_wall_median']:.2f}" if "inner_wall_best" in s else "-"
            lines.append(
                f"| {res['n']:,} | {name} | {s['wall_best']:.2f} / {s['wall_median']:.2f} | {s['cpu_median']:.2f} "
                f"| {s['server_cpu_median']:.2f} | {s['rss_mib']:.1f} | {inner} |"
            )
        raw, scan = res["summary"].get("raw"), res["summary"].get("scan")
        if raw and scan:
            best = scan["inner_wall_best"] / raw["inner_wall_best"]
            med = scan["inner_wall_median"] / raw["inner_wall_median"]
            cpu = scan["inner_cpu_median"] / raw["inner_cpu_median"]
            lines.append(
                f"| {res['n']:,} | scan / raw (in process) | {best:.2f}x best, {med:.2f}x median | {cpu:.2f}x | | | |"
            )
    lines += ["", "Verdicts (flagged / missed / extra against what the generator put in the pods):", ""]
    head = "| N pods | tool | " + " | ".join(CATEGORIES) + " |"
    lines += [head, "| ---: | --- |" + " --- |" * len(CATEGORIES)]
    for res in results:
        exp = res["expected"]
        lines.append(f"| {res['n']:,} | (generated) | " + " | ".join(str(exp[c]) for c in CATEGORIES) + " |")
        for name, cmp in res["verdicts"].items():
            if all(v is None for v in cmp.values()):
                continue
            cells = [
                "not checked" if v is None else f"{v['flagged']} / {v['missed']} / {v['extra']}" for v in cmp.values()
            ]
            lines.append(f"| {res['n']:,} | {name} | " + " | ".join(cells) + " |")
    for name, why in skipped.items():
        lines.append(f"\n{name}: not run ({why})")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", default=pcb.DEFAULT_KUBECONFIG)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--list-repeats", type=int, default=0, help="rounds of raw and scan (at least --repeats)")
    ap.add_argument("--tools", nargs="+", default=list(TOOLS), choices=list(TOOLS))
    ap.add_argument("--json", help="write the raw figures here")
    args = ap.parse_args()
    skipped = {t: why for t in args.tools if (why := available(t))}
    tools = [t for t in args.tools if t not in skipped]
    core = client.CoreV1Api(config.new_client_from_config(config_file=args.kubeconfig))
    try:
        core.list_namespace(limit=1)
    except ApiException as exc:  # pragma: no cover - a bench, not a test
        raise SystemExit(f"the API at {args.kubeconfig} does not answer: {exc}") from exc
    results = [bench_size(core, args.kubeconfig, n, tools, args.repeats, args.list_repeats) for n in args.sizes]
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"results": results, "skipped": skipped}, indent=2, default=list))
    print(markdown(results, skipped))


if __name__ == "__main__":
    main()
