# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The order in which Falco loads a node's rules files (the role stages and validates in it), and
where the role stages the files it is about to write."""

from __future__ import annotations

import posixpath
from typing import Any, Dict, List, Sequence


def staged_path(dest: str, rules_dir: str, local_file: str, staging_dir: str) -> str:
    """Where the role stages the file it will write to ``dest`` for ``falco -V``: the local rules
    file directly in ``staging_dir``, a file of the rules directory under ``staging_dir/rules.d``
    with its path inside the rules directory, any other file under ``staging_dir/rules.d`` by name.
    """
    dest = posixpath.normpath(dest)
    rules_dir = posixpath.normpath(rules_dir)
    staging_dir = posixpath.normpath(staging_dir)
    if dest == posixpath.normpath(local_file):
        return f"{staging_dir}/{posixpath.basename(dest)}"
    if dest.startswith(rules_dir + "/"):
        return f"{staging_dir}/rules.d/{dest[len(rules_dir) + 1 :]}"
    return f"{staging_dir}/rules.d/{posixpath.basename(dest)}"


def ordered_rule_set(
    managed: Sequence[Dict[str, Any]],
    base_files: Sequence[str],
    local_file: str,
    existing: Sequence[str],
    rules_dir_files: Sequence[str],
) -> List[Dict[str, Any]]:
    """The rules files in the order Falco loads them with the upstream ``rules_files`` default
    (base files, the local rules file, then the rules directory in lexicographic order).

    ``managed`` are the files we write: ``{"dest", "staged", "content"}``; they are validated
    from their staged path and replace the live file of the same ``dest``. ``existing`` are the
    base/local paths that exist on the node, ``rules_dir_files`` the files found in the rules
    directory. Returns ``[{"name": live path, "path": path to load now, "managed": bool,
    "content": str (managed only)}]``.
    """
    by_dest = {entry["dest"]: entry for entry in managed}
    present = set(existing)
    result: List[Dict[str, Any]] = []

    def add(dest: str) -> None:
        entry = by_dest.get(dest)
        if entry is not None:
            result.append({"name": dest, "path": entry["staged"], "managed": True, "content": entry["content"]})
        else:
            result.append({"name": dest, "path": dest, "managed": False})

    for path in base_files:
        if path in by_dest or path in present:
            add(path)
    if local_file in by_dest or local_file in present:
        add(local_file)
    in_dir = set(rules_dir_files) | {dest for dest in by_dest if dest not in base_files and dest != local_file}
    for dest in sorted(in_dir, key=lambda p: p.rsplit("/", 1)[-1]):
        add(dest)
    return result
