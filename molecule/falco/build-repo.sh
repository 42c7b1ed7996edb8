#!/usr/bin/env bash
# A signed apt repository serving the real Falco package built from source here
# (scripts/falco-build.sh), for the scenario's `falco_install_method: package` node: the vendor's
# repository (download.falco.org) is not reachable from our machines, so its layout is made
# locally: the same deb822 source, signed-by keyring and pinned version the role writes for it.
#
#   molecule/falco/build-repo.sh OUT_DIR DEB
#
# OUT_DIR/repo/            dists/stable/{InRelease,Release,Release.gpg},
#                          dists/stable/main/binary-amd64/Packages(.gz), pool/main/<DEB>
# OUT_DIR/falco-repo-key.asc  the ASCII-armoured public key that signs it (throw-away, made here)
set -euo pipefail
out=$1
deb=$2
[[ -f $deb ]] || { echo "build-repo.sh: no package file $deb (scripts/falco-build.sh builds it)" >&2; exit 1; }

rm -rf "$out"
repo="$out/repo"
install -d "$repo/pool/main" "$repo/dists/stable/main/binary-amd64"
cp "$deb" "$repo/pool/main/"
(cd "$repo" && dpkg-scanpackages --multiversion pool /dev/null 2>/dev/null > dists/stable/main/binary-amd64/Packages)
gzip -9 -k "$repo/dists/stable/main/binary-amd64/Packages"
{
  echo "Origin: nodesec-falco"
  echo "Label: nodesec-falco"
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
gpg --batch --quiet --passphrase '' --quick-gen-key "nodesec falco test repository <nodesec@example.invalid>" ed25519 sign 1d
gpg --batch --quiet --armor --export > "$out/falco-repo-key.asc"
gpg --batch --quiet --yes --clearsign -o "$repo/dists/stable/InRelease" "$repo/dists/stable/Release"
gpg --batch --quiet --yes --armor --detach-sign -o "$repo/dists/stable/Release.gpg" "$repo/dists/stable/Release"
gpgconf --kill all >/dev/null 2>&1 || true
echo "$repo"
