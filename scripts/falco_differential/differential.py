"""Differential run: our offline checker against the real `falco -V` (JSON output), per file.

Run with the venv's python (no shebang, like k8s_lab.py), after scripts/falco-build.sh:
    PYTHONPATH=.build/collections .venv/bin/python scripts/falco_differential/differential.py \
        --env ~/.cache/nodesec/falco-<hash>/env [--count 3000] [--batch 25] [--jobs 4] [--json OUT]
Cases: the three released upstream rule sets alone and together (../shared/testdata/falco), our
broken-rule cases (the BROKEN and WARNED tables of tests/unit/plugins/module_utils/
test_falco_rules.py, the molecule scenario's broken rule and the example rules over the
upstream set), the rules contents of Falco's own rule-loader unit tests (read from the vendored
source tarball), then the seeded corpus of scripts/falco_differential/corpus.py.

falco -V loads its files cumulatively into one engine and compiles the whole collection after
each file, so a broken rule of one file would fail every later file of the run. Each corpus file
is therefore followed by a "janitor" file that redefines every name the corpus file may define
(corpus names are unique per file) with a clean definition that uses them all; after it the
collection is clean again and the next corpus file's result is its own, as if loaded alone. The
janitors' own results are not compared. Our checker checks each corpus file alone; the upstream
sets loaded together are compared file by file against the checker over the same prefix.
Verdicts (accept/reject) must agree; warnings are compared where both accept (Falco stops at the
first error, so it does not list the warnings of a rejected file).
Prints the agreement figures and every disagreement; exit 1 on any verdict disagreement.
"""

import argparse
import concurrent.futures
import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import corpus  # noqa: E402
from ansible_collections.nodesec.kubernetes.plugins.module_utils import falco_rules  # noqa: E402

UPSTREAM = os.path.join(REPO, "..", "shared", "testdata", "falco")
VENDOR_FALCO = os.path.join(REPO, "..", "shared", "vendor", "falco-0.44.1.tar.gz")
FALCO_TESTS = (
    "unit_tests/engine/test_rule_loader.cpp",
    "unit_tests/engine/test_alt_rule_loader.cpp",
    "unit_tests/engine/test_enable_rule.cpp",
    "unit_tests/engine/test_extra_output.cpp",
)
UPSTREAM_ORDER = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"]


def read_env(path):
    env = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            key, sep, value = line.strip().partition("=")
            if sep:
                env[key] = value.strip('"')
    return env


def falco_command(env, config_dir):
    """falco with a minimal config of our own: the container plugin, JSON output, no driver."""
    config = os.path.join(config_dir, "falco.yaml")
    if not os.path.exists(config):
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(
                "json_output: true\n"
                "load_plugins: [container]\n"
                "plugins:\n"
                "  - name: container\n"
                f"    library_path: {env['PLUGIN']}\n"
                "stdout_output:\n  enabled: true\n"
                "log_stderr: true\n"
                "log_level: error\n"
            )
    return [env["FALCO"], "-c", config]


def falco_verdicts(env, config_dir, paths):
    """Run falco -V over the ordered paths once; return [(ok, errors, warnings)] in order."""
    cmd = falco_command(env, config_dir)
    for path in paths:
        cmd += ["-V", path]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    start = proc.stdout.find('{"falco_load_results"')
    if start < 0:
        raise RuntimeError(
            f"falco -V gave no JSON (rc {proc.returncode}) for {paths[0]}..: "
            f"{proc.stdout[-1000:]} {proc.stderr[-2000:]}"
        )
    results = json.loads(proc.stdout[start:].splitlines()[0])["falco_load_results"]
    if len(results) != len(paths):
        raise RuntimeError(f"falco -V gave {len(results)} results for {len(paths)} files")
    return [(bool(r.get("successful")), r.get("errors", []), r.get("warnings", [])) for r in results]


def checker_verdict(files):
    """Our checker over the ordered [(name, text)]: (ok, has warnings, first message)."""
    result = falco_rules.check_rules(files)
    first = (result.errors or result.warnings or [None])[0]
    return result.ok, bool(result.warnings), first.format() if first else ""


def janitor(index):
    """A clean redefinition of every name corpus file `index` may define, using them all."""
    s = f"{index:05d}"
    rules = "".join(
        f"- rule: {name}_{s}\n  desc: janitor\n"
        f"  condition: evt.type = execve and m_macro_{s} and m2_{s} and proc.name in (shell_binaries_{s}, other_{s})\n"
        "  output: janitor\n  priority: INFO\n"
        for name in ("r2", "r9", "r1")  # r1 last: it may have been defined with another source
    )
    return (
        f"- list: shell_binaries_{s}\n  items: [janitor]\n"
        f"- list: other_{s}\n  items: [janitor]\n"
        f"- macro: m_macro_{s}\n  condition: evt.type = execve\n"
        f"- macro: m2_{s}\n  condition: evt.type = execve\n" + rules
    )


