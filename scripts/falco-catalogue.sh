#!/usr/bin/env bash
# Export the field and event catalogue of the real Falco build (with the container plugin
# loaded) as JSON: falco --list --format json, --list-events --format json, --list -N.
# Usage: scripts/falco-catalogue.sh [ENV_FILE] [OUT_DIR]
#   ENV_FILE: the env file scripts/falco-build.sh writes (default: the one it prints)
#   OUT_DIR:  where fields.json, events.json and field-names.txt go (default: .build/falco-catalogue)
# The checker's data module is generated from these files (not yet: see the H2 report).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
ENV_FILE=${1:-$("$HERE/falco-build.sh" | tail -1)/env}
OUT=${2:-$REPO/.build/falco-catalogue}
# shellcheck disable=SC1090
source "$ENV_FILE"
mkdir -p "$OUT"
plugin=(-c "$CONFIG" -o "load_plugins=[container]" -o "plugins[0].name=container"
  -o "plugins[0].library_path=$PLUGIN")
"$FALCO" "${plugin[@]}" --list --format json >"$OUT/fields.json.new"
"$FALCO" "${plugin[@]}" --list-events --format json >"$OUT/events.json.new"
"$FALCO" "${plugin[@]}" --list -N >"$OUT/field-names.txt.new"
"$FALCO" --version >"$OUT/version.txt.new"
for f in fields.json events.json field-names.txt version.txt; do mv "$OUT/$f.new" "$OUT/$f"; done
echo "catalogue of $(head -1 "$OUT/version.txt") in $OUT: $(wc -l <"$OUT/field-names.txt") field names"
