"""Differential run: our offline checker against the real `falco -V` (JSON output), per file.

Run with the venv's python (no shebang, like k8s_lab.py), after scripts/falco-build.sh:
    PYTHONPATH=.build/collections .venv/bin/python scripts/falco/differential.py \
        --env ~/.cache/nodesec/falco-<hash>/env [--count 3000] [--batch 200] [--jobs 2]
Cases: the three released upstream rule sets alone and together (../shared/testdata/falco),
then the seeded corpus of scripts/falco/corpus.py. falco -V loads several files cumulatively
into one engine and reports one result per file in `falco_load_results`, so a batch of corpus
files (their names are unique per file) is one Falco run, and our checker is given the same
ordered batch. Prints the agreement rate and every disagreement; exit 1 on any disagreement.
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus
from ansible_collections.nodesec.kubernetes.plugins.module_utils import falco_rules

UPSTREAM = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "testdata", "falco")


def read_env(path):
    env = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            key, sep, value = line.strip().partition("=")
            if sep:
                env[key] = value
    return env


def falco_verdicts(env, paths):
    """Run falco -V over the ordered paths once; return {path: (ok, errors, warnings)}."""
    cmd = [
        env["FALCO"],
        "-c",
        env["CONFIG"],
        "-o",
        "json_output=true",
        "-o",
        "load_plugins=[container]",
        "-o",
        "plugins[0].name=container",
        "-o",
        "plugins[0].library_path=" + env["PLUGIN"],
    ]
    for path in paths:
        cmd += ["-V", path]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    start = proc.stdout.find("{")
    if start < 0:
        raise RuntimeError(f"falco -V gave no JSON (rc {proc.returncode}): {proc.stderr[-2000:]}")
    results = json.loads(proc.stdout[start:])["falco_load_results"]
    out = {}
    for path, res in zip(paths, results):
        out[path] = (bool(res.get("successful")), res.get("errors", []), res.get("warnings", []))
    return out


def checker_verdicts(paths):
    files = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            files.append((path, handle.read()))
    result = falco_rules.check_rules(files)
    bad = {f.file for f in result.errors}
    warned = {f.file for f in result.warnings}
    return {path: (path not in bad, path in warned) for path in paths}


def compare(env, batch):
    real = falco_verdicts(env, batch)
    ours = checker_verdicts(batch)
    rows = []
    for path in batch:
        ok, errors, warnings = real[path]
        rows.append((path, ok, ours[path][0], bool(warnings), ours[path][1], errors, warnings))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="the env file scripts/falco-build.sh writes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    env = read_env(args.env)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="falco-diff-") as tmp:
        batches = []
        order = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"]
        upstream = [os.path.join(UPSTREAM, n) for n in order]
        batches += [[path] for path in upstream]  # each released rule set alone
        batches.append(upstream)  # and all three together, in load order
        paths = []
        for name, text in corpus.generate(args.seed, args.count):
            path = os.path.join(tmp, name)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            paths.append(path)
        batches += [paths[i : i + args.batch] for i in range(0, len(paths), args.batch)]
        rows = []
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            for result in pool.map(lambda b: compare(env, b), batches):
                rows += result
        verdict_same = sum(1 for r in rows if r[1] == r[2])
        warn_same = sum(1 for r in rows if r[1] == r[2] and r[3] == r[4])
        for path, real_ok, our_ok, real_w, our_w, errors, warnings in rows:
            if real_ok != our_ok or real_w != our_w:
                print(
                    "DIFF {} falco={}/{} ours={}/{} {}".format(
                        os.path.basename(path),
                        "ok" if real_ok else "reject",
                        "warn" if real_w else "-",
                        "ok" if our_ok else "reject",
                        "warn" if our_w else "-",
                        json.dumps((errors or warnings)[:1])[:300],
                    )
                )
    total = len(rows)
    print(
        f"files {total}, same verdict {verdict_same} ({100.0 * verdict_same / total:.1f}%), "
        f"same verdict and warnings {warn_same} ({100.0 * warn_same / total:.1f}%), "
        f"{time.monotonic() - start:.0f} s"
    )
    return 0 if verdict_same == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
