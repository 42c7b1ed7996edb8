#!/usr/bin/env bash
# Export the field and event catalogue of the real Falco build (with the container plugin
# loaded) and regenerate the checker's data module from it.
# Usage: scripts/falco-catalogue.sh [ENV_FILE] [OUT_DIR]
#   ENV_FILE: the env file scripts/falco-build.sh writes (default: the one it prints)
#   OUT_DIR:  where the raw listings go (default: .build/falco-catalogue): fields.json
#             (falco --list --format json), events.json (--list-events --format json),
#             events-all.json (the same with -v: generic events too), field-names.txt (--list -N),
#             version.txt (--version)
# Then plugins/module_utils/_falco_catalogue.py is written from them
# (scripts/falco_differential/catalogue.py); commit it with the Falco version it names.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
ENV_FILE=${1:-$("$HERE/falco-build.sh" | tail -1)/env}
OUT=${2:-$REPO/.build/falco-catalogue}
# shellcheck disable=SC1090
source "$ENV_FILE"
mkdir -p "$OUT"
# our own minimal config: the packaged falco.yaml loads the container plugin through config.d
cat >"$OUT/falco.yaml" <<EOF
load_plugins: [container]
plugins:
  - name: container
    library_path: $PLUGIN
log_stderr: true
log_level: error
EOF
falco=("$FALCO" -c "$OUT/falco.yaml")
"${falco[@]}" --list --format json >"$OUT/fields.json.new"
"${falco[@]}" --list-events --format json >"$OUT/events.json.new"
"${falco[@]}" --list-events -v --format json >"$OUT/events-all.json.new"
"${falco[@]}" --list -N >"$OUT/field-names.txt.new"
"$FALCO" --version >"$OUT/version.txt.new"
for f in fields.json events.json events-all.json field-names.txt version.txt; do mv "$OUT/$f.new" "$OUT/$f"; done
python3 "$HERE/falco_differential/catalogue.py" "$OUT" "$REPO/plugins/module_utils/_falco_catalogue.py" \
  "${NODESEC_VENDOR:-$(dirname "$REPO")/shared/vendor}/falcosecurity-libs-0.25.4.tar.gz"
echo "catalogue of $(head -1 "$OUT/version.txt") in $OUT: $(wc -l <"$OUT/field-names.txt") field names"
