#!/usr/bin/env bash
# Build helm from its Go module through the Go module proxy (no download site is reachable),
# cache it outside the repository and link it at .build/bin/helm, where the Helm tests look.
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-3.19.0}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${NODESEC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nodesec}/bin/helm-v${HELM_VERSION}"
if [[ ! -x "$cache/helm" ]]; then
  echo "[helm] building helm v${HELM_VERSION} from helm.sh/helm/v3 (first run only)" >&2
  start=$SECONDS
  mkdir -p "$cache"
  # Go >= 1.25: the one on PATH, or the pinned toolchain fetched once.
  # shellcheck source=lib/go-toolchain.sh
  source "$repo/scripts/lib/go-toolchain.sh"
  nodesec_go_toolchain
  GOBIN="$cache" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install "helm.sh/helm/v3/cmd/helm@v${HELM_VERSION}"
  echo "[helm] built in $((SECONDS - start))s" >&2
fi
mkdir -p "$repo/.build/bin"
ln -sfn "$cache/helm" "$repo/.build/bin/helm"
echo "$repo/.build/bin/helm"
