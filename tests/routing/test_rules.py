"""The routing config section: schema, matching, and errors that name the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from uet.config import load_settings
from uet.errors import ConfigError
from uet.routing import RoutingConfig, Strategy, load_routing, parse_routing

EXAMPLE = {
    "rules": [
        {
            "name": "edits",
            "match": {"kind": "code_edit", "risk": ["low", "medium"]},
            "tools": ["aider", "claude"],
            "strategy": "round_robin",
            "fallback": ["codex"],
        },
        {"match": {"kind": ["review", "docs"]}, "tools": ["claude"]},
    ],
    "default": {"tools": ["codex"]},
    "breaker": {"failure_threshold": 2, "cooldown": 30},
    "max_parallel": {"claude": 2},
}


def test_a_full_section_parses_with_its_defaults() -> None:
    """Every key of the documented example is read; omitted keys take their defaults."""
    config = parse_routing(EXAMPLE)
    assert config.rules[0].strategy is Strategy.ROUND_ROBIN
    assert config.rules[0].match.kind == frozenset({"code_edit"})  # one string = one item
    assert config.rules[1].strategy is Strategy.FIXED
    assert config.breaker.policy().failure_threshold == 2
    assert config.breaker.half_open_probes == 1
    assert config.metrics.window == 100
    assert config.max_parallel == {"claude": 2}
    assert parse_routing(None) == RoutingConfig()


def test_the_first_fitting_rule_wins_then_the_default() -> None:
    """Rules are tried in order; absent match keys match anything; default catches the rest."""
    config = parse_routing(EXAMPLE)
    assert config.rule_for("code_edit", "low", None) is config.rules[0]
    assert config.rule_for("code_edit", "high", None) is config.default  # risk does not fit
    assert config.rule_for("docs", "high", "hard") is config.rules[1]
    assert parse_routing({"rules": EXAMPLE["rules"]}).rule_for("other", None, None) is None


def test_rule_keys_are_stable_and_follow_the_rule_not_its_position() -> None:
    """A named rule is keyed by name; an unnamed one by its match and tools, so reordering
    the rules keeps every round-robin cursor with its rule."""
    config = parse_routing(EXAMPLE)
    swapped = parse_routing({**EXAMPLE, "rules": EXAMPLE["rules"][::-1]})
    assert config.rules[0].key == "rule:edits"
    assert config.rules[1].key == swapped.rules[0].key
    assert config.rules[1].key.startswith("auto:")


@pytest.mark.parametrize(
    ("section", "key", "problem"),
    [
        ({"rules": [{"tools": ["a"], "strategy": "random"}]}, "routing.rules[0].strategy", ""),
        ({"rules": [{"tools": []}]}, "routing.rules[0].tools", "at least 1"),
        (
            {"rules": [{"tools": ["a"], "match": {"kinds": "x"}}]},
            "routing.rules[0].match.kinds",
            "unknown key",
        ),
        ({"rules": [{"tools": ["a", "b"], "fallback": ["a"]}]}, "routing.rules[0]", "listed twice"),
        ({"breaker": {"cooldown": -1}}, "routing.breaker.cooldown", "greater than or equal"),
        ({"max_parallel": {"claude": 0}}, "routing.max_parallel.claude", "greater than 0"),
        ({"quota_patterns": ["("]}, "routing.quota_patterns", "pattern 0"),
        ({"rule": []}, "routing.rule", "unknown key"),
    ],
)
def test_errors_name_the_source_and_the_key_path(
    section: dict[str, object], key: str, problem: str
) -> None:
    """A bad value raises ConfigError with the source, the dotted key path and the problem."""
    with pytest.raises(ConfigError) as caught:
        parse_routing(section, source="uet.toml")
    assert caught.value.source == "uet.toml"
    assert caught.value.key == key
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"uet.toml: {key}: ")


def test_the_section_comes_from_uet_toml(tmp_path: Path) -> None:
    """[routing] in uet.toml is the section."""
    (tmp_path / "uet.toml").write_text(
        '[routing]\ndefault = {tools = ["claude"], fallback = ["aider"]}\n', encoding="utf-8"
    )
    config = load_routing(load_settings(cwd=tmp_path, env={}))
    assert config.default is not None
    assert config.default.fallback == ["aider"]


def test_the_section_comes_from_config_routing_yaml(tmp_path: Path) -> None:
    """config/routing.yaml holds the same schema; its errors name that file."""
    (tmp_path / "uet.toml").write_text("", encoding="utf-8")
    (tmp_path / "config").mkdir()
    path = tmp_path / "config" / "routing.yaml"
    path.write_text("rules:\n  - match: {kind: code_edit}\n    tools: [aider]\n", encoding="utf-8")
    settings = load_settings(cwd=tmp_path, env={})
    assert load_routing(settings).rules[0].tools == ["aider"]

    path.write_text("rules:\n  - tools: [aider]\n    strategy: best\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_routing(settings)
    assert (caught.value.source, caught.value.key) == (str(path), "routing.rules[0].strategy")


def test_the_section_in_both_places_is_refused(tmp_path: Path) -> None:
    """uet.toml [routing] and config/routing.yaml at once: which wins would be a guess."""
    (tmp_path / "uet.toml").write_text("[routing]\nmax_parallel = {a = 1}\n", encoding="utf-8")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "routing.yaml").write_text("rules: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="also defined in"):
        load_routing(load_settings(cwd=tmp_path, env={}))
