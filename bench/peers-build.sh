#!/usr/bin/env bash
# Builds the peers that bench/peers_bench.py runs beside pod_compliance, at pinned versions,
# into ${NODESEC_CACHE:-~/.cache/nodesec}/peers/bin (once; a second run finds them there).
#
#   bench/peers-build.sh                                  # kube-score; Polaris from the module proxy
#   POLARIS_SRC=<git clone of FairwindsOps/polaris> bench/peers-build.sh   # Polaris from its tag
#
# - kube-score v1.20.0: `go install github.com/zegl/kube-score/cmd/kube-score@v1.20.0` through
#   the Go module proxy.
# - Polaris v10.2.2 (commit dafa0b74fc09): its go.mod says `module github.com/fairwindsops/polaris`
#   (no /v10), so the module proxy knows the tag only as the pseudo-version below. The proxy
#   reachable from our build machines answers 403 ("not available") for every Polaris version,
#   so there it is built from a clone of its repository at that commit (POLARIS_SRC), its
#   dependencies still from the module proxy. Nothing of it is copied into this repository.
# - Kubescape: not built. github.com/kubescape/kubescape/v3 is not served by that proxy either
#   (403), and a built kubescape downloads its controls (the regolibrary release artifacts) from
#   GitHub at run time, which an offline run cannot (bench/README.md).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../scripts/lib/go-toolchain.sh
source "$repo/scripts/lib/go-toolchain.sh"
nodesec_go_toolchain >/dev/null

KUBE_SCORE_VERSION=v1.20.0
POLARIS_VERSION=v10.2.2
POLARIS_COMMIT=dafa0b74fc09a9505849b0a6f8c78f1c364d0112
POLARIS_PSEUDO=v0.0.0-20260806161001-dafa0b74fc09

cache="${NODESEC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nodesec}/peers"
mkdir -p "$cache/bin" "$cache/src"
log() { printf '[peers-build] %s\n' "$*" >&2; }

if [[ ! -x "$cache/bin/kube-score" || "$(cat "$cache/bin/.kube-score.version" 2>/dev/null)" != "$KUBE_SCORE_VERSION" ]]; then
  log "building kube-score $KUBE_SCORE_VERSION"
  GOBIN="$cache/bin" go install "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"
  echo "$KUBE_SCORE_VERSION" >"$cache/bin/.kube-score.version"
fi

if [[ ! -x "$cache/bin/polaris" || "$(cat "$cache/bin/.polaris.version" 2>/dev/null)" != "$POLARIS_COMMIT" ]]; then
  log "building Polaris $POLARIS_VERSION ($POLARIS_COMMIT)"
  if GOBIN="$cache/bin" go install "github.com/fairwindsops/polaris@$POLARIS_PSEUDO" 2>"$cache/polaris-proxy.err"; then
    log "Polaris from the module proxy"
  elif [[ -n "${POLARIS_SRC:-}" ]]; then
    log "Polaris not on the module proxy ($(tail -n1 "$cache/polaris-proxy.err")); building from $POLARIS_SRC"
    src="$cache/src/polaris-$POLARIS_VERSION"
    rm -rf "$src" && mkdir -p "$src"
    git --git-dir="$POLARIS_SRC/.git" archive "$POLARIS_COMMIT" 2>/dev/null | tar -x -C "$src" ||
      git --git-dir="$POLARIS_SRC" archive "$POLARIS_COMMIT" | tar -x -C "$src"
    (cd "$src" && go build -trimpath -o "$cache/bin/polaris" .)
  else
    log "Polaris is not on the module proxy: $(tail -n1 "$cache/polaris-proxy.err")"
    log "give a clone of github.com/FairwindsOps/polaris as POLARIS_SRC (commit $POLARIS_COMMIT)"
    exit 1
  fi
  echo "$POLARIS_COMMIT" >"$cache/bin/.polaris.version"
fi
log "peers in $cache/bin: $(cd "$cache/bin" && echo *)"
