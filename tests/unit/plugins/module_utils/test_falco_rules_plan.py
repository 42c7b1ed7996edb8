"""The Falco role's rules rollout decided at once (managed_state.rules_plan, filter falco_rules_plan).

One call gives what the role writes (with staging paths), the rule set falco -V and the controller
check see, what it removes, resets or keeps, and the state file's texts. What must hold, beyond
prune_plan's own rules (test_falco_managed_rules.py): the rule set is Falco's load order with our
files staged and the removed files left out; the emptied local rules file is written first, like
any file of ours, only when the role wrote it; a second run on the node as the first left it plans
the same writes and no removal (idempotence).
"""

from __future__ import annotations

import hashlib

import pytest
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco import managed_state as ms
from ansible_collections.nodesec.kubernetes.plugins.module_utils.falco.load_order import staged_path
from hypothesis import given
from hypothesis import strategies as st

RULES_D = "/etc/falco/rules.d"
LOCAL = "/etc/falco/falco_rules.local.yaml"
BASE = "/etc/falco/falco_rules.yaml"
STAGING = "/var/lib/nodesec-falco/staging"
EMPTY_LOCAL = "# No rules: falco_rules is empty. Managed by nodesec.kubernetes.falco.\n[]\n"
ETC_WRITES = f"{RULES_D}/60-nodesec-etc-writes.yaml"
RETIRED = f"{RULES_D}/70-nodesec-retired.yaml"
HANDMADE = f"{RULES_D}/05-site-handmade.yaml"


def entry(dest: str) -> dict:
    return {
        "name": dest.rsplit("/", 1)[-1],
        "dest": dest,
        "content": f"- list: {dest.rsplit('/', 1)[-1]}\n  items: []\n",
    }


def run(rendered, recorded=(), *, on_node=(BASE,), prune=True, texts=None, rules_dir=RULES_D, live=None):
    """rules_plan for a node holding the files ``on_node`` (the role's gather phase, simulated)."""
    on_node = set(on_node)
    recorded_text = ms.render_state(recorded) if recorded else ""
    return ms.rules_plan(
        rendered,
        recorded_text,
        rules_dir=rules_dir,
        local_file=LOCAL,
        base_files=[BASE],
        staging_dir=STAGING,
        existing=[p for p in (BASE, LOCAL) if p in on_node],
        found_in_rules_dir=sorted(p for p in on_node if p.rsplit("/", 1)[0] == RULES_D),
        present=sorted(p for p in set(recorded) if p in on_node),
        local_reset_content=EMPTY_LOCAL,
        prune=prune,
        texts=texts,
        live=live,
    )


def loaded(plan):
    return [(e["name"], e["path"], e["managed"]) for e in plan["rule_set"]]


def test_first_run_stages_our_files_in_falco_s_load_order():
    plan = run([entry(LOCAL), entry(ETC_WRITES)], on_node=[BASE, HANDMADE])
    assert [(m["dest"], m["staged"]) for m in plan["managed"]] == [
        (LOCAL, f"{STAGING}/falco_rules.local.yaml"),
        (ETC_WRITES, f"{STAGING}/rules.d/60-nodesec-etc-writes.yaml"),
    ]
    assert loaded(plan) == [
        (BASE, BASE, False),
        (LOCAL, f"{STAGING}/falco_rules.local.yaml", True),
        (HANDMADE, HANDMADE, False),
        (ETC_WRITES, f"{STAGING}/rules.d/60-nodesec-etc-writes.yaml", True),
    ]
    assert plan["remove"] == plan["reset"] == plan["kept"] == []
    assert ms.parse_state(plan["state_before"]) == ms.parse_state(plan["state_after"]) == sorted([LOCAL, ETC_WRITES])


