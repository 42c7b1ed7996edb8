# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Which pods a scan lists: selectors, the namespace plan, and the opt-out label. Pure logic."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple

DEFAULT_EXEMPT_LABEL = "pod-compliance.nodesec.io/exempt"


def merge_selectors(selectors: Iterable[str]) -> Optional[str]:
    """Join selector expressions with commas (AND), like kubernetes.core's k8s_info."""
    parts = [s.strip() for s in selectors if s and s.strip()]
    return ",".join(parts) or None


def namespace_plan(
    namespaces: Iterable[str], exclude: Iterable[str]
) -> Tuple[Optional[List[str]], List[str], List[str]]:
    """Decide how to list pods.

    Returns ``(namespaces_to_list or None for all, field_selector_terms, ignored)`` where
    ``ignored`` are requested namespaces that are also excluded (exclusion wins).
    """
    excluded = list(dict.fromkeys(n for n in exclude if n))
    wanted = list(dict.fromkeys(n for n in namespaces if n))
    if wanted:
        keep = [n for n in wanted if n not in excluded]
        return keep, [], [n for n in wanted if n in excluded]
    return None, [f"metadata.namespace!={n}" for n in excluded], []


def is_exempt(pod: Dict[str, Any], label: Optional[str]) -> bool:
    """Whether ``pod`` carries the opt-out label ``label`` set to ``true``."""
    if not label:
        return False
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return str(labels.get(label, "")).lower() == "true"
