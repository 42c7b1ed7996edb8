"""Record what the real Falco answers to the falco_rules_test module (see README.md).

    PYTHONPATH=.build/collections python tests/testdata/falco_replay/record.py ~/.cache/nodesec/falco-*/env

Runs the module's own service (plugins/module_utils/falco/replay.py) with a runner that calls
the real Falco and keeps, for every call, its argv, exit code, stdout and stderr, plus the alerts
file Falco wrote (JSON lines), in <scenario>.json next to this script.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import NodesecError
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import replay

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
SHARED = (REPO / ".." / "shared" / "testdata").resolve()
CURL = str(SHARED / "scap" / "curl_google.scap")


def read_env(path: str) -> dict:
    pairs = (line.split("=", 1) for line in Path(path).read_text().splitlines() if "=" in line)
    return {k: v.strip('"') for k, v in pairs}


class Recorder:
    def __init__(self) -> None:
        self.calls = []

    def __call__(self, argv, timeout):
        done = replay.bounded_runner(argv, timeout)
        call = {"argv": list(argv), "rc": done.rc, "stdout": done.stdout, "stderr": done.stderr}
        alerts = [a.split("=", 1)[1] for a in argv if a.startswith("file_output.filename=")]
        if alerts:
            call["alerts"] = Path(alerts[0]).read_text() if os.path.exists(alerts[0]) else None
        self.calls.append(call)
        return done


def record(name: str, params: dict) -> None:
    recorder = Recorder()
    service = replay.FalcoRulesTest(runner=recorder)
    outcome = {"scenario": name, "params": params}
    try:
        result = service.run(replay.RulesTestParams.from_params(params))
        outcome["result"] = {"hits": result["hits"], "rules_loaded": result["rules_loaded"]}
    except NodesecError as exc:
        outcome["error"] = {"type": type(exc).__name__, "message": str(exc), "field": exc.field}
    outcome["calls"] = recorder.calls
    (HERE / f"{name}.json").write_text(json.dumps(outcome, indent=1) + "\n")
    print(name, outcome.get("result") or outcome.get("error"))


def main(env_file: str) -> None:
    env = read_env(env_file)
    plugins = [{"library_path": env["PLUGIN"]}]
    rules = str(HERE / "rules.yaml")
    common = {"falco": env["FALCO"], "config": env["CONFIG"], "plugins": plugins, "captures": [CURL]}
    record("curl_google", {**common, "rules_files": [{"path": rules}]})
    record(
        "broken_rule",
        {
            **common,
            "rules_files": [
                {"path": rules},
                {"content": (HERE / "broken.yaml").read_text(), "name": "/etc/falco/rules.d/broken.yaml"},
            ],
        },
    )
    record(
        "plugin_missing",
        {
            "falco": env["FALCO"],
            "config": "none",
            "captures": [CURL],
            "rules_files": [{"path": str(SHARED / "falco" / "falco_rules.yaml")}],
        },
    )


if __name__ == "__main__":
    main(sys.argv[1])
