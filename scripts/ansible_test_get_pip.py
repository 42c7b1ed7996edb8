"""Offline stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test downloads get-pip.py from a host our machines cannot reach before it installs a
sanity test's tools into a fresh virtual environment. This script does the same job with what
is available: ``ensurepip`` (bundled with CPython) puts pip into the environment, then pip
installs the exact packages ansible-test asked for (e.g. ``pip==24.2``) from PyPI.

ansible-test runs pip with ``PIP_CONFIG_FILE=/dev/null`` and a scrubbed environment, so the
machine's pip settings (``cert = /etc/ssl/certs/ca-certificates.crt``) do not reach it. Where the
system CA bundle exists, the throwaway environment's pip is pointed at it (its vendored certifi
bundle is replaced), so TLS verification stays on and trusts what the machine trusts.
scripts/sanity.sh copies this file to the cache path ansible-test looks at first.
"""

from __future__ import annotations

import ensurepip
import glob
import os
import shutil
import subprocess
import sys

SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"


def trust_system_ca() -> None:
    if not os.path.exists(SYSTEM_CA):
        return
    pattern = os.path.join(sys.prefix, "lib", "python*", "site-packages", "pip", "_vendor", "certifi", "cacert.pem")
    for bundle in glob.glob(pattern):
        shutil.copyfile(SYSTEM_CA, bundle)


ensurepip.bootstrap(upgrade=True)
trust_system_ca()
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install", *args])
    trust_system_ca()
