# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Rule tests against recorded captures, with the real Falco engine (Falco 0.44).

Pure parts (no Ansible imports): the parameters and their checks, Falco's command lines and
the configuration layered over the node's, the parsing of Falco's JSON alerts and of its end
of run statistics, the hits per rule and the expectation checks. :class:`FalcoRulesTest` is the
one I/O piece: it writes the inline rules files and the configuration to a temporary folder and
runs Falco through an injected runner (by default the collection's bounded runner).

How Falco 0.44.1 is driven (read from its sources and checked on the binary):

* replay is an engine: ``-o engine.kind=replay -o engine.replay.capture_file=FILE`` (the old
  ``-e FILE`` option no longer exists); Falco stops at the end of the file;
* ``-r PATH`` replaces ``rules_files``; a file whose name does not end in ``.yaml``/``.yml`` is
  silently skipped by Falco, so such paths are refused here;
* ``-o key=value`` is applied after the configuration files are merged, but cannot replace a
  list; ``config_files[]={"path": ..., "strategy": "override"}`` appends a configuration file
  of ours after the node's own drop-ins, and its top-level keys (outputs, plugins) replace the
  node's whole. The node's other settings (``priority``, ``rule_matching``, ``rules``
  selection, ``append_output``, plugin settings) stay as in production;
* every output the node sends alerts to (syslog, HTTP, program, file) is switched off, and so are
  the webserver (the running Falco holds its port), metrics and the capture feature; alerts go
  as JSON to a file of ours;
* ``-L`` with ``json_output`` describes the loaded rules (names, priority, enabled) and fails
  with Falco's own message when the rules do not load.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import (
    InvalidInputError,
    InvalidRequestError,
    MissingDependencyError,
    NodesecError,
)
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.runner import run_bounded

DEFAULT_FALCO = "/usr/bin/falco"
PACKAGE_CONFIG = "/etc/falco/falco.yaml"
CONTAINER_PLUGIN = "/usr/share/falco/plugins/libcontainer.so"
DEFAULT_TIMEOUT = 300
DEFAULT_MAX_EVENTS = 5
RULES_SUFFIXES = (".yaml", ".yml")
# Extra output fields every syscall alert carries, whatever its rule's output prints (Falco's
# append_output.extra_fields: added to output_fields, the output text is unchanged).
EVENT_FIELDS = ("evt.num", "evt.type", "proc.name", "proc.cmdline")
# Falco's outputs that could send test alerts somewhere real, and the services a second Falco
# must not start next to the running one.
OUTPUTS_OFF = ("stdout_output", "syslog_output", "http_output", "program_output")
SERVICES_OFF = ("webserver", "metrics", "capture")


class RulesRefusedError(InvalidInputError):
    """Falco refused the rule set (or its configuration); carries Falco's own message."""

    def __init__(self, message: str, falco_message: str, field: str = "rules_files") -> None:
        super().__init__(message, field=field)
        self.falco_message = falco_message


class FalcoRunError(NodesecError):
    """Falco could not replay a capture (unreadable file, timeout, crash)."""

    def __init__(self, message: str, field: str = "", stderr: str = "") -> None:
        super().__init__(message, field=field)
        self.stderr = stderr


# --------------------------------------------------------------------------- parameters


@dataclass
class RulesFile:
    """One entry of ``rules_files``: a path on the node (file or folder) or inline content."""

    index: int
    path: Optional[str] = None
    content: Optional[str] = None
    name: Optional[str] = None
    missing_ok: bool = False

    @property
    def label(self) -> str:
        return self.name or self.path or f"inline-{self.index + 1}"


@dataclass
class Plugin:
    library_path: str
    name: str
    init_config: Any = None
    open_params: Optional[str] = None

    def to_config(self) -> Dict[str, Any]:
        entry: Dict[str, Any] = {"name": self.name, "library_path": self.library_path}
        if self.init_config is not None:
            entry["init_config"] = self.init_config
        if self.open_params is not None:
            entry["open_params"] = self.open_params
        return entry


