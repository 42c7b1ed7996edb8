# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The options of pod_compliance and pod_compliance_info: argument specs and the option values.

The specs are documented once, in doc_fragments/pod_compliance.py (the scan options) and in the
deleting module (its own). ``ScanOptions.from_params`` / ``DeleteOptions.from_params`` check the
values and raise :class:`InvalidRequestError` naming the option.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence

from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import InvalidRequestError
from ansible_collections.nodesec.kubernetes.plugins.module_utils.pod_compliance.selection import DEFAULT_EXEMPT_LABEL

SCAN_ARG_SPEC: Dict[str, Dict[str, Any]] = {
    "namespaces": {"type": "list", "elements": "str", "default": []},
    "exclude_namespaces": {"type": "list", "elements": "str", "default": ["kube-system"]},
    "label_selectors": {"type": "list", "elements": "str", "default": []},
    "field_selectors": {"type": "list", "elements": "str", "default": []},
    "profile": {"type": "str", "default": "cks", "choices": ["cks", "baseline", "restricted"]},
    "checks": {"type": "list", "elements": "str", "default": []},
    "pss_version": {"type": "str", "default": "latest"},
    "exempt_label": {"type": "str", "default": DEFAULT_EXEMPT_LABEL},
    "page_size": {"type": "int", "default": 500},
    "request_timeout": {"type": "int", "default": 60},
    "report_path": {"type": "path"},
    "summary_path": {"type": "path"},
}

DELETE_ARG_SPEC: Dict[str, Dict[str, Any]] = {
    "all_namespaces": {"type": "bool", "default": False},
    "max_deletions": {"type": "int", "default": 50},
    "grace_period": {"type": "int"},
    "skip_owned": {"type": "bool", "default": False},
    "parallelism": {"type": "int", "default": 10},
}


class OptionError(InvalidRequestError, ValueError):
    """An option's value is out of range, or options contradict each other."""


@dataclass
class ReportFiles:
    """Where the JSON report and the Markdown summary go (None: not written)."""

    report_path: Optional[str] = None
    summary_path: Optional[str] = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ReportFiles:
        return cls(report_path=params.get("report_path"), summary_path=params.get("summary_path"))


@dataclass
class ScanOptions:
    profile: str = "cks"
    checks: Optional[Sequence[str]] = None
    pss_version: str = "latest"
    namespaces: Sequence[str] = ()
    exclude_namespaces: Sequence[str] = ("kube-system",)
    label_selectors: Sequence[str] = ()
    field_selectors: Sequence[str] = ()
    exempt_label: Optional[str] = DEFAULT_EXEMPT_LABEL
    page_size: int = 500

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ScanOptions:
        if params["page_size"] < 1:
            raise OptionError("page_size must be at least 1", "page_size")
        return cls(
            profile=params["profile"],
            checks=params["checks"] or None,
            pss_version=params["pss_version"],
            namespaces=params["namespaces"] or (),
            exclude_namespaces=params["exclude_namespaces"] or (),
            label_selectors=params["label_selectors"] or (),
            field_selectors=params["field_selectors"] or (),
            exempt_label=params["exempt_label"] or None,
            page_size=params["page_size"],
        )


@dataclass
class DeleteOptions:
    skip_owned: bool = False
    max_deletions: int = 50
    grace_period: Optional[int] = None
    parallelism: int = 10
    check_mode: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any], check_mode: bool) -> DeleteOptions:
        """The deletion options; refuses an empty ``namespaces`` unless ``all_namespaces`` is true."""
        if params["max_deletions"] < 0:
            raise OptionError("max_deletions must be 0 or more", "max_deletions")
        if params["parallelism"] < 1:
            raise OptionError("parallelism must be at least 1", "parallelism")
        if params["grace_period"] is not None and params["grace_period"] < 0:
            raise OptionError("grace_period must be 0 or more", "grace_period")
        if not params.get("namespaces") and not params.get("all_namespaces"):
            raise OptionError(
                "namespaces is empty: pod_compliance would delete offending pods in every namespace but "
                "exclude_namespaces. Name the namespaces (namespaces: [shop]) or set all_namespaces: true",
                "namespaces",
            )
        return cls(
            skip_owned=params["skip_owned"],
            max_deletions=params["max_deletions"],
            grace_period=params["grace_period"],
            parallelism=params["parallelism"],
            check_mode=check_mode,
        )
