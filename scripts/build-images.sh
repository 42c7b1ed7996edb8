#!/usr/bin/env bash
# Build the lab node images locally (no registry is reachable): debootstrap a minimal Debian
# root with Python, systemd as PID 1 and the few tools our roles use, then `docker import` it.
#
#   scripts/build-images.sh               # nodesec-node:debian12 and nodesec-node:debian13
#   scripts/build-images.sh debian12      # only one of them
#   NODESEC_FORCE_REBUILD=1 scripts/build-images.sh
#
# An image is rebuilt only when its recipe changes: the recipe hash (this script,
# images/packages.txt and images/masked-units.txt, plus the release) is stored in the label
# org.nodesec.recipe; an image carrying the same hash is kept. Root file system tarballs are
# cached in ${NODESEC_CACHE:-~/.cache/nodesec}/images/, so a removed image is re-imported
# without debootstrap. The Debian mirror is the one the host's apt uses
# (NODESEC_DEBIAN_MIRROR / NODESEC_DEBIAN_SECURITY_MIRROR override it).
#
# Containers from these images run systemd as PID 1 with:
#   --cap-add SYS_ADMIN --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw
#   --tmpfs /run --tmpfs /run/lock --network host (or none)  --stop-signal SIGRTMIN+3
# (docker 20.10 cannot bake STOPSIGNAL into an imported image; pass it when running)
# (--privileged does not work on these machines: CAP_SYS_RESOURCE is not available.)
set -euo pipefail

LOG_TAG=build-images
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/common.sh
source "$HERE/lib/common.sh"

IMAGE_REPO="nodesec-node"
RECIPE_LABEL="org.nodesec.recipe"
PACKAGES_FILE="$HERE/images/packages.txt"
MASKED_FILE="$HERE/images/masked-units.txt"
IMAGES_CACHE="$NODESEC_CACHE/images"
SMOKE_TIMEOUT="${NODESEC_SMOKE_TIMEOUT:-60}"

declare -A SUITE=([debian12]=bookworm [debian13]=trixie)

usage() {
  echo "usage: $0 [debian12|debian13]..." >&2
  exit 2
}

# --- recipe --------------------------------------------------------------------------------
list_file() { sed -e 's/#.*//' -e 's/[[:space:]]//g' "$1" | grep -v '^$'; }

recipe_hash() { # $1 = image name (debian12)
  {
    echo "suite=${SUITE[$1]}"
    cat "${BASH_SOURCE[0]}" "$PACKAGES_FILE" "$MASKED_FILE"
  } | sha256sum | cut -c1-16
}

image_hash() { # label of the existing image, empty when there is none
  docker image inspect --format "{{ index .Config.Labels \"$RECIPE_LABEL\" }}" "$1" 2>/dev/null || true
}

# --- mirrors -------------------------------------------------------------------------------
# First URI of the host's apt sources (one-line and deb822 formats) whose path ends in $1.
host_uri() {
  local suffix=$1
  {
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }'
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
      | awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }'
  } | sed 's:/*$::' | grep -E "/${suffix}\$" | head -n1 || true
}

# The images use the Debian mirror this host already uses (the one it can reach).
MIRROR="${NODESEC_DEBIAN_MIRROR:-$(host_uri debian)}"
SECURITY_MIRROR="${NODESEC_DEBIAN_SECURITY_MIRROR:-$(host_uri debian-security)}"
if [[ -z "$MIRROR" ]]; then
  echo "[build-images] no Debian mirror found in /etc/apt/sources.list*: set NODESEC_DEBIAN_MIRROR to one (and NODESEC_DEBIAN_SECURITY_MIRROR)" >&2
  exit 1
fi
SECURITY_MIRROR="${SECURITY_MIRROR:-${MIRROR%/debian}/debian-security}"

# --- build steps ---------------------------------------------------------------------------
debootstrap_root() { # $1 = suite, $2 = root dir, $3 = log file
  local pkgs
  pkgs=$(list_file "$PACKAGES_FILE" | paste -sd, -)
  mkdir -p "$IMAGES_CACHE/debs-$1"
  debootstrap --variant=minbase --include="$pkgs" --cache-dir="$IMAGES_CACHE/debs-$1" \
    "$1" "$2" "$MIRROR" >"$3" 2>&1 || {
    tail -n 30 "$3" >&2
    return 1
  }
}

configure_root() { # $1 = suite, $2 = root dir
  local suite=$1 root=$2 unit
  # apt: the same mirror as the host, with updates and security; no recommends.
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$root/etc/apt/apt.conf.d/90nodesec" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
  # Keep the image small, now and after later installs: no docs, man pages, locales.
  cat >"$root/etc/dpkg/dpkg.cfg.d/90nodesec-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
EOF
  find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$root"/usr/share/{man,info,lintian}/* "$root"/usr/share/locale/*/
  # systemd in a container: mask what would touch the host (see masked-units.txt).
  while read -r unit; do
    ln -sfn /dev/null "$root/etc/systemd/system/$unit"
  done < <(list_file "$MASKED_FILE")
  # Boot to multi-user, no graphical or rescue targets; no hostname baked in (docker sets it).
  ln -sfn /lib/systemd/system/multi-user.target "$root/etc/systemd/system/default.target"
  rm -f "$root/etc/hostname" "$root/etc/machine-id" "$root/var/lib/dbus/machine-id"
  : >"$root/etc/machine-id" # empty: systemd generates one per container at boot
  # Clean caches and logs.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*
  mkdir -p "$root/var/lib/apt/lists/partial"
  # The package lists are empty: make them look old, or apt's cache_valid_time (Ansible's
  # apt module) would skip the first `apt-get update` in a fresh container.
  rm -f "$root/var/lib/apt/periodic/update-success-stamp"
  touch -d @0 "$root/var/lib/apt/lists"
}

