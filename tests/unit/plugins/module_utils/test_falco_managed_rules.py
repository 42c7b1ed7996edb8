"""Pruning of the Falco role's rules files (plugins/module_utils/falco/managed_state.py).

The role records the rules.d files it writes in a state file; on each run the recorded files no
longer in falco_rules_files are removed. What must hold: only recorded files directly inside the
rules directory are ever removed, the local rules file the role wrote is emptied (never removed)
once falco_rules is empty, a file is recorded before it is written, and a second run plans
nothing (idempotence).
"""

from __future__ import annotations

import json

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import managed_state as fmr
from hypothesis import given
from hypothesis import strategies as st

RULES_D = "/etc/falco/rules.d"
ETC_WRITES = f"{RULES_D}/60-nodesec-etc-writes.yaml"
RETIRED = f"{RULES_D}/70-nodesec-retired.yaml"
HANDMADE = f"{RULES_D}/80-site-handmade.yaml"
# what falcoctl or a package drops next to ours
PACKAGE = f"{RULES_D}/falco-incubating_rules.yaml"
# the local rules file (falco_rules): emptied, never removed
LOCAL = "/etc/falco/falco_rules.local.yaml"


def state(*paths: str) -> str:
    return fmr.render_state(paths)


# ------------------------------------------------------------------------------------------
# The state file
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "\n", "  \n\t"])
def test_no_state_file_records_nothing(text):
    assert fmr.parse_state(text) == []


def test_state_round_trip_is_sorted_normalised_and_stable():
    text = fmr.render_state([RETIRED, ETC_WRITES, "/etc/falco/rules.d//60-nodesec-etc-writes.yaml"])
    assert fmr.parse_state(text) == [ETC_WRITES, RETIRED]
    assert fmr.render_state(fmr.parse_state(text)) == text
    data = json.loads(text)
    assert data["version"] == 1
    assert data["files"] == [ETC_WRITES, RETIRED]
    assert "nodesec.kubernetes.falco" in data["comment"]
    assert text.endswith("}\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not JSON"),
        ("[]", "is not a version 1 state file"),
        ('{"files": []}', "is not a version 1 state file"),
        ('{"version": 2, "files": []}', "is not a version 1 state file"),
        ('{"version": 1}', "'files' must be a list"),
        ('{"version": 1, "files": "/etc/falco/rules.d/a.yaml"}', "'files' must be a list"),
        ('{"version": 1, "files": ["rules.d/a.yaml"]}', "must hold absolute paths"),
        ('{"version": 1, "files": [42]}', "must hold absolute paths"),
    ],
)
def test_a_state_file_we_did_not_write_is_an_error(text, message):
    with pytest.raises(fmr.ManagedRulesStateError, match=message) as err:
        fmr.parse_state(text, "/etc/falco/.nodesec-managed-rules.json")
    assert str(err.value).startswith("/etc/falco/.nodesec-managed-rules.json")


# ------------------------------------------------------------------------------------------
# The plan
# ------------------------------------------------------------------------------------------


def test_first_run_records_the_files_it_writes():
    plan = fmr.prune_plan([], [ETC_WRITES], RULES_D, [])
    assert plan["remove"] == [] and plan["kept"] == []
    assert plan["state_before"] == plan["state_after"] == state(ETC_WRITES)


def test_steady_state_plans_nothing():
    plan = fmr.prune_plan([ETC_WRITES, RETIRED], [ETC_WRITES, RETIRED], RULES_D, [])
    assert plan["remove"] == []
    assert plan["state_before"] == plan["state_after"] == state(ETC_WRITES, RETIRED)


def test_an_entry_removed_from_falco_rules_files_is_pruned_and_forgotten():
    plan = fmr.prune_plan([ETC_WRITES, RETIRED], [ETC_WRITES], RULES_D, [RETIRED])
    assert plan["remove"] == [RETIRED]
    assert plan["kept"] == []
    # still recorded while it exists, forgotten once removed
    assert plan["state_before"] == state(ETC_WRITES, RETIRED)
    assert plan["state_after"] == state(ETC_WRITES)