def test_a_removed_entry_leaves_the_rule_set_that_is_validated():
    recorded = [LOCAL, ETC_WRITES, RETIRED]
    plan = run([entry(LOCAL), entry(ETC_WRITES)], recorded, on_node=[BASE, LOCAL, ETC_WRITES, RETIRED, HANDMADE])
    assert plan["remove"] == [RETIRED]
    assert RETIRED not in [entry[0] for entry in loaded(plan)]
    # the hand-made file stays and is checked with the rest
    assert (HANDMADE, HANDMADE, False) in loaded(plan)
    assert ms.parse_state(plan["state_before"]) == sorted(recorded)
    assert RETIRED not in ms.parse_state(plan["state_after"])


def test_with_pruning_off_the_file_stays_live_and_in_the_rule_set():
    plan = run([entry(ETC_WRITES)], [ETC_WRITES, RETIRED], on_node=[BASE, ETC_WRITES, RETIRED], prune=False)
    assert plan["remove"] == [] and plan["kept"] == [RETIRED]
    assert (RETIRED, RETIRED, False) in loaded(plan)


def test_falco_rules_emptied_resets_the_local_file_the_role_wrote_first_and_through_the_checks():
    plan = run([entry(ETC_WRITES)], [LOCAL, ETC_WRITES], on_node=[BASE, LOCAL, ETC_WRITES])
    assert plan["reset"] == [LOCAL]
    assert plan["managed"][0] == {
        "name": "falco_rules.local.yaml",
        "dest": LOCAL,
        "staged": f"{STAGING}/falco_rules.local.yaml",
        "content": EMPTY_LOCAL,
    }
    assert loaded(plan)[1] == (LOCAL, f"{STAGING}/falco_rules.local.yaml", True)
    # it stays recorded: the next run resets it again, to the same content (no change)
    assert LOCAL in ms.parse_state(plan["state_after"])


def test_a_local_rules_file_the_role_never_wrote_is_left_alone_and_checked_as_it_is():
    plan = run(
        [entry(ETC_WRITES)],
        [ETC_WRITES],
        on_node=[BASE, LOCAL, ETC_WRITES],
        texts={BASE: "[]", LOCAL: "- list: mine\n  items: []\n"},
    )
    assert plan["reset"] == [] and [m["dest"] for m in plan["managed"]] == [ETC_WRITES]
    assert loaded(plan)[1] == (LOCAL, LOCAL, False)
    assert plan["check_files"][1] == {"name": LOCAL, "content": "- list: mine\n  items: []\n"}


def test_the_rule_tests_get_our_files_as_planned_and_the_others_by_their_node_path():
    # falco_rules_test runs before the install (and in check mode, where nothing is staged), so
    # our files go by content under their live name; the node's own files by path; removed ones not at all
    plan = run([entry(ETC_WRITES)], [ETC_WRITES, RETIRED], on_node=[BASE, LOCAL, HANDMADE, ETC_WRITES, RETIRED])
    assert plan["test_files"] == [
        {"name": BASE, "path": BASE},
        {"name": LOCAL, "path": LOCAL},
        {"name": HANDMADE, "path": HANDMADE},
        {"name": ETC_WRITES, "content": entry(ETC_WRITES)["content"]},
    ]
    assert [f["name"] for f in plan["test_files"]] == [e["name"] for e in plan["rule_set"]]


def test_a_broken_state_file_stops_the_plan_naming_the_file():
    with pytest.raises(ms.ManagedRulesStateError, match=r"^/etc/falco/\.nodesec-managed-rules\.json is not JSON"):
        ms.rules_plan(
            [],
            "{",
            state_file="/etc/falco/.nodesec-managed-rules.json",
            rules_dir=RULES_D,
            local_file=LOCAL,
            base_files=[BASE],
            staging_dir=STAGING,
            existing=[],
            found_in_rules_dir=[],
            present=[],
            local_reset_content=EMPTY_LOCAL,
        )


