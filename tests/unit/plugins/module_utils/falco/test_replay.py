"""Unit tests of plugins/module_utils/falco/replay.py: parameters, command lines, parsing, expectations.

The parsing and expectation tests read what the real Falco 0.44.1 printed and wrote when it
replayed ../shared/testdata/scap/curl_google.scap (tests/testdata/falco_replay/, recorded as its
README says). The same paths run against the live binary in
tests/integration/test_falco_rules_test.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import (
    InvalidRequestError,
    MissingDependencyError,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import replay

DATA = Path(__file__).resolve().parents[4] / "testdata" / "falco_replay"
CURL = "../shared/testdata/scap/curl_google.scap"


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def params(**overrides):
    base = {"rules_files": [{"path": "/etc/falco/falco_rules.yaml"}], "captures": ["/tmp/a.scap"]}
    base.update(overrides)
    return base


# --------------------------------------------------------------------------- parameters


def test_from_params_defaults():
    p = replay.RulesTestParams.from_params(params())
    assert p.falco == "/usr/bin/falco"
    assert p.config == "auto"
    assert p.plugins is None
    assert p.timeout == 300 and p.max_events == 5
    assert p.expected == [] and p.options == []
    assert p.rules_files[0].label == "/etc/falco/falco_rules.yaml"


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"rules_files": []}, "rules_files", "at least one rules file"),
        ({"rules_files": [{"path": "/a.yaml", "content": "x"}]}, "rules_files[0]", "exactly one of path and content"),
        ({"rules_files": [{}]}, "rules_files[0]", "exactly one of path and content"),
        ({"captures": []}, "captures", "at least one capture"),
        ({"timeout": -1}, "timeout", "positive"),
        ({"max_events": -2}, "max_events", "0 or more"),
        ({"options": ["priority"]}, "options[0]", "key=value"),
        ({"options": ["=x"]}, "options[0]", "key=value"),
        ({"plugins": [{"library_path": "/a/libx.so"}, {"library_path": "/b/libx.so"}]}, "plugins", "'x'"),
        ({"plugins": [{"name": "x"}]}, "plugins[0].library_path", "library_path"),
        ({"expected": [{"fires": True}]}, "expected[0].rule", "name of a rule"),
        ({"expected": [{"rule": "r", "fires": False, "min_count": 2}]}, "expected[0]", "fires is false"),
        ({"expected": [{"rule": "r", "min_count": -1}]}, "expected[0].min_count", "0 or more"),
        ({"expected": [{"rule": "r", "min_count": 3, "max_count": 2}]}, "expected[0].min_count", "greater than"),
    ],
)
def test_from_params_refuses_bad_input_naming_the_field(overrides, field, words):
    with pytest.raises(InvalidRequestError) as excinfo:
        replay.RulesTestParams.from_params(params(**overrides))
    assert excinfo.value.field == field
    assert words in str(excinfo.value)


@pytest.mark.parametrize(
    ("library", "name"),
    [
        ("/usr/share/falco/plugins/libcontainer.so", "container"),
        ("/usr/share/falco/plugins/libk8smeta.so", "k8smeta"),
        ("/opt/plugins/myplugin.so", "myplugin"),
        ("/opt/lib.so", "lib"),
    ],
)
def test_plugin_name_from_library(library, name):
    assert replay.plugin_name(library) == name


def test_plugin_entries_keep_settings_and_a_given_name():
    p = replay.RulesTestParams.from_params(
        params(
            plugins=[
                {"library_path": "/usr/share/falco/plugins/libcontainer.so", "init_config": {"label_max_len": 100}},
                {"library_path": "/opt/libk8smeta.so", "name": "k8s", "open_params": "x"},
            ]
        )
    )
    assert [pl.to_config() for pl in p.plugins] == [
        {
            "name": "container",
            "library_path": "/usr/share/falco/plugins/libcontainer.so",
            "init_config": {"label_max_len": 100},
        },
        {"name": "k8s", "library_path": "/opt/libk8smeta.so", "open_params": "x"},
    ]


@pytest.mark.parametrize(
    ("entry", "bounds"),
    [
        ({"rule": "r"}, (1, None)),
        ({"rule": "r", "fires": True, "min_count": 3}, (3, None)),
        ({"rule": "r", "max_count": 2}, (1, 2)),
        ({"rule": "r", "min_count": 0, "max_count": 4}, (0, 4)),
        ({"rule": "r", "fires": False}, (0, 0)),
    ],
)
def test_expectation_bounds(entry, bounds):
    assert replay.expectation_from_param(0, entry).bounds() == bounds


# --------------------------------------------------------------------------- input checks


def test_rules_paths_missing_suffix_and_missing_ok(tmp_path):
    good = tmp_path / "rules.yaml"
    good.write_text("[]\n")
    odd = tmp_path / "rules.txt"
    odd.write_text("[]\n")
    entries = [replay.RulesFile(0, path=str(good)), replay.RulesFile(1, path=str(tmp_path))]
    replay.check_rules_paths(entries, os.path.exists, os.path.isdir)

    with pytest.raises(InvalidRequestError) as excinfo:
        replay.check_rules_paths([replay.RulesFile(0, path=str(odd))], os.path.exists, os.path.isdir)
    assert excinfo.value.field == "rules_files[0].path"
    assert "skips such files" in str(excinfo.value)

    missing = str(tmp_path / "absent.yaml")
    with pytest.raises(InvalidRequestError) as excinfo:
        replay.check_rules_paths([replay.RulesFile(3, path=missing)], os.path.exists, os.path.isdir)
    assert excinfo.value.field == "rules_files[3].path"
    assert missing in str(excinfo.value) and "missing_ok" in str(excinfo.value)
    replay.check_rules_paths([replay.RulesFile(3, path=missing, missing_ok=True)], os.path.exists, os.path.isdir)


def test_captures_missing_directory_and_unreadable(tmp_path):
    capture = tmp_path / "a.scap"
    capture.write_bytes(b"\0")
    replay.check_captures([str(capture)], os.path.exists, lambda p: True, os.path.isdir)
    with pytest.raises(InvalidRequestError) as excinfo:
        replay.check_captures([str(capture), str(tmp_path / "b.scap")], os.path.exists, lambda p: True, os.path.isdir)
    assert excinfo.value.field == "captures[1]" and "b.scap" in str(excinfo.value)
    with pytest.raises(InvalidRequestError, match="is a directory"):
        replay.check_captures([str(tmp_path)], os.path.exists, lambda p: True, os.path.isdir)
    # root reads any file, so readability is given by the caller here
    with pytest.raises(InvalidRequestError, match="not readable"):
        replay.check_captures([str(capture)], os.path.exists, lambda p: False, os.path.isdir)


def test_falco_binary_missing_or_not_executable(tmp_path):
    with pytest.raises(MissingDependencyError) as excinfo:
        replay.check_falco(str(tmp_path / "falco"), os.path.exists, lambda p: True)
    assert excinfo.value.field == "falco" and "nodesec.kubernetes.falco" in str(excinfo.value)
    with pytest.raises(MissingDependencyError, match="not executable"):
        replay.check_falco("/etc/hostname", lambda p: True, lambda p: False)


def test_plugin_library_missing(tmp_path):
    plugins = [replay.Plugin(str(tmp_path / "libcontainer.so"), "container")]
    with pytest.raises(InvalidRequestError) as excinfo:
        replay.check_plugins(plugins, os.path.exists)
    assert excinfo.value.field == "plugins[0].library_path"


def test_resolve_config(tmp_path):
    assert replay.resolve_config("none", lambda p: True) is None
    assert replay.resolve_config("auto", lambda p: p == replay.PACKAGE_CONFIG) == replay.PACKAGE_CONFIG
    assert replay.resolve_config("auto", lambda p: False) is None
    given = tmp_path / "falco.yaml"
    given.write_text("{}\n")
    assert replay.resolve_config(str(given), os.path.exists) == str(given)
    with pytest.raises(InvalidRequestError) as excinfo:
        replay.resolve_config(str(tmp_path / "nope.yaml"), os.path.exists)
    assert excinfo.value.field == "config" and "config=none" in str(excinfo.value)


# --------------------------------------------------------------------------- command lines


def test_overlay_switches_every_output_and_service_off_but_our_file():
    overlay = replay.overlay_config(None, "/w/alerts-load.json")
    for key in ("stdout_output", "syslog_output", "http_output", "program_output", "webserver", "metrics", "capture"):
        assert overlay[key] == {"enabled": False}, key
    assert overlay["file_output"] == {"enabled": True, "keep_alive": True, "filename": "/w/alerts-load.json"}
    assert overlay["json_output"] is True and overlay["json_include_output_fields_property"] is True
    assert "plugins" not in overlay and "load_plugins" not in overlay
    with_plugins = replay.overlay_config([replay.Plugin("/p/libcontainer.so", "container")], "/w/a.json")
    assert with_plugins["load_plugins"] == ["container"]
    assert with_plugins["plugins"] == [{"name": "container", "library_path": "/p/libcontainer.so"}]
    assert replay.overlay_config([], "/w/a.json")["load_plugins"] == []


def test_base_argv_layers_our_config_over_the_nodes_and_keeps_rules_order():
    argv = replay.base_argv("/usr/bin/falco", "/etc/falco/falco.yaml", "/tmp/w/o.json", ["/a.yaml", "/d"], ["x=1"])
    assert argv[:3] == ["/usr/bin/falco", "-c", "/etc/falco/falco.yaml"]
    assert argv[3] == "-o"
    key, value = argv[4].split("=", 1)
    assert key == "config_files[]" and json.loads(value) == {"path": "/tmp/w/o.json", "strategy": "override"}
    assert argv[-4:] == ["-r", "/a.yaml", "-r", "/d"]
    assert argv[argv.index("x=1") - 1] == "-o"
    append = [a for a in argv if a.startswith("append_output[]=")]
    assert json.loads(append[0].split("=", 1)[1])["extra_fields"] == list(replay.EVENT_FIELDS)

    bare = replay.base_argv("/usr/bin/falco", None, "/tmp/w/o.json", ["/a.yaml"])
    assert bare[:3] == ["/usr/bin/falco", "-c", "/tmp/w/o.json"]
    assert not any(a.startswith("config_files") for a in bare)


def test_replay_and_describe_argv():
    base = ["/usr/bin/falco", "-c", "/x.json", "-r", "/a.yaml"]
    assert replay.describe_argv(base) == [*base, "-L"]
    argv = replay.replay_argv(base, "/c/a.scap", "/w/alerts-0.json")
    assert argv[: len(base)] == base
    assert "engine.kind=replay" in argv
    assert "engine.replay.capture_file=/c/a.scap" in argv
    assert "file_output.filename=/w/alerts-0.json" in argv
    assert "-e" not in argv  # Falco 0.44 has no -e
    assert argv[-1] == "-v"


# --------------------------------------------------------------------------- expectations


def hits_of(counts):
    hits = replay.Hits(max_events=2)
    for rule, count in counts.items():
        for num in range(count):
            hits.add(
                {
                    "rule": rule,
                    "priority": "Notice",
                    "output_fields": {"evt.num": 100 + num, "proc.name": "curl"},
                }
            )
    return hits


KNOWN = {"curl open": {"enabled": True}, "never": {"enabled": True}, "off": {"enabled": False}}


def test_expectations_pass_and_fail_with_rule_and_capture_named():
    hits = {"/c/a.scap": hits_of({"curl open": 3}), "/c/b.scap": hits_of({})}
    expected = [
        replay.expectation_from_param(0, {"rule": "curl open", "capture": "/c/a.scap", "min_count": 3}),
        replay.expectation_from_param(1, {"rule": "never", "fires": False}),
        replay.expectation_from_param(2, {"rule": "curl open", "capture": "b.scap"}),
        replay.expectation_from_param(3, {"rule": "curl open", "capture": "/c/a.scap", "max_count": 2}),
        replay.expectation_from_param(4, {"rule": "off", "capture": "/c/a.scap"}),
    ]
    results = replay.check_expectations(expected, hits, KNOWN)
    verdicts = [(r["rule"], r["capture"], r["count"], r["passed"]) for r in results]
    assert verdicts == [
        ("curl open", "/c/a.scap", 3, True),
        ("never", "/c/a.scap", 0, True),
        ("never", "/c/b.scap", 0, True),
        ("curl open", "/c/b.scap", 0, False),
        ("curl open", "/c/a.scap", 3, False),
        ("off", "/c/a.scap", 0, False),
    ]
    failed = [r["message"] for r in results if not r["passed"]]
    assert failed[0] == "Rule 'curl open' was expected to fire on capture /c/b.scap but did not fire [expected[2]]"
    assert failed[1] == (
        "Rule 'curl open' was expected to fire between 1 and 2 times on capture /c/a.scap but fired 3 times "
        "(first: evt.num=100 proc.name=curl) [expected[3]]"
    )
    assert "disabled" in failed[2]
    summary = replay.failure_message(results)
    assert summary.startswith("3 of 6 rule expectation(s) failed: Rule 'curl open'")


def test_must_not_fire_fails_naming_the_first_event():
    hits = {"/c/a.scap": hits_of({"never": 1})}
    results = replay.check_expectations([replay.expectation_from_param(0, {"rule": "never", "fires": False})], hits)
    assert results[0]["passed"] is False
    assert results[0]["message"] == (
        "Rule 'never' was expected not to fire on capture /c/a.scap but fired once "
        "(first: evt.num=100 proc.name=curl) [expected[0]]"
    )


def test_unknown_rule_or_capture_is_an_error_not_a_pass():
    hits = {"/c/a.scap": hits_of({})}
    with pytest.raises(InvalidRequestError) as excinfo:
        replay.check_expectations([replay.expectation_from_param(0, {"rule": "curl opn", "fires": False})], hits, KNOWN)
    assert excinfo.value.field == "expected[0].rule"
    assert "did you mean 'curl open'?" in str(excinfo.value)
    with pytest.raises(InvalidRequestError) as excinfo:
        replay.resolve_targets(
            [replay.expectation_from_param(1, {"rule": "never", "capture": "x.scap"})], ["/c/a.scap"]
        )
    assert excinfo.value.field == "expected[1].capture"
    with pytest.raises(InvalidRequestError, match="several"):
        replay.resolve_targets(
            [replay.expectation_from_param(0, {"rule": "never", "capture": "a.scap"})], ["/c/a.scap", "/d/a.scap"]
        )


def test_hits_keep_the_first_events_and_count_all():
    hits = hits_of({"r": 4, "s": 1})
    assert hits.counts() == {"r": 4, "s": 1}
    assert hits.total == 5
    rules = hits.rules()
    assert [r["rule"] for r in rules] == ["r", "s"]
    assert [e["evt.num"] for e in rules[0]["events"]] == [100, 101]


# --------------------------------------------------------------------------- Falco's own output


def recorded(scenario: str) -> dict:
    return json.loads(read(f"{scenario}.json"))


def test_rule_list_from_falco_describe():
    describe = recorded("curl_google")["calls"][0]
    assert describe["argv"][-1] == "-L" and describe["rc"] == 0
    assert replay.parse_rule_list(describe["stdout"]) == {
        "nodesec curl opens a file": {"priority": "Notice", "enabled": True, "source": "syscall"},
        "nodesec curl connects": {"priority": "Warning", "enabled": True, "source": "syscall"},
        "nodesec never fires": {"priority": "Critical", "enabled": True, "source": "syscall"},
    }


def test_alerts_of_curl_google_agree_with_falcos_own_summary():
    call = recorded("curl_google")["calls"][1]
    assert "engine.kind=replay" in call["argv"]
    hits = replay.Hits(max_events=3)
    assert hits.add_lines(call["alerts"].splitlines()) == 0
    stats = replay.parse_stats(call["stdout"])
    assert stats == {
        "events_detected": 52,
        "by_rule": {"nodesec curl opens a file": 48, "nodesec curl connects": 4},
    }
    assert hits.counts() == stats["by_rule"]
    assert hits.total == stats["events_detected"]
    assert replay.parse_events_read(call["stderr"]) == 939
    opens, connects = hits.rules()
    assert (opens["rule"], opens["priority"], opens["tags"]) == (
        "nodesec curl opens a file",
        "Notice",
        ["filesystem", "nodesec"],
    )
    assert connects["priority"] == "Warning"
    first = opens["events"][0]
    assert first["evt.num"] == 216
    assert first["evt.time"] == 1534527348514682170
    assert first["time"] == "2018-08-17T17:35:48.514682170Z"
    assert (first["evt.type"], first["proc.name"]) == ("open", "curl")
    assert first["output"].startswith(
        "17:35:48.514682170: Notice curl opened a file (file=/etc/ld.so.cache evt.num=216)"
    )
    assert first["output_fields"]["fd.name"] == "/etc/ld.so.cache"
    assert first["output_fields"]["proc.cmdline"] == "curl -6 http://www.google.com"
    assert [e["evt.num"] for e in opens["events"]] == sorted(e["evt.num"] for e in opens["events"])
    assert len(opens["events"]) == 3 and len(connects["events"]) == 3


def test_log_lines_and_torn_lines_are_not_alerts():
    call = recorded("curl_google")["calls"][1]
    lines = call["alerts"].splitlines()
    hits = replay.Hits()
    assert hits.add_lines(["Wed Dec 02 06:25:05 2026: Loading rules from:", lines[0][:40], *lines[:2]]) == 2
    assert hits.total == 2
    assert replay.parse_alert('{"no": "rule"}') is None


def test_broken_rule_message_is_falcos_with_the_callers_file_name():
    data = recorded("broken_rule")
    [call] = data["calls"]
    assert call["rc"] == 1
    temp = call["argv"][call["argv"].index("-L") - 1]
    assert temp.endswith("/rules/01-broken.yaml")
    message = replay.falco_error(call["stderr"])
    assert message.startswith(f"{temp}: Invalid")
    assert "LOAD_ERR_COMPILE_CONDITION (Error compiling condition): expected blank or '(' after 'and'" in message
    text = replay.refused_message(message, {temp: "/etc/falco/rules.d/broken.yaml"})
    assert text.startswith("Falco refused the rule set: /etc/falco/rules.d/broken.yaml: Invalid")
    assert "rule 'nodesec broken condition': (/etc/falco/rules.d/broken.yaml:1:2)" in text
    assert temp not in text
    assert data["error"]["message"] == text


def test_missing_plugin_message_says_how_to_load_it():
    data = recorded("plugin_missing")
    message = replay.falco_error(data["calls"][0]["stderr"])
    assert message == "Plugin requirement not satisfied, must load one of: container (>= 0.4.0)"
    text = replay.refused_message(message, {})
    assert text.endswith(
        f"give it with plugins (e.g. [{{library_path: {replay.CONTAINER_PLUGIN}}}]) "
        "or use a configuration that loads it."
    )


def test_expectations_on_the_recorded_hits():
    call = recorded("curl_google")["calls"][1]
    hits = replay.Hits()
    hits.add_lines(call["alerts"].splitlines())
    known = replay.parse_rule_list(recorded("curl_google")["calls"][0]["stdout"])
    results = replay.check_expectations(
        [
            replay.expectation_from_param(0, {"rule": "nodesec curl connects", "min_count": 4, "max_count": 4}),
            replay.expectation_from_param(1, {"rule": "nodesec never fires", "fires": False}),
            replay.expectation_from_param(2, {"rule": "nodesec curl opens a file", "fires": False}),
        ],
        {CURL: hits},
        known,
    )
    assert [r["passed"] for r in results] == [True, True, False]
    assert results[2]["message"] == (
        f"Rule 'nodesec curl opens a file' was expected not to fire on capture {CURL} but fired 48 times "
        "(first: evt.num=216 proc.name=curl) [expected[2]]"
    )
