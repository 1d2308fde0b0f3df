"""The pure part of file triggers: which changed paths fire, and debounce grouping.

:class:`FileFilter` says whether a changed path fires a trigger: it must match one of the
trigger's ``files`` globs and none of its ``ignore`` globs, and it must not be one of uet's
own writes, which never fire (so a workstream cannot re-fire itself by running):

- uet's home (``.uet/**``: the state database, run logs, reports, agent clones, patches),
  wherever ``home`` points inside the project;
- the SQLite database and its ``-wal``, ``-shm``, ``-journal`` and ``.locks`` companions,
  and the backups folder, when they are inside the project;
- paths the daemon passes as ``own_paths``: outputs the target workstreams declare;
- ``.git/**``, ``__pycache__`` folders and editors' swap and backup files (``*.swp``,
  ``*~``, ``.#*``, vim's ``4913``).

:class:`Debouncer` groups changes into batches that end after ``debounce`` seconds without
a change (and after ``max_wait`` seconds at most, so a steady stream still fires);
:func:`debounce` is the same over a finished list. Times are plain seconds (a fake clock
in tests, ``time.monotonic()`` in the daemon).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from uet.config import Settings
from uet.spec._globs import GlobError, compile_path_glob
from uet.spec.triggers import TriggerSpec

ALWAYS_IGNORED = (".git/**", "**/__pycache__/**", "*.swp", "*.swx", "*~", ".#*", "4913")
"""Globs no file trigger fires on, besides uet's own writes."""
DB_COMPANIONS = ("", "-wal", "-shm", "-journal", ".locks", ".lock")
"""Suffixes of the files SQLite (and uet's lock files) keep beside a database."""
MAX_WAIT_FACTOR = 10
"""A batch fires at the latest this many debounce windows after its first change."""


def _rel(path: Path, root: Path) -> str | None:
    """``path`` relative to ``root`` with ``/``, or None when it is outside."""
    try:
        return Path(os.path.normpath(path)).relative_to(root).as_posix()
    except ValueError:
        return None


class FileFilter:
    """Whether a changed path fires ``spec`` (a ``files`` trigger).

    ``root`` is the project root; ``own_paths`` are globs or paths uet itself writes
    (a workstream's declared outputs; relative to the root, or absolute inside it);
    ``home``, ``db_path`` and ``backup_dir`` are uet's home (default ``root/.uet``), its
    SQLite database and backups (their writes never fire).
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
        self.root = Path(os.path.normpath(root))
        base = str(self.root)
        self._files = [compile_path_glob(p, base) for p in spec.files or ()]
        own = [*ALWAYS_IGNORED, *self._own_globs(home, db_path, backup_dir)]
        own_matchers = [compile_path_glob(p, base) for p in own]
        for path in own_paths:
            try:
                own_matchers.append(compile_path_glob(path, base))
                own_matchers.append(compile_path_glob(f"{path.rstrip('/')}/**", base))
            except GlobError:
                continue  # an output outside the project is never watched
        self._ignore = [compile_path_glob(p, base) for p in spec.ignore] + own_matchers

    @classmethod
    def for_settings(
        cls, spec: TriggerSpec, settings: Settings, own_paths: Iterable[str] = ()
    ) -> FileFilter:
        """The filter of ``spec`` in the project of ``settings``: its root, home, SQLite
        database (when the database is a SQLite file) and backups folder."""
        return cls(
            spec,
            settings.root,
            own_paths,
            home=settings.home,
            db_path=sqlite_path(settings.db),
            backup_dir=settings.backup_dir,
        )

    def _own_globs(
        self, home: Path | None, db_path: Path | None, backup_dir: Path | None
    ) -> list[str]:
        globs: list[str] = []
        home_rel = _rel(home if home is not None else self.root / ".uet", self.root)
        if home_rel not in (None, "", "."):
            globs.append(f"{_escaped(home_rel)}/**")
        if db_path is not None and (db := _rel(db_path, self.root)) not in (None, "", "."):
            globs.extend(_escaped(f"{db}{suffix}") for suffix in DB_COMPANIONS)
        if backup_dir is not None and (bak := _rel(backup_dir, self.root)) not in (None, "", "."):
            globs.append(f"{_escaped(bak)}/**")
        return [g if "/" in g else f"./{g}" for g in globs]  # anchored at the root

    def relative(self, path: str | Path) -> str | None:
        """``path`` relative to the root (``/``-separated), or None when outside it."""
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        rel = _rel(candidate, self.root)
        return None if rel in (None, "", ".") or rel.startswith("../") else rel

    def fires(self, path: str | Path) -> bool:
        """True when a change of ``path`` (absolute, or relative to the root) fires."""
        rel = self.relative(path)
        if rel is None:
            return False
        return _any(self._files, rel) and not _any(self._ignore, rel)

    def firing(self, paths: Iterable[str | Path]) -> list[str]:
        """The root-relative paths of ``paths`` that fire, sorted, each once."""
        found = {rel for p in paths if (rel := self.relative(p)) is not None}
        return sorted(rel for rel in found if self.fires(rel))


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL (None for other databases and memory)."""
    scheme, found, rest = url.partition(":///")
    if not found or scheme.split("+")[0] != "sqlite":
        return None
    path = rest.partition("?")[0]
    return None if not path or path == ":memory:" else Path(path)


def _any(matchers: list[Callable[[str], bool]], rel: str) -> bool:
    return any(match(rel) for match in matchers)


def _escaped(path: str) -> str:
    """A literal path as a glob: wildcard characters in a file name stand for themselves."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in path)


@dataclass(frozen=True, slots=True)
class Batch:
    """Changes grouped by the debounce window: first and last change time, paths sorted."""

    first: float
    last: float
    paths: tuple[str, ...]


@dataclass(slots=True)
class Debouncer:
    """Groups (time, path) changes into batches: a batch is ready once ``window`` seconds
    passed without a change, or ``max_wait`` seconds after its first change (default ten
    windows; a steady stream of changes still fires)."""

    window: float
    max_wait: float | None = None
    _first: float | None = None
    _last: float = 0.0
    _paths: set[str] = field(default_factory=set)

    def add(self, at: float, path: str) -> None:
        """Record a change of ``path`` at time ``at``."""
        if self._first is None:
            self._first = at
        self._last = max(self._last, at)
        self._paths.add(path)

    def deadline(self) -> float | None:
        """When the pending batch becomes ready (None: nothing pending)."""
        if self._first is None:
            return None
        limit = self.max_wait if self.max_wait is not None else self.window * MAX_WAIT_FACTOR
        return min(self._last + self.window, self._first + max(limit, self.window))

    def ready(self, now: float) -> Batch | None:
        """The pending batch if it is ready at ``now`` (it is then taken), else None."""
        deadline = self.deadline()
        if deadline is None or now < deadline or self._first is None:
            return None
        batch = Batch(self._first, self._last, tuple(sorted(self._paths)))
        self._first, self._last, self._paths = None, 0.0, set()
        return batch


def debounce(changes: Iterable[tuple[float, str]], window: float) -> list[Batch]:
    """Group (time, path) changes, in time order, into batches separated by more than
    ``window`` seconds of quiet (no ``max_wait``: the finished list is known)."""
    batches: list[Batch] = []
    first = last = 0.0
    paths: set[str] = set()
    for at, path in sorted(changes, key=lambda change: change[0]):
        if paths and at - last > window:
            batches.append(Batch(first, last, tuple(sorted(paths))))
            paths = set()
        if not paths:
            first = at
        last = at
        paths.add(path)
    if paths:
        batches.append(Batch(first, last, tuple(sorted(paths))))
    return batches
