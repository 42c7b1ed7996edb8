#!/usr/bin/env bash
# Falco 0.44.1 from source (../shared/vendor tarballs, no download at build time except Debian
# and PyPI packages, the container plugin's Go modules and, where no Go 1.25+ is installed, the
# pinned Go toolchain module), with the modern eBPF probe compiled in, plus the container
# plugin 0.7.1, packaged like the vendor's falco .deb.
#
#   scripts/falco-build.sh      # build what is missing, print the output folder on stdout
#
# Output: $NODESEC_CACHE/falco-<recipe-hash>/ (recipe: this script, scripts/falco/*, the patches)
#   root/usr/bin/falco, root/usr/share/falco/plugins/libcontainer.so, root/etc/falco/...
#   falco_0.44.1_amd64.deb                      (scripts/falco/package.sh)
#   env                                         FALCO=, PLUGIN=, CONFIG=, DEB= lines
# A warm run (output present) only prints the folder. The compile trees live in
# $NODESEC_CACHE/build/falco-<source-hash>/ (source hash: tarballs and patches; Falco's build
# tree is keyed again by its configure step), so a change of the packaging recipe re-packages
# without recompiling.
#
# The facts behind the flags are in ../shared/vendor/README.md: USE_BUNDLED_DEPS=OFF with five
# explicit USE_BUNDLED_*=OFF, libbpf 1.3.0 static (Debian 12's 1.1.2 crashes libpman), valijson
# 1.0.2, a stand-in `container_plugin` target (Falco's CMake would download a prebuilt plugin),
# an imported httplib target (Debian ships no CMake config), and the libpman memlock patch in
# scripts/falco/patches (named and explained in its header).
set -euo pipefail

LOG_TAG=falco-build
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/common.sh
source "$HERE/lib/common.sh"
# shellcheck source=scripts/lib/go-toolchain.sh
source "$HERE/lib/go-toolchain.sh"

FALCO_VERSION=0.44.1
LIBS_VERSION=0.25.4
DRIVER_VERSION=10.2.0
PLUGIN_VERSION=0.7.1
LIBBPF_VERSION=1.3.0
CMAKE_PYPI_VERSION=3.31.6
VENDOR="${NODESEC_VENDOR:-$(cd "$NODESEC_REPO/.." && pwd)/shared/vendor}"
[[ -d $VENDOR ]] || VENDOR=/work/shared/vendor
RULES="${FALCO_RULES_FILE:-$(dirname "$VENDOR")/testdata/falco/falco_rules.yaml}"
JOBS="${FALCO_BUILD_JOBS:-2}"
TARBALLS=(
  "falco-$FALCO_VERSION.tar.gz"
  "falcosecurity-libs-$LIBS_VERSION.tar.gz"
  "falcosecurity-driver-$DRIVER_VERSION.tar.gz"
  "falcosecurity-container-plugin-$PLUGIN_VERSION.tar.gz"
  "falcosecurity-plugin-sdk-cpp-0.3.0.tar.gz"
  "RE-flex-5.3.0.tar.gz"
  "fmt-11.1.4.tar.gz"
  "valijson-1.0.2.tar.gz"
  "libbpf-$LIBBPF_VERSION.tar.gz"
)
DEB_PACKAGES=(
  build-essential clang llvm bpftool libelf-dev libyaml-cpp-dev nlohmann-json3-dev
  libcxxopts-dev libcpp-httplib-dev libre2-dev libjsoncpp-dev libtbb-dev libb64-dev uthash-dev
  libcurl4-openssl-dev libzstd-dev libbtrfs-dev libssl-dev zlib1g-dev pkg-config patchelf
  python3-venv
)

