#!/usr/bin/env bash
# Build kube-apiserver, kube-controller-manager, kubeadm (k8s.io/kubernetes) and etcd
# (go.etcd.io/etcd/server/v3) from their official Go modules through the Go module proxy.
# Binaries are cached outside the repository, keyed by version; a second run is a no-op.
#
#   scripts/k8s-binaries.sh            # build what is missing, print the bin folder
#   K8S_VERSION=1.35.4 ETCD_VERSION=3.6.5 scripts/k8s-binaries.sh
#   K8S_CMDS_ONLY=kubeadm K8S_VERSION=1.34.12 scripts/k8s-binaries.sh
#   K8S_NODE=1 scripts/k8s-binaries.sh  # also kubelet, kube-scheduler, kubectl and crictl
#
# K8S_CMDS_ONLY (optional): a space-separated subset of the Kubernetes commands above
# (kube-apiserver kube-controller-manager kubeadm). Only those are built and checked, and
# etcd is skipped; e.g. kubeadm alone (all scripts/gen-kubeadm-manifests.sh needs) builds in
# about 3 minutes on 2 cores instead of about 6 for everything. They land in the same bin
# folder, so a later full run only builds what is still missing. Unset (the default): all
# three commands and etcd, as always.
#
# K8S_NODE=1 adds what a kubeadm node needs (the kubeadm lab, scripts/lab-kubeadm.sh): kubelet,
# kube-scheduler and kubectl from the same module build (the kubelet about 14 minutes cold on
# 2 busy cores, the others well under a minute each from the same build cache), and crictl
# from sigs.k8s.io/cri-tools (CRICTL_VERSION; the module proxy refuses cri-tools v1.35.0, so
# v1.34.0). They land in the same folder; a stamp records crictl's version.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-3.6.5}"
CACHE="${NODESEC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nodesec}"
BIN="$CACHE/bin/k8s-v${K8S_VERSION}-etcd-v${ETCD_VERSION}"
CRICTL_VERSION="${CRICTL_VERSION:-1.34.0}"
K8S_CMDS=(kube-apiserver kube-controller-manager kubeadm)
K8S_NODE_CMDS=(kubelet kube-scheduler kubectl)
WANT_ETCD=1
WANT_CRICTL=0
if [[ "${K8S_NODE:-0}" == 1 ]]; then
  K8S_CMDS+=("${K8S_NODE_CMDS[@]}")
  WANT_CRICTL=1
fi

log() { printf '[k8s-binaries] %s\n' "$*" >&2; }

if [[ -n "${K8S_CMDS_ONLY:-}" ]]; then
  read -r -a only <<<"$K8S_CMDS_ONLY"
  for c in "${only[@]}"; do
    [[ " ${K8S_CMDS[*]} ${K8S_NODE_CMDS[*]} " == *" $c "* ]] || { log "K8S_CMDS_ONLY: unknown command '$c' (choose from: ${K8S_CMDS[*]} ${K8S_NODE_CMDS[*]})"; exit 2; }
  done
  K8S_CMDS=("${only[@]}")
  WANT_ETCD=0
  WANT_CRICTL=0
fi

have_all() {
  local c
  for c in "${K8S_CMDS[@]}"; do [[ -x "$BIN/$c" ]] || return 1; done
  ((WANT_CRICTL == 0)) || have_crictl || return 1
  ((WANT_ETCD == 0)) || [[ -x "$BIN/etcd" ]]
}

have_crictl() { [[ -x "$BIN/crictl" && "$(cat "$BIN/crictl.version" 2>/dev/null)" == "v${CRICTL_VERSION}" ]]; }

if have_all; then
  echo "$BIN"
  exit 0
fi

# Go >= 1.25: the one on PATH, or the pinned toolchain fetched once (scripts/lib/go-toolchain.sh).
# shellcheck source=lib/go-toolchain.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-toolchain.sh"
nodesec_go_toolchain || { log "no Go toolchain >= 1.25"; exit 1; }
mkdir -p "$BIN"
# One build at a time (the lab setup and the test runner may both ask for the binaries):
# a second caller waits here, then finds everything built.
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it"
  flock 9
