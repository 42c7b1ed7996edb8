"""Shared pytest setup: make ``ansible_collections.nodesec.kubernetes`` importable.

The checkout is the collection root. ``make venv`` links it at
``.build/collections/ansible_collections/nodesec/kubernetes``; this hook makes the link when it
is missing and installs Ansible's collection loader over that path (as ``ansible-test units``
does), so tests import plugins by their fully qualified names.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / ".build" / "collections"
LINK = COLLECTIONS / "ansible_collections" / "nodesec" / "kubernetes"


def _ensure_link() -> None:
    if LINK.exists():
        return
    LINK.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.symlink(REPO, LINK)


def _install_loader() -> None:
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    paths = [str(COLLECTIONS)] + [p for p in sys.path if p.endswith("site-packages")]
    finder = _AnsibleCollectionFinder(paths=paths)
    finder._install()


_ensure_link()
_install_loader()
