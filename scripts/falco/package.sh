#!/usr/bin/env bash
# Package a Falco build (staging root of `cmake --install --component falco`) like the vendor's
# falco .deb. Called by scripts/falco-build.sh; not meant to be run alone.
#
#   scripts/falco/package.sh ROOT FALCO_SOURCE_TREE OUT_DIR VERSION
#
# OUT_DIR/root/                     the package's files (also used by tests straight from here)
# OUT_DIR/falco_VERSION_amd64.deb
#
# Contents as in the vendor's package: /usr/bin/falco, the container plugin in
# /usr/share/falco/plugins, /etc/falco/falco.yaml (0.44.1's, with config.d and the drop-in that
# loads the container plugin), the released falco_rules.yaml, falco_rules.local.yaml, rules.d,
# /etc/falcoctl/falcoctl.yaml, and the systemd units of the source tree's scripts/systemd
# (0.44.1 ships falco-modern-bpf, falco-kmod, falco-kmod-inject, falco-custom and
# falcoctl-artifact-follow; the legacy eBPF probe and its falco-bpf unit are gone since 0.43).
# Maintainer scripts: scripts/falco/debian/* (the vendor's behaviour; see postinst).
#
# One package for Debian 12 and 13: the binary is built on Debian 12, whose library sonames
# differ on 13 (libyaml-cpp0.7/0.8, libre2-9/11, libjsoncpp25/26, t64 renames ...). Every linked
# library except glibc, libstdc++ and libgcc_s is copied into /usr/lib/falco and the binary and
# the plugin find them there through an RPATH ($ORIGIN-relative); the package then depends only
# on libc6 (>= 2.36), libstdc++6 and libgcc-s1, which both releases have.
set -euo pipefail
root_in=$1 src=$2 out=$3 version=$4
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

rm -rf "$out"
mkdir -p "$out"
pkg="$out/root"
cp -a "$root_in" "$pkg"
plugin="$pkg/usr/share/falco/plugins/libcontainer.so"
[[ -x $pkg/usr/bin/falco && -f $plugin && -f $pkg/etc/falco/falco.yaml ]] ||
  { echo "package.sh: $root_in lacks falco, the plugin or falco.yaml" >&2; exit 1; }
install -d "$pkg/usr/lib/systemd/system" "$pkg/usr/lib/falco" "$pkg/DEBIAN"
install -m 0644 "$src"/scripts/systemd/*.service "$pkg/usr/lib/systemd/system/"

# Bundle the shared libraries (the whole closure ldd resolves) but the toolchain's own.
core='^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libresolv|libstdc\+\+|libgcc_s)\.so'
for elf in "$pkg/usr/bin/falco" "$plugin"; do
  ldd "$elf" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
  [[ $name =~ $core ]] && continue
  install -m 0644 "$(readlink -f "$path")" "$pkg/usr/lib/falco/$name"
done
patchelf --force-rpath --set-rpath '$ORIGIN/../lib/falco' "$pkg/usr/bin/falco"
patchelf --force-rpath --set-rpath '$ORIGIN/../../../lib/falco' "$plugin"
for lib in "$pkg"/usr/lib/falco/*.so*; do
  patchelf --force-rpath --set-rpath '$ORIGIN' "$lib"
done
# Nothing may resolve outside the bundle but the toolchain's libraries.
if ldd "$pkg/usr/bin/falco" "$plugin" | awk '$2 == "=>" {print $1, $3}' | grep -Ev "$core" | grep -Fv "$pkg/usr/bin/../lib/falco/" |
  grep -Fv "$pkg/usr/share/falco/plugins/../../../lib/falco/"; then
  echo "package.sh: libraries resolved outside /usr/lib/falco (above)" >&2
  exit 1
fi

install -m 0755 "$here/debian/postinst" "$here/debian/prerm" "$here/debian/postrm" "$pkg/DEBIAN/"
# the vendor's conffiles (cmake/cpack/debian/conffiles)
printf '%s\n' /etc/falco/falco.yaml /etc/falco/falco_rules.local.yaml /etc/falcoctl/falcoctl.yaml >"$pkg/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<EOF
Package: falco
Version: $version
Architecture: amd64
Maintainer: nodesec maintainers <nodesec@example.invalid>
Installed-Size: $size
Depends: libc6 (>= 2.36), libstdc++6 (>= 12), libgcc-s1
Recommends: dialog
Suggests: dkms (>= 2.1.0.0)
Section: utils
Priority: optional
Homepage: https://www.falco.org
Description: Falco, cloud native runtime security (built from source by nodesec)
 Falco $version with the modern eBPF probe compiled in and the container plugin, built from the
 upstream release tarballs by nodesec.kubernetes (scripts/falco-build.sh), with the libpman
 memlock patch of scripts/falco/patches. Libraries it links are bundled in /usr/lib/falco so the
 same package installs on Debian 12 and 13. falcoctl is not included.
EOF
dpkg-deb --root-owner-group -Zgzip --build "$pkg" "$out/falco_${version}_amd64.deb" >/dev/null
rm -rf "$pkg/DEBIAN"