@dataclass
class Expectation:
    """One entry of ``expected``: ``rule`` fires (or not) on ``capture`` (every capture when unset)."""

    index: int
    rule: str
    capture: Optional[str] = None
    fires: bool = True
    min_count: Optional[int] = None
    max_count: Optional[int] = None

    @property
    def field(self) -> str:
        return f"expected[{self.index}]"

    def bounds(self) -> Tuple[int, Optional[int]]:
        """The accepted count range (low, high or None for no upper bound)."""
        if not self.fires:
            return 0, 0
        return (self.min_count if self.min_count is not None else 1), self.max_count


@dataclass
class RulesTestParams:
    rules_files: List[RulesFile]
    captures: List[str]
    falco: str = DEFAULT_FALCO
    config: str = "auto"
    plugins: Optional[List[Plugin]] = None
    timeout: int = DEFAULT_TIMEOUT
    expected: List[Expectation] = field(default_factory=list)
    max_events: int = DEFAULT_MAX_EVENTS
    options: List[str] = field(default_factory=list)

    @classmethod
    def from_params(cls, params: Dict[str, Any]) -> RulesTestParams:
        """Build from the module's parameters, checking what the argument spec cannot."""
        rules = [
            RulesFile(
                index=i,
                path=entry.get("path"),
                content=entry.get("content"),
                name=entry.get("name"),
                missing_ok=bool(entry.get("missing_ok")),
            )
            for i, entry in enumerate(params.get("rules_files") or [])
        ]
        if not rules:
            raise InvalidRequestError("rules_files is empty: give at least one rules file", field="rules_files")
        for entry in rules:
            if (entry.path is None) == (entry.content is None):
                raise InvalidRequestError(
                    f"rules_files[{entry.index}] needs exactly one of path and content",
                    field=f"rules_files[{entry.index}]",
                )
        captures = list(params.get("captures") or [])
        if not captures:
            raise InvalidRequestError("captures is empty: give at least one capture file (.scap)", field="captures")
        plugins = None
        if params.get("plugins") is not None:
            plugins = [plugin_from_param(i, entry) for i, entry in enumerate(params["plugins"])]
            names = [p.name for p in plugins]
            for name in names:
                if names.count(name) > 1:
                    raise InvalidRequestError(
                        f"plugins: two plugins are named {name!r}; give each its own name", field="plugins"
                    )
        expected = [expectation_from_param(i, entry) for i, entry in enumerate(params.get("expected") or [])]
        timeout = int(params.get("timeout") or DEFAULT_TIMEOUT)
        if timeout <= 0:
            raise InvalidRequestError(f"timeout must be a positive number of seconds, got {timeout}", field="timeout")
        max_events = params.get("max_events")
        max_events = DEFAULT_MAX_EVENTS if max_events is None else int(max_events)
        if max_events < 0:
            raise InvalidRequestError(f"max_events must be 0 or more, got {max_events}", field="max_events")
        options = list(params.get("options") or [])
        for i, option in enumerate(options):
            key = option.split("=", 1)[0]
            if "=" not in option or not key:
                raise InvalidRequestError(
                    f"options[{i}] {option!r} is not of the form key=value (Falco's -o, e.g. priority=debug)",
                    field=f"options[{i}]",
                )
        return cls(
            rules_files=rules,
            captures=captures,
            falco=params.get("falco") or DEFAULT_FALCO,
            config=params.get("config") or "auto",
            plugins=plugins,
            timeout=timeout,
            expected=expected,
            max_events=max_events,
            options=options,
        )


def plugin_name(library_path: str) -> str:
    """The name Falco's plugins are known by, from their library file: libcontainer.so -> container."""
    base = os.path.basename(library_path)
    if base.endswith(".so"):
        base = base[: -len(".so")]
    if base.startswith("lib") and len(base) > 3:
        base = base[3:]
    return base


