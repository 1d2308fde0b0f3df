"""The originals' router config, read as it is, and routed as the originals routed.

The corpus files are the originals' ``config/router_config.json`` and the inline config of
their own ``tests/engine/test_routing.py``; the expected choices below are that test's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.routing.originals import corpus_file, manifest
from uet.config import load_settings
from uet.errors import ConfigError
from uet.routing import Router, Strategy, capable_tools, load_routing, parse_routing
from uet.state.store import Store

ROUTER_CONFIGS = ["pipe0-router_config.json", "pipeT-router_config_fixture.json"]
FIXTURE = "pipeT-router_config_fixture.json"


def test_the_list_of_router_configs_follows_the_corpus_manifest() -> None:
    """A router config added to the corpus is noticed here (and must load below)."""
    listed = manifest("router config")
    if not listed:
        corpus_file("MANIFEST.tsv")  # skips, or fails on CI
    assert sorted(listed) == sorted(ROUTER_CONFIGS)


@pytest.mark.parametrize("name", ROUTER_CONFIGS)
@pytest.mark.parametrize("where", ["config/router_config.json", "config/routing.yaml"])
def test_every_router_config_of_the_corpus_loads_as_it_is(
    name: str, where: str, tmp_path: Path
) -> None:
    """The originals' file, copied unchanged to config/router_config.json or used as the
    routing section (JSON is YAML), loads: version, apps, defaults and doc_id accepted."""
    source = corpus_file(name)
    target = tmp_path / where
    target.parent.mkdir(parents=True)
    shutil.copy(source, target)
    config = load_routing(load_settings(cwd=tmp_path, env={}))
    data = json.loads(source.read_text(encoding="utf-8"))
    assert config.version == data["version"]
    assert [rule.name for rule in config.rules] == [
        rule["id"] for rule in data["routing"]["rules"] if rule.get("select_from")
    ]
    assert set(config.apps) == set(data["apps"])


def test_the_router_config_as_the_routing_section_of_uet_toml(tmp_path: Path) -> None:
    """`routing.version` (the finding: "unknown key") and the originals' keys in uet.toml."""
    (tmp_path / "uet.toml").write_text(
        '[routing]\nversion = "1.0.0"\n'
        '[routing.apps.aider]\nkind = "tool"\ncommand = "aider --yes"\n'
        'capabilities = {task_kinds = ["code_edit"]}\n'
        '[[routing.routing.rules]]\nid = "edits"\nmatch = {task_kind = ["code_edit"]}\n'
        'select_from = ["aider"]\n',
        encoding="utf-8",
    )
    config = load_routing(load_settings(cwd=tmp_path, env={}))
    assert config.version == "1.0.0"
    assert config.rules[0].name == "edits"
    assert config.rules[0].tools == ["aider"]


def test_uet_native_routing_accepts_version(tmp_path: Path) -> None:
    assert parse_routing({"version": "1.0.0", "rules": []}).version == "1.0.0"