def test_two_entries_writing_the_same_file_are_refused():
    with pytest.raises(ms.RulesPlanError, match=r"both write /etc/falco/rules\.d/60-nodesec-etc-writes\.yaml") as err:
        run([entry(ETC_WRITES), dict(entry(ETC_WRITES), name="again")])
    assert err.value.field == "rendered"


@pytest.mark.parametrize("rules_dir", ["/etc/falco/rules.d/", "/etc/falco//rules.d", "/etc/falco/./rules.d"])
def test_rules_directory_spellings_give_one_entry_per_file(rules_dir):
    ours = {"name": "60-nodesec-etc-writes.yaml", "dest": f"{rules_dir}/60-nodesec-etc-writes.yaml", "content": "[]"}
    plan = run([ours], [ETC_WRITES, RETIRED], on_node=[BASE, ETC_WRITES, RETIRED], rules_dir=rules_dir)
    assert plan["remove"] == [RETIRED]
    assert loaded(plan) == [(BASE, BASE, False), (ETC_WRITES, f"{STAGING}/rules.d/60-nodesec-etc-writes.yaml", True)]
    assert plan["managed"][0]["dest"] == ETC_WRITES


@pytest.mark.parametrize(
    ("dest", "staged"),
    [
        (LOCAL, f"{STAGING}/falco_rules.local.yaml"),
        (ETC_WRITES, f"{STAGING}/rules.d/60-nodesec-etc-writes.yaml"),
        (f"{RULES_D}/site/10-a.yaml", f"{STAGING}/rules.d/site/10-a.yaml"),
        ("/etc/falco/elsewhere/10-a.yaml", f"{STAGING}/rules.d/10-a.yaml"),
    ],
)
def test_staged_path(dest, staged):
    assert staged_path(dest, RULES_D + "/", LOCAL, STAGING + "/") == staged


# ------------------------------------------------------------------------------------------
# Over arbitrary histories: the plan is prune_plan plus a rule set consistent with it
# ------------------------------------------------------------------------------------------

NAMES = ["10-a.yaml", "60-nodesec-etc-writes.yaml", "70-b.yml", "99-z.yaml"]
IN_DIR = [f"{RULES_D}/{n}" for n in NAMES]
ANYWHERE = [*IN_DIR, LOCAL, "/etc/falco/old.d/70-b.yml"]


@given(
    with_local=st.booleans(),
    wanted=st.sets(st.sampled_from(IN_DIR)),
    recorded=st.sets(st.sampled_from(ANYWHERE)),
    on_node=st.sets(st.sampled_from([*ANYWHERE, BASE])),
    prune=st.booleans(),
)
def test_plan_properties(with_local, wanted, recorded, on_node, prune):
    rendered = [entry(LOCAL)] * with_local + [entry(p) for p in sorted(wanted)]
    dests = {e["dest"] for e in rendered}
    plan = run(rendered, sorted(recorded), on_node=on_node, prune=prune)

    # the pruning decisions are prune_plan's, with the local rules file as the one reset path
    present = sorted((recorded - dests) & on_node)
    expected = ms.prune_plan(sorted(recorded), sorted(dests), RULES_D, present, prune, [LOCAL])
    assert {k: plan[k] for k in expected} == expected

    # we write every rendered file, plus the emptied local rules file exactly when it is reset
    written = [m["dest"] for m in plan["managed"]]
    assert written == ([LOCAL] if plan["reset"] else []) + [e["dest"] for e in rendered]
    assert all(m["staged"].startswith(STAGING + "/") for m in plan["managed"])

    # the rule set: base, local, then rules.d by name; ours staged; removed files left out
    names = [e["name"] for e in plan["rule_set"]]
    assert len(names) == len(set(names))
    assert set(written) <= set(names)
    assert not set(plan["remove"]) & set(names)
    in_dir = [n for n in names if n.startswith(RULES_D + "/")]
    assert in_dir == sorted(in_dir, key=lambda p: p.rsplit("/", 1)[-1])
    assert names[: len(names) - len(in_dir)] == [p for p in (BASE, LOCAL) if p in on_node or p in written]
    for e in plan["rule_set"]:
        assert e["managed"] == (e["name"] in written)
        assert (e["path"] != e["name"]) == e["managed"]

    # the next run, on the node as this run left it, removes nothing and rewrites the same files
    node_after = (on_node - set(plan["remove"])) | set(written)
    again = run(rendered, ms.parse_state(plan["state_after"]), on_node=node_after, prune=prune)
    assert again["remove"] == []
    assert again["managed"] == plan["managed"]
    assert again["state_before"] == again["state_after"] == plan["state_after"]


