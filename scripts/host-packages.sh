#!/usr/bin/env bash
# Debian packages the test suite and the lab need on the controller, installed when missing:
# debootstrap (node images), sysdig (filter compiler and offline captures in tests),
# dpkg-dev and gnupg (the falco scenario builds and signs a local package repository).
# The Docker engine has its own script (scripts/docker-engine.sh).
set -euo pipefail
LOG_TAG=host-packages
# shellcheck source=scripts/lib/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/common.sh"
want=(debootstrap sysdig dpkg-dev gnupg)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
log "installing: ${missing[*]}"
# apt_install waits for the dpkg lock: the Falco build installs its packages at the same time
apt_install "${missing[@]}"
