#!/usr/bin/env bash
# The whole test suite, in order, stopping at the first failing stage:
#   ruff -> ansible-lint -> ansible-test sanity -> build -> unit -> integration -> falco -> sysdig
#   -> molecule
# Four things run in the background from the moment they can: the Falco and sysdig builds and
# the preparation of the lab's infrastructure (all three from the start) and the molecule scenarios
# (scripts/molecule-all.sh, from the start of the integration stage); the stages that need them
# wait for them, so the summary's order and "first failing stage" are as before.
# It installs and starts what the later stages need (Docker engine, node images, Kubernetes
# binaries and API, sysdig) and ends with a summary of counts.
#   scripts/test.sh                  # everything
#   STAGES="unit integration" scripts/test.sh
#   STAGES=molecule MOLECULE_SCENARIOS="lab_smoke sysdig" scripts/test.sh   # some scenarios only
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo" || exit 1
export PATH="$repo/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$repo/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$repo/.build/collections"
export MOLECULE_GLOB="molecule/*/molecule.yml"
STAGES="${STAGES:-ruff lint sanity build unit integration falco sysdig molecule}"
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

wants() { # stage...: true when STAGES names any of them
  local st
  for st in "$@"; do [[ " $STAGES " == *" $st "* ]] && return 0; done
  return 1
}

simple_stage() { # name command...
  local name=$1; shift
  banner "$name"
  local s=$SECONDS
  if "$@"; then record "$name" 1 0 0 $((SECONDS - s)); else record "$name" 0 1 0 $((SECONDS - s)); finish 1; fi
}

run_pytest() { # junit-name pytest-args...: one pytest of a stage; "no tests collected" fails
  local junit=$1; shift
  pytest -p no:cacheprovider --durations=15 --junitxml="$out/$junit.xml" "$@"
  local rc=$?
  if [[ $rc -eq 5 ]]; then echo "no tests collected in $junit"; return 1; fi
  return "$rc"
}

pytest_stage() { # name pytest-args...
  local name=$1; shift
  banner "$name"
  local s=$SECONDS rc
  run_pytest "$name" "$@"
  rc=$?
  read -r p f sk < <(junit_counts "$out/$name.xml")
  record "$name" "$p" "$f" "$sk" $((SECONDS - s))
  [[ $rc -eq 0 ]] || finish 1
}

# The integration stage runs two pytest processes side by side: the tests of the kubeadm lab
# (marker kubeadm_lab: they restart its real kube-apiserver under its kubelet, mostly waiting)
# in the background, the others (the fast API of k8s-api.sh, the plain lab nodes, builds) in
# the foreground; they share no container, port or state. The background lane's output is
# printed when both are done; the stage's counts are the sum of both junit files.
pytest_lanes() { # name marker-expression pytest-args...
  local name=$1 expr=$2; shift 2
  banner "$name (two lanes: kubeadm_lab beside the rest)"
  local s=$SECONDS rc_lab rc_rest lab_pid p f sk p2 f2 sk2
  run_pytest "$name-kubeadm_lab" -m "kubeadm_lab and ($expr)" "$@" >"$out/$name-kubeadm_lab.log" 2>&1 &
  lab_pid=$!
  echo "lane kubeadm_lab started in the background (log: $out/$name-kubeadm_lab.log)"
  run_pytest "$name" -m "not kubeadm_lab and ($expr)" "$@"
  rc_rest=$?
  echo "waiting for the lane kubeadm_lab ..."
  wait "$lab_pid"
  rc_lab=$?
  banner "$name: lane kubeadm_lab (ran beside the above)"
  cat "$out/$name-kubeadm_lab.log"
  read -r p f sk < <(junit_counts "$out/$name.xml")
  read -r p2 f2 sk2 < <(junit_counts "$out/$name-kubeadm_lab.xml")
  record "$name" $((p + p2)) $((f + f2)) $((sk + sk2)) $((SECONDS - s))
  [[ $rc_rest -eq 0 && $rc_lab -eq 0 ]] || finish 1
}

