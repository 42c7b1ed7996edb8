#!/usr/bin/env bash
# The whole test suite, in order, stopping at the first failing stage:
#   ruff -> ansible-lint -> ansible-test sanity -> build -> unit -> integration -> falco -> molecule
# It installs and starts what the later stages need (Docker engine, node images, Kubernetes
# binaries and API, sysdig) and ends with a summary of counts.
#   scripts/test.sh                  # everything
#   STAGES="unit integration" scripts/test.sh
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo" || exit 1
export PATH="$repo/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$repo/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$repo/.build/collections"
export MOLECULE_GLOB="molecule/*/molecule.yml"
STAGES="${STAGES:-ruff lint sanity build unit integration falco molecule}"
out="$repo/.build/test-results"
mkdir -p "$out"
rm -f "$out"/*.xml

declare -a summary=()
total_passed=0 total_failed=0 total_skipped=0
t0=$SECONDS

banner() { printf '\n==== %s ====\n' "$*"; }

record() { # stage passed failed skipped seconds
  summary+=("$(printf '%-12s passed=%-5s failed=%-4s skipped=%-4s %4ss' "$1" "$2" "$3" "$4" "$5")")
  total_passed=$((total_passed + $2)); total_failed=$((total_failed + $3)); total_skipped=$((total_skipped + $4))
}

finish() {
  banner "summary ($((SECONDS - t0))s)"
  printf '%s\n' "${summary[@]}"
  echo
  echo "${total_passed} passed, ${total_failed} failed, ${total_skipped} skipped"
  exit "$1"
}

junit_counts() { # file -> "passed failed skipped"
  python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 1 0"); raise SystemExit
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
sk = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - sk, f, sk)
PY
}

simple_stage() { # name command...
  local name=$1; shift
  banner "$name"
  local s=$SECONDS
  if "$@"; then record "$name" 1 0 0 $((SECONDS - s)); else record "$name" 0 1 0 $((SECONDS - s)); finish 1; fi
}

pytest_stage() { # name pytest-args...
  local name=$1; shift
  banner "$name"
  local s=$SECONDS rc
  pytest -p no:cacheprovider --junitxml="$out/$name.xml" "$@"
  rc=$?
  read -r p f sk < <(junit_counts "$out/$name.xml")
  if [[ $rc -eq 5 ]]; then echo "no tests collected in $name"; rc=1; fi
  record "$name" "$p" "$f" "$sk" $((SECONDS - s))
  [[ $rc -eq 0 ]] || finish 1
}

# Falco 0.44.1 from source (scripts/falco-build.sh; cached by recipe, warm 0.02 s, cold about
# 15-50 min depending on load) builds in the background from the start, while the early stages
# run; the falco stage (tests marked real_falco: the differential test) and the molecule stage
# wait for it, so the integration tests that do not need Falco run while it compiles.
falco_build_pid=
start_falco_build() {
  [[ " $STAGES " == *" falco "* || " $STAGES " == *" molecule "* ]] || return 0
  (scripts/falco-build.sh >"$out/falco-build.out" 2>"$out/falco-build.log"; echo $? >"$out/falco-build.rc") &
  falco_build_pid=$!
  echo "Falco build started in the background (log: $out/falco-build.log)"
}
wait_falco_build() {
  [[ -n $falco_build_pid ]] || return 0
  local s=$SECONDS
  echo "waiting for the Falco build (log: $out/falco-build.log) ..."
  wait "$falco_build_pid"
  falco_build_pid=
  if [[ $(cat "$out/falco-build.rc" 2>/dev/null) != 0 ]]; then
    tail -n 40 "$out/falco-build.log"
    echo "the Falco build failed (full log: $out/falco-build.log)"
    return 1
  fi
  echo "Falco: $(tail -n 1 "$out/falco-build.out") (waited $((SECONDS - s))s)"
}

prepare_infra() {
  banner "prepare: Docker engine, node images, Kubernetes binaries, host tools"
  local s=$SECONDS
  scripts/host-packages.sh || return 1
  scripts/docker-engine.sh || return 1
  scripts/build-images.sh || return 1
  scripts/k8s-binaries.sh >/dev/null || return 1
  K8S_NODE=1 scripts/k8s-binaries.sh >/dev/null && scripts/k8s-images.sh >/dev/null || return 1
  scripts/helm-binary.sh >/dev/null || return 1
  echo "prepared in $((SECONDS - s))s"
}

rm -f "$out/falco-build.rc"
start_falco_build

for stage in $STAGES; do
  case "$stage" in
    ruff)
      simple_stage ruff bash -c 'ruff check . && ruff format --check .' ;;
    lint)
      simple_stage ansible-lint ansible-lint ;;
    sanity)
      simple_stage sanity scripts/sanity.sh ;;
    build)
      simple_stage build scripts/build-check.sh ;;
    unit)
      # sysdig on the controller: unit tests compare our parsers with its live output.
      scripts/host-packages.sh || { record prepare 0 1 0 0; finish 1; }
      pytest_stage unit tests/unit ;;
    integration)
      prepare_infra || { record prepare 0 1 0 0; finish 1; }
      pytest_stage integration tests/integration -m "not real_falco" ;;
    falco)
      # the tests that run the Falco built from source (after the build, which ran meanwhile)
      prepare_infra >/dev/null && wait_falco_build || { record prepare 0 1 0 0; finish 1; }
      pytest_stage falco tests/integration -m real_falco ;;
    molecule)
      prepare_infra >/dev/null && wait_falco_build || { record prepare 0 1 0 0; finish 1; }
      banner molecule
      s=$SECONDS mp=0 mf=0
      for scenario in molecule/*/molecule.yml; do
        name=$(basename "$(dirname "$scenario")")
        echo "---- molecule test -s $name"
        if molecule test -s "$name"; then mp=$((mp + 1)); else mf=$((mf + 1)); record molecule "$mp" "$mf" 0 $((SECONDS - s)); finish 1; fi
      done
      record molecule "$mp" "$mf" 0 $((SECONDS - s)) ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
finish 0
