#!/usr/bin/env bash
# Container images for the kubeadm lab (scripts/lab-kubeadm.sh), built locally: no registry is
# reachable. Each is a one-layer `docker save` archive that the nodes import with
# `ctr -n k8s.io images import`, under the tags kubeadm v1.35 asks for:
#
#   registry.k8s.io/pause:3.10.1                  static pause (images/kube/pause.c, gcc -static)
#   registry.k8s.io/kube-apiserver:v1.35.4        the static binary in an empty root
#   registry.k8s.io/kube-controller-manager:v1.35.4, kube-scheduler:v1.35.4   likewise
#   registry.k8s.io/etcd:3.6.5-0                  likewise (kubeadm's imageTag is set to it)
#   nodesec.local/nginx:1.22                      Debian 12's nginx-light package, Debian root
#   nodesec.local/shell:1.35                      Debian 12's busybox-static (sh, echo, sleep ...)
#
#   scripts/k8s-images.sh        # build what is missing or stale, print the archive folder
#
# An archive is rebuilt only when its recipe changes (this script, the packer, pause.c, the
# binary it wraps, the Debian package versions): the recipe hash is in its file name.
set -euo pipefail

LOG_TAG=k8s-images
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/common.sh
source "$HERE/lib/common.sh"

K8S_VERSION="${K8S_VERSION:-1.35.4}"
ETCD_IMAGE_TAG="${ETCD_IMAGE_TAG:-3.6.5-0}"
PAUSE_TAG="${PAUSE_TAG:-3.10.1}"
OUT="$NODESEC_CACHE/k8s-images"
PACK="$HERE/k8s_image_pack.py"
BIN="$("$HERE/k8s-binaries.sh")"
NODE_BIN="$(K8S_NODE=1 "$HERE/k8s-binaries.sh")"

mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock 9

base_recipe() { cat "${BASH_SOURCE[0]}" "$PACK"; }

# build NAME HASH_INPUT_CMD BUILD_FN: skip when OUT/NAME-<hash>.tar exists.
build() {
  local name=$1 hash fn=$3 start=$SECONDS
  hash=$({ base_recipe; eval "$2"; } | sha256sum | cut -c1-16)
  local tar="$OUT/$name-$hash.tar"
  if [[ -s "$tar" ]]; then
    return 0
  fi
  local work
  work=$(mktemp -d "$OUT/build-$name.XXXXXX")
  "$fn" "$work" "$tar.new" >"$work.log" 2>&1 || {
    tail -n 30 "$work.log" >&2
    rm -rf "$work" "$work.log"
    die "building image $name failed"
  }
  mv "$tar.new" "$tar"
  rm -rf "$work" "$work.log"
  find "$OUT" -maxdepth 1 -name "$name-*.tar" ! -name "$name-$hash.tar" -delete
  log "$name built in $((SECONDS - start))s ($(du -h "$tar" | cut -f1))"
}

static_root() { # root binary-path-in-image source
  install -d "$1/tmp" "$1/etc" "$1/var/run" "$(dirname "$1$2")"
  chmod 1777 "$1/tmp"
  install -m 0755 "$3" "$1$2"
}

img_pause() {
  gcc -static -Os -o "$1/pause.bin" "$HERE/images/kube/pause.c"
  strip "$1/pause.bin"
  mkdir "$1/root"
  static_root "$1/root" /pause "$1/pause.bin"
  python3 "$PACK" "$1/root" "registry.k8s.io/pause:$PAUSE_TAG" "$2" --entrypoint '["/pause"]' --user 65535:65535
}

img_component() { # work out component tag
  mkdir "$1/root"
  static_root "$1/root" "/usr/local/bin/$3" "$5/$3"
  python3 "$PACK" "$1/root" "registry.k8s.io/$3:$4" "$2"
}
img_apiserver() { img_component "$1" "$2" kube-apiserver "v$K8S_VERSION" "$BIN"; }
img_controller_manager() { img_component "$1" "$2" kube-controller-manager "v$K8S_VERSION" "$BIN"; }
img_scheduler() { img_component "$1" "$2" kube-scheduler "v$K8S_VERSION" "$NODE_BIN"; }
img_etcd() {
  img_component "$1" "$2" etcd "$ETCD_IMAGE_TAG" "$BIN"
}

deb_version() { apt-cache policy "$1" | awk '/Candidate:/ {print $2}'; }

img_shell() {
  (cd "$1" && apt-get download busybox-static >/dev/null)
  dpkg-deb -x "$1"/busybox-static_*.deb "$1/pkg"
  mkdir -p "$1/root/bin" "$1/root/tmp" "$1/root/etc"
  chmod 1777 "$1/root/tmp"
  install -m 0755 "$1/pkg/bin/busybox" "$1/root/bin/busybox"
  local applet
  for applet in $("$1/root/bin/busybox" --list); do
    [[ -e "$1/root/bin/$applet" ]] || ln -s busybox "$1/root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$1/root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$1/root/etc/group"
  python3 "$PACK" "$1/root" "nodesec.local/shell:1.35" "$2" --cmd '["sh"]' --env PATH=/bin
}

img_nginx() {
  # Debian's nginx in a minimal Debian 12 root (debootstrap; the .debs are cached with the
  # node images'), daemon in the foreground as the upstream nginx image runs it.
  local mirror="${NODESEC_DEBIAN_MIRROR:-$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)}"
  [[ -n "$mirror" ]] || mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources)
  mkdir -p "$NODESEC_CACHE/images/debs-bookworm"
  debootstrap --variant=minbase --include=nginx-light --cache-dir="$NODESEC_CACHE/images/debs-bookworm" \
    bookworm "$1/root" "$mirror"
  rm -rf "$1"/root/var/lib/apt/lists/* "$1"/root/var/cache/apt/* "$1"/root/usr/share/{doc,man,info,locale}/*
  ln -sf /dev/stdout "$1/root/var/log/nginx/access.log"
  ln -sf /dev/stderr "$1/root/var/log/nginx/error.log"
  python3 "$PACK" "$1/root" "nodesec.local/nginx:1.22" "$2" --keep-owner \
    --entrypoint '["nginx", "-g", "daemon off;"]'
}

start=$SECONDS
build pause 'cat "$HERE/images/kube/pause.c"; echo "$PAUSE_TAG"' img_pause
build kube-apiserver 'echo "$K8S_VERSION"; sha256sum <"$BIN/kube-apiserver"' img_apiserver
build kube-controller-manager 'echo "$K8S_VERSION"; sha256sum <"$BIN/kube-controller-manager"' img_controller_manager
build kube-scheduler 'echo "$K8S_VERSION"; sha256sum <"$NODE_BIN/kube-scheduler"' img_scheduler
build etcd 'echo "$ETCD_IMAGE_TAG"; sha256sum <"$BIN/etcd"' img_etcd
build shell 'deb_version busybox-static' img_shell
build nginx 'deb_version nginx-light' img_nginx
log "images ready in $((SECONDS - start))s: $OUT"
echo "$OUT"
