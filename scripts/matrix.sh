#!/usr/bin/env bash
# The controller version matrix (`make matrix`): per combination of ansible-core and Python,
#   lint      ansible-lint (the newest release pip accepts beside that core), production profile
#   sanity    ansible-test sanity of that core (scripts/sanity.sh; the controller's Python:
#             SANITY_PYTHONS stays empty unless MATRIX_SANITY_PYTHONS says otherwise)
#   unit      the unit suite (tests/unit)
#   e2e       against the local Kubernetes API (scripts/k8s-api.sh): pod_compliance_info end to
#             end, and the built archive installed with that `ansible` package's kubernetes.core
#             running a role and modules (tests/integration/test_artifact.py)
#   molecule  one scenario: sysdig_debian13
# Combinations (the `ansible` package brings that core's kubernetes.core, community.docker and
# ansible.posix):
#   2.17 / 2.18 / 2.19 on Python 3.11 (ansible 10 / 11 / 12)
#   2.20 and 2.21 on Python 3.12 and 3.13 (ansible 13 / 14)
# Interpreters come from pyenv (MATRIX_PYENV, default /root/.pyenv). Each combination gets a
# virtualenv under ~/.cache/nodesec/matrix/venv-<name>-<recipe hash> (kept; rebuilt when its
# requirements change) and runs on a snapshot of the last commit (HEAD, not the work tree), so
# what ran is a commit. Combinations run MATRIX_JOBS at a time (default 2); molecule runs one at
# a time (its containers have fixed names). A table with the versions and durations ends the run,
# also written to ~/.cache/nodesec/matrix/results/<time>/table.md.
#   scripts/matrix.sh                        # everything
#   scripts/matrix.sh --prepare              # only create the virtualenvs
#   MATRIX_ONLY="2.21-py3.13" MATRIX_STAGES="sanity" scripts/matrix.sh
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo" || exit 1
CACHE="${NODESEC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nodesec}"
MATRIX="$CACHE/matrix"
PYENV="${MATRIX_PYENV:-/root/.pyenv}"
STAGES="${MATRIX_STAGES:-lint sanity unit e2e molecule}"
JOBS="${MATRIX_JOBS:-2}"
PREPARE_ONLY=0
UV_VERSION=0.13.9
[[ "${1:-}" == --prepare ]] && PREPARE_ONLY=1

# name python ansible-core ansible
COMBOS=(
  "2.17-py3.11 3.11.7 2.17.14 10.7.0"
  "2.18-py3.11 3.11.7 2.18.19 11.13.0"
  "2.19-py3.11 3.11.7 2.19.14 12.3.0"
  "2.20-py3.12 3.12.1 2.20.10 13.8.0"
  "2.20-py3.13 3.13.0 2.20.10 13.8.0"
  "2.21-py3.12 3.12.1 2.21.5 14.5.0"
  "2.21-py3.13 3.13.0 2.21.5 14.5.0"
)

log() { printf '[matrix] %s\n' "$*" >&2; }

# The combination's requirements: test-requirements.txt without the pins of the core, the
# `ansible` package, ansible-lint and molecule (pip picks the newest of those two that accept
# the core), and without ansible-builder (not used here).
requirements() { # core ansible
  grep -vE '^(ansible-core|ansible|ansible-lint|molecule|molecule-plugins\[docker\]|ansible-builder)==|^-r ' \
    "$repo/test-requirements.txt" | grep -vE '^\s*(#|$)'
  grep -vE '^\s*(#|$)' "$repo/requirements.txt"
  printf '%s\n' "ansible-core==$1" "ansible==$2" ansible-lint molecule "molecule-plugins[docker]"
}

venv_for() { # name python core ansible -> prints the venv path (creates it when missing)
  local name=$1 py="$PYENV/versions/$2/bin/python${2%.*}" reqs hash venv
  reqs="$(requirements "$3" "$4")"
  hash="$(printf '%s\n%s\n' "$py" "$reqs" | sha256sum | cut -c1-12)"
  venv="$MATRIX/venv-$name-$hash"
  if [[ ! -f "$venv/.stamp" ]]; then
    [[ -x "$py" ]] || { log "$name: no interpreter $py (pyenv install ${2})"; return 1; }
    rm -rf "$venv"
    # uv (from PyPI, in a tools virtualenv of its own) installs in a fraction of pip's time: the
    # `ansible` package alone is some 50,000 files, which pip also byte-compiles. A venv created
    # by the interpreter itself, so that it has pip for ansible-test.
    if [[ ! -x "$MATRIX/tools/bin/uv" ]]; then
      python3 -m venv "$MATRIX/tools" && "$MATRIX/tools/bin/pip" install -q "uv==$UV_VERSION" >&2 || return 1
    fi
    "$py" -m venv "$venv" || return 1
    printf '%s\n' "$reqs" >"$venv/requirements.txt"
    "$MATRIX/tools/bin/uv" pip install -q --python "$venv/bin/python" -r "$venv/requirements.txt" >&2 || return 1
    "$venv/bin/pip" freeze >"$venv/freeze.txt"
    touch "$venv/.stamp"
  fi
  echo "$venv"
}

snapshot() { # dest: HEAD exported, a git repository of its own, the collection link made
  rm -rf "$1"
  mkdir -p "$1"
  git -C "$repo" archive HEAD | tar -x -C "$1"
  (cd "$1" && git init -q . && git add -A && git -c user.name=matrix -c user.email=matrix@invalid commit -qm "HEAD $(git -C "$repo" rev-parse --short HEAD)")
  mkdir -p "$1/.build/collections/ansible_collections/nodesec"
  ln -sfn "$1" "$1/.build/collections/ansible_collections/nodesec/kubernetes"
}

