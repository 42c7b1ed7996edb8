#!/usr/bin/env bash
# Build the collection archive as users get it, check what is inside, install it WITH its
# dependency (kubernetes.core) into an empty collections path, offline, and render every
# module's documentation from the installed copy.
#
# - The archive must hold the collection and nothing of the lab or the development tooling:
#   no scripts/, molecule/, inventories/, bench/ or tests/ file, no playbooks/lab_seed.yml; it
#   must hold meta/runtime.yml, meta/execution-environment.yml, requirements.txt, bindep.txt,
#   and declare galaxy.yml's dependencies.
# - Galaxy is not reachable here: kubernetes.core comes from the `ansible` package installed
#   in the Python that runs ansible-galaxy (a local directory source; ansible-galaxy copies it).
#   An install without it fails to resolve, which is what proves the dependency is declared.
# - Every Ansible command runs with ANSIBLE_COLLECTIONS_PATH set to the new path alone,
#   ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false (the `ansible` package's collections stay out of
#   sight), a configuration file of its own and its working directory outside the checkout;
#   ansible-doc must report each module's file under the new path.
#
#   scripts/build-check.sh                          # in a temporary folder, removed afterwards
#   BUILD_CHECK_DIR=/tmp/x scripts/build-check.sh   # keep dist/ and collections/ in /tmp/x
#                                                   # (tests/integration/test_artifact.py)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
if [[ -n "${BUILD_CHECK_DIR:-}" ]]; then
  work="$BUILD_CHECK_DIR"
  rm -rf "$work/dist" "$work/collections"
else
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
case "$work/" in "$repo"/*)
  echo "build-check: BUILD_CHECK_DIR must be outside the checkout ($repo)" >&2; exit 2 ;;
esac
dist="$work/dist" inst="$work/collections"
mkdir -p "$dist" "$inst"
cat >"$work/ansible.cfg" <<'EOF'
[galaxy]
# Galaxy is not reachable: never try it.
server = https://example.invalid
EOF
iso() { # command...: run an Ansible command against the new collections path only
  (cd "$work" && env ANSIBLE_CONFIG="$work/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$inst" \
    ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ANSIBLE_NOCOLOR=1 "$@")
}

# 1. Build.
ansible-galaxy collection build --force --output-path "$dist" . >/dev/null
archive=$(ls "$dist"/nodesec-kubernetes-*.tar.gz)
echo "built $(basename "$archive")"

# 2. What is inside.
python3 - "$archive" "$repo/galaxy.yml" <<'PY'
import json, sys, tarfile
import yaml
archive, galaxy = sys.argv[1], sys.argv[2]
with tarfile.open(archive) as tar:
    names = [m.name[2:] if m.name.startswith("./") else m.name for m in tar.getmembers()]
    manifest = json.load(tar.extractfile("MANIFEST.json"))
forbidden_dirs = ("scripts", "molecule", "inventories", "bench", "tests", ".venv", ".build", ".lab")
forbidden_files = ("playbooks/lab_seed.yml", "Makefile", "ansible.cfg", "test-requirements.txt")
bad = [n for n in names if n.split("/")[0] in forbidden_dirs or n in forbidden_files]
required = ("meta/runtime.yml", "meta/execution-environment.yml", "requirements.txt", "bindep.txt")
missing = [n for n in required if n not in names]
want = yaml.safe_load(open(galaxy)).get("dependencies") or {}
got = manifest["collection_info"]["dependencies"]
errors = []
if bad:
    errors.append("lab or development files in the archive (add them to build_ignore in galaxy.yml): " + ", ".join(bad))
if missing:
    errors.append("missing from the archive: " + ", ".join(missing))
if got != want or "kubernetes.core" not in got:
    errors.append(f"MANIFEST.json dependencies {got!r}, galaxy.yml declares {want!r} (kubernetes.core expected)")
if errors:
    sys.exit("build-check: " + "\n".join(errors))
print(f"archive: {len(names)} entries, top level {sorted({n.split('/')[0] for n in names})}")
print(f"archive: dependencies {got}")
PY

# 3. Install with the dependency, offline, into the empty path.
core_dir="$(python3 -c 'import ansible_collections.kubernetes.core as m; print(list(m.__path__)[0])' 2>/dev/null || true)"
[[ -f "$core_dir/MANIFEST.json" ]] || { echo "build-check: no installed kubernetes.core found (the ansible package)" >&2; exit 1; }
cat >"$work/requirements.yml" <<EOF
collections:
  - name: $archive
    type: file
  - name: $core_dir
    type: dir
EOF
if ! iso ansible-galaxy collection install --offline -p "$inst" -r "$work/requirements.yml" >"$work/install.log" 2>&1; then
  cat "$work/install.log" >&2; exit 1
fi
[[ ! -L "$inst/ansible_collections/kubernetes/core" ]] || { echo "build-check: kubernetes.core was linked, not installed" >&2; exit 1; }
iso ansible-galaxy collection list --format json | python3 -c 'import json, sys
found = {name: info["version"] for path in json.load(sys.stdin).values() for name, info in path.items()}
print("installed:", ", ".join(f"{k} {v}" for k, v in sorted(found.items())))
sys.exit(0 if {"nodesec.kubernetes", "kubernetes.core"} <= set(found) else "build-check: install incomplete")'

# 4. Documentation from the installed copy only.
shopt -s nullglob
modules=(kubernetes.core.k8s_info)
for f in plugins/modules/*.py; do modules+=("nodesec.kubernetes.$(basename "$f" .py)"); done
for m in "${modules[@]}"; do
  if ! iso ansible-doc -t module --json "$m" >"$work/doc.json" 2>"$work/doc.err"; then
    echo "build-check: ansible-doc $m failed on the installed copy:" >&2; cat "$work/doc.err" >&2; exit 1
  fi
  file="$(python3 -c 'import json, sys; print(next(iter(json.load(open(sys.argv[1])).values()))["doc"]["filename"])' "$work/doc.json")"
  case "$file" in
    "$inst"/*) echo "ansible-doc $m: ok (installed copy)" ;;
    *) echo "build-check: ansible-doc $m read $file, not the installed copy under $inst" >&2; exit 1 ;;
  esac
done
