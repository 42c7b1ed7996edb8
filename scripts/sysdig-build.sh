#!/usr/bin/env bash
# sysdig 0.36.0 from source (../shared/vendor tarballs, nothing downloaded at build time except
# Debian packages and cmake from PyPI), with the libs it pins (falcosecurity-libs 0.15.1, driver
# 7.0.0) and the modern eBPF probe compiled in, packaged like the vendor's sysdig .deb.
# Debian 12's sysdig 0.29 cannot capture live here (no kernel module, no modern eBPF); this one can.
#
#   scripts/sysdig-build.sh      # build what is missing, print the output folder on stdout
#
# Output: $NODESEC_CACHE/sysdig-<recipe-hash>/ (recipe: this script, scripts/sysdig/* but its
# README, the patches)
#   root/usr/bin/sysdig, root/usr/bin/csysdig, root/usr/share/sysdig/chisels ...
#   sysdig_0.36.0_amd64.deb                     (scripts/sysdig/package.sh)
#   env                                         SYSDIG=, DEB= lines
# A warm run (output present) only prints the folder. The compile tree lives in
# $NODESEC_CACHE/build/sysdig-<source-hash>/ (source hash: the tarballs; the patch set is
# reconciled in place), so a change of the packaging recipe re-packages without recompiling.
#
# Jobs: SYSDIG_BUILD_JOBS (default 2); run it under nice(1) on a shared machine. The walls met
# on the way and how each is passed are in scripts/sysdig/README.md.
set -euo pipefail

LOG_TAG=sysdig-build
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/common.sh
source "$HERE/lib/common.sh"

SYSDIG_VERSION=0.36.0
LIBS_VERSION=0.15.1
DRIVER_VERSION=7.0.0
LIBBPF_VERSION=1.3.0
CMAKE_PYPI_VERSION=3.31.6
VENDOR="${NODESEC_VENDOR:-$(cd "$NODESEC_REPO/.." && pwd)/shared/vendor}"
[[ -d $VENDOR ]] || VENDOR=/work/shared/vendor
JOBS="${SYSDIG_BUILD_JOBS:-2}"
TARBALLS=(
  "sysdig-$SYSDIG_VERSION.tar.gz"
  "falcosecurity-libs-$LIBS_VERSION.tar.gz"
  "falcosecurity-driver-$DRIVER_VERSION.tar.gz"
  "valijson-1.0.2.tar.gz"
  "libbpf-$LIBBPF_VERSION.tar.gz"
)
# libs 0.15.1 still has its container engines in libsinsp (docker, podman, CRI over gRPC), so
# a build with container metadata (MINIMAL_BUILD=OFF) needs gRPC, protobuf and c-ares; the
# chisels need LuaJIT, csysdig ncurses.
DEB_PACKAGES=(
  build-essential clang llvm bpftool libelf-dev libyaml-cpp-dev nlohmann-json3-dev
  libre2-dev libjsoncpp-dev libtbb-dev uthash-dev libcurl4-openssl-dev libssl-dev zlib1g-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libc-ares-dev
  libluajit-5.1-dev libncurses-dev pkg-config patchelf python3-venv
)

