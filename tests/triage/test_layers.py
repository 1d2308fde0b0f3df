"""DESIGN.md's layering for triage: it may import engine, isolation, state and the core,
never the CLI, triggers or recovery."""

from __future__ import annotations

import subprocess
import sys


def test_triage_imports_nothing_above_the_engine() -> None:
    code = "import sys, uet.triage\nprint(sorted(m for m in sys.modules if m.startswith('uet.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(eval(out.stdout))  # noqa: S307 - our own subprocess's repr of a list
    above = {m for m in loaded if m.split(".")[1] in ("cli", "triggers", "recovery", "web")}
    assert above == set()
    assert "uet.triage.session" in loaded


def test_the_public_surface_is_complete() -> None:
    """Every name in uet.triage.__all__ resolves, and every public class of the model and
    the report is exported."""
    import inspect  # noqa: PLC0415

    import uet.triage  # noqa: PLC0415
    from uet.triage import model, report  # noqa: PLC0415

    for name in uet.triage.__all__:
        assert getattr(uet.triage, name) is not None, name
    for module in (model, report):
        for name, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == module.__name__:
                assert name.startswith("_") or name in uet.triage.__all__, name
