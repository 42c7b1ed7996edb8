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
"""

from __future__ import annotations

import json
import posixpath
from typing import Any, Dict, Iterable, List, Optional

STATE_VERSION = 1
STATE_COMMENT = (
    "Rules files written by the nodesec.kubernetes.falco role. Files listed here and no longer in "
    "falco_rules_files are removed on the next run (falco_rules_prune). Do not edit."
)


class ManagedRulesStateError(ValueError):
    """The state file exists but is not one the role wrote."""


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
