# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The one guarded PyYAML import, and the kubeadm-style dumper.

``HAS_YAML`` / ``YAML_IMPORT_ERROR`` tell a module whether PyYAML is on the managed node
(``NodesecModule.requires("yaml")`` reads them). :func:`dump_kube` lays data out like kubeadm's
output: block style, two-space indent, list items at the parent's indentation, keys in their
original order, multi-line strings as literal blocks.
"""

from __future__ import annotations

from typing import Any, Optional

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR: Optional[BaseException] = None
except ImportError as _exc:  # pragma: no cover - depends on the managed node
    yaml = None  # type: ignore[assignment]
    HAS_YAML = False
    YAML_IMPORT_ERROR = _exc

YAML_REQUIREMENT = "PyYAML (Debian: python3-yaml)"


if HAS_YAML:

    class KubeDumper(yaml.SafeDumper):
        """Block style like kubeadm's output; multi-line strings as literal blocks."""

    def _str_representer(dumper: Any, data: str) -> Any:
        if "\n" in data:
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", data)

    KubeDumper.add_representer(str, _str_representer)


def dump_kube(data: Any) -> str:
    """Serialise ``data`` the way kubeadm lays out its manifests and configuration."""
    return yaml.dump(
        data,
        Dumper=KubeDumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=2**30,
        indent=2,
    )