PATCHES=("$HERE"/falco/patches/*.patch)
# The compile tree is keyed by the sources only; the patch set is reconciled in place
# (reconcile_patches), so adding or changing a patch recompiles only what it touches.
source_hash=$({
  printf '%s\n' "${TARBALLS[@]}" "$LIBBPF_VERSION" "$CMAKE_PYPI_VERSION"
} | sha256sum | cut -c1-16)
recipe_hash=$({
  echo "$source_hash"
  cat "${BASH_SOURCE[0]}" "$RULES"
  find "$HERE/falco" -type f -print0 | sort -z | xargs -0r cat
} | sha256sum | cut -c1-16)
OUT="$NODESEC_CACHE/falco-$recipe_hash"
WORK="$NODESEC_CACHE/build/falco-$source_hash"

if [[ -s $OUT/env && ${FALCO_REBUILD:-0} != 1 ]]; then
  echo "$OUT"
  exit 0
fi

mkdir -p "$WORK" "$NODESEC_CACHE"
exec 9>"$NODESEC_CACHE/falco-build.lock"
flock -n 9 || { log "waiting for the build lock (another falco-build.sh runs)" && flock 9; }
if [[ -s $OUT/env && ${FALCO_REBUILD:-0} != 1 ]]; then
  echo "$OUT"
  exit 0
fi
START=$SECONDS
log "building Falco $FALCO_VERSION + container plugin $PLUGIN_VERSION into $OUT (work: $WORK)"

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

# scripts/falco/patches/*.patch onto the libs tree, kept in step with the recipe: the patches
# applied are copied to $SRC/.patches/ (in order); when the set differs from the recipe's, they
# are reversed (last first) and the recipe's applied. patch(1) touches only the files it
# changes, so the next compile rebuilds only what depends on them.
reconcile_patches() {
  local libs="$SRC/falcosecurity-libs-$LIBS_VERSION" applied="$SRC/.patches" p
  local want have
  want=$(for p in "${PATCHES[@]}"; do sha256sum <"$p"; done)
  have=$(for p in "$applied"/*.patch; do [[ -f $p ]] && sha256sum <"$p"; done)
  [[ $want == "$have" ]] && return 0
  if [[ -d $applied ]]; then
    while read -r p; do
      patch -d "$libs" -p1 -R --silent <"$p" || die "could not reverse $(basename "$p") in $libs"
    done < <(ls -1 "$applied"/*.patch 2>/dev/null | sort -r)
  fi
  rm -rf "$applied" && mkdir -p "$applied"
  local i=0
  for p in "${PATCHES[@]}"; do
    patch -d "$libs" -p1 --forward --silent <"$p" || die "$(basename "$p") does not apply to $libs"
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

build_plugin() {
  local b="$WORK/plugin" s="$SRC/container-plugin-$PLUGIN_VERSION/plugins/container"
  [[ -f $b/libcontainer.so ]] && return 0
  # Its Go part needs Go >= 1.25: the one on PATH, or the pinned toolchain fetched once from the
  # Go module proxy (scripts/lib/go-toolchain.sh), so a fresh Debian 12 needs no Go installed.
  nodesec_go_toolchain || die "the container plugin needs Go >= 1.25 (scripts/lib/go-toolchain.sh could not fetch it)"
  # btrfs.cmake clones btrfs-progs only for headers; Debian's libbtrfs-dev has them in
  # /usr/include/btrfs, so an empty checkout with the version.h.in it configures is enough.
  mkdir -p "$b/_deps/btrfs-src/libbtrfs"
  : >"$b/_deps/btrfs-src/libbtrfs/version.h.in"
  nice "$CMAKE" -S "$s" -B "$b" -DCMAKE_BUILD_TYPE=Release -DENABLE_TESTS=OFF \
    -DFETCHCONTENT_FULLY_DISCONNECTED=ON \
    -DFETCHCONTENT_SOURCE_DIR_BTRFS="$b/_deps/btrfs-src" \
    -DFETCHCONTENT_SOURCE_DIR_PLUGIN-SDK-CPP="$SRC/plugin-sdk-cpp-0.3.0" \
    -DFETCHCONTENT_SOURCE_DIR_REFLEX="$SRC/RE-flex-5.3.0" \
    -DFETCHCONTENT_SOURCE_DIR_FMT="$SRC/fmt-11.1.4" >"$WORK/plugin-configure.log" 2>&1 ||
    { tail -30 "$WORK/plugin-configure.log" >&2; return 1; }
  GOFLAGS="-p=$JOBS" nice "$CMAKE" --build "$b" --target container -j"$JOBS" >"$WORK/plugin-build.log" 2>&1 ||
    { tail -40 "$WORK/plugin-build.log" >&2; return 1; }
}

configure_falco() {
  local b=$FALCO_BUILD
  [[ -f $b/CMakeCache.txt ]] && return 0
  mkdir -p "$WORK/cmake"
  # Stand-in for the prebuilt plugin download: container_plugin.cmake skips its
  # ExternalProject when the target exists. Our own plugin build is put where
  # CONTAINER_LIBRARY points before the install step (install_root).
  cat >"$WORK/cmake/no-plugin-download.cmake" <<'EOF'
if(NOT TARGET container_plugin)
  add_custom_target(container_plugin)
endif()
EOF
  # Debian's libcpp-httplib-dev ships no CMake config.
  cat >"$WORK/cmake/httplibConfig.cmake" <<'EOF'
if(NOT TARGET httplib::httplib)
  find_package(OpenSSL REQUIRED)
  add_library(httplib::httplib SHARED IMPORTED)
  set_target_properties(httplib::httplib PROPERTIES
    IMPORTED_LOCATION /usr/lib/x86_64-linux-gnu/libcpp-httplib.so
    INTERFACE_COMPILE_DEFINITIONS CPPHTTPLIB_OPENSSL_SUPPORT
    INTERFACE_LINK_LIBRARIES "OpenSSL::SSL;OpenSSL::Crypto")
endif()
set(httplib_FOUND TRUE)
EOF
  nice "$CMAKE" -S "$SRC/falco-$FALCO_VERSION" -B "$b" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX=/usr -DFALCO_ETC_DIR=/etc/falco -DFALCO_VERSION="$FALCO_VERSION" \
    -DUSE_BUNDLED_DEPS=OFF -DUSE_BUNDLED_TBB=OFF -DUSE_BUNDLED_JSONCPP=OFF \
    -DUSE_BUNDLED_VALIJSON=OFF -DUSE_BUNDLED_RE2=OFF -DUSE_BUNDLED_UTHASH=OFF \
    -DUSE_DYNAMIC_LIBELF=ON -DMINIMAL_BUILD=OFF -DBUILD_FALCO_MODERN_BPF=ON \
    -DBUILD_DRIVER=OFF -DBUILD_BPF=OFF -DBUILD_FALCO_UNIT_TESTS=OFF \
    -DADD_FALCOCTL_DEPENDENCY=OFF -DBUILD_WARNINGS_AS_ERRORS=OFF \
    -DFALCOSECURITY_LIBS_SOURCE_DIR="$SRC/falcosecurity-libs-$LIBS_VERSION" \
    -DDRIVER_SOURCE_DIR="$SRC/falcosecurity-libs-$DRIVER_VERSION+driver/driver" \
    -DFALCOSECURITY_RULES_FALCO_PATH="$RULES" \
    -DVALIJSON_INCLUDE="$SRC/valijson-1.0.2/include" \
    -DLIBBPF_INCLUDE="$WORK/libbpf/root/usr/include" \
    -DLIBBPF_LIB="$WORK/libbpf/root/usr/lib64/libbpf.a" \
    -Dhttplib_DIR="$WORK/cmake" \
    -DCMAKE_PROJECT_falco_INCLUDE="$WORK/cmake/no-plugin-download.cmake" \
    >"$WORK/falco-configure.log" 2>&1 || {
    tail -40 "$WORK/falco-configure.log" >&2
    rm -f "$b/CMakeCache.txt"
    return 1
  }
}

build_falco() {
  local b=$FALCO_BUILD
  log "  (compile log: $b.log; about 30-40 min on 2 busy cores)"
  nice "$CMAKE" --build "$b" --target falco -j"$JOBS" >"$b.log" 2>&1 || {
    grep -m5 -B2 -A8 'error:' "$b.log" >&2 || tail -40 "$b.log" >&2
    return 1
  }
}

install_root() {
  local root="$WORK/root"
  rm -rf "$root"
  install -D -m 0755 "$WORK/plugin/libcontainer.so" \
    "$FALCO_BUILD/container_plugin-prefix/src/container_plugin/libcontainer.so"
  DESTDIR="$root" nice "$CMAKE" --install "$FALCO_BUILD" --component falco >"$WORK/install.log" 2>&1 ||
    { tail -30 "$WORK/install.log" >&2; return 1; }
  strip --strip-unneeded "$root/usr/bin/falco"
}

FALCO_BUILD="$WORK/falco-$({ declare -f configure_falco; cat "$RULES"; } | sha256sum | cut -c1-8)"
step "dependencies (Debian packages, cmake $CMAKE_PYPI_VERSION from PyPI)" deps
step "unpack sources" unpack
step "patches (scripts/falco/patches)" reconcile_patches
step "libbpf $LIBBPF_VERSION (static)" build_libbpf
# The plugin and Falco are independent until the install step: build them side by side.
step "container plugin $PLUGIN_VERSION (Go modules through the proxy; in the background)" build_plugin &
plugin_pid=$!
step "configure Falco $FALCO_VERSION" configure_falco
step "compile Falco $FALCO_VERSION" build_falco
wait "$plugin_pid" || die "the container plugin did not build (log: $WORK/plugin-build.log)"
step "install into a staging root" install_root
step "package the .deb" "$HERE/falco/package.sh" "$WORK/root" "$SRC/falco-$FALCO_VERSION" "$OUT.new" "$FALCO_VERSION"
rm -rf "$OUT"
mv "$OUT.new" "$OUT"
cat >"$OUT/env" <<EOF
FALCO=$OUT/root/usr/bin/falco
PLUGIN=$OUT/root/usr/share/falco/plugins/libcontainer.so
CONFIG=$OUT/root/etc/falco/falco.yaml
RULES=$OUT/root/etc/falco/falco_rules.yaml
DEB=$OUT/falco_${FALCO_VERSION}_amd64.deb
EOF
find "$NODESEC_CACHE" -maxdepth 1 -name 'falco-*' -type d ! -name "falco-$recipe_hash" -exec rm -rf {} +
log "done in $((SECONDS - START))s: $OUT"
echo "$OUT"
