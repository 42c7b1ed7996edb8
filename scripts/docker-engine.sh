#!/usr/bin/env bash
# Make sure a Docker engine answers on the default socket (unix:///var/run/docker.sock).
#
# When an engine already answers, do nothing. Otherwise install Debian's docker.io if dockerd
# is missing and start dockerd in the background without a bridge and without iptables:
# every lab container uses host networking (or none), so no traffic goes to private ranges.
# Safe to call from any script, any number of times.
#
#   scripts/docker-engine.sh            # ensure the engine, print nothing else on success
#   scripts/docker-engine.sh --stop     # stop the dockerd this script started (if any)
#
# Environment: NODESEC_DOCKERD_LOG (default /var/log/nodesec-dockerd.log),
#              NODESEC_DOCKERD_TIMEOUT (seconds to wait for the engine, default 60).
set -euo pipefail

LOG_TAG=docker-engine
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

LOG_FILE="${NODESEC_DOCKERD_LOG:-/var/log/nodesec-dockerd.log}"
PID_FILE="/run/nodesec-dockerd.pid"
TIMEOUT="${NODESEC_DOCKERD_TIMEOUT:-60}"
SOCKET="/var/run/docker.sock"

# The Python docker SDK, the molecule docker driver and community.docker all read DOCKER_HOST;
# an inherited value pointing elsewhere would make them disagree with the docker CLI.
if [[ -n "${DOCKER_HOST:-}" && "${DOCKER_HOST}" != "unix://${SOCKET}" ]]; then
  log "note: DOCKER_HOST=${DOCKER_HOST} is set; the engine managed here listens on unix://${SOCKET}"
fi

# PIDs of running dockerd processes (no procps needed: a fresh machine may lack pgrep).
dockerd_pids() {
  local f
  for f in /proc/[0-9]*/comm; do
    [[ "$(cat "$f" 2>/dev/null)" == dockerd ]] && basename "$(dirname "$f")"
  done
  return 0
}

engine_answers() {
  command -v docker >/dev/null 2>&1 || return 1
  DOCKER_HOST="unix://${SOCKET}" timeout 10 docker info --format '{{.ServerVersion}}' >/dev/null 2>&1
}

# Install docker.io without letting its maintainer scripts start a default dockerd (with a
# bridge and iptables rules) through the init system: we start our own below.
install_docker_io() {
  local policy=/usr/sbin/policy-rc.d added=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# nodesec docker-engine.sh: do not start services during this install\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    added=1
  fi
  apt_install docker.io || { ((added)) && rm -f "$policy"; return 1; }
  ((added)) && rm -f "$policy"
  return 0
}

stop_engine() {
  if [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    local pid
    pid=$(cat "$PID_FILE")
    log "stopping dockerd (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    rm -f "$PID_FILE"
  else
    log "no dockerd started by this script is running"
  fi
}

if [[ "${1:-}" == "--stop" ]]; then
  stop_engine
  exit 0
fi

if engine_answers; then
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "no Docker engine answers and starting one needs root"

# One starter at a time: a second caller waits here, then finds the engine answering.
exec 9>/run/nodesec-dockerd.lock
flock 9
if engine_answers; then
  exit 0
fi

start=$SECONDS
if ! command -v dockerd >/dev/null 2>&1; then
  log "dockerd is missing: installing Debian's docker.io"
  install_docker_io
fi
# Debian's docker.io ships the CLI too; a newer CLI elsewhere on PATH (e.g. /usr/local/bin)
# talks to it fine (API version negotiation).
command -v docker >/dev/null 2>&1 || install_docker_io

if [[ -n "$(dockerd_pids)" ]]; then
  # A dockerd not started by a script holding the lock (e.g. the system's service manager).
  log "dockerd is already running (pid $(dockerd_pids | head -n1)); waiting for it to answer"
else
  args=(--bridge=none --iptables=false)
  if dockerd --help 2>&1 | grep -q -- '--ip6tables'; then
    args+=(--ip6tables=false)
  fi
  mkdir -p "$(dirname "$LOG_FILE")"
  log "starting dockerd ${args[*]} (log: $LOG_FILE)"
  # The engine outlives the calling script: its own session (setsid), and none of the
  # caller's file descriptors, or a lock a caller holds (flock) would be held forever.
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec ${fd}>&-"; fi
    done 2>/dev/null
    exec setsid dockerd "${args[@]}"
  ) >>"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
fi

deadline=$((SECONDS + TIMEOUT))
until engine_answers; do
  if [[ -z "$(dockerd_pids)" ]]; then
    log "dockerd exited; last lines of $LOG_FILE:"
    tail -n 30 "$LOG_FILE" >&2 || true
    die "dockerd did not start"
  fi
  if ((SECONDS >= deadline)); then
    log "last lines of $LOG_FILE:"
    tail -n 30 "$LOG_FILE" >&2 || true
    die "Docker engine did not answer within ${TIMEOUT}s"
  fi
  sleep 1
done

# The Python docker SDK (molecule's docker driver, community.docker) uses the same socket.
venv_python="$NODESEC_REPO/.venv/bin/python"
if [[ -x "$venv_python" ]]; then
  DOCKER_HOST="unix://${SOCKET}" "$venv_python" -c 'import docker; docker.from_env().ping()' \
    || die "the docker engine answers the CLI but not the Python docker SDK in .venv"
fi

log "Docker engine $(docker info --format '{{.ServerVersion}}') ready in $((SECONDS - start))s"
