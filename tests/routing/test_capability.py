"""Zero-config routing: with no rule for a kind, the tools that declare it, usable ones only."""

from __future__ import annotations

from pathlib import Path

from uet.routing import Router, capable_tools, parse_routing
from uet.state.store import Store

CAPABLE = {"code_edit": ("aider", "claude", "codex")}


def test_no_rules_routes_to_the_first_capable_tool_alphabetically_as_a_fallback() -> None:
    """The finding: "no routing rule matches kind 'code_edit' and there is no default"."""
    router = Router(parse_routing(None), deterministic=True, capable=CAPABLE)
    decision = router.decide("code_edit", reserve=False)
    assert decision.tool == "aider"
    assert decision.candidates == ("aider", "claude", "codex")
    assert decision.category == "fallback"
    assert decision.capable_of == "code_edit"
    assert "no rule matches kind 'code_edit'" in decision.reason


def test_an_unavailable_tool_is_passed_over_with_why() -> None:
    router = Router(
        parse_routing(None),
        deterministic=True,
        capable=CAPABLE,
        unavailable={"aider": "'aider' not found on PATH"},
    )
    decision = router.decide("code_edit", reserve=False)
    assert decision.tool == "claude"
    assert decision.skipped == (("aider", "not available: 'aider' not found on PATH"),)


def test_unavailable_tools_are_passed_over_by_rules_too() -> None:
    """`uet route` picked aider although `uet tools check` said it is not on PATH."""
    config = parse_routing(
        {"rules": [{"match": {"kind": "code_edit"}, "tools": ["aider", "codex"]}]}
    )
    router = Router(config, deterministic=True, unavailable={"aider": "'aider' not found on PATH"})
    assert router.decide("code_edit", reserve=False).tool == "codex"


def test_a_kind_no_tool_declares_has_no_candidate_and_says_so() -> None:
    router = Router(parse_routing(None), deterministic=True, capable=CAPABLE)
    decision = router.decide("translate", reserve=False)
    assert decision.tool is None
    assert "no tool profile lists 'translate'" in decision.reason


def test_capability_routing_uses_the_configured_strategy(tmp_path: Path) -> None:
    """`strategy = round_robin` in the routing section rotates among the capable tools, and
    its cursor is kept under the kind."""
    config = parse_routing({"strategy": "round_robin"})
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    with Router(config, store=store, deterministic=True, capable=CAPABLE) as router:
        chosen = [router.decide("code_edit").tool for _ in range(4)]
    assert chosen == ["aider", "claude", "codex", "aider"]
    with store.reader() as tx:
        decisions = tx.get_decisions(category="fallback")
    assert [d.chosen for d in decisions] == chosen
    assert decisions[0].data["capable_of"] == "code_edit"


def test_a_rule_wins_over_capability_and_the_default_too() -> None:
    config = parse_routing({"default": {"tools": ["codex"]}})
    router = Router(config, deterministic=True, capable=CAPABLE)
    assert router.decide("code_edit", reserve=False).tool == "codex"


def test_capable_tools_merges_profiles_and_apps_alphabetically() -> None:
    config = parse_routing(
        {"apps": {"zed": {"capabilities": {"task_kinds": ["code_edit", "lint"]}}}, "routing": {}}
    )
    found = capable_tools(config, {"claude": ["code_edit"], "aider": ["code_edit", "docs"]})
    assert found == {"code_edit": ("aider", "claude", "zed"), "docs": ("aider",), "lint": ("zed",)}


def test_a_task_without_risk_matches_a_rule_with_risk() -> None:
    """The finding: "a code_edit task with no risk does not match the first code_edit rule"."""
    config = parse_routing(
        {"rules": [{"match": {"kind": "code_edit", "risk": "high"}, "tools": ["aider"]}]}
    )
    assert config.rule_for("code_edit", None, None) is config.rules[0]
    assert config.rule_for("code_edit", "low", None) is None