def test_two_routing_sources_are_an_error_naming_both(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "router_config.json").write_text('{"apps": {}, "routing": {}}')
    (tmp_path / "uet.toml").write_text("[routing]\nrules = []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_routing(load_settings(cwd=tmp_path, env={}))
    assert "router_config.json" in caught.value.source
    assert "also defined in" in str(caught.value)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (
            {"apps": {}, "routing": {"rules": [{"id": "x", "select_from": "aider"}]}},
            "routing.rules[0].select_from",
        ),
        ({"apps": {"aider": "aider"}, "routing": {}}, "apps.aider"),
        (
            {"apps": {"a": {"capabilities": {"task_kinds": "code_edit"}}}, "routing": {}},
            "apps.a.capabilities.task_kinds",
        ),
        (
            {
                "apps": {},
                "routing": {"rules": [{"id": "x", "select_from": ["a"], "strategy": "random"}]},
            },
            "routing.rules[0].strategy",
        ),
    ],
)
def test_a_bad_router_config_names_the_key(
    data: dict[str, object], key: str, tmp_path: Path
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "router_config.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError) as caught:
        load_routing(load_settings(cwd=tmp_path, env={}))
    assert caught.value.source.endswith("router_config.json")
    assert caught.value.key == key


def test_the_schema_is_not_a_router_config_and_is_refused_with_the_key(tmp_path: Path) -> None:
    """The originals' loader refuses their schema file ("missing 'apps'"); uet names a key."""
    schema = corpus_file("uet-router_config.v1.json")
    (tmp_path / "config").mkdir()
    shutil.copy(schema, tmp_path / "config" / "routing.yaml")
    with pytest.raises(ConfigError) as caught:
        load_routing(load_settings(cwd=tmp_path, env={}))
    assert "unknown key" in str(caught.value)


def _fixture_router(tmp_path: Path) -> Router:
    config = parse_routing(json.loads(corpus_file(FIXTURE).read_text(encoding="utf-8")))
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    return Router(
        config,
        store=store,
        deterministic=True,
        run_id="r1",
        capable=capable_tools(config, {}),  # the apps only, as the originals
    )


# Side by side: the originals' tests/engine/test_routing.py and uet, same config, same calls.
#  call                            originals                       uet
#  code_edit, risk high            aider (high-risk-code)          aider, routing
#  code_edit, no risk              aider (high-risk-code: a rule's  aider, routing
#                                  risk is checked only when the
#                                  task has one)
#  code_edit, risk low  x2         codex then aider (round robin)  codex then aider
#  test                            pytest (testing)                pytest
#  refactor                        aider (no rule: first capable)  aider, fallback
#  unknown_task_kind               None                            None
SIDE_BY_SIDE = [
    (("code_edit", "high", None), "aider", "routing", "rule:high-risk-code"),
    (("code_edit", None, None), "aider", "routing", "rule:high-risk-code"),
    (("code_edit", "low", None), "codex", "routing", "rule:low-risk-code"),
    (("code_edit", "low", None), "aider", "routing", "rule:low-risk-code"),
    (("test", None, None), "pytest", "routing", "rule:testing"),
    (("refactor", None, None), "aider", "fallback", "capable:refactor"),
    (("unknown_task_kind", None, None), None, "fallback", "none"),
]


def test_the_fixture_routes_as_the_originals_did_call_by_call(tmp_path: Path) -> None:
    router = _fixture_router(tmp_path)
    for (kind, risk, complexity), tool, category, rule in SIDE_BY_SIDE:
        decision = router.decide(kind, risk=risk, complexity=complexity, task_id=kind)
        assert (decision.tool, decision.category, decision.rule) == (tool, category, rule), kind
        if decision.tool is not None:
            router.release(decision.tool)  # done: the originals had no max_parallel slots
    router.close()
    with router.state.store.reader() as tx:  # type: ignore[union-attr]
        recorded = [(d.task_id, d.category, d.chosen) for d in tx.get_decisions(run_id="r1")]
    assert ("refactor", "fallback", "aider") in recorded  # the fallback is recorded as such


def test_complexity_is_a_string_in_the_originals_and_checked_only_when_both_set() -> None:
    config = parse_routing(
        {
            "apps": {},
            "routing": {
                "rules": [
                    {
                        "id": "hard",
                        "match": {"task_kind": ["code_edit"], "complexity": "high"},
                        "select_from": ["claude"],
                    },
                    {"id": "rest", "match": {"task_kind": ["code_edit"]}, "select_from": ["aider"]},
                ]
            },
        }
    )
    assert config.rule_for("code_edit", None, "high") is config.rules[0]
    assert config.rule_for("code_edit", None, "low") is config.rules[1]
    assert config.rule_for("code_edit", None, None) is config.rules[0]  # task sets none


def test_auto_strategy_and_defaults_strategy_map_onto_uet_strategies() -> None:
    config = parse_routing(
        {
            "apps": {},
            "routing": {"rules": [{"id": "a", "select_from": ["x"], "strategy": "auto"}]},
            "defaults": {"strategy": "round_robin", "max_attempts": 3},
        }
    )
    assert config.rules[0].strategy is Strategy.METRICS
    assert config.strategy is Strategy.ROUND_ROBIN


def test_apps_limits_become_max_parallel() -> None:
    data = json.loads(corpus_file(FIXTURE).read_text(encoding="utf-8"))
    assert parse_routing(data).max_parallel == {"aider": 2, "codex": 5, "pytest": 1}
