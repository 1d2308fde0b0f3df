"""`uet route` with rules: a tool that is not usable here is passed over, and said so."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.tools.conftest import FakeBinary, Uet, fake_binary, project, uet

__all__ = ["fake_binary", "project", "uet"]

RULES = (
    '[[routing.rules]]\nname = "edits"\nmatch = {kind = "code_edit"}\n'
    'tools = ["aider", "mine"]\n'
    '[tools.mine]\nargv = ["mine", "{prompt}"]\ncapabilities = ["code_edit"]\n'
)


@pytest.fixture
def no_aider(monkeypatch: pytest.MonkeyPatch) -> None:
    kept = [
        d for d in os.environ.get("PATH", "").split(os.pathsep) if not (Path(d) / "aider").exists()
    ]
    monkeypatch.setenv("PATH", os.pathsep.join(kept))


def test_route_passes_over_a_rule_tool_that_is_not_on_path(
    no_aider: None, uet: Uet, project: Path, fake_binary: FakeBinary
) -> None:
    """The finding: "uet route picks aider although uet tools check says aider is not on
    PATH"."""
    fake_binary("mine", 'echo "mine 2.0.1"')
    (project / "uet.toml").write_text(RULES, encoding="utf-8")
    result = uet("route", "--kind", "code_edit")
    assert result.code == 0, result.err
    assert result.out.startswith("mine: fixed: mine after aider: not available: ")
    assert "passed over aider: not available: 'aider' not found on PATH" in result.out
    shown = json.loads(uet("route", "--kind", "code_edit", "--json").out)
    assert (shown["tool"], shown["category"]) == ("mine", "fallback")
    assert shown["unavailable"] == {"aider": "'aider' not found on PATH"}


def test_route_says_a_version_too_old_and_exits_1_when_nothing_is_left(
    no_aider: None, uet: Uet, project: Path, fake_binary: FakeBinary
) -> None:
    fake_binary("mine", 'echo "mine 1.0"')
    (project / "uet.toml").write_text(RULES + 'check = {min_version = "2.0"}\n', encoding="utf-8")
    result = uet("route", "--kind", "code_edit")
    assert result.code == 1
    assert "passed over mine: not available: version 1.0 < 2.0" in result.out
