#!/usr/bin/env bash
# Run `ansible-test sanity` on the collection. ansible-test needs the collection at a path
# ending in ansible_collections/<namespace>/<name>, so the tracked (and untracked, not
# ignored) files are copied to .build/sanity/run.*/ansible_collections/nodesec/kubernetes
# first. ansible-test runs from .build/sanity-venv and installs its pinned tools per test.
#
# Every test runs on the controller's Python (python3). The module-side code (plugins/modules,
# plugins/module_utils) runs on managed nodes, so the multi-version tests (`compile`, and
# `import` in a throwaway virtualenv) also run on every target Python that the pinned
# ansible-test supports (its own list: 3.8 to 3.13 for 2.19) and that is present: python3.X on
# PATH or ${PYENV_ROOT:-$HOME/.pyenv}/versions/3.X*/bin/python3.X. On the remote-only versions
# (3.8 to 3.10) ansible-test limits them to plugins/modules and plugins/module_utils, so
# controller-only code (plugins/filter) may keep needing the controller's Python; on 3.12 and
# 3.13 they cover the controller code too. Found and missing versions are printed (unsupported
# ones are not looked for).
# Cost, measured on a warm machine (virtualenvs cached in ~/.ansible/test/venv) under load:
# 3.8, 3.9, 3.10, 3.12 and 3.13 together add about 10 to 15 s (compile + import: 17-18 s against
# 4-9 s for the controller alone; whole run 70 s against 63 s). The first run on a new machine
# also builds each import virtualenv from PyPI (about 50 s more, once).
#   scripts/sanity.sh                       # every sanity test
#   scripts/sanity.sh --test validate-modules
#   SANITY_PYTHONS="3.8 /usr/bin/python3.13" scripts/sanity.sh   # exactly these target Pythons
#   SANITY_PYTHONS= scripts/sanity.sh                            # the controller's Python only
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
# The version matrix (scripts/matrix.sh) chooses another core, controller Python and virtualenv:
# SANITY_CORE_PIN=ansible-core==2.21.5 SANITY_PYTHON=/path/python3.13 SANITY_VENV=/path/venv.
core_pin="${SANITY_CORE_PIN:-$(grep -E '^ansible-core==' "$repo/test-requirements.txt")}"
controller_python="${SANITY_PYTHON:-python3}"
sanity_venv="${SANITY_VENV:-$repo/.build/sanity-venv}"
if ! "$sanity_venv/bin/pip" freeze 2>/dev/null | grep -x "$core_pin" >/dev/null; then
  "$controller_python" -m venv "$sanity_venv"
  "$sanity_venv/bin/pip" install -q "$core_pin"
fi
mkdir -p "$dest"
# Tracked and untracked-but-not-ignored files; files deleted in the work tree are skipped.
(cd "$repo" && git ls-files -co --exclude-standard -z) | (cd "$repo" && xargs -0 cp --parents -t "$dest" 2>/dev/null) || true
cd "$dest"
git init -q .
git add -A >/dev/null 2>&1
# ansible-test fetches a pip bootstrap script from a host that is not reachable here: give it
# the offline equivalent (ensurepip + pip from PyPI) at every pip version it may ask for.
pip_version="$(grep -oP "^\s*pip='\K[0-9.]+" "$("$sanity_venv/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py")"
mkdir -p "$HOME/.ansible/test/cache"
cp "$repo/scripts/ansible_test_get_pip.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
python_version="$("$sanity_venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

