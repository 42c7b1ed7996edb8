#!/usr/bin/env bash
# Build the STAND-IN `falco` package of the molecule scenario and a signed apt repository
# serving it (the Falco vendor repository is not reachable from our machines; see README.md).
#
#   molecule/falco/build-stub-repo.sh OUT_DIR VERSION
#
# OUT_DIR/falco_VERSION_all.deb   the stub package (for falco_install_method=package_file)
# OUT_DIR/repo/                   apt repository: dists/stable/{InRelease,Release,Release.gpg},
#                                 dists/stable/main/binary-amd64/Packages(.gz), pool/main/*.deb
# OUT_DIR/falco-stub-key.asc      the ASCII-armoured public key that signs the repository
#                                 (generated here, throw-away; for the deb822 Signed-By keyring)
set -euo pipefail
out="$1"
version="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
upstream_rules="${NODESEC_FALCO_RULES:-$repo_root/../shared/testdata/falco/falco_rules.yaml}"
[[ -f "$upstream_rules" ]] || { echo "missing upstream rules: $upstream_rules" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"
pkg="$out/pkgroot"
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/lib/falco-nodesec-stub" "$pkg/etc/falco/config.d" \
  "$pkg/etc/falco/rules.d" "$pkg/lib/systemd/system"
# the stub's source carries no shebang (it is not an Ansible module); the package's copy does
{ echo '#!/usr/bin/python3'; sed "s/@VERSION@/$version/" "$here/stub/falco"; } > "$pkg/usr/bin/falco"
chmod 0755 "$pkg/usr/bin/falco"
install -m 0644 "$repo_root/plugins/module_utils/falco_rules.py" "$pkg/usr/lib/falco-nodesec-stub/falco_rules.py"
install -m 0644 "$here/stub/falco.yaml" "$pkg/etc/falco/falco.yaml"
install -m 0644 "$here/stub/falco_rules.local.yaml" "$pkg/etc/falco/falco_rules.local.yaml"
install -m 0644 "$upstream_rules" "$pkg/etc/falco/falco_rules.yaml"
install -m 0644 "$here"/stub/*.service "$pkg/lib/systemd/system/"
install -m 0755 "$here/stub/postinst" "$pkg/DEBIAN/postinst"
printf '%s\n' /etc/falco/falco.yaml /etc/falco/falco_rules.yaml /etc/falco/falco_rules.local.yaml > "$pkg/DEBIAN/conffiles"
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: falco
Version: $version
Architecture: all
Maintainer: nodesec maintainers <nodesec@example.invalid>
Depends: python3, python3-yaml
Section: admin
Priority: optional
Description: STAND-IN for Falco used by the nodesec molecule tests (not Falco)
 A stub with Falco's package name, files, systemd units and install environment contract.
 It validates rules with the nodesec checker and detects nothing.
CONTROL
deb="$out/falco_${version}_all.deb"
dpkg-deb --root-owner-group --build "$pkg" "$deb" >/dev/null

repo="$out/repo"
install -d "$repo/pool/main" "$repo/dists/stable/main/binary-amd64"
cp "$deb" "$repo/pool/main/"
(cd "$repo" && dpkg-scanpackages --multiversion pool /dev/null 2>/dev/null > dists/stable/main/binary-amd64/Packages)
gzip -9 -k "$repo/dists/stable/main/binary-amd64/Packages"
{
  echo "Origin: nodesec-falco-stub"
  echo "Label: nodesec-falco-stub"
  echo "Suite: stable"
  echo "Codename: stable"
  echo "Architectures: amd64"
  echo "Components: main"
  echo "Date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
  echo "SHA256:"
  for f in main/binary-amd64/Packages main/binary-amd64/Packages.gz; do
    printf ' %s %s %s\n' "$(sha256sum "$repo/dists/stable/$f" | cut -d' ' -f1)" "$(stat -c %s "$repo/dists/stable/$f")" "$f"
  done
} > "$repo/dists/stable/Release"

export GNUPGHOME="$out/gnupg"
install -d -m 0700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "nodesec falco stub repository <nodesec@example.invalid>" ed25519 sign 1d
gpg --batch --quiet --armor --export > "$out/falco-stub-key.asc"
gpg --batch --quiet --yes --clearsign -o "$repo/dists/stable/InRelease" "$repo/dists/stable/Release"
gpg --batch --quiet --yes --armor --detach-sign -o "$repo/dists/stable/Release.gpg" "$repo/dists/stable/Release"
gpgconf --kill all >/dev/null 2>&1 || true
echo "$deb"