# The programs built from ../shared/vendor build in the background from the start, while the
# early stages run (each cached by its recipe: warm a fraction of a second, cold tens of minutes):
# Falco 0.44.1 (scripts/falco-build.sh), which the falco stage (tests marked real_falco: the
# differential test, falco_rules_test) and the molecule stage wait for, and sysdig 0.36.0
# (scripts/sysdig-build.sh, one nice level lower: only the last test stage needs it), which the
# sysdig stage (tests marked real_sysdig: live captures) waits for. The integration tests that
# need neither run meanwhile.
declare -A build_pid=()
start_build() { # name script nice-increment
  local name=$1 script=$2 nice_inc=$3
  (nice -n "$nice_inc" "scripts/$script" >"$out/$name-build.out" 2>"$out/$name-build.log"
    echo $? >"$out/$name-build.rc") &
  build_pid[$name]=$!
  echo "$name build started in the background (log: $out/$name-build.log)"
}
start_builds() {
  if wants falco molecule; then start_build falco falco-build.sh 0; fi
  if wants sysdig; then start_build sysdig sysdig-build.sh 5; fi
  return 0
}
wait_build() { # name
  local name=$1 s=$SECONDS
  [[ -n ${build_pid[$name]:-} ]] || return 0
  echo "waiting for the $name build (log: $out/$name-build.log) ..."
  wait "${build_pid[$name]}"
  build_pid[$name]=
  if [[ $(cat "$out/$name-build.rc" 2>/dev/null) != 0 ]]; then
    tail -n 40 "$out/$name-build.log"
    echo "the $name build failed (full log: $out/$name-build.log)"
    return 1
  fi
  echo "$name: $(tail -n 1 "$out/$name-build.out") (waited $((SECONDS - s))s)"
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

# prepare_infra starts in the background at once too (cold: about 35 minutes of Go builds,
# Docker and images), so it overlaps ruff, ansible-lint, sanity and unit; the stages that need
# it wait for it (warm it is a few seconds).
prepare_pid=
start_prepare() {
  wants integration falco sysdig molecule || return 0
  (prepare_infra >"$out/prepare.log" 2>&1; echo $? >"$out/prepare.rc") &
  prepare_pid=$!
  echo "prepare started in the background (log: $out/prepare.log)"
}
wait_prepare() {
  [[ -n $prepare_pid ]] || { prepare_infra; return; }
  local s=$SECONDS
  banner "prepare: Docker engine, node images, Kubernetes binaries, host tools"
  wait "$prepare_pid"
  prepare_pid=
  cat "$out/prepare.log"
  [[ $(cat "$out/prepare.rc" 2>/dev/null) == 0 ]] || { echo "prepare failed (log: $out/prepare.log)"; return 1; }
  echo "(waited $((SECONDS - s))s)"
}

# The molecule scenarios run in the background (scripts/molecule-all.sh, one after another)
# from the start of the integration stage, beside it: their nodes are containers of their own.
# The molecule stage waits for them and reports; a failed scenario's log is printed there.
molecule_pid=
start_molecule() {
  wants molecule && [[ -z $molecule_pid ]] || return 0
  NODESEC_WAIT_FALCO_BUILD=$([[ -n ${build_pid[falco]:-} ]] && echo 1 || echo 0) \
    setsid scripts/molecule-all.sh "$out" ${MOLECULE_SCENARIOS:-} >"$out/molecule-all.log" 2>&1 &
  molecule_pid=$!
  echo "molecule scenarios started in the background (logs: $out/molecule-<scenario>.log)"
}
stop_background() {
  [[ -n $molecule_pid ]] && kill -- "-$molecule_pid" 2>/dev/null
  return 0
}
trap stop_background EXIT

rm -f "$out/falco-build.rc" "$out/sysdig-build.rc" "$out/prepare.rc"
start_builds
start_prepare

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
      wait_prepare || { record prepare 0 1 0 0; finish 1; }
      start_molecule
      pytest_lanes integration "not real_falco and not real_sysdig" tests/integration ;;
    falco)
      # the tests that run the Falco built from source (after the build, which ran meanwhile)
      wait_prepare >/dev/null && wait_build falco || { record prepare 0 1 0 0; finish 1; }
      pytest_stage falco tests/integration -m real_falco ;;
    sysdig)
      # live captures with the sysdig built from source (after its build, which ran meanwhile)
      wait_prepare >/dev/null && wait_build sysdig || { record prepare 0 1 0 0; finish 1; }
      pytest_stage sysdig tests/integration -m real_sysdig ;;
    molecule)
      wait_prepare >/dev/null || { record prepare 0 1 0 0; finish 1; }
      start_molecule
      banner molecule
      s=$SECONDS
      echo "waiting for the molecule scenarios (started in the background) ..."
      wait "$molecule_pid"
      molecule_pid=
      mp=0 mf=0
      while read -r name result secs; do
        echo "---- molecule test -s $name: $result (${secs}s; log: $out/molecule-$name.log)"
        if [[ $result == passed ]]; then mp=$((mp + 1)); else
          mf=$((mf + 1))
          tail -n 400 "$out/molecule-$name.log"
        fi
      done < <(cat "$out/molecule.results" 2>/dev/null)
      [[ -f $out/molecule.rc ]] || { mf=$((mf + 1)); cat "$out/molecule-all.log"; }
      echo "(waited $((SECONDS - s))s)"
      record molecule "$mp" "$mf" 0 $((SECONDS - s))
      [[ $mf -eq 0 && $(cat "$out/molecule.rc" 2>/dev/null) == 0 ]] || finish 1 ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
finish 0
