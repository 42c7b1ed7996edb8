# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""What the Falco rules checker reports: findings (an error or a warning at a position) and the result.

``Findings`` is the one place a finding is made; the reader (falco/rule_set.py) and the checker
(falco/checker.py) each keep one and add to it in the order they find things.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

ERROR = "error"
WARNING = "warning"


@dataclass
class Origin:
    """Where an item (or one of its keys) stands: file, line, item type and name."""

    file: str
    line: int
    item_type: str
    item: str
    key: str = ""


@dataclass(frozen=True)
class Finding:
    """One error or warning, with its position."""

    severity: str  # "error" or "warning"
    file: str
    line: int  # 1-based line in the YAML file (0 when unknown)
    item_type: str  # rule, macro, list, exception, required_engine_version, file, ...
    item: str  # the item's name ("" when it has none)
    message: str
    key: str = ""  # the key in the item the finding is about (condition, output, ...)
    column: Optional[int] = None  # 1-based column within the condition/output string

    def to_dict(self) -> Dict[str, Any]:
        return {
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "item_type": self.item_type,
            "item": self.item,
            "key": self.key,
            "column": self.column,
            "message": self.message,
            "text": self.format(),
        }

    def format(self) -> str:
        where = f"{self.file}:{self.line}"
        what = f"{self.item_type} '{self.item}'" if self.item else self.item_type
        key = ""
        if self.key:
            key = f" {self.key}"
            if self.column is not None:
                key += f" column {self.column}"
            key += ":"
        return f"{where}: {self.severity}: {what}:{key} {self.message}"


@dataclass
class CheckResult:
    errors: List[Finding] = field(default_factory=list)
    warnings: List[Finding] = field(default_factory=list)
    counts: Dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> Dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": [f.to_dict() for f in self.errors],
            "warnings": [f.to_dict() for f in self.warnings],
            "counts": dict(self.counts),
        }


class Findings:
    """Errors and warnings in the order they were found."""

    def __init__(self) -> None:
        self.errors: List[Finding] = []
        self.warnings: List[Finding] = []

    def add(
        self,
        severity: str,
        origin: Origin,
        message: str,
        key: str = "",
        column: Optional[int] = None,
        line: int = 0,
    ) -> None:
        """One finding at ``origin``; ``key`` and ``line`` override the origin's when given."""
        found = Finding(
            severity,
            origin.file,
            line or origin.line,
            origin.item_type,
            origin.item,
            message,
            key or origin.key,
            column,
        )
        (self.errors if severity == ERROR else self.warnings).append(found)


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or nothing."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