def test_all_entries_removed():
    plan = fmr.prune_plan([ETC_WRITES, RETIRED], [], RULES_D, [ETC_WRITES, RETIRED])
    assert plan["remove"] == [ETC_WRITES, RETIRED]
    assert plan["state_after"] == state()


def test_a_recorded_file_already_deleted_by_hand_is_forgotten_without_a_removal():
    plan = fmr.prune_plan([ETC_WRITES, RETIRED], [ETC_WRITES], RULES_D, [])
    assert plan["remove"] == []
    assert plan["state_after"] == state(ETC_WRITES)


def test_files_the_role_did_not_write_are_never_removed():
    # even when reported present (the role only stats recorded files, but the plan must not trust that)
    plan = fmr.prune_plan([ETC_WRITES], [], RULES_D, [ETC_WRITES, HANDMADE, PACKAGE])
    assert plan["remove"] == [ETC_WRITES]
    assert HANDMADE not in plan["state_after"] and PACKAGE not in plan["state_after"]


def test_pruning_off_keeps_the_files_and_their_record():
    plan = fmr.prune_plan([ETC_WRITES, RETIRED], [ETC_WRITES], RULES_D, [RETIRED], prune=False)
    assert plan["remove"] == []
    assert plan["kept"] == [RETIRED]
    assert plan["state_before"] == plan["state_after"] == state(ETC_WRITES, RETIRED)
    # turned back on: removed
    assert fmr.prune_plan(fmr.parse_state(plan["state_after"]), [ETC_WRITES], RULES_D, [RETIRED])["remove"] == [RETIRED]


def test_the_local_rules_file_the_role_wrote_is_emptied_when_falco_rules_becomes_empty():
    plan = fmr.prune_plan([LOCAL, ETC_WRITES], [ETC_WRITES], RULES_D, [LOCAL], reset=[LOCAL])
    assert plan["reset"] == [LOCAL]
    assert plan["remove"] == [] and plan["kept"] == []
    # the role wrote the empty file: still recorded, so a later run keeps it empty and no-op
    assert plan["state_before"] == plan["state_after"] == state(LOCAL, ETC_WRITES)
    again = fmr.prune_plan(fmr.parse_state(plan["state_after"]), [ETC_WRITES], RULES_D, [LOCAL], reset=[LOCAL])
    assert again == plan


def test_the_local_rules_file_is_never_removed_even_in_the_rules_directory():
    local_in_dir = f"{RULES_D}/falco_rules.local.yaml"
    plan = fmr.prune_plan([local_in_dir], [], RULES_D, [local_in_dir], reset=[local_in_dir])
    assert plan["remove"] == [] and plan["reset"] == [local_in_dir]


def test_a_local_rules_file_the_role_did_not_write_is_left_alone():
    # never recorded (a hand-written file, or falco_rules always empty): not reset
    plan = fmr.prune_plan([ETC_WRITES], [ETC_WRITES], RULES_D, [LOCAL], reset=[LOCAL])
    assert plan["reset"] == [] and plan["remove"] == [] and plan["kept"] == []
    assert LOCAL not in plan["state_after"]


def test_a_recorded_local_rules_file_deleted_by_hand_is_forgotten_not_recreated():
    plan = fmr.prune_plan([LOCAL], [], RULES_D, [], reset=[LOCAL])
    assert plan["reset"] == [] and plan["kept"] == []
    assert plan["state_after"] == state()


def test_pruning_off_leaves_the_local_rules_file_and_keeps_it_recorded():
    plan = fmr.prune_plan([LOCAL], [], RULES_D, [LOCAL], prune=False, reset=[LOCAL])
    assert plan["reset"] == [] and plan["remove"] == []
    assert plan["kept"] == [LOCAL]
    assert plan["state_after"] == state(LOCAL)