PATCHES=("$HERE"/sysdig/patches/*.patch)
source_hash=$({
  printf '%s\n' "${TARBALLS[@]}" "$CMAKE_PYPI_VERSION"
} | sha256sum | cut -c1-16)
recipe_hash=$({
  echo "$source_hash"
  cat "${BASH_SOURCE[0]}"
  find "$HERE/sysdig" -type f ! -name README.md -print0 | sort -z | xargs -0r cat
} | sha256sum | cut -c1-16)
OUT="$NODESEC_CACHE/sysdig-$recipe_hash"
WORK="$NODESEC_CACHE/build/sysdig-$source_hash"

if [[ -s $OUT/env && ${SYSDIG_REBUILD:-0} != 1 ]]; then
  echo "$OUT"
  exit 0
fi

mkdir -p "$WORK" "$NODESEC_CACHE"
exec 9>"$NODESEC_CACHE/sysdig-build.lock"
flock -n 9 || { log "waiting for the build lock (another sysdig-build.sh runs)" && flock 9; }
if [[ -s $OUT/env && ${SYSDIG_REBUILD:-0} != 1 ]]; then
  echo "$OUT"
  exit 0
fi
START=$SECONDS
log "building sysdig $SYSDIG_VERSION (libs $LIBS_VERSION, driver $DRIVER_VERSION, modern eBPF) into $OUT (work: $WORK)"

deps() {
  local missing=() p
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
  local venv="$NODESEC_CACHE/build/cmake-$CMAKE_PYPI_VERSION"
  if [[ ! -x $venv/bin/cmake ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "cmake==$CMAKE_PYPI_VERSION"
  fi
}
CMAKE="$NODESEC_CACHE/build/cmake-$CMAKE_PYPI_VERSION/bin/cmake"
SRC="$WORK/src"
LIBS="$SRC/falcosecurity-libs-$LIBS_VERSION"

unpack() {
  [[ -f $SRC/.done ]] && return 0
  rm -rf "$SRC" && mkdir -p "$SRC"
  local t
  for t in "${TARBALLS[@]}"; do
    [[ -f $VENDOR/$t ]] || die "missing $VENDOR/$t (see ../shared/vendor/README.md)"
    tar -xzf "$VENDOR/$t" -C "$SRC"
  done
  touch "$SRC/.done"
}

# scripts/sysdig/patches/*.patch onto the libs tree, kept in step with the recipe (as in
# falco-build.sh): the applied set is kept in $SRC/.patches/; when it differs from the
# recipe's it is reversed (last first) and the recipe's applied.
reconcile_patches() {
  local applied="$SRC/.patches" p want have i=0
  want=$(for p in "${PATCHES[@]}"; do sha256sum <"$p"; done)
  have=$(for p in "$applied"/*.patch; do [[ -f $p ]] && sha256sum <"$p"; done)
  [[ $want == "$have" ]] && return 0
  if [[ -d $applied ]]; then
    while read -r p; do
      patch -d "$LIBS" -p1 -R --silent <"$p" || die "could not reverse $(basename "$p") in $LIBS"
    done < <(ls -1 "$applied"/*.patch 2>/dev/null | sort -r)
  fi
  rm -rf "$applied" && mkdir -p "$applied"
  for p in "${PATCHES[@]}"; do
    patch -d "$LIBS" -p1 --forward --silent <"$p" || die "$(basename "$p") does not apply to $LIBS"
    i=$((i + 1))
    cp "$p" "$applied/$(printf '%02d' "$i")-$(basename "$p")"
  done
}

build_libbpf() {
  [[ -f $WORK/libbpf/root/usr/lib64/libbpf.a ]] && return 0
  mkdir -p "$WORK/libbpf/obj"
  nice make -s -C "$SRC/libbpf-$LIBBPF_VERSION/src" -j"$JOBS" BUILD_STATIC_ONLY=y \
    OBJDIR="$WORK/libbpf/obj" DESTDIR="$WORK/libbpf/root" NO_PKG_CONFIG=1 install >/dev/null
}

configure_sysdig() {
  local b=$SYSDIG_BUILD
  [[ -f $b/CMakeCache.txt ]] && return 0
  # USE_BUNDLED_DEPS=OFF, and explicitly OFF the five bundles sysdig's falcosecurity-libs.cmake
  # presets to ON (as for Falco). The probe is the modern eBPF one only: no kernel module
  # (BUILD_DRIVER, ENABLE_DKMS), no legacy eBPF probe (BUILD_BPF), no gVisor engine.
  nice "$CMAKE" -S "$SRC/sysdig-$SYSDIG_VERSION" -B "$b" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX=/usr -DDIR_ETC=/etc -DSYSDIG_VERSION="$SYSDIG_VERSION" \
    -DUSE_BUNDLED_DEPS=OFF -DUSE_BUNDLED_TBB=OFF -DUSE_BUNDLED_B64=OFF -DUSE_BUNDLED_JSONCPP=OFF \
    -DUSE_BUNDLED_VALIJSON=OFF -DUSE_BUNDLED_RE2=OFF -DUSE_BUNDLED_NCURSES=OFF \
    -DUSE_SHARED_LIBELF=ON -DMINIMAL_BUILD=OFF -DBUILD_SYSDIG_MODERN_BPF=ON \
    -DBUILD_SYSDIG_GVISOR=OFF -DBUILD_DRIVER=OFF -DENABLE_DKMS=OFF -DBUILD_BPF=OFF \
    -DCREATE_TEST_TARGETS=OFF -DBUILD_WARNINGS_AS_ERRORS=OFF \
    -DFALCOSECURITY_LIBS_SOURCE_DIR="$LIBS" \
    -DDRIVER_SOURCE_DIR="$SRC/falcosecurity-libs-$DRIVER_VERSION+driver/driver" \
    -DVALIJSON_INCLUDE="$SRC/valijson-1.0.2/include" \
    -DLIBBPF_INCLUDE="$WORK/libbpf/root/usr/include" \
    -DLIBBPF_LIB="$WORK/libbpf/root/usr/lib64/libbpf.a" \
    >"$WORK/sysdig-configure.log" 2>&1 || {
    tail -40 "$WORK/sysdig-configure.log" >&2
    rm -f "$b/CMakeCache.txt"
    return 1
  }
}

build_sysdig() {
  local b=$SYSDIG_BUILD
  log "  (compile log: $b.log)"
  nice "$CMAKE" --build "$b" --target sysdig csysdig -j"$JOBS" >"$b.log" 2>&1 || {
    grep -m5 -B2 -A8 'error:' "$b.log" >&2 || tail -40 "$b.log" >&2
    return 1
  }
}

install_root() {
  local root="$WORK/root"
  rm -rf "$root"
  DESTDIR="$root" nice "$CMAKE" --install "$SYSDIG_BUILD" --component sysdig >"$WORK/install.log" 2>&1 ||
    { tail -30 "$WORK/install.log" >&2; return 1; }
  strip --strip-unneeded "$root/usr/bin/sysdig" "$root/usr/bin/csysdig"
}

SYSDIG_BUILD="$WORK/sysdig-$(declare -f configure_sysdig | sha256sum | cut -c1-8)"
step "dependencies (Debian packages, cmake $CMAKE_PYPI_VERSION from PyPI)" deps
step "unpack sources" unpack
step "patches (scripts/sysdig/patches)" reconcile_patches
step "libbpf $LIBBPF_VERSION (static)" build_libbpf
step "configure sysdig $SYSDIG_VERSION" configure_sysdig
step "compile sysdig $SYSDIG_VERSION with $JOBS job(s)" build_sysdig
step "install into a staging root" install_root
step "package the .deb" "$HERE/sysdig/package.sh" "$WORK/root" "$SRC/sysdig-$SYSDIG_VERSION" "$SYSDIG_BUILD" "$OUT.new" "$SYSDIG_VERSION"
rm -rf "$OUT"
mv "$OUT.new" "$OUT"
cat >"$OUT/env" <<EOF
SYSDIG=$OUT/root/usr/bin/sysdig
CSYSDIG=$OUT/root/usr/bin/csysdig
DEB=$OUT/sysdig_${SYSDIG_VERSION}_amd64.deb
EOF
find "$NODESEC_CACHE" -maxdepth 1 -name 'sysdig-*' -type d ! -name "sysdig-$recipe_hash" -exec rm -rf {} +
log "done in $((SECONDS - START))s: $OUT"
echo "$OUT"
