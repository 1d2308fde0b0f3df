"""Trigger models: what a ``[triggers.ID]`` table of ``uet.toml`` or ``config/triggers.yaml``
means, validated, and the loader that reads both.

A trigger has an id, a :class:`TriggerTarget` (workstream files, a script, or an ``exec``
argv) and exactly one source: ``event`` (a dotted event glob, with ``where``), ``files``
(path globs, with ``ignore`` and ``debounce``), ``cron`` (with ``timezone``) or ``every``
(a duration). Policies: ``catchup`` and ``max_catchup`` (missed fires after downtime),
``overlap`` and ``grace`` (when its last run is still going), ``max_runs_per_hour``.

``config/triggers.yaml`` holds ``triggers: {ID: {...}}`` (or the mapping of ids alone);
ids are unique across both files. Every problem names the file, the key path and what is
wrong (:class:`TriggerConfigError`, exit 2); the loader reports all of them at once.
See docs/automation.md, "Triggers".
"""

from __future__ import annotations

import difflib
import enum
import math
import re
import zoneinfo
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import pydantic
from cronsim import CronSim, CronSimError

from uet.config import Settings
from uet.errors import ConfigError, Problem
from uet.spec._bounds import Command, EnvName, EnvValue
from uet.spec._globs import GlobError, event_glob_regex, path_glob_regex
from uet.spec._where import where_problems
from uet.spec.models import ID_PATTERN

TRIGGERS_FILE = Path("config") / "triggers.yaml"
"""The triggers section as a file of its own, relative to the project root."""

DEFAULT_DEBOUNCE_S = 0.5
"""Seconds a file trigger waits for a burst of changes to end before it fires."""
DEFAULT_MAX_CATCHUP = 5
"""Missed fires launched at most after downtime (``catchup: all``)."""
TOOL_MAX_CATCHUP = 1
"""Missed fires launched at most for a target with tool tasks, unless ``max_catchup`` is set."""
DEFAULT_GRACE_S = 10.0
"""Seconds between SIGTERM and SIGKILL when ``overlap: replace`` stops the previous run."""
MIN_EVERY_S = 1.0
"""The shortest ``every`` interval, in seconds."""
MAX_INTERVAL_S = 366 * 86400.0
"""The longest ``every`` interval (and ``debounce``/``grace``), in seconds: a year."""


CRON_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
"""Vixie cron's nicknames, as the expressions they stand for."""


class TriggerKind(enum.StrEnum):
    """What makes a trigger fire."""

    EVENT = "event"
    FILES = "files"
    CRON = "cron"
    EVERY = "every"


class Catchup(enum.StrEnum):
    """Which fires missed while no daemon ran are launched when one starts."""

    SKIP = "skip"  # none: the next fire is the next scheduled one
    LATEST = "latest"  # the most recent missed fire only
    ALL = "all"  # every missed fire, oldest first, up to max_catchup (the most recent ones)


class Overlap(enum.StrEnum):
    """What a fire does while the trigger's previous run is still going."""

    SKIP = "skip"  # the fire is skipped (recorded, with its reason)
    QUEUE = "queue"  # one fire waits for the run to end (at most one pending)
    REPLACE = "replace"  # the running run is stopped (SIGTERM, grace, SIGKILL), then it starts
    ALLOW = "allow"  # runs overlap


