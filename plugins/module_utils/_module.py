# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The module wrapper shared by the collection's modules.

``NodesecModule`` is an ``AnsibleModule`` that

* checks a required Python library and its minimum version, failing with
  ``missing_required_lib`` (what to install) and the import error's traceback:
  ``module.requires("kubernetes", minimum="24.2.0")``;
* turns expected errors (:class:`NodesecError`) into ``fail_json(msg=..., field=...)``:
  ``with module.expected_errors(prefix=path + ": ", path=path): ...``. Any other exception is
  not caught, so Ansible reports it with its traceback: a programming error never reads like a
  user error.
"""

from __future__ import annotations

import contextlib
import importlib
import traceback
from typing import Any, Iterator, Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.compat.version import LooseVersion
from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import NodesecError


def library_version(library: Any) -> Optional[str]:
    """The version an imported library declares, or None when it declares none."""
    version = getattr(library, "__version__", None)
    return str(version) if version is not None else None


def version_at_least(found: str, minimum: str) -> bool:
    return LooseVersion(found) >= LooseVersion(minimum)


class NodesecModule(AnsibleModule):
    def requires(
        self,
        name: str,
        minimum: Optional[str] = None,
        package: Optional[str] = None,
        reason: Optional[str] = None,
        url: Optional[str] = None,
    ) -> Any:
        """Import ``name`` (a Python import name) or fail, saying what to install.

        ``package`` is what the user installs (default ``name``, with ``>= minimum`` appended when
        a minimum is given). Returns the imported library.
        """
        wanted = package or name
        if minimum and not package:
            wanted = f"{name} >= {minimum}"
        try:
            library = importlib.import_module(name)
        except ImportError:
            self.fail_json(msg=missing_required_lib(wanted, reason=reason, url=url), exception=traceback.format_exc())
        if minimum:
            found = library_version(library)
            if found is None or not version_at_least(found, minimum):
                self.fail_json(
                    msg=missing_required_lib(wanted, reason=reason, url=url)
                    + f" The installed version is {found or 'unknown'}; {name} {minimum} or newer is needed."
                )
        return library

    def fail_from_error(self, exc: NodesecError, prefix: str = "", **extra: Any) -> None:
        """Report an expected error: its message (after ``prefix``) and the field it names."""
        self.fail_json(msg=f"{prefix}{exc}", field=exc.field, **extra)

    @contextlib.contextmanager
    def expected_errors(self, prefix: str = "", **extra: Any) -> Iterator[None]:
        """Expected errors inside the block become ``fail_json``; others keep their traceback."""
        try:
            yield
        except NodesecError as exc:
            self.fail_from_error(exc, prefix=prefix, **extra)