def plugin_from_param(index: int, entry: Any) -> Plugin:
    if isinstance(entry, str):
        entry = {"library_path": entry}
    library_path = entry.get("library_path")
    if not library_path:
        raise InvalidRequestError(f"plugins[{index}] needs library_path", field=f"plugins[{index}].library_path")
    return Plugin(
        library_path=library_path,
        name=entry.get("name") or plugin_name(library_path),
        init_config=entry.get("init_config"),
        open_params=entry.get("open_params"),
    )


def expectation_from_param(index: int, entry: Dict[str, Any]) -> Expectation:
    where = f"expected[{index}]"
    rule = entry.get("rule")
    if not rule:
        raise InvalidRequestError(f"{where} needs the name of a rule (rule)", field=f"{where}.rule")
    fires = entry.get("fires")
    fires = True if fires is None else bool(fires)
    min_count, max_count = entry.get("min_count"), entry.get("max_count")
    if not fires and (min_count or max_count):
        raise InvalidRequestError(
            f"{where}: fires is false (the rule must not fire), so min_count/max_count make no sense; "
            "drop them, or set fires to true",
            field=where,
        )
    for key, value in (("min_count", min_count), ("max_count", max_count)):
        if value is not None and value < 0:
            raise InvalidRequestError(f"{where}.{key} must be 0 or more, got {value}", field=f"{where}.{key}")
    if min_count is not None and max_count is not None and min_count > max_count:
        raise InvalidRequestError(
            f"{where}: min_count {min_count} is greater than max_count {max_count}", field=f"{where}.min_count"
        )
    return Expectation(
        index=index, rule=rule, capture=entry.get("capture"), fires=fires, min_count=min_count, max_count=max_count
    )


# --------------------------------------------------------------------------- input checks


def check_rules_paths(rules: Sequence[RulesFile], exists: Callable[[str], bool], isdir: Callable[[str], bool]) -> None:
    """Refuse paths Falco would not load (missing, or a file name Falco skips without a word)."""
    for entry in rules:
        if entry.path is None:
            continue
        where = f"rules_files[{entry.index}].path"
        if not exists(entry.path):
            if entry.missing_ok:
                continue
            raise InvalidRequestError(
                f"Rules file {entry.path} ({where}) does not exist on this node: fix the path, set "
                f"rules_files[{entry.index}].missing_ok, or give the rules as content",
                field=where,
            )
        if not isdir(entry.path) and not entry.path.endswith(RULES_SUFFIXES):
            raise InvalidRequestError(
                f"Rules file {entry.path} ({where}) does not end in .yaml or .yml: Falco 0.44 skips such "
                "files without a word (-r and rules_files). Rename it, or give its text as content",
                field=where,
            )


def check_captures(
    captures: Sequence[str],
    exists: Callable[[str], bool],
    readable: Callable[[str], bool],
    isdir: Callable[[str], bool],
) -> None:
    for i, path in enumerate(captures):
        where = f"captures[{i}]"
        if not exists(path):
            raise InvalidRequestError(
                f"Capture {path} ({where}) does not exist on this node: fix the path, or record one first "
                "(nodesec.kubernetes.sysdig_capture with write_file, or Falco's capture feature) and copy it there",
                field=where,
            )
        if isdir(path):
            raise InvalidRequestError(
                f"Capture {path} ({where}) is a directory: give the capture files (.scap) one by one", field=where
            )
        if not readable(path):
            raise InvalidRequestError(
                f"Capture {path} ({where}) is not readable by this user: run the task with become, or fix its mode",
                field=where,
            )


def check_falco(falco: str, exists: Callable[[str], bool], executable: Callable[[str], bool]) -> None:
    if not exists(falco):
        raise MissingDependencyError(
            f"The Falco binary {falco} (falco) does not exist on this node: install Falco "
            "(role nodesec.kubernetes.falco) or give its path with falco",
            field="falco",
        )
    if not executable(falco):
        raise MissingDependencyError(
            f"{falco} (falco) is not executable by this user: fix its mode or give another path", field="falco"
        )