_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)(ms|s|m|h|d|w))", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: object) -> float:
    """Seconds from ``30s``, ``500ms``, ``5m``, ``1h``, ``1h30m``, ``1d``, ``2w`` or a number
    (seconds). Raises ValueError with a message fit for the user."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, 5m or 1h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            seconds = _units_sum(value, text)
    else:
        raise ValueError(f"expected a duration such as 30s, 5m or 1h, got {type(value).__name__}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be a finite number of seconds ≥ 0, got {value!r}")
    return seconds


def _units_sum(value: str, text: str) -> float:
    pieces = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in pieces).lower() != text.lower():
        raise ValueError(
            f"{value!r} is not a duration: use a number of seconds or e.g. 30s, 500ms, 5m, 1h,"
            " 1h30m, 1d"
        )
    units = [u.lower() for _, u in pieces]
    if len(set(units)) != len(units):
        raise ValueError(f"{value!r} is not a duration: it gives a unit twice")
    return sum(float(n) * _UNITS[u.lower()] for n, u in pieces)


def _duration(value: object) -> object:
    return parse_duration(value) if isinstance(value, str | int | float) else value


Duration = Annotated[float, pydantic.BeforeValidator(_duration)]
"""Seconds, from a number or a duration string (``30s``, ``1h30m``)."""


def _path_glob(pattern: str, info: pydantic.ValidationInfo) -> str:
    """A path glob that can match (absolute ones inside the project root, from the context)."""
    root = (info.context or {}).get("root")
    try:
        path_glob_regex(pattern, None if root is None else str(root))
    except GlobError as exc:
        raise ValueError(str(exc)) from None
    return pattern


PathGlob = Annotated[str, pydantic.AfterValidator(_path_glob)]
"""A ``/``-separated glob relative to the project root (see uet.triggers.globs)."""


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class TriggerTarget(_Model):
    """What a trigger starts: exactly one of ``workstreams`` (files, relative to the project
    root, run together as one DAG), ``script`` (a name in the script registry) or ``exec``
    (an argv, run as ``uet exec`` runs it). ``vars`` are the workstreams' ``--var`` values.

    ``tool`` is true when a run of the target may call an AI tool (it costs money: catch-up
    launches at most one run unless ``max_catchup`` is set). The loader sets it for
    workstream targets with tool tasks; it may also be set by hand (a script or an ``exec``
    that runs an agent). ``workstream_ids`` are the ids in the target's files (set by the
    loader; empty for scripts and ``exec``)."""

    workstreams: list[Annotated[str, pydantic.Field(min_length=1)]] | None = pydantic.Field(
        default=None, min_length=1
    )
    script: str | None = pydantic.Field(default=None, min_length=1)
    exec: list[Annotated[Command, pydantic.Field(min_length=1)]] | None = pydantic.Field(
        default=None, min_length=1
    )
    vars: dict[EnvName, EnvValue] = pydantic.Field(default_factory=dict)
    tool: bool = False
    workstream_ids: tuple[str, ...] = ()

    @pydantic.model_validator(mode="after")
    def _exactly_one(self) -> TriggerTarget:
        given = [k for k in ("workstreams", "script", "exec") if getattr(self, k) is not None]
        if len(given) != 1:
            found = f" (found {', '.join(given)})" if given else ""
            raise ValueError(f"a target needs exactly one of workstreams, script, exec{found}")
        return self

    @property
    def kind(self) -> str:
        """``workstreams``, ``script`` or ``exec``."""
        if self.workstreams is not None:
            return "workstreams"
        return "script" if self.script is not None else "exec"


_SOURCE_KEYS = {
    TriggerKind.EVENT: ("event", {"where"}),
    TriggerKind.FILES: ("files", {"ignore", "debounce"}),
    TriggerKind.CRON: ("cron", {"timezone"}),
    TriggerKind.EVERY: ("every", set()),
}


class TriggerSpec(_Model):
    """One trigger, validated (see the module docstring; docs/automation.md has examples)."""

    id: str = pydantic.Field(pattern=ID_PATTERN)
    description: str | None = None
    enabled: bool = True
    target: TriggerTarget
    event: str | None = None
    where: dict[str, Any] | None = None
    files: list[PathGlob] | None = pydantic.Field(default=None, min_length=1)
    ignore: list[PathGlob] = pydantic.Field(default_factory=list)
    debounce: Annotated[Duration, pydantic.Field(ge=0, le=MAX_INTERVAL_S)] = DEFAULT_DEBOUNCE_S
    cron: str | None = None
    timezone: str | None = None
    every: Annotated[Duration, pydantic.Field(ge=MIN_EVERY_S, le=MAX_INTERVAL_S)] | None = None
    catchup: Catchup = Catchup.LATEST
    max_catchup: int = pydantic.Field(default=DEFAULT_MAX_CATCHUP, ge=1, le=10_000)
    overlap: Overlap = Overlap.SKIP
    max_runs_per_hour: int | None = pydantic.Field(default=None, ge=1, le=1_000_000)
    grace: Annotated[Duration, pydantic.Field(ge=0, le=MAX_INTERVAL_S)] = DEFAULT_GRACE_S

    @pydantic.field_validator("event")
    @classmethod
    def _event_glob(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                event_glob_regex(pattern)
            except GlobError as exc:
                raise ValueError(str(exc)) from None
        return pattern

    @pydantic.field_validator("where")
    @classmethod
    def _where(cls, where: dict[str, Any] | None) -> dict[str, Any] | None:
        for path, message in where_problems(where or {}):
            raise ValueError(f"{'.'.join(path) or repr('')}: {message}")
        return where

    @pydantic.field_validator("cron", mode="before")
    @classmethod
    def _cron_alias(cls, expr: object) -> object:
        if isinstance(expr, str) and expr.strip().lower() in CRON_ALIASES:
            return CRON_ALIASES[expr.strip().lower()]
        return expr

    @pydantic.field_validator("cron")
    @classmethod
    def _cron(cls, expr: str | None) -> str | None:
        if expr is not None:
            try:
                CronSim(expr, datetime.now(UTC))
            except CronSimError as exc:
                raise ValueError(f"invalid cron expression {expr!r}: {exc}") from None
        return expr

    @pydantic.field_validator("timezone")
    @classmethod
    def _timezone(cls, name: str | None) -> str | None:
        if name is not None:
            check_timezone(name)
        return name

    @pydantic.model_validator(mode="after")
    def _one_source(self) -> TriggerSpec:
        given = [kind for kind, (key, _) in _SOURCE_KEYS.items() if getattr(self, key) is not None]
        if len(given) != 1:
            found = f" (found {', '.join(given)})" if given else ""
            raise ValueError(f"a trigger needs exactly one of event, files, cron, every{found}")
        for kind, (key, extras) in _SOURCE_KEYS.items():
            for extra in sorted(extras & self.model_fields_set):
                if kind != given[0]:
                    raise ValueError(f"{extra!r} goes with {key!r}, not {given[0].value!r}")
        return self

    @property
    def kind(self) -> TriggerKind:
        """``event``, ``files``, ``cron`` or ``every``."""
        for kind, (key, _) in _SOURCE_KEYS.items():
            if getattr(self, key) is not None:
                return kind
        raise AssertionError("validated: exactly one source")  # pragma: no cover

    @property
    def catchup_limit(self) -> int:
        """Missed fires launched at most: ``max_catchup``, or 1 for a tool target when
        ``max_catchup`` was not set (AI agents cost money)."""
        return TOOL_MAX_CATCHUP if self.catchup_capped else self.max_catchup

    @property
    def catchup_capped(self) -> bool:
        """True when the tool-target cap replaced the default ``max_catchup``."""
        return self.target.tool and "max_catchup" not in self.model_fields_set


def check_timezone(name: str) -> None:
    """Raise ValueError (with a suggestion) unless ``name`` is a zone of the system tzdata."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        close = difflib.get_close_matches(name, sorted(zoneinfo.available_timezones()), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else " (an IANA name: Europe/Berlin, UTC)"
        raise ValueError(f"unknown time zone {name!r}{hint}") from None


