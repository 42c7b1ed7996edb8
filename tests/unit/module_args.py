"""Set the arguments an ``AnsibleModule`` reads, the way the running ansible-core supports it.

ansible-core 2.19 added ``ansible.module_utils.testing.patch_module_args`` (it also sets the
serialization profile 2.19 modules read). Earlier cores (2.17, 2.18, which we support) read the
arguments from ``ansible.module_utils.basic._ANSIBLE_ARGS`` alone, which is what the fallback
patches. Tests import ``patch_module_args`` from here and work on every core of the matrix.
"""

from __future__ import annotations

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    import contextlib
    import json
    from unittest import mock

    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args=None):
        """Expose ``args`` to ``AnsibleModule`` instances created within this context."""
        if not isinstance(args, (dict, type(None))):
            raise TypeError("The `args` arg must be a dict or None.")
        payload = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}))
        with mock.patch.object(basic, "_ANSIBLE_ARGS", payload):
            yield


__all__ = ["patch_module_args"]
