"""The falco filter as the role calls it: nodesec.kubernetes.falco_rules_plan, one call per node.

It replaced four single-use filters (falco_managed_rules_state, falco_rules_prune_plan,
falco_rule_set, falco_rule_set_contents); each of their cases is asserted here through the plan.
Errors become AnsibleFilterError with the cause.
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.nodesec.kubernetes.plugins.filter.falco import FilterModule

FILTERS = FilterModule().filters()
PLAN = FILTERS["falco_rules_plan"]
STATE_FILE = "/etc/falco/.nodesec-managed-rules.json"
RULES_D = "/etc/falco/rules.d"
LOCAL = "/etc/falco/falco_rules.local.yaml"
BASE = "/etc/falco/falco_rules.yaml"
STAGING = "/var/lib/nodesec-falco/staging"
EMPTY_LOCAL = "# Managed by nodesec.kubernetes.falco.\n[]\n"


def rendered(*dests: str) -> list:
    return [{"name": d.rsplit("/", 1)[-1], "dest": d, "content": f"# {d}\n[]\n"} for d in dests]


def plan(rendered_files=None, recorded_text="", **kw):
    """The filter with the role's arguments (a node with only the base file, nothing recorded)."""
    args = {
        "state_file": STATE_FILE,
        "rules_dir": RULES_D,
        "local_file": LOCAL,
        "base_files": [BASE],
        "staging_dir": STAGING,
        "existing": [BASE],
        "found_in_rules_dir": [],
        "present": [],
        "local_reset_content": EMPTY_LOCAL,
        "prune": True,
        "texts": None,
    }
    args.update(kw)
    return PLAN([] if rendered_files is None else rendered_files, recorded_text, **args)


def test_only_the_plan_filter_is_registered():
    # the four single-use filters it replaced are gone
    assert set(FILTERS) == {"falco_rules_plan"}


def test_the_plan_reads_the_state_it_writes():
    # was: falco_managed_rules_state(falco_rules_prune_plan(...).state_after) == [60-a]
    first = plan(rendered(f"{RULES_D}/60-a.yaml"))
    # the next run no longer renders 60-a.yaml: it is recorded, so it is removed
    second = plan(
        [], first["state_after"], present=[f"{RULES_D}/60-a.yaml"], found_in_rules_dir=[f"{RULES_D}/60-a.yaml"]
    )
    assert second["remove"] == [f"{RULES_D}/60-a.yaml"]
    # no state file (empty text): nothing recorded, nothing removed
    assert plan([], "", present=[f"{RULES_D}/60-a.yaml"])["remove"] == []
    assert plan([], None, present=[f"{RULES_D}/60-a.yaml"])["remove"] == []


def test_the_plan_resets_the_local_rules_file_the_role_wrote():
    # was: falco_rules_prune_plan([local], [], rules.d, [local], True, [local]) -> reset [local]
    recorded = plan(rendered(LOCAL))["state_after"]
    result = plan([], recorded, present=[LOCAL], existing=[BASE, LOCAL])
    assert result["reset"] == [LOCAL] and result["remove"] == []
    # the reset is a write like any other: first, with the empty content, staged and in the rule set
    assert result["managed"] == [
        {
            "name": "falco_rules.local.yaml",
            "dest": LOCAL,
            "staged": f"{STAGING}/falco_rules.local.yaml",
            "content": EMPTY_LOCAL,
        }
    ]
    assert [(e["name"], e["path"], e["managed"]) for e in result["rule_set"]] == [
        (BASE, BASE, False),
        (LOCAL, f"{STAGING}/falco_rules.local.yaml", True),
    ]


def test_a_recorded_file_that_is_not_the_local_rules_file_is_only_kept_outside_the_rules_directory():
    # was: falco_rules_prune_plan([local], [], rules.d, [local], True) (no reset) -> kept [local]:
    # only the local rules file is reset; any other recorded file outside rules.d is kept
    other = "/etc/falco/other.yaml"
    recorded = plan(rendered(f"{RULES_D}/60-a.yaml"))["state_before"].replace(f"{RULES_D}/60-a.yaml", other)
    result = plan([], recorded, present=[other])
    assert result["kept"] == [other] and result["reset"] == [] and result["remove"] == []


def test_a_broken_state_file_names_the_file_and_the_way_out():
    expected = r"\.nodesec-managed-rules\.json is not JSON.*remove it to start afresh"
    with pytest.raises(AnsibleFilterError, match=expected):
        plan([], "{")


@pytest.mark.parametrize(
    ("args", "kw", "message"),
    [
        # was: recorded must be a list of paths (the recorded state now comes as the file's text)
        ((rendered(), ["/etc/falco/rules.d/a.yaml"]), {}, "recorded_text must be the state file's text"),
        # was: wanted must be a list of paths (the wanted files are the rendered entries)
        (([None],), {}, "rendered entry None is not a mapping"),
        (("/etc/falco/rules.d/a.yaml",), {}, "rendered must be a list of"),
        # was: present must be a list of paths
        (([],), {"present": "/etc/falco/rules.d/a.yaml"}, "present must be a list of paths"),
        # was: reset must be a list (the reset target is now the local rules file itself)
        (([],), {"local_file": ["/etc/falco/falco_rules.local.yaml"]}, "local_file must be an absolute path"),
        (([],), {"existing": [None]}, "existing must be a list of paths"),
        (([],), {"found_in_rules_dir": "x"}, "found_in_rules_dir must be a list of paths"),
        (([],), {"local_reset_content": None}, "local_reset_content must be the text"),
        (([],), {"texts": ["a"]}, "texts must map paths"),
    ],
)
def test_the_plan_rejects_what_the_role_does_not_pass(args, kw, message):
    with pytest.raises(AnsibleFilterError, match=f"^falco_rules_plan: {message}"):
        if len(args) == 2:
            plan(args[0], args[1], **kw)
        else:
            plan(args[0], "", **kw)


def test_a_rendered_entry_without_its_content_is_refused():
    # was: falco_rule_set: managed entry ... lacks ['content']
    with pytest.raises(AnsibleFilterError, match=r"rendered entry .* lacks \['content'\]"):
        plan([{"name": "60-a.yaml", "dest": f"{RULES_D}/60-a.yaml"}])


def test_a_file_of_the_rule_set_without_its_text_is_refused_when_checking():
    # was: falco_rule_set_contents: no content read for /etc/falco/falco_rules.yaml
    with pytest.raises(AnsibleFilterError, match=r"no text was read for /etc/falco/falco_rules\.yaml"):
        plan(rendered(f"{RULES_D}/60-a.yaml"), texts={})


def test_check_files_carry_our_rendered_content_and_the_node_s_text_for_the_others():
    # was: falco_rule_set_contents(rule_set, texts)
    ours = rendered(f"{RULES_D}/60-a.yaml")
    result = plan(
        ours,
        found_in_rules_dir=[f"{RULES_D}/10-site.yaml"],
        texts={BASE: "- list: base\n  items: []\n", f"{RULES_D}/10-site.yaml": "- list: site\n  items: []\n"},
    )
    assert result["check_files"] == [
        {"name": BASE, "content": "- list: base\n  items: []\n"},
        {"name": f"{RULES_D}/10-site.yaml", "content": "- list: site\n  items: []\n"},
        {"name": f"{RULES_D}/60-a.yaml", "content": ours[0]["content"]},
    ]
    # no controller check: no texts needed, none returned
    assert plan(ours, found_in_rules_dir=[f"{RULES_D}/10-site.yaml"])["check_files"] == []