def check_plugins(plugins: Optional[Sequence[Plugin]], exists: Callable[[str], bool]) -> None:
    for i, plugin in enumerate(plugins or []):
        if not exists(plugin.library_path):
            raise InvalidRequestError(
                f"Plugin library {plugin.library_path} (plugins[{i}].library_path) does not exist on this node: "
                f"fix the path (the Falco package ships the container plugin at {CONTAINER_PLUGIN})",
                field=f"plugins[{i}].library_path",
            )


def resolve_config(config: str, exists: Callable[[str], bool]) -> Optional[str]:
    """The configuration file Falco is given: ``auto`` = the package's when it exists."""
    if config == "none":
        return None
    if config == "auto":
        return PACKAGE_CONFIG if exists(PACKAGE_CONFIG) else None
    if not exists(config):
        raise InvalidRequestError(
            f"Falco configuration {config} (config) does not exist on this node: fix the path, or use "
            "config=auto (the package's /etc/falco/falco.yaml when present) or config=none",
            field="config",
        )
    return config


# --------------------------------------------------------------------------- command lines


def overlay_config(plugins: Optional[Sequence[Plugin]], alerts_file: str) -> Dict[str, Any]:
    """The configuration file of ours, merged last with strategy ``override`` (JSON is YAML).

    Falco refuses an enabled file output without a file name, even for ``-L``; each replay gives
    its own (``-o file_output.filename=...``).
    """
    overlay: Dict[str, Any] = {key: {"enabled": False} for key in OUTPUTS_OFF + SERVICES_OFF}
    overlay["file_output"] = {"enabled": True, "keep_alive": True, "filename": alerts_file}
    overlay.update(
        {
            "json_output": True,
            "json_include_output_property": True,
            "json_include_tags_property": True,
            "json_include_output_fields_property": True,
            "log_stderr": True,
            "log_syslog": False,
            "watch_config_files": False,
        }
    )
    if plugins is not None:
        overlay["load_plugins"] = [p.name for p in plugins]
        overlay["plugins"] = [p.to_config() for p in plugins]
    return overlay


def base_argv(
    falco: str,
    config: Optional[str],
    overlay_path: str,
    rules_paths: Sequence[str],
    options: Sequence[str] = (),
) -> List[str]:
    """Falco with the node's configuration (or none), ours over it, the rules in load order."""
    if config is not None:
        argv = [
            falco,
            "-c",
            config,
            "-o",
            "config_files[]=" + json.dumps({"path": overlay_path, "strategy": "override"}),
        ]
    else:
        argv = [falco, "-c", overlay_path]
    # the event fields every alert carries (a list entry appended after the node's own)
    argv += [
        "-o",
        "append_output[]=" + json.dumps({"match": {"source": "syscall"}, "extra_fields": list(EVENT_FIELDS)}),
    ]
    for option in options:
        argv += ["-o", option]
    for path in rules_paths:
        argv += ["-r", path]
    return argv


def describe_argv(base: Sequence[str]) -> List[str]:
    """List the loaded rules as JSON (and fail with Falco's message when they do not load)."""
    return [*base, "-L"]


def replay_argv(base: Sequence[str], capture: str, alerts_file: str) -> List[str]:
    return [
        *base,
        "-o",
        "engine.kind=replay",
        "-o",
        f"engine.replay.capture_file={capture}",
        "-o",
        f"file_output.filename={alerts_file}",
        # verbose: the number of events read ("Captured Events: N") on stderr
        "-v",
    ]


# --------------------------------------------------------------------------- parsing


