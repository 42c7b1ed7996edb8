"""The baseline and restricted profiles held to the API server's own PodSecurity admission.

The judge is the real kube-apiserver of the fast lab (scripts/k8s-api.sh, v1.35.4), whose
built-in PodSecurity admission knows every standard version. For each supported version and
both levels a namespace is labelled ``enforce=privileged``, ``warn=<level>``,
``warn-version=v1.<minor>``; each pod of the corpus is created with server-side dry run
(nothing is stored) and PodSecurity's verdict is read from the ``Warning`` header.

The corpus: ``CORPUS_SIZE`` pods generated with a fixed seed (pss_corpus.generate: every
field PodSecurity reads, a third drawn freely, two thirds near misses) and the realistic pods
of the unit tests. Our verdict is computed on the pod as the server returns it from the dry
run (defaulted, as our scan lists it from the API). It must equal the server's for every pod,
and so must the list of violations, reason and detail, which names the checks.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Dict, List

import pss_corpus
import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance import pss
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.rules import build_policy, evaluate

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("PSS_ORACLE_SEED", "20261201"))
CORPUS_SIZE = int(os.environ.get("PSS_ORACLE_PODS", "3000"))
WORKERS = int(os.environ.get("PSS_ORACLE_WORKERS", "8"))
VERSIONS = [(1, minor) for minor in range(pss.OLDEST_SUPPORTED[1], pss.LATEST[1] + 1)]
CORPUS: List[Dict[str, Any]] = pss_corpus.generate(CORPUS_SIZE, SEED) + pss_corpus.realistic(
    REPO / "tests" / "unit" / "plugins" / "module_utils" / "fixtures" / "pods.yaml"
)


@pytest.fixture(scope="module")
def judge(k8s_kubeconfig: str):
    server = pss_corpus.ServerJudge(k8s_kubeconfig, workers=WORKERS)
    yield server
    server.close()


def test_corpus_is_reproducible():
    again = pss_corpus.generate(50, SEED)
    assert again == CORPUS[:50]
    assert pss_corpus.generate(50, SEED + 1) != again


@pytest.mark.parametrize("level", pss.LEVELS)
@pytest.mark.parametrize("version", VERSIONS, ids=pss.format_version)
def test_verdicts_equal_the_api_server(judge, level, version):
    namespace = f"pss-oracle-{level}-{version[0]}-{version[1]}"
    judge.namespace(namespace, level, pss.format_version(version))
    policy = build_policy(level, pss_version=f"{version[0]}.{version[1]}")
    started = time.monotonic()
    try:
        answers = judge.judge_all(namespace, CORPUS)
    finally:
        judge.delete_namespace(namespace)
    elapsed = time.monotonic() - started
    invalid = [(pod["metadata"]["name"], answer[2]) for pod, answer in zip(CORPUS, answers) if answer[0] == "invalid"]
    verdicts, details, allowed = [], [], 0
    for pod, (kind, reasons, _text, stored) in zip(CORPUS, answers):
        if kind == "invalid":
            continue
        ours = sorted(v.reason for v in evaluate(stored, policy).violations if v.pss_check)
        theirs = sorted(reasons or [])
        allowed += kind == "ok"
        if (kind == "ok") != (not ours):
            verdicts.append((pod["metadata"]["name"], theirs, ours))
        elif ours != theirs:
            details.append((pod["metadata"]["name"], theirs, ours))
    compared = len(CORPUS) - len(invalid)
    print(
        f"{level}:{pss.format_version(version)}: {compared} pods compared ({allowed} allowed), {len(invalid)} "
        f"refused by validation, {len(verdicts)} verdict and {len(details)} detail differences, {elapsed:.1f}s"
    )
    # the realistic pods with ephemeral containers cannot be created; the generated ones are valid
    assert len(invalid) <= len(CORPUS) // 100, invalid[:5]
    assert 0 < allowed < compared, "the corpus must hold pods on both sides of the level"
    assert not verdicts, f"{len(verdicts)} verdicts differ from the API server's, e.g. {verdicts[:3]}"
    assert not details, f"{len(details)} violation lists differ from the API server's, e.g. {details[:3]}"