# Target Pythons for the module-side code. A candidate counts only if it runs and reports the
# expected version (pyenv shims on PATH exist for every version but fail for inactive ones).
# Without ensurepip (a Debian python3.X without python3.X-venv) the import test cannot build its
# virtualenv, so such an interpreter gets the compile test only.
supported="$("$sanity_venv/bin/python" -c 'from ansible_test._util.target.common.constants import CONTROLLER_PYTHON_VERSIONS as c, REMOTE_ONLY_PYTHON_VERSIONS as r; print(" ".join(r + c))')"
probe() { # interpreter -> "X.Y ensurepip|-" on stdout, or nothing when it does not run
  "$1" -c 'import sys
try:
    import ensurepip, venv
    pip = "ensurepip" if ensurepip.version() else "-"
except Exception:
    pip = "-"
print("%d.%d %s" % (sys.version_info[0], sys.version_info[1], pip))' 2>/dev/null || true
}
find_python() { # X.Y -> path of a working python X.Y, or nothing
  local cand root
  local -a cands=()
  cand="$(command -v "python$1" 2>/dev/null)" && cands+=("$cand")
  for root in "${PYENV_ROOT:-$HOME/.pyenv}" /root/.pyenv; do
    for cand in "$root/versions/$1/bin/python$1" "$root/versions/$1".*/bin/"python$1"; do
      [[ -x "$cand" ]] && cands+=("$cand")
    done
  done
  for cand in "${cands[@]}"; do
    if [[ "$(probe "$cand")" == "$1 "* ]]; then echo "$cand"; return 0; fi
  done
  return 0
}
declare -a target_args=() compile_only_args=() checked=() missing=()
# ansible-test builds the import test's virtualenv with the python3.X it finds on PATH, not with
# the interpreter it was given: a folder of links to the interpreters found goes first on PATH.
pybin="$run_dir/bin"
mkdir -p "$pybin"
# A chosen controller Python (SANITY_PYTHON) is found there under its python3.X name too.
if [[ -n "${SANITY_PYTHON:-}" ]]; then ln -sf "$sanity_venv/bin/python" "$pybin/python$python_version"; fi
add_target() { # X.Y path
  local pip
  ln -sf "$2" "$pybin/python$1"
  pip="$(probe "$2")"
  pip="${pip#* }"
  if [[ "$pip" == ensurepip || "$1" == "$python_version" ]]; then
    target_args+=(--target-python "$1@$2")
    checked+=("$1 ($2)")
  else
    compile_only_args+=(--target-python "$1@$2")
    checked+=("$1 ($2, compile only: no ensurepip)")
  fi
}
# The controller's own version always runs compile and import, as before.
target_args+=(--target-python "$python_version")
checked+=("$python_version (controller)")
if [[ -z "${SANITY_PYTHONS+set}" ]]; then
  for v in $supported; do
    [[ "$v" == "$python_version" ]] && continue
    py="$(find_python "$v")"
    if [[ -n "$py" ]]; then add_target "$v" "$py"; else missing+=("$v"); fi
  done
else
  # An explicit list: versions (X.Y) or interpreter paths. Anything not found is an error.
  for entry in ${SANITY_PYTHONS//,/ }; do
    if [[ "$entry" == */* ]]; then
      py="$entry"; v="$(probe "$py")"; v="${v%% *}"
    else
      v="$entry"; py="$(find_python "$v")"
    fi
    if [[ -z "$v" || -z "$py" ]]; then
      echo "sanity.sh: SANITY_PYTHONS entry '$entry' is not a working Python" >&2; exit 2
    fi
    if [[ " $supported " != *" $v "* ]]; then
      echo "sanity.sh: Python $v ($entry) is not supported by this ansible-test ($supported)" >&2; exit 2
    fi
    [[ "$v" == "$python_version" ]] && continue
    add_target "$v" "$py"
  done
fi
summary() {
  echo "sanity: module-side Python versions checked: ${checked[*]}"
  if ((${#missing[@]})); then echo "sanity: not found (not checked): ${missing[*]}"; fi
}
summary

rc=0
PATH="$pybin:$PATH" "$sanity_venv/bin/ansible-test" sanity --requirements --color no \
  --controller "origin:python=$python_version" "${target_args[@]}" "$@" || rc=$?
# Interpreters without ensurepip get compile alone, unless the tests chosen leave it out.
if ((${#compile_only_args[@]})) && [[ " $* " != *" --test "* || " $* " == *" compile "* ]]; then
  PATH="$pybin:$PATH" "$sanity_venv/bin/ansible-test" sanity --color no --test compile \
    --controller "origin:python=$python_version" "${compile_only_args[@]}" || rc=$?
fi
summary
exit "$rc"