run_combo() { # name python core ansible -> writes $out/<name>.result
  local name=$1 pyver=$2 core=$3 ansible=$4 venv src rlog stage s rc status=pass
  rlog="$out/$name.log"
  local -a cells=()
  venv="$(venv_for "$@" 2>>"$rlog")" || { echo "$name|$pyver|$core|$ansible|-|-|-|venv failed" >"$out/$name.result"; return 1; }
  src="$MATRIX/src-$name"
  snapshot "$src" >>"$rlog" 2>&1
  # shellcheck disable=SC2016
  local kcore lint mol
  kcore="$("$venv/bin/python" -c 'import json, ansible_collections.kubernetes.core as m, os; print(json.load(open(os.path.join(list(m.__path__)[0], "MANIFEST.json")))["collection_info"]["version"])')"
  lint="$(grep -i '^ansible-lint==' "$venv/freeze.txt" | cut -d= -f3)"
  mol="$(grep -i '^molecule==' "$venv/freeze.txt" | cut -d= -f3)"
  (
    cd "$src" || exit 1
    export PATH="$venv/bin:$PATH"
    export ANSIBLE_CONFIG="$src/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$src/.build/collections"
    export MOLECULE_GLOB="molecule/*/molecule.yml" NODESEC_LAB_DIR="${NODESEC_LAB_DIR:-$repo/.lab}"
    t0=$SECONDS
    for stage in $STAGES; do
      s=$SECONDS
      echo "==== $name: $stage" >>"$rlog"
      case "$stage" in
        lint) ansible-lint --nocolor >>"$rlog" 2>&1 ;;
        sanity)
          SANITY_CORE_PIN="ansible-core==$core" SANITY_PYTHON="$venv/bin/python" SANITY_VENV="$MATRIX/sanity-$name" \
            SANITY_PYTHONS="${MATRIX_SANITY_PYTHONS:-}" scripts/sanity.sh >>"$rlog" 2>&1 ;;
        unit) pytest -p no:cacheprovider -q tests/unit >>"$rlog" 2>&1 ;;
        e2e)
          pytest -p no:cacheprovider -q -m "integration or not integration" \
            "tests/integration/test_pod_compliance.py::test_profiles_and_checks_over_the_api" \
            tests/integration/test_artifact.py >>"$rlog" 2>&1 ;;
        molecule)
          # One run of a scenario at a time, across combinations and beside scripts/test.sh's
          # (scripts/molecule-all.sh takes the same lock): its containers have fixed names.
          flock "$CACHE/molecule-sysdig_debian13.lock" molecule test -s sysdig_debian13 >>"$rlog" 2>&1 ;;
        *) echo "unknown stage $stage" >>"$rlog"; false ;;
      esac
      rc=$?
      if ((rc == 0)); then cells+=("ok $((SECONDS - s))s"); else cells+=("FAIL $((SECONDS - s))s"); status=fail; fi
    done
    printf '%s|%s|%s|%s|%s|%s|%s|%s|%s|%ss\n' "$name" "$pyver" "$core" "$ansible" "$kcore" "$lint" "$mol" \
      "$(IFS='|'; echo "${cells[*]}")" "$status" "$((SECONDS - t0))" >"$out/$name.result"
    [[ $status == pass ]]
  )
}

selected=()
for c in "${COMBOS[@]}"; do
  read -r name _ <<<"$c"
  if [[ -z "${MATRIX_ONLY:-}" || " $MATRIX_ONLY " == *" $name "* ]]; then selected+=("$c"); fi
done
((${#selected[@]})) || { log "MATRIX_ONLY='${MATRIX_ONLY:-}' matches no combination"; exit 2; }
mkdir -p "$MATRIX"

if ((PREPARE_ONLY)); then
  rc=0
  for c in "${selected[@]}"; do
    read -r name py core ansible <<<"$c"
    s=$SECONDS
    if v="$(venv_for "$name" "$py" "$core" "$ansible")"; then log "$name: $v ($((SECONDS - s))s)"; else log "$name: FAILED"; rc=1; fi
  done
  exit "$rc"
fi

out="$MATRIX/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
log "results in $out (HEAD $(git rev-parse --short HEAD)); stages: $STAGES"
if [[ " $STAGES " == *" e2e "* ]]; then scripts/k8s-api.sh start >/dev/null || { log "scripts/k8s-api.sh start failed"; exit 1; }; fi
if [[ " $STAGES " == *" molecule "* ]]; then scripts/build-images.sh >/dev/null || { log "node images missing"; exit 1; }; fi
t0=$SECONDS
for c in "${selected[@]}"; do
  read -r name py core ansible <<<"$c"
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n; done
  log "$name: started"
  (run_combo "$name" "$py" "$core" "$ansible"; log "$name: $(cut -d'|' -f"$((8 + $(wc -w <<<"$STAGES")))" "$out/$name.result" 2>/dev/null || echo done)") &
done
wait

{
  printf '| combination | Python | ansible-core | ansible | kubernetes.core | ansible-lint | molecule |'
  for stage in $STAGES; do printf ' %s |' "$stage"; done
  printf ' result | total |\n|'
  for _ in $(seq $((9 + $(wc -w <<<"$STAGES")))); do printf ' --- |'; done
  echo
  for c in "${selected[@]}"; do
    read -r name _ <<<"$c"
    if [[ -f "$out/$name.result" ]]; then echo "| $(sed 's/|/ | /g' "$out/$name.result") |"; else echo "| $name | (no result) |"; fi
  done
} >"$out/table.md"
cat "$out/table.md"
log "wall time $((SECONDS - t0))s; logs: $out/<combination>.log"
! grep -q '|fail|' "$out"/*.result
