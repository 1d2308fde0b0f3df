"""Trigger models and their loading (interim stand-in for the trigcore branch's module: the
daemon codes against its interface; this file is replaced by theirs on merge)."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic

from uet.config import Settings
from uet.errors import ConfigError
from uet.spec._read import read_data

TRIGGERS_FILE = Path("config") / "triggers.yaml"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class Catchup(enum.StrEnum):
    SKIP = "skip"
    LATEST = "latest"
    ALL = "all"


class Overlap(enum.StrEnum):
    SKIP = "skip"
    QUEUE = "queue"
    REPLACE = "replace"
    ALLOW = "allow"


def parse_duration(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"bad duration {value!r} (e.g. 30s, 5m, 1h30m)")
    return sum(float(n) * _UNITS[u] for n, u in parts)


class TriggerTarget(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    workstreams: list[str] | None = None
    script: str | None = None
    exec_: list[str] | None = pydantic.Field(default=None, alias="exec")
    vars: dict[str, str] = {}
    tool: bool = False


class TriggerSpec(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    id: str = pydantic.Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    description: str | None = None
    enabled: bool = True
    target: TriggerTarget
    event: str | None = None
    where: dict[str, Any] | None = None
    files: list[str] | None = None
    ignore: list[str] = []
    debounce: float = 0.5
    cron: str | None = None
    timezone: str | None = None
    every: float | None = None
    catchup: Catchup = Catchup.LATEST
    max_catchup: int = 5
    overlap: Overlap = Overlap.SKIP
    max_runs_per_hour: int | None = None
    grace: float = 10.0

    @pydantic.field_validator("every", "debounce", "grace", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return None if value is None else parse_duration(value)

    @property
    def kind(self) -> str:
        for name in ("event", "files", "cron", "every"):
            if getattr(self, name) is not None:
                return name
        return "event"


@dataclass(frozen=True)
class Triggers:
    items: tuple[TriggerSpec, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def by_id(self) -> dict[str, TriggerSpec]:
        return {t.id: t for t in self.items}

    def __iter__(self) -> Iterator[TriggerSpec]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def load_triggers(settings: Settings, *, root: Path | None = None) -> Triggers:
    root = root or settings.root
    entries: list[tuple[str, str, Any]] = []
    section = settings.sections.get("triggers")
    if isinstance(section, Mapping):
        file = str(settings.config_file)
        entries += [(file, key, value) for key, value in section.items()]
    path = root / TRIGGERS_FILE
    if path.is_file():
        data, problems = read_data(path)
        if problems and data is None:
            raise ConfigError(str(path), "triggers", problems[0].message)
        body = data.get("triggers", data) if isinstance(data, Mapping) else data
        if isinstance(body, Mapping):
            entries += [(str(path), key, value) for key, value in body.items()]
    items: list[TriggerSpec] = []
    sources: dict[str, str] = {}
    for file, key, value in entries:
        if key in sources:
            raise ConfigError(
                file, f"triggers.{key}", f"duplicate trigger id (also in {sources[key]})"
            )
        try:
            items.append(TriggerSpec.model_validate({"id": key, **dict(value)}))
        except (pydantic.ValidationError, TypeError, ValueError) as exc:
            raise ConfigError(file, f"triggers.{key}", str(exc).splitlines()[-1]) from None
        sources[key] = file
    return Triggers(tuple(items), sources)