make_tarball() { # $1 = root dir, $2 = tarball
  tar --numeric-owner --xattrs -C "$1" -cf "$2.tmp" . && mv "$2.tmp" "$2"
}

import_image() { # $1 = tarball, $2 = image ref, $3 = hash
  docker import \
    --change 'ENV container=docker' \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change "LABEL $RECIPE_LABEL=$3" \
    --change "LABEL org.opencontainers.image.title=$2" \
    "$1" "$2" >/dev/null
}

# Start the image with systemd as PID 1 (no network), wait until systemd is up and systemctl
# answers, and remove the container again.
smoke_test() { # $1 = image ref
  local name state="" deadline
  name="nodesec-smoke-$$-${1##*:}"
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run -d --name "$name" --network none --cgroupns=host --cap-add SYS_ADMIN \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock "$1" >/dev/null
  deadline=$((SECONDS + SMOKE_TIMEOUT))
  while ((SECONDS < deadline)); do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running | degraded) break ;; esac
    sleep 1
  done
  if [[ "$state" != running && "$state" != degraded ]]; then
    log "systemd did not come up in $1 (state: ${state:-none}); container log:"
    docker logs "$name" 2>&1 | tail -n 30 >&2
    docker rm -f "$name" >/dev/null
    return 1
  fi
  if [[ "$state" == degraded ]]; then
    log "systemd is degraded in $1; failed units:"
    docker exec "$name" systemctl --no-legend --failed >&2 || true
  fi
  [[ "$(docker exec "$name" cat /proc/1/comm)" == systemd ]] || {
    docker rm -f "$name" >/dev/null
    log "PID 1 is not systemd in $1"
    return 1
  }
  docker exec "$name" python3 -c 'import apt, sys; print(sys.version.split()[0])' >/dev/null
  docker rm -f "$name" >/dev/null
}

build_one() { # $1 = debian12 | debian13
  local name=$1 suite=${SUITE[$1]} ref="$IMAGE_REPO:$1" hash tarball work start=$SECONDS
  hash=$(recipe_hash "$name")
  if [[ -z "${NODESEC_FORCE_REBUILD:-}" && "$(image_hash "$ref")" == "$hash" ]]; then
    log "$ref is up to date (recipe $hash)"
    return 0
  fi
  tarball="$IMAGES_CACHE/$name-$hash.tar"
  if [[ -n "${NODESEC_FORCE_REBUILD:-}" || ! -s "$tarball" ]]; then
    work=$(mktemp -d "$IMAGES_CACHE/build-$name.XXXXXX")
    # shellcheck disable=SC2064 # expand now: the trap must remove this build's directory
    trap "rm -rf '$work'" EXIT
    step "$name: debootstrap $suite from $MIRROR (about a minute)" \
      debootstrap_root "$suite" "$work/root" "$IMAGES_CACHE/$name-debootstrap.log"
    step "$name: configure apt, mask host-facing units, clean up" configure_root "$suite" "$work/root"
    step "$name: pack the root file system" make_tarball "$work/root" "$tarball"
    rm -rf "$work"
    trap - EXIT
    # Older tarballs of this image are stale now.
    find "$IMAGES_CACHE" -maxdepth 1 -name "$name-*.tar" ! -name "$name-$hash.tar" -delete
  else
    log "$name: using the cached root file system $tarball"
  fi
  step "$name: docker import as $ref" import_image "$tarball" "$ref" "$hash"
  step "$name: smoke test (systemd as PID 1, python3)" smoke_test "$ref"
  # The previous build of this image is untagged now; drop it unless a container uses it.
  docker image prune -f --filter "label=$RECIPE_LABEL" >/dev/null
  log "$ref built in $((SECONDS - start))s ($(docker image inspect --format '{{.Size}}' "$ref" | numfmt --to=iec) , recipe $hash)"
}

# --- main ----------------------------------------------------------------------------------
targets=("$@")
((${#targets[@]})) || targets=(debian12 debian13)
for t in "${targets[@]}"; do
  [[ -n "${SUITE[$t]:-}" ]] || usage
done

"$HERE/docker-engine.sh"
[[ $(id -u) -eq 0 ]] || die "building images needs root (debootstrap)"
command -v debootstrap >/dev/null 2>&1 || step "installing debootstrap" apt_install debootstrap
mkdir -p "$IMAGES_CACHE"

# One build at a time on this machine (several engineers and test runs share it).
exec 9>"$IMAGES_CACHE/.lock"
if ! flock -n 9; then
  log "another image build is running; waiting for it"
  flock 9
fi

for t in "${targets[@]}"; do
  build_one "$t"
done
