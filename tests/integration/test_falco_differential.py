"""Our offline Falco rules checker against the real Falco 0.44.1 `falco -V`, side by side.

scripts/falco-build.sh gives the real binary (cached: a warm call only prints its folder; a
cold one builds it, which is CI's job). scripts/falco_differential/differential.py runs both
over the three released upstream rule sets alone and together, our broken-rule cases and a
seeded corpus of 3000 generated rule files, and every file must get the same verdict
(accept/reject) from both; where both accept, the warnings must agree too. The figures (corpus
size, accept/reject split, duration) are printed and written to the test's tmp folder.

test_deep_nesting_agrees_with_real_falco holds the checker to the engine on deep nesting
(scripts/falco_differential/nesting.py: ten constructs at 50 to 5000 levels, five broken at the
bottom of the nest): the verdict of every file is Falco's, re-measured on each run, so the
verdicts the unit tests (test_falco_nesting.py) assert cannot drift from the engine's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils import falco_rules
from builds import build_env_file, read_env

REPO = Path(__file__).resolve().parents[2]
DIFFERENTIAL = REPO / "scripts" / "falco_differential" / "differential.py"
CORPUS_SIZE = 3000


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"nodesec_falco_{name}", DIFFERENTIAL.parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pytestmark = [
    pytest.mark.integration,
    # scripts/test.sh runs it in its falco stage, once the background Falco build is done
    pytest.mark.real_falco,
    pytest.mark.skipif(os.geteuid() != 0, reason="falco -V is run as root here (the build's plugin and config)"),
]


@pytest.fixture(name="falco_env", scope="module")
def falco_env_fixture() -> Path:
    return build_env_file("falco-build.sh")


def test_checker_agrees_with_real_falco(falco_env: Path, tmp_path: Path) -> None:
    summary_path = tmp_path / "falco-differential.json"
    env = dict(os.environ, PYTHONPATH=str(REPO / ".build" / "collections"))
    proc = subprocess.run(
        [
            sys.executable,
            str(DIFFERENTIAL),
            "--env",
            str(falco_env),
            "--count",
            str(CORPUS_SIZE),
            "--json",
            str(summary_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
        env=env,
    )
    print(proc.stdout[-6000:])
    assert summary_path.is_file(), f"the differential gave no summary (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
    summary = json.loads(summary_path.read_text())
    sets = summary["sets"]
    corpus = sets["corpus"]
    print(
        f"corpus {corpus['files']} files: Falco accepts {corpus['falco_accepted']}, rejects "
        f"{corpus['falco_rejected']}; {summary['files']} files in all, {summary['duration_s']} s"
    )
    assert corpus["files"] == CORPUS_SIZE
    # a corpus worth its name: both verdicts well represented
    assert corpus["falco_accepted"] > CORPUS_SIZE // 5 and corpus["falco_rejected"] > CORPUS_SIZE // 5
    assert sets["upstream-alone"]["files"] == 3 and sets["upstream-together"]["files"] == 3
    assert sets["upstream-alone"]["falco_accepted"] == 3 and sets["upstream-together"]["falco_accepted"] == 3
    assert sets["broken-cases"]["falco_rejected"] > 0
    assert summary["disagreements"] == [], json.dumps(summary["disagreements"][:20], indent=1)
    assert summary["same_verdict"] == summary["files"]
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_deep_nesting_agrees_with_real_falco(falco_env: Path, tmp_path: Path) -> None:
    nesting = _script("nesting")
    differential = _script("differential")
    env = read_env(falco_env)
    cases = [(f"{kind}-{depth}", text) for depth in nesting.DEPTHS for kind, text in nesting.kinds(depth)]
    cases += [(f"{kind}-{depth}", text) for depth in nesting.BROKEN_DEPTHS for kind, text in nesting.broken(depth)]
    disagreements = []
    accepted = 0
    for name, text in cases:
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        # one falco -V per file: each file is a rule set of its own (the same names in every file)
        [(falco_ok, falco_errors, _warnings)] = differential.falco_verdicts(env, str(tmp_path), [str(path)])
        ours = falco_rules.check_rules([(path.name, text)])
        accepted += falco_ok
        if ours.ok != falco_ok:
            disagreements.append(
                {
                    "case": name,
                    "falco_ok": falco_ok,
                    "falco": falco_errors[:1],
                    "ours": [f.format() for f in ours.errors[:1]],
                }
            )
    print(f"{len(cases)} nesting cases: Falco accepts {accepted}, rejects {len(cases) - accepted}")
    assert disagreements == [], json.dumps(disagreements[:10], indent=1)
    # the cases do what they say: the constructs load at every depth, the broken ones never do
    assert accepted == sum(len(list(nesting.kinds(depth))) for depth in nesting.DEPTHS)
