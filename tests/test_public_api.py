"""The public surface: everything in uet.__all__ exists, and nothing public is left out."""

from __future__ import annotations

import importlib
import inspect

import uet


def test_every_name_in_all_resolves() -> None:
    """Each exported name can be fetched from the package (the imports are lazy)."""
    for name in uet.__all__:
        assert getattr(uet, name) is not None, name


def test_public_classes_of_core_modules_are_exported() -> None:
    """Records, states, errors and the main classes are reachable from `import uet`."""
    modules = ["uet.errors", "uet.states", "uet.state.records", "uet.clock", "uet.ids"]
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if name.startswith("_") or not inspect.isclass(value):
                continue
            if value.__module__ == module_name:
                assert name in uet.__all__, f"{module_name}.{name} is public but not exported"


def test_importing_uet_is_cheap() -> None:
    """`import uet` does not import SQLAlchemy until something asks for the store."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = "import sys, uet; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
