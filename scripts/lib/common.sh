# shellcheck shell=bash
# Helpers shared by the lab scripts (docker-engine.sh, build-images.sh, lab-nodes.sh).
# Source it after setting LOG_TAG:   LOG_TAG=build-images; source "$HERE/lib/common.sh"

NODESEC_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODESEC_CACHE="${NODESEC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nodesec}"
export NODESEC_REPO NODESEC_CACHE

log() { printf '[%s] %s\n' "${LOG_TAG:-nodesec}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# step "label" command...: one progress line when it starts, one with its duration when it
# ends; on failure the duration line says so and the command's status is returned.
step() {
  local label=$1 start=$SECONDS rc=0
  shift
  log "$label ..."
  "$@" || rc=$?
  if ((rc == 0)); then
    log "$label: done in $((SECONDS - start))s"
  else
    log "$label: FAILED after $((SECONDS - start))s (exit $rc)"
  fi
  return "$rc"
}

# apt_install pkg...: install Debian packages on the host, noninteractive, waiting for the
# dpkg lock when another apt-get runs (several engineers and scripts share the machine).
apt_install() {
  [[ $(id -u) -eq 0 ]] || die "installing $* needs root"
  local attempt
  export DEBIAN_FRONTEND=noninteractive
  for attempt in 1 2 3; do
    if apt-get -q -o DPkg::Lock::Timeout=300 update >/dev/null 2>&1 \
      && apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends "$@" >/dev/null 2>&1; then
      return 0
    fi
    log "apt-get install $* failed (attempt $attempt); retrying"
    sleep 5
  done
  apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends "$@" >&2
}
