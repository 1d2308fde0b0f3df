"""The ``routing`` config section: rules that map a task to candidate tools.

In ``uet.toml`` (``[routing]``) or ``config/routing.yaml``, the same schema::

    rules:
      - name: small-edits                  # optional; keys the rule's round-robin cursor
        match: {kind: code_edit, risk: [low, medium], complexity: simple}
        tools: [aider, claude]
        strategy: round_robin              # fixed | round_robin | least_loaded | metrics
        fallback: [codex]
    default: {tools: [claude], fallback: [aider]}
    breaker: {failure_threshold: 5, cooldown: 60, half_open_probes: 1}
    metrics: {window: 100, min_samples: 5}
    max_parallel: {claude: 2}
    quota_patterns: ["credit balance is too low"]

The first rule whose ``match`` fits wins; a missing match key matches anything. Errors
name the source and the key path (``uet.toml: routing.rules[0].strategy: …``).
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pydantic
import yaml

from uet.config import Settings
from uet.errors import ConfigError
from uet.routing.breaker import BreakerPolicy
from uet.routing.originals import from_original, is_original

ROUTING_FILE = Path("config") / "routing.yaml"
"""The routing section as a file of its own, relative to the project root."""

ROUTER_CONFIG_FILE = Path("config") / "router_config.json"
"""The originals' router config, read as the routing section when it is there."""

METRICS_WINDOW = 100
"""Outcomes per tool the ``metrics`` strategy remembers (older ones are forgotten)."""

METRICS_MIN_SAMPLES = 5
"""Outcomes a tool needs before ``metrics`` trusts its figures (fewer: it is tried first)."""


class Strategy(enum.StrEnum):
    FIXED = "fixed"  # the tools in the order given
    ROUND_ROBIN = "round_robin"  # each decision starts one tool further
    LEAST_LOADED = "least_loaded"  # the tool with the least work in flight
    METRICS = "metrics"  # the best success rate, then the lowest latency


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")


def _as_set(value: object) -> object:
    """A single string matches like a one-item list."""
    return [value] if isinstance(value, str) else value


