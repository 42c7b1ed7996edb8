# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""One error base for the collection: an expected refusal, naming the field at fault.

Every area raises a subclass of :class:`NodesecError`; the module wrapper
(``_module.NodesecModule``) turns these into ``fail_json(msg=..., field=...)`` and lets any
other exception through with its traceback, so a programming error never reads like a user error.
"""

from __future__ import annotations


class NodesecError(Exception):
    """An expected error: bad input or a refused operation. ``field`` names the option or field."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInputError(NodesecError):
    """A document given to the collection (manifest, configuration, rules) is not valid."""


class InvalidRequestError(NodesecError):
    """The caller's parameters are malformed or contradict each other."""


class ConflictError(NodesecError):
    """The request is valid but clashes with what is already there."""


class FileIOError(NodesecError):
    """Reading, backing up or writing a file failed."""


class MissingDependencyError(NodesecError):
    """A required Python library or program is missing (or too old)."""
