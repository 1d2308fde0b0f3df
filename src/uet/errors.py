"""The errors uet raises on purpose, and the exit codes they map to.

Every error derives from :class:`UetError` and carries the exit code the command line
uses for it, so a caller catches one root and maps it deliberately::

    UetError                      exit
    ├── ConfigError                 2   a setting is wrong: names the source, the key, the problem
    ├── UsageError                  2   a command was asked something that cannot be (a revision…)
    ├── SpecError                   2   workstream files are wrong: every Problem of every file
    ├── StoreError                  3   the state database could not do what was asked
    │   ├── StorageFault            3   writes cannot go on (disk full, read-only, file gone…)
    │   ├── SchemaError             3   the database is not at the schema this uet expects
    │   └── BackupError             3   a backup, restore or prune could not be done
    │       └── InvalidBackupError  2   the file given is not a sound uet backup
    └── BusClosedError              3   an event was emitted on a closed bus

"The work failed" (exit 1) is never an exception: outcomes are values.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class ExitCode(enum.IntEnum):
    """Process exit codes of the ``uet`` command (SPEC.md)."""

    OK = 0
    FAILED = 1  # the work failed: a task, a check, a gate
    USAGE = 2  # bad input or usage; the message names what is wrong
    INFRA = 3  # infrastructure failure: database, git, executor
    INTERRUPTED = 130  # interrupted; state left resumable


class UetError(Exception):
    """Root of every error uet raises on purpose."""

    exit_code: ExitCode = ExitCode.INFRA


class ConfigError(UetError):
    """A setting has a bad value or an unknown name.

    ``source`` is where it came from (a file path, an environment variable, a flag),
    ``key`` the dotted key path, ``problem`` what is wrong with it.
    """

    exit_code = ExitCode.USAGE

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a workstream file.

    ``file`` is the file as the user named it, ``path`` the key path inside it
    (``tasks[2].depends_on[0]``; empty when the file as a whole is wrong), ``message``
    what is wrong, phrased so that the user knows what to change.
    """

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class SpecError(UetError):
    """Workstream files are invalid; ``problems`` lists every problem found, in file order.

    Loaders collect all problems before raising, so one ``uet validate`` shows them all;
    ``str()`` prints one ``FILE: KEY.PATH: message`` line per problem.
    """

    exit_code = ExitCode.USAGE

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def __reduce__(self) -> tuple[type[SpecError], tuple[list[Problem]]]:
        return (SpecError, (self.problems,))  # pickles whole (e.g. across a process pool)


class UsageError(UetError):
    """A request that cannot be satisfied as asked (an unknown revision, a bad argument)."""

    exit_code = ExitCode.USAGE


class StoreError(UetError):
    """The state database could not do what was asked.

    ``refused`` is True when the database rejected the values themselves (too long, out of
    range, a constraint): the same values will fail again, wherever they are sent.
    ``transient`` is True when the same write may pass if tried again (a lock, a dropped
    connection); False when it will not while nobody fixes something (a full disk, a
    read-only or corrupt database, a database file removed under uet).
    """

    def __init__(self, message: str, *, refused: bool = False, transient: bool = True) -> None:
        self.refused = refused
        self.transient = transient and not refused
        super().__init__(message)


class StorageFault(StoreError):
    """Writes to the state database cannot go on: a failure that will not pass by itself
    (disk full, read-only, I/O error, the file or its folder gone), or a transient one that
    lasted past ``store_fault_timeout``. What was committed before it stays resumable."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class SchemaError(StoreError):
    """The database schema is not the one this version of uet expects.

    ``current`` and ``expected`` are Alembic revision ids (``current`` is None for a
    database that has tables but no revision stamp).
    """

    def __init__(self, message: str, *, current: str | None, expected: str) -> None:
        self.current = current
        self.expected = expected
        super().__init__(message)


class BackupError(StoreError):
    """A backup, restore or prune could not be done."""


class InvalidBackupError(BackupError):
    """The file offered for restore is not a sound uet backup; nothing was replaced."""

    exit_code = ExitCode.USAGE

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}; nothing was replaced")


class BusClosedError(UetError):
    """``emit()`` was called after the event bus was closed."""
