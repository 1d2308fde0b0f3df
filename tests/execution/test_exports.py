"""The public surface of uet.execution: complete, resolvable, and free of engine imports."""

from __future__ import annotations

import inspect
import subprocess
import sys

import uet.execution
from uet.execution import api


def test_every_exported_name_resolves() -> None:
    for name in uet.execution.__all__:
        assert getattr(uet.execution, name) is not None, name


def test_every_public_name_of_the_contract_is_exported() -> None:
    for name, value in vars(api).items():
        if name.startswith("_") or inspect.ismodule(value):
            continue
        if getattr(value, "__module__", api.__name__) == api.__name__ or name.isupper():
            assert name in uet.execution.__all__, f"api.{name} is public but not exported"


def test_execution_imports_only_core_modules() -> None:
    """DESIGN.md: execution may import the core (uet.errors/defaults/states/clock/backoff, and
    the masking of secrets in uet.contain.env), nothing above."""
    code = (
        "import sys, uet.execution; "
        "print(sorted(m for m in sys.modules if m.startswith('uet.') "
        "and not m.startswith('uet.execution')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    allowed = {"uet.errors", "uet.defaults", "uet.states", "uet.clock", "uet.backoff"}
    allowed |= {"uet.contain", "uet.contain.env"}
    assert set(eval(out.stdout)) <= allowed  # noqa: S307 - our own printed list literal