def test_the_local_rules_file_is_recorded_while_falco_rules_has_rules():
    plan = fmr.prune_plan([], [LOCAL, ETC_WRITES], RULES_D, [], reset=[LOCAL])
    assert plan["reset"] == []
    assert plan["state_before"] == plan["state_after"] == state(LOCAL, ETC_WRITES)


@pytest.mark.parametrize(
    "recorded",
    [
        "/etc/falco/old-rules.d/70-nodesec-retired.yaml",  # falco_rules_dir changed since
        "/etc/falco/rules.d/sub/70-nodesec-retired.yaml",  # a name with a slash
        "/etc/falco/rules.d/../falco_rules.yaml",  # a name with '..': the upstream rule set
        "/etc/falco/falco_rules.local.yaml",
        "/etc/falco/rules.d",
    ],
)
def test_only_files_directly_inside_the_rules_directory_are_removed(recorded):
    plan = fmr.prune_plan([recorded], [], RULES_D, [recorded])
    assert plan["remove"] == []
    assert len(plan["kept"]) == 1
    assert fmr.parse_state(plan["state_after"]) == plan["kept"]


@pytest.mark.parametrize("rules_dir", ["/etc/falco/rules.d/", "/etc/falco//rules.d", "/etc/falco/./rules.d"])
def test_rules_directory_spellings(rules_dir):
    wanted = [f"{rules_dir}/60-nodesec-etc-writes.yaml"]
    plan = fmr.prune_plan([ETC_WRITES, RETIRED], wanted, rules_dir, [RETIRED])
    assert plan["remove"] == [RETIRED]
    assert plan["state_after"] == state(ETC_WRITES)


# ------------------------------------------------------------------------------------------
# Properties over arbitrary histories
# ------------------------------------------------------------------------------------------

NAMES = ["10-a.yaml", "60-nodesec-etc-writes.yaml", "70-b.yml", "99-z.yaml"]
DIRS = [RULES_D, "/etc/falco/old.d", f"{RULES_D}/sub"]
paths = st.builds(lambda d, n: f"{d}/{n}", st.sampled_from(DIRS), st.sampled_from(NAMES))


@given(
    recorded=st.sets(paths),
    wanted=st.sets(st.builds(lambda n: f"{RULES_D}/{n}", st.sampled_from(NAMES))),
    on_node=st.sets(paths),
    prune=st.booleans(),
    reset=st.sets(paths, max_size=2),
)
def test_plan_properties(recorded, wanted, on_node, prune, reset):
    present = sorted((recorded - wanted) & on_node)
    plan = fmr.prune_plan(sorted(recorded), sorted(wanted), RULES_D, present, prune, sorted(reset))
    removed = set(plan["remove"])
    emptied = set(plan["reset"])
    # reset paths are emptied, never removed: recorded, unwanted, present, pruning on
    assert not (removed & reset)
    assert emptied <= (recorded - wanted) & on_node & reset
    assert prune or not emptied
    assert emptied == (((recorded - wanted) & on_node & reset) if prune else set())
    # only recorded, unwanted, present files directly in the rules directory; none when pruning is off
    assert removed <= recorded - wanted
    assert removed <= on_node
    assert all(p.rsplit("/", 1)[0] == RULES_D for p in removed)
    assert prune or not removed
    # recorded before: everything that was or will be ours
    before = set(fmr.parse_state(plan["state_before"]))
    assert before == recorded | wanted
    after = set(fmr.parse_state(plan["state_after"]))
    assert wanted <= after
    assert emptied <= after
    assert not (after & removed)

    # the next run, on the node as this run left it, plans nothing and rewrites nothing
    # (an emptied file is emptied again: same content, no change)
    node_after = (on_node - removed) | wanted
    again_present = sorted((after - wanted) & node_after)
    again = fmr.prune_plan(sorted(after), sorted(wanted), RULES_D, again_present, prune, sorted(reset))
    assert again["remove"] == []
    assert again["reset"] == plan["reset"]
    assert again["state_before"] == again["state_after"] == plan["state_after"]