def first_json_object(text: str) -> Optional[Dict[str, Any]]:
    """The first JSON object in ``text`` (Falco may print log lines before it)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^\{", text, re.MULTILINE):
        try:
            obj, _end = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def parse_rule_list(text: str) -> Dict[str, Dict[str, Any]]:
    """``falco -L`` with JSON output -> {rule name: {priority, enabled, source}} in load order."""
    described = first_json_object(text)
    if described is None or not isinstance(described.get("rules"), list):
        raise FalcoRunError("falco -L printed no JSON rule list (is json_output honoured?)", stderr=text[-2000:])
    rules: Dict[str, Dict[str, Any]] = {}
    for item in described["rules"]:
        info = item.get("info", {}) if isinstance(item, dict) else {}
        name = info.get("name")
        if isinstance(name, str):
            rules[name] = {
                "priority": info.get("priority"),
                "enabled": info.get("enabled", True),
                "source": info.get("source"),
            }
    return rules


def parse_alert(line: str) -> Optional[Dict[str, Any]]:
    """One line of Falco's JSON output, or None when it is not an alert."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        alert = json.loads(line)
    except ValueError:
        return None
    if not isinstance(alert, dict) or not isinstance(alert.get("rule"), str):
        return None
    return alert


def event_summary(alert: Dict[str, Any]) -> Dict[str, Any]:
    """The few facts kept per event: evt.num, evt.time (ns), time (ISO), proc.name, output."""
    fields = alert.get("output_fields") if isinstance(alert.get("output_fields"), dict) else {}
    return {
        "evt.num": fields.get("evt.num"),
        "evt.time": fields.get("evt.time"),
        "time": alert.get("time"),
        "evt.type": fields.get("evt.type"),
        "proc.name": fields.get("proc.name"),
        "output": alert.get("output"),
        "output_fields": fields,
    }


class Hits:
    """The alerts of one capture, per rule: count, priority and the first ``max_events`` events."""

    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        self.max_events = max_events
        self._rules: Dict[str, Dict[str, Any]] = {}
        self.total = 0

    def add(self, alert: Dict[str, Any]) -> None:
        name = alert["rule"]
        entry = self._rules.get(name)
        if entry is None:
            entry = self._rules[name] = {
                "rule": name,
                "priority": alert.get("priority"),
                "source": alert.get("source"),
                "tags": sorted(alert.get("tags") or []),
                "count": 0,
                "events": [],
            }
        entry["count"] += 1
        self.total += 1
        if len(entry["events"]) < self.max_events:
            entry["events"].append(event_summary(alert))

    def add_lines(self, lines: Iterable[str]) -> int:
        """Add every alert among ``lines``; returns how many lines were not alerts."""
        other = 0
        for line in lines:
            alert = parse_alert(line)
            if alert is None:
                if line.strip():
                    other += 1
                continue
            self.add(alert)
        return other

    def count(self, rule: str) -> int:
        entry = self._rules.get(rule)
        return entry["count"] if entry else 0

    def counts(self) -> Dict[str, int]:
        return {name: entry["count"] for name, entry in self._rules.items()}

    def rules(self) -> List[Dict[str, Any]]:
        """Most frequent first, then by name."""
        return sorted(self._rules.values(), key=lambda e: (-e["count"], e["rule"]))

    def first_event(self, rule: str) -> Optional[Dict[str, Any]]:
        entry = self._rules.get(rule)
        return entry["events"][0] if entry and entry["events"] else None


_STATS_RULE = re.compile(r"^\s{3}(.+): (\d+)$")


def parse_stats(stdout: str) -> Optional[Dict[str, Any]]:
    """Falco's end-of-run summary ("Events detected", "Triggered rules by rule name")."""
    match = re.search(r"^Events detected: (\d+)$", stdout, re.MULTILINE)
    if match is None:
        return None
    by_rule: Dict[str, int] = {}
    section = stdout[match.end() :].split("Triggered rules by rule name:", 1)
    if len(section) == 2:
        for line in section[1].splitlines():
            rule = _STATS_RULE.match(line)
            if rule is None:
                if line.strip():
                    break
                continue
            by_rule[rule.group(1)] = int(rule.group(2))
    return {"events_detected": int(match.group(1)), "by_rule": by_rule}


