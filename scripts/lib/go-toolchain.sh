#!/usr/bin/env bash
# shellcheck shell=bash
# A Go toolchain >= 1.25 for the scripts that build Go programs (k8s-binaries.sh,
# helm-binary.sh, falco-build.sh's container plugin, and through them gen-kubeadm-manifests.sh,
# lab.sh, test.sh), on a machine without one: the pinned toolchain module
# golang.org/toolchain@v0.0.1-go<version>.linux-amd64 fetched from the Go module proxy the way
# GOTOOLCHAIN does (GOPROXY from the environment, or Go's default), its SHA-256 checked against
# the one pinned here, unpacked into ~/.cache/nodesec/go-<version>/ (NODESEC_CACHE) and put
# first on PATH. A `go` already on PATH that is 1.25 or newer is used as it is. Needs bash,
# python3 and coreutils only.
#
#   source scripts/lib/go-toolchain.sh && nodesec_go_toolchain   # `go` on PATH afterwards
#   scripts/lib/go-toolchain.sh                                  # same; prints go's bin folder
#   NODESEC_GO_FORCE=1 ...                                       # the pinned one even if a go is there
#
# The pin: go1.25.14, module zip of 64,493,020 bytes, SHA-256 below. Measured when pinned: the
# same bytes that `go mod download` fetched and verified against Go's checksum database
# (h1:XriDgll2yv4W2YeUo2X/WuUuy+iGJkXGH0CQloMBEXo=). To move the pin, download the new zip,
# check it the same way and change the two values together.
NODESEC_GO_VERSION=1.25.14
NODESEC_GO_SHA256="1bb543a7745d4c6e045a1bfdb4c4d5a0b05b71ee8b8ff72c0a351598b26991a4"
NODESEC_GO_MIN_MINOR=25

_go_log() { printf '[go-toolchain] %s\n' "$*" >&2; }

# _go_is_recent [go]: true when that go (default: the one on PATH) is 1.25 or newer.
_go_is_recent() {
  local v minor
  v="$("${1:-go}" env GOVERSION 2>/dev/null)" || return 1 # e.g. go1.26.8
  [[ "$v" =~ ^go1\.([0-9]+) ]] || return 1
  minor="${BASH_REMATCH[1]}"
  ((minor >= NODESEC_GO_MIN_MINOR))
}

# Fetch and unpack the pinned toolchain (once); print its root.
_go_fetch_pinned() {
  local cache mod zip_name root tmp
  cache="${NODESEC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nodesec}"
  root="$cache/go-${NODESEC_GO_VERSION}"
  if [[ -x "$root/bin/go" && "$(cat "$root/.sha256" 2>/dev/null)" == "$NODESEC_GO_SHA256" ]]; then
    echo "$root"
    return 0
  fi
  mkdir -p "$cache"
  mod="v0.0.1-go${NODESEC_GO_VERSION}.linux-amd64"
  zip_name="golang.org/toolchain/@v/${mod}.zip"
  # One download at a time; a second caller waits, then finds it unpacked.
  (
    flock 8
    if [[ -x "$root/bin/go" && "$(cat "$root/.sha256" 2>/dev/null)" == "$NODESEC_GO_SHA256" ]]; then exit 0; fi
    tmp="$(mktemp -d "$cache/.go-${NODESEC_GO_VERSION}.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    _go_log "fetching Go ${NODESEC_GO_VERSION} (toolchain module ${mod}, 62 MiB) from the Go module proxy"
    start=$SECONDS
    python3 - "$zip_name" "$tmp/toolchain.zip" "${GOPROXY:-}" <<'PY' || exit 1
import sys, urllib.error, urllib.request
path, dest, goproxy = sys.argv[1], sys.argv[2], sys.argv[3]
# Go's default GOPROXY; GOPROXY in the environment replaces it (same list syntax: entries
# separated by "," or "|"; "direct" cannot serve the toolchain module; "off" stops).
proxies = [p for p in goproxy.replace("|", ",").split(",") if p.strip()] or ["https://proxy.golang.org", "direct"]
errors = []
for proxy in (p.strip().rstrip("/") for p in proxies):
    if proxy == "off":
        break
    if proxy == "direct":
        continue
    url = f"{proxy}/{path}"
    try:
        with urllib.request.urlopen(url, timeout=120) as resp, open(dest, "wb") as out:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        sys.exit(0)
    except (urllib.error.URLError, OSError) as exc:
        errors.append(f"{url}: {exc}")
sys.exit("[go-toolchain] could not fetch the Go toolchain module from GOPROXY ("
         + (goproxy or "Go's default") + "): " + ("; ".join(errors) or "no proxy to ask")
         + ". Set GOPROXY to a reachable Go module proxy, or install Go 1.25+ on PATH.")
PY
    got="$(sha256sum "$tmp/toolchain.zip" | cut -d' ' -f1)"
    if [[ "$got" != "$NODESEC_GO_SHA256" ]]; then
      _go_log "ERROR: ${mod}.zip has SHA-256 $got, expected $NODESEC_GO_SHA256 (pinned in scripts/lib/go-toolchain.sh); nothing unpacked"
      exit 1
    fi
    python3 - "$tmp/toolchain.zip" "$tmp/unpacked" "golang.org/toolchain@${mod}/" <<'PY' || exit 1
import os, sys, zipfile
zip_path, dest, prefix = sys.argv[1:]
with zipfile.ZipFile(zip_path) as z:
    for info in z.infolist():
        if not info.filename.startswith(prefix) or ".." in info.filename.split("/"):
            sys.exit(f"[go-toolchain] unexpected entry {info.filename!r} in the toolchain zip")
        rel = info.filename[len(prefix):]
        if not rel or rel.endswith("/"):
            continue
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as out:
            out.write(src.read())
# Module zips keep no file modes: make the commands executable, as the go command does when it
# switches toolchains (bin/ and pkg/tool/).
for top in ("bin", os.path.join("pkg", "tool")):
    for base, _dirs, files in os.walk(os.path.join(dest, top)):
        for name in files:
            os.chmod(os.path.join(base, name), 0o755)
PY
    echo "$NODESEC_GO_SHA256" >"$tmp/unpacked/.sha256"
    rm -rf "$root"
    mv "$tmp/unpacked" "$root"
    _go_log "Go ${NODESEC_GO_VERSION} ready in $((SECONDS - start))s: $root"
  ) 8>"$cache/.go-toolchain.lock" || return 1
  "$root/bin/go" env GOVERSION >/dev/null || { _go_log "ERROR: $root/bin/go does not run"; return 1; }
  echo "$root"
}

# nodesec_go_toolchain: make sure `go` (>= 1.25) is on PATH, fetching the pinned one if needed.
nodesec_go_toolchain() {
  local root
  if [[ "${NODESEC_GO_FORCE:-0}" != 1 ]] && _go_is_recent; then
    return 0
  fi
  if command -v go >/dev/null 2>&1 && [[ "${NODESEC_GO_FORCE:-0}" != 1 ]]; then
    _go_log "$(go env GOVERSION 2>/dev/null || echo 'an unknown go') on PATH is older than 1.${NODESEC_GO_MIN_MINOR}: using the pinned Go ${NODESEC_GO_VERSION}"
  fi
  root="$(_go_fetch_pinned)" || return 1
  export PATH="$root/bin:$PATH"
  # The toolchain's GOROOT is where it was unpacked (a stale GOROOT would point elsewhere).
  unset GOROOT
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  nodesec_go_toolchain
  dirname "$(command -v go)"
fi