fi
if have_all; then
  echo "$BIN"
  exit 0
fi
build_start=$SECONDS
export GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath"
export CGO_ENABLED=0

# --- Kubernetes ----------------------------------------------------------------------------
work="$CACHE/build/k8s-v${K8S_VERSION}"
mkdir -p "$work"
missing_k8s=0
for c in "${K8S_CMDS[@]}"; do [[ -x "$BIN/$c" ]] || missing_k8s=1; done
if ((missing_k8s)); then
  log "resolving k8s.io/kubernetes v${K8S_VERSION} from the Go module proxy"
  gomod=$(cd "$work" && GOFLAGS='' go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  goline=$(grep -m1 '^go ' "$gomod")
  {
    echo "module nodesec.local/k8sbuild"
    echo
    echo "$goline"
    echo
    echo "require k8s.io/kubernetes v${K8S_VERSION}"
    echo
    echo "replace ("
    # Every staging module is pinned at v0.0.0 with a local replace in k8s.io/kubernetes;
    # point each at its published v0.<minor>.<patch> release instead.
    grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk -v v="v0.${K8S_VERSION#*.}" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } >"$work/go.mod"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "${K8S_CMDS[@]}"
    printf ')\n'
  } >"$work/tools.go"
  log "downloading modules (first run only)"
  if ! (cd "$work" && go mod tidy -e >/dev/null 2>"$work/tidy.log"); then cat "$work/tidy.log" >&2; exit 1; fi
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$K8S_VERSION") -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=v${K8S_VERSION}"
  for c in "${K8S_CMDS[@]}"; do
    [[ -x "$BIN/$c" ]] && continue
    log "building $c v${K8S_VERSION} (a few minutes on 2 cores)"
    start=$SECONDS
    (cd "$work" && go build -ldflags "$ldflags" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c")
    mv "$BIN/$c.tmp" "$BIN/$c"
    log "built $c in $((SECONDS - start))s"
  done
fi

# One Go program built through a throwaway wrapper module that requires its module at the pinned
# version (how etcd and crictl are built):
#   go_wrapper_build <work dir> <wrapper name> <module> <version> <package> <output> [extra ldflags]
go_wrapper_build() {
  local work=$1 name=$2 module=$3 version=$4 pkg=$5 out=$6 ldflags="-s -w${7:+ $7}"
  mkdir -p "$work"
  printf 'module nodesec.local/%s\n\ngo 1.24\n\nrequire %s %s\n' "$name" "$module" "$version" >"$work/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$work/tools.go"
  if ! (cd "$work" && go mod tidy -e >/dev/null 2>"$work/tidy.log"); then cat "$work/tidy.log" >&2; exit 1; fi
  (cd "$work" && go build -ldflags "$ldflags" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
}

# --- etcd ----------------------------------------------------------------------------------
if ((WANT_ETCD)) && [[ ! -x "$BIN/etcd" ]]; then
  log "building etcd v${ETCD_VERSION}"
  start=$SECONDS
  go_wrapper_build "$CACHE/build/etcd-v${ETCD_VERSION}" etcdbuild go.etcd.io/etcd/server/v3 "v${ETCD_VERSION}" \
    go.etcd.io/etcd/server/v3 "$BIN/etcd"
  log "built etcd in $((SECONDS - start))s"
fi

# --- crictl (sigs.k8s.io/cri-tools) ----------------------------------------------------------
if ((WANT_CRICTL)) && ! have_crictl; then
  log "building crictl v${CRICTL_VERSION}"
  start=$SECONDS
  go_wrapper_build "$CACHE/build/cri-tools-v${CRICTL_VERSION}" critoolsbuild sigs.k8s.io/cri-tools "v${CRICTL_VERSION}" \
    sigs.k8s.io/cri-tools/cmd/crictl "$BIN/crictl" "-X sigs.k8s.io/cri-tools/pkg/version.Version=v${CRICTL_VERSION}"
  echo "v${CRICTL_VERSION}" >"$BIN/crictl.version"
  log "built crictl in $((SECONDS - start))s"
fi

have_all
log "binaries ready in $((SECONDS - build_start))s: $BIN"
echo "$BIN"