class TriggerConfigError(ConfigError):
    """Trigger configuration is invalid: ``problems`` lists each (file, key path, message);
    ``source``/``key``/``problem`` are the first one's. ``str()`` is one line per problem."""

    def __init__(self, problems: Collection[Problem]) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        super().__init__(first.file, first.path, first.message)
        self.args = ("\n".join(str(p) for p in self.problems),)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


@dataclass(frozen=True, slots=True)
class Triggers:
    """The project's triggers, by id (sorted), with where each was defined.

    ``sources[id]`` is ``FILE: KEY`` (``uet.toml: triggers.nightly``,
    ``config/triggers.yaml: triggers.deploy``), for messages and ``uet triggers list``.
    """

    by_id: Mapping[str, TriggerSpec] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[TriggerSpec]:
        return iter(self.by_id.values())

    def __len__(self) -> int:
        return len(self.by_id)

    def __contains__(self, trigger_id: object) -> bool:
        return trigger_id in self.by_id

    def __getitem__(self, trigger_id: str) -> TriggerSpec:
        return self.by_id[trigger_id]

    def of_kind(self, kind: TriggerKind) -> list[TriggerSpec]:
        """The triggers of one kind, by id."""
        return [spec for spec in self if spec.kind == kind]


def load_triggers(
    settings: Settings,
    *,
    root: Path | None = None,
    script_names: Collection[str] | None = None,
) -> Triggers:
    """Every trigger of the project: ``[triggers.ID]`` of the config file (``uet.toml`` or
    ``[tool.uet.triggers]``), then ``config/triggers.yaml``; the same schema in both.

    ``root`` is the project root (default ``settings.root``); target workstream files are
    relative to it, must exist and load. ``script_names`` are the script registry's names:
    a ``script`` target not among them is an error (unchecked when None). Raises
    :class:`TriggerConfigError` (exit 2) with every problem found; nothing is half-loaded.
    """
    from uet.spec._trigger_loader import load  # noqa: PLC0415 - it imports these models

    return load(settings, root=root or settings.root, script_names=script_names)
