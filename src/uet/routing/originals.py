"""The originals' router config (``config/router_config.json``), read as it is.

::

    {"version": "1.0.0",
     "apps": {"aider": {"kind": "tool", "command": "aider --yes",
                        "capabilities": {"task_kinds": ["code_edit"]},
                        "limits": {"max_parallel": 2}}},
     "routing": {"rules": [{"id": "low-risk-code",
                            "match": {"task_kind": ["code_edit"], "risk_tier": ["low"]},
                            "select_from": ["codex", "aider"], "strategy": "round_robin"}]},
     "defaults": {"max_attempts": 3, "timeout_seconds": 600}}

becomes uet's own ``routing`` section: a rule's ``id`` is its ``name``, ``task_kind`` /
``risk_tier`` / ``complexity`` its ``match``, ``select_from`` its ``tools``; strategy ``auto``
is ``metrics``; ``apps`` give each tool's task kinds (used when no rule matches) and its
``limits.max_parallel``; ``defaults.strategy`` is the strategy of capability routing. As the
originals did, a rule without candidates is passed over, and keys uet has no use for
(``version``, ``doc_id``, an app's ``command`` and ``safety_tier``, ``validate_with``,
``defaults.max_attempts``…) are accepted and ignored: the tool profiles say how a tool
runs, the task's ``retries`` and ``timeout`` how often and how long.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from uet.errors import ConfigError

ORIGINAL_KEYS = frozenset({"apps", "routing", "defaults"})
"""Top-level keys that only the originals' router config has."""

_STRATEGIES = {"auto": "metrics"}  # the originals' name -> uet's


def is_original(data: Mapping[str, Any]) -> bool:
    """True for the originals' router config (``apps``, ``routing.rules``, ``defaults``)."""
    return bool(ORIGINAL_KEYS & data.keys())


def from_original(data: Mapping[str, Any], *, source: str, prefix: str = "") -> dict[str, Any]:
    """uet's ``routing`` section for the originals' router config ``data``; errors name
    keys under ``prefix`` (``routing.`` when the config is the section of ``uet.toml``)."""
    section: dict[str, Any] = {}
    if "version" in data:
        section["version"] = data["version"]
    routing = _mapping(data.get("routing", {}), source, f"{prefix}routing")
    rules = routing.get("rules", [])
    if not isinstance(rules, list):
        raise ConfigError(source, f"{prefix}routing.rules", "must be a list of rules")
    section["rules"] = [
        rule
        for index, raw in enumerate(rules)
        if (rule := _rule(raw, source, f"{prefix}routing.rules[{index}]")) is not None
    ]
    apps = _mapping(data.get("apps", {}), source, f"{prefix}apps")
    section["apps"] = {
        name: _app(app, source, f"{prefix}apps.{name}") for name, app in apps.items()
    }
    limits = {
        name: app["max_parallel"] for name, app in section["apps"].items() if "max_parallel" in app
    }
    if limits:
        section["max_parallel"] = limits
    defaults = _mapping(data.get("defaults", {}), source, f"{prefix}defaults")
    if "strategy" in defaults:
        section["strategy"] = _STRATEGIES.get(defaults["strategy"], defaults["strategy"])
    return section


def _rule(raw: object, source: str, where: str) -> dict[str, Any] | None:
    rule = _mapping(raw, source, where)
    candidates = rule.get("select_from", [])
    if not isinstance(candidates, list) or not all(isinstance(c, str) for c in candidates):
        raise ConfigError(source, f"{where}.select_from", "must be a list of tool names")
    if not candidates:
        return None  # the originals pass over a rule without candidates
    match = _mapping(rule.get("match", {}), source, f"{where}.match")
    native: dict[str, Any] = {}
    for original, key in (
        ("task_kind", "kind"),
        ("risk_tier", "risk"),
        ("complexity", "complexity"),
    ):
        if original in match:
            native[key] = match[original]
    converted: dict[str, Any] = {"match": native, "tools": list(dict.fromkeys(candidates))}
    if "id" in rule:
        converted["name"] = rule["id"]
    if "strategy" in rule:
        strategy = rule["strategy"]
        converted["strategy"] = _STRATEGIES.get(strategy, strategy)
    return converted


def _app(raw: object, source: str, where: str) -> dict[str, Any]:
    app = _mapping(raw, source, where)
    capabilities = _mapping(app.get("capabilities", {}), source, f"{where}.capabilities")
    kinds = capabilities.get("task_kinds", [])
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise ConfigError(source, f"{where}.capabilities.task_kinds", "must be a list of kinds")
    converted: dict[str, Any] = {"task_kinds": kinds}
    limits = _mapping(app.get("limits", {}), source, f"{where}.limits")
    if "max_parallel" in limits:
        converted["max_parallel"] = limits["max_parallel"]
    return converted


def _mapping(value: object, source: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(source, where, f"must be a mapping, got {type(value).__name__}")
    return value
