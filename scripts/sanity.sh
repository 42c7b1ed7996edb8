#!/usr/bin/env bash
# Run `ansible-test sanity` on the collection. ansible-test needs the collection at a path
# ending in ansible_collections/<namespace>/<name>, so the tracked (and untracked, not
# ignored) files are copied to .build/sanity/run.*/ansible_collections/nodesec/kubernetes
# first. ansible-test runs from .build/sanity-venv and installs its pinned tools per test.
#   scripts/sanity.sh                       # every sanity test
#   scripts/sanity.sh --test validate-modules
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# A folder per run, so that concurrent runs (several engineers, one checkout) never clobber
# each other; removed afterwards.
mkdir -p "$repo/.build/sanity"
run_dir="$(mktemp -d "$repo/.build/sanity/run.XXXXXX")"
trap 'rm -rf "$run_dir"' EXIT
dest="$run_dir/ansible_collections/nodesec/kubernetes"
# ansible-test installs each test's pinned tools (pylint, voluptuous, ...) into the Python that
# runs it, so it gets a virtualenv of its own instead of the project's .venv.
core_pin="$(grep -E '^ansible-core==' "$repo/requirements.txt")"
if ! "$repo/.build/sanity-venv/bin/pip" freeze 2>/dev/null | grep -qx "$core_pin"; then
  python3 -m venv "$repo/.build/sanity-venv"
  "$repo/.build/sanity-venv/bin/pip" install -q "$core_pin"
fi
mkdir -p "$dest"
# Tracked and untracked-but-not-ignored files; files deleted in the work tree are skipped.
(cd "$repo" && git ls-files -co --exclude-standard -z) | (cd "$repo" && xargs -0 cp --parents -t "$dest" 2>/dev/null) || true
cd "$dest"
git init -q .
git add -A >/dev/null 2>&1
# ansible-test fetches a pip bootstrap script from a host that is not reachable here: give it
# the offline equivalent (ensurepip + pip from PyPI) at every pip version it may ask for.
pip_version="$(grep -oP "^\s*pip='\K[0-9.]+" "$("$repo/.build/sanity-venv/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py")"
mkdir -p "$HOME/.ansible/test/cache"
cp "$repo/scripts/ansible_test_get_pip.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
python_version="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
"$repo/.build/sanity-venv/bin/ansible-test" sanity --requirements --python "$python_version" --color no "$@"
