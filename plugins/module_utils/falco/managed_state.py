# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Which rules files the Falco role wrote, and which of them to remove (pruning).

Pure logic, no Ansible imports. The role keeps a small JSON state file on the node (written
atomically) that lists the live paths of the rules files it wrote. On each run:

* :func:`parse_state` reads it (an absent or empty file records nothing; anything else that is
  not a state file is an error: we would not know which files are ours);
* :func:`prune_plan` decides which recorded files to remove - recorded, no longer wanted, still
  on the node, and directly inside the rules directory (never anything else: files put in the
  rules directory by hand or by packages are never recorded, hence never removed) - and the two
  state texts the role writes: ``state_before`` (recorded plus wanted, written before any rules
  file changes, so that a file is recorded before it exists) and ``state_after`` (written once
  the files are installed and removed).

The local rules file (``falco_rules``) is recorded as well, but never removed: Falco's package
ships it and users edit it. When the role wrote it and it is no longer wanted, the plan lists it
under ``reset`` (the role rewrites it as an empty rules file, and it stays recorded).

:func:`rules_plan` is the whole decision of a run, the one call the role makes (filter
``nodesec.kubernetes.falco_rules_plan``): from the files the role rendered and what it read on the
node, the files to write (with their staging paths, the emptied local rules file included), the
ordered rule set ``falco -V`` and the controller check see, the files to remove, and the two
state texts.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import InvalidInputError, InvalidRequestError
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.load_order import ordered_rule_set, staged_path

STATE_VERSION = 1
STATE_COMMENT = (
    "Rules files written by the nodesec.kubernetes.falco role. Files listed here and no longer in "
    "falco_rules_files are removed on the next run (falco_rules_prune). Do not edit."
)


class ManagedRulesStateError(InvalidInputError, ValueError):
    """The state file exists but is not one the role wrote."""


class RulesPlanError(InvalidRequestError):
    """An input of :func:`rules_plan` is not what the role passes (``field`` names it)."""


def _normalise(path: str) -> str:
    return posixpath.normpath(path)


def parse_state(text: Optional[str], source: str = "the state file") -> List[str]:
    """The sorted live paths recorded in a state file's text. ``None`` or blank text (no state
    file yet) records nothing."""
    if text is None or not text.strip():
        return []
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ManagedRulesStateError(f"{source} is not JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise ManagedRulesStateError(
            f"{source} is not a version {STATE_VERSION} state file (an object with version: {STATE_VERSION})"
        )
    files = data.get("files")
    if not isinstance(files, list):
        raise ManagedRulesStateError(f"{source}: 'files' must be a list of absolute paths, got {files!r}")
    for path in files:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ManagedRulesStateError(f"{source}: 'files' must hold absolute paths, got {path!r}")
    return sorted({_normalise(path) for path in files})


def render_state(paths: Iterable[str]) -> str:
    """The text of a state file recording ``paths`` (stable: sorted, fixed layout)."""
    data = {"comment": STATE_COMMENT, "files": sorted({_normalise(p) for p in paths}), "version": STATE_VERSION}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def prune_plan(
    recorded: Iterable[str],
    wanted: Iterable[str],
    rules_dir: str,
    present: Iterable[str],
    prune: bool = True,
    reset: Iterable[str] = (),
) -> Dict[str, Any]:
    """What to remove and what to record.

    ``recorded``: the paths of the state file; ``wanted``: the live paths the role writes this
    run; ``rules_dir``: the rules directory; ``present``: which of the recorded, no longer wanted
    paths are still on the node (files or links, not directories); ``prune``: remove them or
    only keep them recorded; ``reset``: paths that are emptied instead of removed (the local
    rules file), wherever they are.

    Returns ``{"remove": [...], "reset": [...], "kept": [...], "state_before": str,
    "state_after": str}``: ``reset`` are the recorded, unwanted, present ``reset`` paths the
    role rewrites as empty rules files (pruning on; they stay recorded, the role wrote them);
    ``kept`` are the recorded, unwanted files left in place (pruning off, or outside the rules
    directory) - they stay recorded so that a later run with pruning on removes or resets them.
    """
    recorded_set = {_normalise(p) for p in recorded}
    wanted_set = {_normalise(p) for p in wanted}
    present_set = {_normalise(p) for p in present}
    reset_set = {_normalise(p) for p in reset}
    directory = _normalise(rules_dir)

    remove: List[str] = []
    emptied: List[str] = []
    kept: List[str] = []
    for path in sorted(recorded_set - wanted_set):
        if path not in present_set:
            continue  # already gone: forget it
        if prune and path in reset_set:
            emptied.append(path)
        elif prune and posixpath.dirname(path) == directory:
            remove.append(path)
        else:
            kept.append(path)
    return {
        "remove": remove,
        "reset": emptied,
        "kept": kept,
        "state_before": render_state(recorded_set | wanted_set),
        "state_after": render_state(wanted_set | set(kept) | set(emptied)),
    }


