"""The falco filters as the role calls them: errors become AnsibleFilterError with the cause."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.nodesec.kubernetes.plugins.filter.falco import FilterModule

FILTERS = FilterModule().filters()
STATE_FILE = "/etc/falco/.nodesec-managed-rules.json"


def test_the_role_s_filters_are_registered():
    assert {"falco_rule_set", "falco_rule_set_contents", "falco_managed_rules_state", "falco_rules_prune_plan"} <= set(
        FILTERS
    )


def test_state_filter_reads_what_the_plan_writes():
    plan = FILTERS["falco_rules_prune_plan"]([], ["/etc/falco/rules.d/60-a.yaml"], "/etc/falco/rules.d", [], True)
    assert FILTERS["falco_managed_rules_state"](plan["state_after"], STATE_FILE) == ["/etc/falco/rules.d/60-a.yaml"]
    assert FILTERS["falco_managed_rules_state"]("", STATE_FILE) == []


def test_prune_plan_filter_resets_the_local_rules_file():
    local = "/etc/falco/falco_rules.local.yaml"
    plan = FILTERS["falco_rules_prune_plan"]([local], [], "/etc/falco/rules.d", [local], True, [local])
    assert plan["reset"] == [local] and plan["remove"] == []
    # without reset (the filter's default), the local file is only kept
    assert FILTERS["falco_rules_prune_plan"]([local], [], "/etc/falco/rules.d", [local], True)["kept"] == [local]


def test_a_broken_state_file_names_the_file_and_the_way_out():
    expected = r"\.nodesec-managed-rules\.json is not JSON.*remove it to start afresh"
    with pytest.raises(AnsibleFilterError, match=expected):
        FILTERS["falco_managed_rules_state"]("{", STATE_FILE)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("/etc/falco/rules.d/a.yaml", [], "/etc/falco/rules.d", []), "recorded must be a list of paths"),
        (([], [None], "/etc/falco/rules.d", []), "wanted must be a list of paths"),
        (([], [], "/etc/falco/rules.d", "/etc/falco/rules.d/a.yaml"), "present must be a list of paths"),
        (([], [], "/etc/falco/rules.d", [], True, "/etc/falco/falco_rules.local.yaml"), "reset must be a list"),
    ],
)
def test_prune_plan_rejects_what_is_not_a_list_of_paths(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        FILTERS["falco_rules_prune_plan"](*args)
