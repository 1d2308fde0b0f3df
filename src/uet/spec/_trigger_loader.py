"""Reading triggers from ``uet.toml`` and ``config/triggers.yaml`` (see uet.spec.triggers)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from uet.config import Settings
from uet.spec.triggers import Triggers


def load(settings: Settings, *, root: Path, script_names: Collection[str] | None) -> Triggers:
    raise NotImplementedError