def _paths(field: str, value: Any) -> List[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise RulesPlanError(f"{field} must be a list of paths, got {value!r}", field)
    for path in value:
        if not isinstance(path, str) or not path:
            raise RulesPlanError(f"{field} must be a list of paths, got {value!r}", field)
    return [_normalise(p) for p in value]


def _path(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise RulesPlanError(f"{field} must be an absolute path, got {value!r}", field)
    return _normalise(value)


def _rendered(value: Any) -> List[Dict[str, str]]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise RulesPlanError(f"rendered must be a list of {{name, dest, content}}, got {value!r}", "rendered")
    result: List[Dict[str, str]] = []
    seen: Dict[str, str] = {}
    for entry in value:
        if not isinstance(entry, Mapping):
            raise RulesPlanError(f"rendered entry {entry!r} is not a mapping", "rendered")
        missing = {"name", "dest", "content"} - set(entry)
        if missing:
            raise RulesPlanError(f"rendered entry {dict(entry)!r} lacks {sorted(missing)}", "rendered")
        if not isinstance(entry["content"], str):
            raise RulesPlanError(f"rendered entry {entry['name']!r}: content must be text", "rendered")
        dest = _path(f"rendered entry {entry['name']!r}: dest", entry["dest"])
        if dest in seen:
            raise RulesPlanError(
                f"rendered entries {seen[dest]!r} and {entry['name']!r} both write {dest}: give each file its own name",
                "rendered",
            )
        seen[dest] = str(entry["name"])
        result.append({"name": str(entry["name"]), "dest": dest, "content": entry["content"]})
    return result


def _live_matches(entry: Mapping[str, str], live: Optional[Sequence[Mapping[str, Any]]]) -> bool:
    """Whether the live file of ``entry`` is what the install would write (content, 0644, root:root)."""
    if live is None:
        return False
    if isinstance(live, (str, bytes, Mapping)) or not isinstance(live, Sequence):
        raise RulesPlanError(f"live must be a list of find/stat results, got {live!r}", "live")
    wanted = hashlib.sha1(entry["content"].encode("utf-8")).hexdigest()
    for found in live:
        if isinstance(found, Mapping) and _normalise(str(found.get("path", ""))) == entry["dest"]:
            return (
                found.get("checksum") == wanted
                and str(found.get("mode")) == "0644"
                and found.get("uid") == 0
                and found.get("gid") == 0
            )
    return False


def rules_plan(
    rendered: Sequence[Mapping[str, str]],
    recorded_text: Optional[str],
    *,
    rules_dir: str,
    local_file: str,
    base_files: Sequence[str],
    staging_dir: str,
    existing: Sequence[str],
    found_in_rules_dir: Sequence[str],
    present: Sequence[str],
    local_reset_content: str,
    prune: bool = True,
    texts: Optional[Mapping[str, str]] = None,
    state_file: str = "the state file",
    live: Optional[Sequence[Mapping[str, Any]]] = None,
) -> Dict[str, Any]:
    """The rules rollout of one node, decided at once.

    Inputs: ``rendered`` ``[{name, dest, content}]`` (``falco_rules`` as the local rules file when
    it has items, then each ``falco_rules_files`` entry; ``dest`` is the live path);
    ``recorded_text`` the state file's text (``None`` or blank: none yet); ``existing`` the base and
    local rules files that exist on the node; ``found_in_rules_dir`` the rules files found in the
    rules directory; ``present`` which recorded paths exist on the node (files or links, not
    directories); ``local_reset_content`` the local rules file as the role writes it when
    ``falco_rules`` is empty; ``texts`` the node's text of each file the role does not write
    (``None``: no controller check).

    Returns:

    * ``managed``: ``[{name, dest, staged, content}]`` the files to write, the emptied local rules
      file first when it is reset;
    * ``rule_set``: ``[{name, path, managed}]`` the files Falco loads after this run, in its load
      order, ``path`` being the staging path for the files in ``managed`` and the removed files
      left out (what ``falco -V`` is run over);
    * ``check_files``: ``[{name, content}]`` the same files with their text, for the controller
      check (empty when ``texts`` is ``None``);
    * ``test_files``: the same files for the rule tests on the node (``falco_rules_test``'s
      ``rules_files``): ``{name, content}`` for the files in ``managed`` (not live yet, and not
      staged in check mode), ``{name, path}`` for the others;
    * ``remove``, ``reset``, ``kept``, ``state_before``, ``state_after``: as :func:`prune_plan`,
      ``reset`` holding the local rules file when the role wrote it and ``falco_rules`` is now empty;
    * ``pending``: the entries of ``managed`` whose live file differs (absent, another content by
      SHA-1, not mode 0644, or not owned by root), the only ones the install writes;
    * ``rollout``: whether anything is written or removed (``pending`` or ``remove``): when not,
      the live rule set is the one validated when it was installed, and the role skips staging,
      the controller check and ``falco -V`` (unless told to validate anyway);
    * ``state_current``: whether the state file already holds ``state_after``.
    """
    wanted = _rendered(rendered)
    if recorded_text is not None and not isinstance(recorded_text, str):
        raise RulesPlanError(f"recorded_text must be the state file's text, got {recorded_text!r}", "recorded_text")
    if not isinstance(local_reset_content, str):
        raise RulesPlanError(
            "local_reset_content must be the text of the emptied local rules file", "local_reset_content"
        )
    directory = _path("rules_dir", rules_dir)
    local = _path("local_file", local_file)
    staging = _path("staging_dir", staging_dir)
    base = _paths("base_files", base_files)
    on_node = _paths("existing", existing)
    found = _paths("found_in_rules_dir", found_in_rules_dir)
    present_paths = _paths("present", present)
    if texts is not None and not isinstance(texts, Mapping):
        raise RulesPlanError(f"texts must map paths to their text, got {texts!r}", "texts")

    recorded = parse_state(recorded_text, state_file)
    pruning = prune_plan(recorded, [e["dest"] for e in wanted], directory, present_paths, bool(prune), [local])
    writes = list(wanted)
    if local in pruning["reset"]:
        # falco_rules became empty and the role wrote the local file: it goes through the same
        # checks and install as any file of ours, as an empty rules file (it stays recorded)
        writes.insert(0, {"name": posixpath.basename(local), "dest": local, "content": local_reset_content})
    managed = [dict(e, staged=staged_path(e["dest"], directory, local, staging)) for e in writes]

    removed = set(pruning["remove"])
    ordered = ordered_rule_set(managed, base, local, on_node, [p for p in found if p not in removed])
    check_files: List[Dict[str, str]] = []
    if texts is not None:
        by_path = {_normalise(path): text for path, text in texts.items()}
        for entry in ordered:
            if entry["managed"]:
                check_files.append({"name": entry["name"], "content": entry["content"]})
            elif entry["path"] in by_path:
                check_files.append({"name": entry["name"], "content": by_path[entry["path"]]})
            else:
                raise RulesPlanError(f"no text was read for {entry['path']} (texts)", "texts")
    pending = [entry for entry in managed if not _live_matches(entry, live)]
    return {
        "managed": managed,
        "pending": pending,
        "rollout": bool(pending or pruning["remove"]),
        "state_current": recorded_text is not None and recorded_text == pruning["state_after"],
        "rule_set": [{"name": e["name"], "path": e["path"], "managed": e["managed"]} for e in ordered],
        "check_files": check_files,
        "test_files": [
            {"name": e["name"], "content": e["content"]} if e["managed"] else {"name": e["name"], "path": e["path"]}
            for e in ordered
        ],
        **pruning,
    }
