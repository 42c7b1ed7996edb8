#!/usr/bin/env bash
# Build the collection archive, install it into an empty collections path, and render every
# module's documentation from the installed copy with ansible-doc.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
dist="$repo/.build/dist"
inst="$repo/.build/installed"
rm -rf "$dist" "$inst"
mkdir -p "$dist" "$inst"
ansible-galaxy collection build --force --output-path "$dist" . >/dev/null
archive=$(ls "$dist"/nodesec-kubernetes-*.tar.gz)
ANSIBLE_COLLECTIONS_PATH="$inst" ansible-galaxy collection install --offline --no-deps -p "$inst" "$archive" >/dev/null
echo "built and installed $(basename "$archive")"
shopt -s nullglob
modules=()
for f in plugins/modules/*.py; do modules+=("nodesec.kubernetes.$(basename "$f" .py)"); done
for m in "${modules[@]}"; do
  ANSIBLE_COLLECTIONS_PATH="$inst" ansible-doc -t module "$m" >/dev/null
  echo "ansible-doc $m: ok"
done
