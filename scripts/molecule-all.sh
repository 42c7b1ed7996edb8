#!/usr/bin/env bash
# Every molecule scenario, one after another, each into its own log; scripts/test.sh starts it
# in the background while the integration tests run (the scenarios' nodes are containers with
# names of their own, and nothing of the integration suite's: the kubeadm lab, the local API,
# the fast lab's nodes), so the two share the wall clock instead of adding up.
#
#   scripts/molecule-all.sh OUT_DIR [SCENARIO ...]   # default: every molecule/*/molecule.yml
#
# Per scenario: OUT_DIR/molecule-<name>.log (its whole output) and a line
# "<name> passed|failed <seconds>" appended to OUT_DIR/molecule.results; OUT_DIR/molecule.rc
# is written last (0 when every scenario passed). It stops at the first failing scenario, as
# the foreground stage did. The falco scenario installs the Falco built from source: when
# OUT_DIR/falco-build.rc is expected (NODESEC_WAIT_FALCO_BUILD=1, set by scripts/test.sh, whose
# background build writes it) the scenario waits for it, and fails if the build failed.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo" || exit 1
out="${1:?usage: scripts/molecule-all.sh OUT_DIR [SCENARIO ...]}"
shift
mkdir -p "$out"
rm -f "$out/molecule.results" "$out/molecule.rc" "$out"/molecule-*.log

scenarios=("$@")
if [[ ${#scenarios[@]} -eq 0 ]]; then
  # falco last: on a cold machine its package is the last thing to be built
  for f in molecule/*/molecule.yml; do
    name=$(basename "$(dirname "$f")")
    [[ $name == falco ]] || scenarios+=("$name")
  done
  [[ -f molecule/falco/molecule.yml ]] && scenarios+=(falco)
fi

wait_falco_build() {
  [[ ${NODESEC_WAIT_FALCO_BUILD:-0} == 1 ]] || return 0
  while [[ ! -f $out/falco-build.rc ]]; do sleep 5; done
  [[ $(cat "$out/falco-build.rc") == 0 ]]
}

# A scenario's containers have fixed names: one run of it at a time on this machine
# (scripts/matrix.sh takes the same per-scenario lock).
locks="${NODESEC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nodesec}"
mkdir -p "$locks"

rc=0
for name in "${scenarios[@]}"; do
  s=$SECONDS
  log="$out/molecule-$name.log"
  if [[ $name == falco ]] && ! wait_falco_build; then
    echo "the Falco build failed: see $out/falco-build.log" >"$log"
    echo "$name failed $((SECONDS - s))" >>"$out/molecule.results"
    rc=1
    break
  fi
  if flock "$locks/molecule-$name.lock" molecule test -s "$name" >"$log" 2>&1; then
    echo "$name passed $((SECONDS - s))" >>"$out/molecule.results"
  else
    echo "$name failed $((SECONDS - s))" >>"$out/molecule.results"
    rc=1
    break
  fi
done
echo "$rc" >"$out/molecule.rc"
exit "$rc"