def broken_cases():
    """Our broken-rule cases: (name, [(file name, text)]) each loaded alone."""
    path = os.path.join(REPO, "tests", "unit", "plugins", "module_utils", "test_falco_rules.py")
    spec = importlib.util.spec_from_file_location("nodesec_test_falco_rules", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cases = [("base", [("50-base.yaml", module.BASE)])]
    cases += [(f"broken-{case[0]}", [("50-broken.yaml", module.BASE + case[1])]) for case in module.BROKEN]
    cases += [(f"warned-{case[0]}", [("50-warned.yaml", module.BASE + case[1])]) for case in module.WARNED]
    upstream = os.path.join(UPSTREAM, "falco_rules.yaml")
    if os.path.exists(upstream):
        with open(upstream, encoding="utf-8") as handle:
            base = handle.read()
        molecule = (
            "- rule: nodesec_broken\n  desc: broken on purpose\n"
            "  condition: spawned_process and (proc.name in (shell_binaries)\n"
            "  output: broken %proc.name\n  priority: WARNING\n"
        )
        cases.append(("molecule-broken-rule", [("falco_rules.yaml", base), ("falco_rules.local.yaml", molecule)]))
        example = module.example_rules_text()
        cases.append(("example-rules", [("falco_rules.yaml", base), ("falco_rules.local.yaml", example)]))
    return cases


def falco_test_cases():
    """The rules contents of Falco's own rule-loader unit tests (read from the vendored source
    tarball at run time, not copied into the repository): (name, [(file name, text)])."""
    if not os.path.exists(VENDOR_FALCO):
        return []
    cases = []
    with tarfile.open(VENDOR_FALCO) as tar:
        for member in tar.getmembers():
            if not member.name.endswith(FALCO_TESTS):
                continue
            source = tar.extractfile(member).read().decode("utf-8")
            for number, match in enumerate(re.finditer(r'R"END\((.*?)\)END"', source, re.S)):
                text = match.group(1)
                if "- rule:" not in text and "- macro:" not in text and "- list:" not in text:
                    continue
                base = os.path.basename(member.name).replace(".cpp", "")
                cases.append((f"{base}-{number:03d}", [("rules.yaml", text)]))
    return cases


def run(args):
    env = read_env(args.env)
    start = time.monotonic()
    rows = []  # (set, name, falco_ok, our_ok, falco_warn, our_warn, falco_msg, our_msg)
    with tempfile.TemporaryDirectory(prefix="falco-diff-") as tmp:
        jobs = []  # (set, [(path, name, compare?)], our verdicts per compared file)
        upstream = [os.path.join(UPSTREAM, n) for n in UPSTREAM_ORDER]
        texts = {}
        for path in upstream:
            with open(path, encoding="utf-8") as handle:
                texts[path] = handle.read()
        for path in upstream:
            jobs.append(("upstream-alone", [(path, True)], [checker_verdict([(path, texts[path])])]))
        jobs.append(
            (
                "upstream-together",
                [(p, True) for p in upstream],
                [checker_verdict([(p, texts[p]) for p in upstream[: i + 1]]) for i in range(len(upstream))],
            )
        )
        for name, files in broken_cases():
            case_dir = os.path.join(tmp, name)
            os.makedirs(case_dir)
            paths = []
            for fname, text in files:
                fpath = os.path.join(case_dir, fname)
                with open(fpath, "w", encoding="utf-8") as handle:
                    handle.write(text)
                paths.append(fpath)
            # compared: the last file, after the ones it builds on
            jobs.append(("broken-cases", [(p, p == paths[-1]) for p in paths], [checker_verdict(files)]))
        for name, files in falco_test_cases() if args.falco_tests else []:
            case_dir = os.path.join(tmp, name)
            os.makedirs(case_dir)
            fpath = os.path.join(case_dir, files[0][0])
            with open(fpath, "w", encoding="utf-8") as handle:
                handle.write(files[0][1])
            jobs.append(("falco-unit-tests", [(fpath, True)], [checker_verdict(files)]))
        generated = corpus.generate(args.seed, args.count)
        for first in range(0, len(generated), args.batch):
            entries, ours = [], []
            for index in range(first, min(first + args.batch, len(generated))):
                name, text = generated[index]
                path = os.path.join(tmp, name)
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(text)
                jpath = os.path.join(tmp, f"j{index:05d}.yaml")
                with open(jpath, "w", encoding="utf-8") as handle:
                    handle.write(janitor(index))
                entries += [(path, True), (jpath, False)]
                ours.append(checker_verdict([(path, text)]))
            jobs.append(("corpus", entries, ours))

        def one(job):
            label, entries, ours = job
            real = falco_verdicts(env, tmp, [p for p, _c in entries])
            compared = [(p, r) for (p, c), r in zip(entries, real) if c]
            out = []
            for (path, (ok, errors, warnings)), (our_ok, our_warn, our_msg) in zip(compared, ours):
                falco_msg = json.dumps((errors or warnings)[:1])[:400]
                with open(path, encoding="utf-8") as handle:
                    first = handle.readline()
                kind = first[len("# mutation: ") :].strip() if first.startswith("# mutation: ") else ""
                out.append(
                    (label, os.path.basename(path), ok, our_ok, bool(warnings), our_warn, falco_msg, our_msg, kind)
                )
            return out

        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            for result in pool.map(one, jobs):
                rows += result
    duration = time.monotonic() - start
    return rows, duration


def summarize(rows, duration):
    sets = {}
    for label, *_rest in rows:
        sets.setdefault(label, [])
    summary = {"duration_s": round(duration, 1), "sets": {}}
    for label in sets:
        mine = [r for r in rows if r[0] == label]
        same = sum(1 for r in mine if r[2] == r[3])
        both_ok = [r for r in mine if r[2] and r[3]]
        warn_same = sum(1 for r in both_ok if r[4] == r[5])
        summary["sets"][label] = {
            "files": len(mine),
            "falco_accepted": sum(1 for r in mine if r[2]),
            "falco_rejected": sum(1 for r in mine if not r[2]),
            "same_verdict": same,
            "agreement_pct": round(100.0 * same / len(mine), 2) if mine else 100.0,
            "accepted_by_both": len(both_ok),
            "same_warnings_where_accepted": warn_same,
        }
    kinds = {}
    for r in rows:
        if r[0] == "corpus":
            entry = kinds.setdefault(r[8], {"files": 0, "falco_accepted": 0, "same_verdict": 0})
            entry["files"] += 1
            entry["falco_accepted"] += int(r[2])
            entry["same_verdict"] += int(r[2] == r[3])
    summary["corpus_by_mutation"] = dict(sorted(kinds.items()))
    summary["same_verdict"] = sum(1 for r in rows if r[2] == r[3])
    summary["files"] = len(rows)
    summary["disagreements"] = [
        {
            "set": r[0],
            "file": r[1],
            "falco": "ok" if r[2] else "reject",
            "ours": "ok" if r[3] else "reject",
            "falco_warn": r[4],
            "our_warn": r[5],
            "falco_msg": r[6],
            "our_msg": r[7],
        }
        for r in rows
        if r[2] != r[3] or (r[2] and r[3] and r[4] != r[5])
    ]
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="the env file scripts/falco-build.sh writes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--jobs", type=int, default=4, help="falco runs at once (a run mostly waits, little CPU)")
    parser.add_argument("--json", help="write the summary (figures and disagreements) here")
    parser.add_argument(
        "--no-falco-tests",
        dest="falco_tests",
        action="store_false",
        help="leave out the rules contents of Falco's own unit tests",
    )
    args = parser.parse_args()
    rows, duration = run(args)
    summary = summarize(rows, duration)
    for d in summary["disagreements"]:
        print(
            "DIFF {set} {file} falco={falco}/{fw} ours={ours}/{ow}\n  falco: {falco_msg}\n  ours:  {our_msg}".format(
                fw="warn" if d["falco_warn"] else "-", ow="warn" if d["our_warn"] else "-", **d
            )
        )
    for label, fig in summary["sets"].items():
        print(
            f"{label}: {fig['files']} files (falco accepts {fig['falco_accepted']}, rejects {fig['falco_rejected']}), "
            f"same verdict {fig['same_verdict']} ({fig['agreement_pct']}%), same warnings where both accept "
            f"{fig['same_warnings_where_accepted']}/{fig['accepted_by_both']}"
        )
    for kind, fig in summary["corpus_by_mutation"].items():
        print(
            f"  corpus mutation {kind}: {fig['files']} files, Falco accepts {fig['falco_accepted']}, "
            f"same verdict {fig['same_verdict']}"
        )
    print(f"total {summary['files']} files, same verdict {summary['same_verdict']}, {summary['duration_s']} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=1)
    return 0 if summary["same_verdict"] == summary["files"] else 1


if __name__ == "__main__":
    sys.exit(main())