# ------------------------------------------------------------------------------------------
# What differs on the node: only those files are written; nothing differing, nothing removed:
# no rollout (the role then skips staging, the controller check and falco -V).
# ------------------------------------------------------------------------------------------
def live(e: dict, **change) -> dict:
    """A find/stat result of ``e``'s file as the install leaves it (SHA-1, 0644, root:root)."""
    found = {
        "path": e["dest"],
        "checksum": hashlib.sha1(e["content"].encode("utf-8")).hexdigest(),
        "mode": "0644",
        "uid": 0,
        "gid": 0,
    }
    return {**found, **change}


def run_live(rendered, live_files, recorded=None):
    """rules_plan on a node whose files of ours are ``live_files`` (find/stat results)."""
    recorded = [e["dest"] for e in rendered] if recorded is None else recorded
    on_node = {BASE, *recorded, *(f["path"] for f in live_files)}
    blind = run(rendered, recorded, on_node=on_node)
    assert blind["pending"] == blind["managed"] and blind["rollout"]  # without live: all differ
    return run(rendered, recorded, on_node=on_node, live=live_files)


def test_a_rerun_with_the_same_files_writes_nothing_and_validates_nothing():
    rendered = [entry(LOCAL), entry(ETC_WRITES)]
    plan = run_live(rendered, [live(e) for e in rendered])
    assert plan["pending"] == [] and not plan["rollout"] and plan["state_current"]
    assert [m["dest"] for m in plan["managed"]] == [LOCAL, ETC_WRITES]  # still the rule set's


@pytest.mark.parametrize(
    "change",
    [
        {"checksum": "0" * 40},  # edited by hand
        {"mode": "0600"},
        {"uid": 1000},
        {"gid": 4},
        {"checksum": None},  # a link: stat/find give no checksum
    ],
)
def test_a_live_file_that_differs_is_the_only_one_written(change):
    rendered = [entry(LOCAL), entry(ETC_WRITES)]
    plan = run_live(rendered, [live(rendered[0]), live(rendered[1], **change)])
    assert [m["dest"] for m in plan["pending"]] == [ETC_WRITES] and plan["rollout"]


def test_a_missing_file_or_record_is_a_rollout_or_a_record():
    rendered = [entry(LOCAL), entry(ETC_WRITES)]
    missing = run_live(rendered, [live(rendered[0])])
    assert [m["dest"] for m in missing["pending"]] == [ETC_WRITES] and missing["rollout"]
    unrecorded = run_live(rendered, [live(e) for e in rendered], recorded=[])
    assert unrecorded["pending"] == [] and not unrecorded["rollout"] and not unrecorded["state_current"]


def test_a_removal_is_a_rollout_even_when_every_file_is_the_same():
    rendered = [entry(LOCAL), entry(ETC_WRITES)]
    retired = entry(RETIRED)
    plan = run_live(rendered, [live(e) for e in [*rendered, retired]], recorded=[LOCAL, ETC_WRITES, RETIRED])
    assert plan["pending"] == [] and plan["remove"] == [RETIRED] and plan["rollout"]


def test_live_must_be_a_list():
    with pytest.raises(ms.RulesPlanError, match="live must be a list"):
        run([entry(LOCAL)], live={"path": LOCAL})
