"""Checkers: the built-in ones and the project's own (the ``checkers`` config section).

::

    checkers = load_checkers(settings)     # ruff, mypy, bandit, pytest + [checkers.NAME]

The section is ``[checkers.NAME]`` in uet.toml (``[tool.uet.checkers.NAME]`` in
pyproject.toml), then ``config/checkers.yaml`` (the same entries, at its top level or under
``checkers:``), the later winning key by key. For a built-in name only ``enabled``,
``files`` and ``timeout`` may be given (``[checkers.mypy] enabled = false``); any other name
is a generic command checker (:mod:`uet.recovery.checkers.command`) and needs ``argv``.
A bad entry is a :class:`~uet.errors.ConfigError` naming file, key and problem (exit 2).
"""

from __future__ import annotations

from pathlib import Path

from uet.config import Settings
from uet.recovery.checkers.base import Checker, CheckerFailed, Invocation
from uet.recovery.checkers.builtin import BUILTIN, builtin_checkers
from uet.recovery.checkers.command import CommandChecker

__all__ = [
    "BUILTIN",
    "CHECKERS_FILE",
    "SECTION",
    "Checker",
    "CheckerFailed",
    "CommandChecker",
    "Invocation",
    "builtin_checkers",
    "load_checkers",
]

SECTION = "checkers"
CHECKERS_FILE = Path("config") / "checkers.yaml"
"""The checkers section as a file of its own, relative to the project root."""


def load_checkers(settings: Settings) -> dict[str, Checker]:
    """The project's enabled checkers by name (sorted): the built-ins, changed or joined by
    the section's entries."""
    if settings.sections.get(SECTION) is None and not (settings.root / CHECKERS_FILE).is_file():
        return dict(sorted(builtin_checkers().items()))
    from uet.recovery.checkers.config import load_section  # noqa: PLC0415 - see its docstring

    return load_section(settings)
