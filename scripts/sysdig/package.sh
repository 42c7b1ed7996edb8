#!/usr/bin/env bash
# Package a sysdig build (staging root of `cmake --install --component sysdig`) like the
# vendor's sysdig .deb. Called by scripts/sysdig-build.sh; not meant to be run alone.
#
#   scripts/sysdig/package.sh ROOT SYSDIG_SOURCE_TREE BUILD_TREE OUT_DIR VERSION
#
# OUT_DIR/root/                     the package's files (also used by tests straight from here)
# OUT_DIR/sysdig_VERSION_amd64.deb
#
# Contents as in the vendor's package (sysdig 0.36.0's CPack component `sysdig`): /usr/bin/sysdig,
# /usr/bin/csysdig, /usr/bin/scap-driver-loader, the chisels in /usr/share/sysdig/chisels, the
# man pages, the bash and zsh completions. Left out, on purpose: the vendor's second component
# `scap-driver` (the kernel module's sources in /usr/src/scap-<driver> built by DKMS in postinst,
# hence its `Depends: dkms`): this package captures with the modern eBPF probe compiled into the
# binary (`sysdig --modern-bpf`), which needs no kernel module, no headers and no DKMS, so it has
# no maintainer scripts.
#
# One package for Debian 12 and 13, as for Falco (scripts/falco/package.sh): every linked library
# except glibc, libstdc++ and libgcc_s is copied into /usr/lib/sysdig and the binaries find them
# through an $ORIGIN-relative RPATH; the package depends only on libc6, libstdc++6 and libgcc-s1.
set -euo pipefail
root_in=$1 src=$2 build=$3 out=$4 version=$5

rm -rf "$out"
mkdir -p "$out"
pkg="$out/root"
cp -a "$root_in" "$pkg"
bins=("$pkg/usr/bin/sysdig" "$pkg/usr/bin/csysdig")
for b in "${bins[@]}" "$pkg/usr/share/sysdig/chisels/common.lua"; do
  [[ -f $b ]] || { echo "package.sh: $root_in lacks ${b#"$pkg"}" >&2; exit 1; }
done
grep -q '^BUILD_SYSDIG_MODERN_BPF:BOOL=ON' "$build/CMakeCache.txt" ||
  { echo "package.sh: $build was not configured with the modern eBPF probe" >&2; exit 1; }
install -d "$pkg/usr/lib/sysdig" "$pkg/usr/share/doc/sysdig" "$pkg/DEBIAN"
install -m 0644 "$src/COPYING" "$pkg/usr/share/doc/sysdig/copyright"

core='^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libresolv|libstdc\+\+|libgcc_s)\.so'
for elf in "${bins[@]}"; do
  ldd "$elf" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
  [[ $name =~ $core ]] && continue
  install -m 0644 "$(readlink -f "$path")" "$pkg/usr/lib/sysdig/$name"
done
for b in "${bins[@]}"; do
  patchelf --force-rpath --set-rpath '$ORIGIN/../lib/sysdig' "$b"
done
for lib in "$pkg"/usr/lib/sysdig/*.so*; do
  patchelf --force-rpath --set-rpath '$ORIGIN' "$lib"
done
if ldd "${bins[@]}" | awk '$2 == "=>" {print $1, $3}' | grep -Ev "$core" | grep -Fv "$pkg/usr/bin/../lib/sysdig/"; then
  echo "package.sh: libraries resolved outside /usr/lib/sysdig (above)" >&2
  exit 1
fi

size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<EOF
Package: sysdig
Version: $version
Architecture: amd64
Maintainer: nodesec maintainers <nodesec@example.invalid>
Installed-Size: $size
Depends: libc6 (>= 2.36), libstdc++6 (>= 12), libgcc-s1
Section: utils
Priority: optional
Homepage: http://www.sysdig.com
Description: sysdig, a system-level exploration and troubleshooting tool (built from source by nodesec)
 sysdig $version with falcosecurity-libs 0.15.1 and the modern eBPF probe compiled in
 (capture with `sysdig --modern-bpf`, no kernel module), built from the upstream release
 tarballs by nodesec.kubernetes (scripts/sysdig-build.sh) with the patches of
 scripts/sysdig/patches. Libraries it links are bundled in /usr/lib/sysdig so the same package
 installs on Debian 12 and 13. The kernel module sources (vendor component scap-driver) are
 not included.
EOF
dpkg-deb --root-owner-group -Zgzip --build "$pkg" "$out/sysdig_${version}_amd64.deb" >/dev/null
rm -rf "$pkg/DEBIAN"