def parse_events_read(stderr: str) -> Optional[int]:
    """With -v, Falco prints "Elapsed time: ..., Captured Events: N, ... eps" at the end."""
    found = re.findall(r"Captured Events: (\d+)", stderr)
    return int(found[-1]) if found else None


def falco_error(stderr: str, stdout: str = "") -> str:
    """Falco's own error text: what follows its "Error: " line, else the end of its output."""
    text = stderr if stderr.strip() else stdout
    # falco.cpp prints a fatal error as one "Error: ..." block at the end (it may span lines)
    match = re.search(r"^Error: ", text, re.MULTILINE)
    if match is not None:
        return text[match.end() :].strip()
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-15:])


def rename_files(text: str, names: Dict[str, str]) -> str:
    """Falco's text with the files named as the caller named them (inline content: its name)."""
    for path, name in names.items():
        text = text.replace(path, name)
    return text


def refused_message(falco_message: str, names: Dict[str, str]) -> str:
    """Name the files as the caller named them, and add the fix Falco does not give."""
    message = rename_files(falco_message, names)
    what = "its configuration" if message.startswith("Error reading config file") else "the rule set"
    hint = ""
    if "Plugin requirement not satisfied" in message:
        hint = (
            ". The rules need a plugin that is not loaded: give it with plugins (e.g. "
            f"[{{library_path: {CONTAINER_PLUGIN}}}]) or use a configuration that loads it."
        )
    return f"Falco refused {what}: {message}{hint}"


# --------------------------------------------------------------------------- expectations


def match_capture(wanted: str, captures: Sequence[str]) -> List[str]:
    """The captures an expectation's ``capture`` names: the path as given, or a unique basename."""
    exact = [c for c in captures if c == wanted or os.path.normpath(c) == os.path.normpath(wanted)]
    if exact:
        return exact[:1]
    return [c for c in captures if os.path.basename(c) == wanted]