class Match(_Model):
    """What a task must be for a rule to apply; an absent key matches anything."""

    kind: frozenset[str] | None = None
    risk: frozenset[str] | None = None
    complexity: frozenset[str] | None = None

    @pydantic.field_validator("kind", "risk", "complexity", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        return _as_set(value)

    def fits(self, kind: str | None, risk: str | None, complexity: str | None) -> bool:
        """The kind must be one of the rule's; risk and complexity are compared only when
        both the rule and the task set them (as the originals' router did)."""
        return (
            (self.kind is None or kind in self.kind)
            and (self.risk is None or risk is None or risk in self.risk)
            and (self.complexity is None or complexity is None or complexity in self.complexity)
        )


_TOOL = pydantic.constr(min_length=1, max_length=128, strip_whitespace=True)


class Rule(_Model):
    """Candidate tools for matching tasks, how to pick among them, and where to fall back."""

    name: str | None = pydantic.Field(None, min_length=1, max_length=96)
    match: Match = Match()
    tools: list[_TOOL] = pydantic.Field(min_length=1)  # type: ignore[valid-type]
    strategy: Strategy = Strategy.FIXED
    fallback: list[_TOOL] = pydantic.Field(default_factory=list)  # type: ignore[valid-type]

    @pydantic.model_validator(mode="after")
    def _distinct(self) -> Rule:
        chain = [*self.tools, *self.fallback]
        repeated = sorted({tool for tool in chain if chain.count(tool) > 1})
        if repeated:
            raise ValueError(f"tools listed twice in tools/fallback: {', '.join(repeated)}")
        return self

    @property
    def key(self) -> str:
        """A stable key (round-robin cursors are stored under it): the name, or a digest of
        the match and tools, so that reordering rules keeps each rule's cursor."""
        if self.name is not None:
            return f"rule:{self.name}"
        shape = {
            "kind": sorted(self.match.kind or []),
            "risk": sorted(self.match.risk or []),
            "complexity": sorted(self.match.complexity or []),
            "tools": self.tools,
        }
        digest = hashlib.sha1(json.dumps(shape).encode(), usedforsecurity=False).hexdigest()
        return f"auto:{digest[:16]}"


class BreakerSettings(_Model):
    failure_threshold: int = pydantic.Field(5, ge=1)
    cooldown: float = pydantic.Field(60.0, ge=0)  # seconds
    half_open_probes: int = pydantic.Field(1, ge=1)

    def policy(self) -> BreakerPolicy:
        return BreakerPolicy(self.failure_threshold, self.cooldown, self.half_open_probes)


class MetricsSettings(_Model):
    window: int = pydantic.Field(METRICS_WINDOW, ge=1, le=100_000)  # outcomes per tool
    min_samples: int = pydantic.Field(METRICS_MIN_SAMPLES, ge=0)


class App(_Model):
    """What the originals' router config says of a tool: the task kinds it can take."""

    task_kinds: list[str] = pydantic.Field(default_factory=list)
    max_parallel: pydantic.PositiveInt | None = None


class RoutingConfig(_Model):
    """The validated ``routing`` section. Build with :func:`parse_routing` or
    :func:`load_routing`.

    ``strategy`` orders the capable tools when no rule (and no default) applies;
    ``apps`` adds task kinds to tools (the originals' ``apps``); ``version`` is accepted
    and kept, as in the originals' files."""

    version: str | None = None
    rules: list[Rule] = pydantic.Field(default_factory=list)
    default: Rule | None = None
    strategy: Strategy = Strategy.FIXED
    apps: dict[str, App] = pydantic.Field(default_factory=dict)
    breaker: BreakerSettings = BreakerSettings()
    metrics: MetricsSettings = MetricsSettings()
    max_parallel: dict[str, pydantic.PositiveInt] = pydantic.Field(default_factory=dict)
    quota_patterns: list[str] = pydantic.Field(default_factory=list)

    @pydantic.field_validator("quota_patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for index, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {index} is not a regular expression: {exc}") from None
        return patterns

    def rule_for(self, kind: str | None, risk: str | None, complexity: str | None) -> Rule | None:
        """The first rule that fits, else the default (None when there is neither)."""
        for rule in self.rules:
            if rule.match.fits(kind, risk, complexity):
                return rule
        return self.default


def parse_routing(
    data: Mapping[str, Any] | None, *, source: str = "routing", prefix: str = "routing."
) -> RoutingConfig:
    """Validate a raw ``routing`` section, in uet's schema or as the originals' router
    config (:mod:`uet.routing.originals`); :class:`ConfigError` names the first bad key."""
    section = dict(data or {})
    if is_original(section):
        section = from_original(section, source=source, prefix=prefix)
    try:
        return RoutingConfig.model_validate(section)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        raise ConfigError(source, _key_path(error["loc"]), _problem(error)) from None


def load_routing(settings: Settings) -> RoutingConfig:
    """The ``routing`` section of the project: from ``uet.toml`` / ``[tool.uet]``, from
    ``config/routing.yaml``, or the originals' ``config/router_config.json``. More than one
    is an error (which one would win is a guess)."""
    in_settings = settings.sections.get("routing")
    source = str(settings.config_file or "settings")
    prefix = "routing."
    for path, read in (
        (settings.root / ROUTING_FILE, _read_yaml),
        (settings.root / ROUTER_CONFIG_FILE, _read_json),
    ):
        if not path.is_file():
            continue
        if in_settings is not None:
            raise ConfigError(str(path), "routing", f"also defined in {source}; keep one")
        in_settings, source = read(path), str(path)
        prefix = "routing." if path.suffix == ".yaml" else ""
    if in_settings is not None and not isinstance(in_settings, Mapping):
        raise ConfigError(source, "routing", "must be a table of settings")
    return parse_routing(in_settings, source=source, prefix=prefix)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "", f"not valid YAML: {exc}") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(str(path), "", f"not valid JSON: {exc}") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}") from None


def _key_path(loc: tuple[int | str, ...]) -> str:
    path = "routing"
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif "[" not in part:  # pydantic's names of validators and union arms
            path += f".{part}"
    return path


def _problem(error: Mapping[str, Any]) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return "unknown key"
    return message


def unknown_tools(config: RoutingConfig, known: Collection[str]) -> frozenset[str]:
    """Tools the rules name (as candidates or fallbacks) that are not ``known``: a router
    told to exclude them never chooses a tool nobody defined."""
    named = {
        tool
        for rule in (*config.rules, config.default)
        if rule is not None
        for tool in (*rule.tools, *rule.fallback)
    }
    return frozenset(tool for tool in named | config.apps.keys() if tool not in known)


def capable_tools(
    config: RoutingConfig, capabilities: Mapping[str, Collection[str]]
) -> dict[str, tuple[str, ...]]:
    """Task kind -> the tools that can take it (alphabetical): the tools' own
    ``capabilities`` (tool -> kinds, from their profiles) and the ``apps`` of ``config``."""
    found: dict[str, set[str]] = {}
    for tool, kinds in capabilities.items():
        for kind in kinds:
            found.setdefault(kind, set()).add(tool)
    for tool, app in config.apps.items():
        for kind in app.task_kinds:
            found.setdefault(kind, set()).add(tool)
    return {kind: tuple(sorted(tools)) for kind, tools in sorted(found.items())}
