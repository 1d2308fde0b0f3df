"""The pure part of file triggers: which changed paths fire, and debounce grouping.

:class:`FileFilter` says whether a changed path fires a trigger (its globs, its ignores,
and always uet's own writes); :class:`Debouncer` groups (time, path) changes into batches
that end after ``debounce`` seconds of quiet. The daemon wires watchfiles to both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from uet.spec.triggers import TriggerSpec


class FileFilter:
    """Whether a changed path fires ``spec`` (a ``files`` trigger).

    ``root`` is the project root; ``own_paths`` are globs or paths uet itself writes
    (a workstream's declared outputs); ``home``, ``db_path`` and ``backup_dir`` are uet's
    home, its SQLite database and backups (their writes never fire).
    """

    def __init__(
        self,
        spec: TriggerSpec,
        root: Path,
        own_paths: Iterable[str] = (),
        *,
        home: Path | None = None,
        db_path: Path | None = None,
        backup_dir: Path | None = None,
    ) -> None:
        raise NotImplementedError

    def fires(self, path: str | Path) -> bool:
        """True when a change of ``path`` (absolute, or relative to the root) fires."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Batch:
    """Changes grouped by the debounce window: first and last change time, paths sorted."""

    first: float
    last: float
    paths: tuple[str, ...]


def debounce(changes: Iterable[tuple[float, str]], window: float) -> list[Batch]:
    """Group (time, path) changes, in time order, into batches separated by more than
    ``window`` seconds of quiet."""
    raise NotImplementedError