def describe_bounds(expectation: Expectation) -> str:
    low, high = expectation.bounds()
    if high == 0:
        return "not to fire"
    if high is None:
        return "to fire" if low <= 1 else f"to fire at least {low} times"
    if low == high:
        return f"to fire exactly {low} time{'s' if low != 1 else ''}"
    return f"to fire between {low} and {high} times"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def resolve_targets(
    expectations: Sequence[Expectation],
    captures: Sequence[str],
    known_rules: Optional[Dict[str, Dict[str, Any]]] = None,
) -> List[Tuple[Expectation, List[str]]]:
    """The captures each expectation applies to (all when it names none), checked before any replay.

    ``known_rules`` (from ``falco -L``): an expectation on a rule the rule set does not define is
    an error, not a pass, so that a misspelt rule can never make "must not fire" hold.
    """
    resolved: List[Tuple[Expectation, List[str]]] = []
    for expectation in expectations:
        if known_rules is not None and expectation.rule not in known_rules:
            close = difflib.get_close_matches(expectation.rule, list(known_rules), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InvalidRequestError(
                f"{expectation.field}.rule: the rule set defines no rule named {expectation.rule!r}{hint}. "
                "Fix the name, or add the rules file that defines it to rules_files",
                field=f"{expectation.field}.rule",
            )
        if expectation.capture is None:
            targets = list(captures)
        else:
            targets = match_capture(expectation.capture, captures)
            if len(targets) != 1:
                reason = "names none of" if not targets else "names several (same file name) of"
                raise InvalidRequestError(
                    f"{expectation.field}.capture {expectation.capture!r} {reason} the captures "
                    f"({', '.join(captures)}): give the capture's path as in captures",
                    field=f"{expectation.field}.capture",
                )
        resolved.append((expectation, targets))
    return resolved


def check_expectations(
    expectations: Sequence[Expectation],
    hits: Dict[str, Hits],
    known_rules: Optional[Dict[str, Dict[str, Any]]] = None,
) -> List[Dict[str, Any]]:
    """Check each expectation on each capture it names (all captures when it names none).

    ``hits`` maps each capture (as given) to its :class:`Hits`, in order. Returns one result per
    (expectation, capture), each with ``passed`` and a ``message`` naming the rule and the capture.
    """
    results: List[Dict[str, Any]] = []
    for expectation, targets in resolve_targets(expectations, list(hits), known_rules):
        low, high = expectation.bounds()
        disabled = known_rules is not None and known_rules[expectation.rule].get("enabled") is False
        for capture in targets:
            count = hits[capture].count(expectation.rule)
            passed = count >= low and (high is None or count <= high)
            wanted = f"Rule {expectation.rule!r} was expected {describe_bounds(expectation)} on capture {capture}"
            if passed:
                message = f"{wanted} and fired {_times(count) if count else 'no time'}"
            elif count == 0:
                message = f"{wanted} but did not fire"
                if disabled:
                    message += " (the rule is disabled: enabled: false in its rules file)"
            else:
                message = f"{wanted} but fired {_times(count)}"
                first = hits[capture].first_event(expectation.rule)
                if first is not None:
                    message += f" (first: evt.num={first['evt.num']} proc.name={first['proc.name']})"
            if not passed:
                message += f" [{expectation.field}]"
            results.append(
                {
                    "rule": expectation.rule,
                    "capture": capture,
                    "fires": expectation.fires,
                    "min_count": low,
                    "max_count": high,
                    "count": count,
                    "passed": passed,
                    "message": message,
                }
            )
    return results


def failure_message(results: Sequence[Dict[str, Any]], limit: int = 5) -> str:
    failed = [r for r in results if not r["passed"]]
    shown = "; ".join(r["message"] for r in failed[:limit])
    more = f" (and {len(failed) - limit} more)" if len(failed) > limit else ""
    return f"{len(failed)} of {len(results)} rule expectation(s) failed: {shown}{more}"


# --------------------------------------------------------------------------- running


@dataclass
class Completed:
    """What a run of Falco gave back (a runner's result, text)."""

    rc: int
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False


Runner = Callable[[Sequence[str], float], Completed]


def bounded_runner(argv: Sequence[str], timeout: float) -> Completed:
    """Run with the collection's bounded runner (SIGTERM at the deadline, output capped)."""
    # -L of a big rule set prints a few MB of JSON; alerts go to a file, not to stdout
    result = run_bounded(argv, output_limit=64 * 1024 * 1024, timeout=timeout, stderr_limit=1024 * 1024)
    return Completed(
        rc=result.rc,
        stdout=result.stdout.decode("utf-8", "replace"),
        stderr=result.stderr.decode("utf-8", "replace"),
        timed_out=result.timed_out,
        truncated=result.truncated,
    )


class FalcoRulesTest:
    """Run an ordered rule set over captures with the real Falco; read-only on the node."""

    def __init__(self, runner: Optional[Runner] = None, tmpdir: Optional[str] = None) -> None:
        self.runner = runner or bounded_runner
        self.tmpdir = tmpdir
        self.warnings: List[str] = []

    def run(self, params: RulesTestParams) -> Dict[str, Any]:
        check_falco(params.falco, os.path.exists, lambda p: os.access(p, os.X_OK))
        check_rules_paths(params.rules_files, os.path.exists, os.path.isdir)
        check_captures(params.captures, os.path.exists, lambda p: os.access(p, os.R_OK), os.path.isdir)
        check_plugins(params.plugins, os.path.exists)
        config = resolve_config(params.config, os.path.exists)
        work = tempfile.mkdtemp(prefix="nodesec-falco-test-", dir=self.tmpdir)
        try:
            return self._run(params, config, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _write_rules(self, params: RulesTestParams, work: str) -> Tuple[List[str], Dict[str, str]]:
        """The -r paths in order (inline content written to files); temp path -> caller's name."""
        paths: List[str] = []
        names: Dict[str, str] = {}
        for entry in params.rules_files:
            if entry.path is not None:
                if entry.missing_ok and not os.path.exists(entry.path):
                    self.warnings.append(f"rules file {entry.path} does not exist and was left out (missing_ok)")
                    continue
                paths.append(entry.path)
                if entry.name:
                    names[entry.path] = entry.name
                continue
            base = re.sub(r"[^A-Za-z0-9_.-]+", "_", os.path.basename(entry.label)) or "rules"
            if not base.endswith(RULES_SUFFIXES):
                base += ".yaml"
            path = os.path.join(work, "rules", f"{entry.index:02d}-{base}")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(entry.content or "")
            paths.append(path)
            names[path] = entry.label
        if not paths:
            raise InvalidRequestError(
                "None of rules_files exists on this node (all were missing_ok): nothing to test", field="rules_files"
            )
        return paths, names

    def _run(self, params: RulesTestParams, config: Optional[str], work: str) -> Dict[str, Any]:
        rules_paths, names = self._write_rules(params, work)
        overlay = os.path.join(work, "nodesec-rules-test.json")
        with open(overlay, "w", encoding="utf-8") as handle:
            json.dump(overlay_config(params.plugins, os.path.join(work, "alerts-load.json")), handle, indent=1)
        base = base_argv(params.falco, config, overlay, rules_paths, params.options)

        started = time.monotonic()
        described = self.runner(describe_argv(base), params.timeout)
        if described.timed_out:
            raise FalcoRunError(
                f"Falco did not finish loading the rules within timeout={params.timeout} s; raise timeout",
                field="timeout",
                stderr=described.stderr,
            )
        if described.rc != 0:
            falco_message = falco_error(described.stderr, described.stdout)
            raise RulesRefusedError(
                refused_message(falco_message, names), falco_message=rename_files(falco_message, names)
            )
        known = parse_rule_list(described.stdout)
        # a misspelt rule or capture fails now, before any replay
        resolve_targets(params.expected, params.captures, known)
        load_seconds = round(time.monotonic() - started, 3)

        hits: Dict[str, Hits] = {}
        per_capture: List[Dict[str, Any]] = []
        for index, capture in enumerate(params.captures):
            alerts_file = os.path.join(work, f"alerts-{index}.json")
            argv = replay_argv(base, capture, alerts_file)
            started = time.monotonic()
            done = self.runner(argv, params.timeout)
            seconds = round(time.monotonic() - started, 3)
            if done.timed_out:
                raise FalcoRunError(
                    f"Falco did not finish replaying {capture} (captures[{index}]) within timeout={params.timeout} s; "
                    "raise timeout or give a shorter capture",
                    field="timeout",
                    stderr=done.stderr,
                )
            if done.rc != 0:
                message = falco_error(done.stderr, done.stdout)
                raise FalcoRunError(
                    f"Falco could not replay {capture} (captures[{index}]): {message}",
                    field=f"captures[{index}]",
                    stderr=done.stderr,
                )
            capture_hits = Hits(params.max_events)
            if os.path.exists(alerts_file):
                with open(alerts_file, encoding="utf-8", errors="replace") as handle:
                    capture_hits.add_lines(handle)
            stats = parse_stats(done.stdout)
            if stats is not None and stats["by_rule"] != capture_hits.counts():
                self.warnings.append(
                    f"{capture}: Falco's summary counts {stats['by_rule']} differ from the alerts it wrote "
                    f"{capture_hits.counts()}"
                )
            hits[capture] = capture_hits
            per_capture.append(
                {
                    "capture": capture,
                    "events_read": parse_events_read(done.stderr),
                    "alerts": capture_hits.total,
                    "rules": capture_hits.rules(),
                    "duration_s": seconds,
                    "command": argv,
                }
            )

        results = check_expectations(params.expected, hits, known)
        return {
            "captures": per_capture,
            "hits": {capture: h.counts() for capture, h in hits.items()},
            "expectations": results,
            "failed_expectations": [r for r in results if not r["passed"]],
            "rules_loaded": len(known),
            "rules_files": [names.get(p, p) for p in rules_paths],
            "config": config,
            "load_duration_s": load_seconds,
        }
