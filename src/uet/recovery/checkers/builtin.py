"""The built-in checkers, by name."""

from __future__ import annotations

from uet.recovery.checkers.base import Checker
from uet.recovery.checkers.python import BanditChecker, MypyChecker, RuffChecker
from uet.recovery.checkers.tests import PytestChecker


def builtin_checkers() -> dict[str, Checker]:
    """ruff, mypy, bandit and pytest, by name."""
    found: list[Checker] = [RuffChecker(), MypyChecker(), BanditChecker(), PytestChecker()]
    return {checker.name: checker for checker in found}


BUILTIN = frozenset(builtin_checkers())
"""The names of the built-in checkers."""
