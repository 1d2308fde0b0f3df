"""DESIGN.md's layering for triggers: the models are spec (core only), the pure core
imports nothing above spec (no store, no engine), and neither is loaded by `import uet.spec`."""

from __future__ import annotations

import subprocess
import sys

from tests.layers import CORE_MODULES


def imported_by(module: str) -> set[str]:
    code = f"import sys, {module}\nprint(sorted(m for m in sys.modules if m.startswith('uet.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(eval(out.stdout))  # noqa: S307 - our own subprocess's repr of a list


def test_trigger_models_import_only_core_and_spec() -> None:
    """uet.spec.triggers (and its loader's checks) stay in the spec layer."""
    found = imported_by("uet.spec.triggers, uet.spec._trigger_loader")
    assert {m for m in found if not m.startswith("uet.spec")} <= CORE_MODULES | {"uet"}


def test_the_pure_core_imports_no_store_or_engine() -> None:
    """globs, match, schedule, policy and files are pure: spec and core only."""
    modules = "uet.triggers.globs, uet.triggers.match, uet.triggers.schedule"
    found = imported_by(f"{modules}, uet.triggers.policy, uet.triggers.files")
    outside = {m for m in found if not m.startswith(("uet.spec", "uet.triggers"))}
    assert outside <= CORE_MODULES | {"uet"}


def test_import_uet_spec_does_not_load_triggers() -> None:
    """Commands that read workstreams do not pay for cronsim or the trigger models."""
    assert not {m for m in imported_by("uet.spec") if "trigger" in m}
