"""The spec package's public surface: complete, and importable without the rest of uet."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import uet.spec
from tests.layers import CORE_MODULES


def test_every_name_in_all_resolves() -> None:
    for name in uet.spec.__all__:
        assert getattr(uet.spec, name) is not None, name


def test_public_names_of_the_spec_modules_are_exported() -> None:
    for module_name in ("uet.spec.models", "uet.spec.loader", "uet.spec.graph"):
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if name.startswith("_") or not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            if value.__module__ == module_name:
                assert name in uet.spec.__all__, f"{module_name}.{name} is not exported"


def test_spec_imports_only_core_modules() -> None:
    """DESIGN.md's layering: spec/ may import only uet's core modules."""
    code = (
        "import sys, uet.spec\n"
        "print(sorted(m for m in sys.modules if m.startswith('uet.') and "
        "not m.startswith('uet.spec')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    allowed = CORE_MODULES
    assert set(eval(out.stdout)) <= allowed  # noqa: S307 - our own subprocess's repr of a list
