"""Tool profiles share the workstreams' bounds (issue 9, finding 6): a timeout is finite and
at most 7 days, max_parallel at most 10,000, env names are exportable; each is a ConfigError
naming the file and key, never an OverflowError in the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from uet.config import load_settings
from uet.errors import ConfigError
from uet.spec.tools import load_tools


@pytest.mark.parametrize(
    ("toml", "key", "problem"),
    [
        ("timeout = inf", "tools.aider.timeout", "finite"),
        ("timeout = nan", "tools.aider.timeout", "finite"),
        ("timeout = 1e300", "tools.aider.timeout", "604800"),
        ("timeout = true", "tools.aider.timeout", "a boolean"),
        ("max_parallel = 99999999999", "tools.aider.max_parallel", "10000"),
        ("check = {timeout = inf}", "tools.aider.check.timeout", "finite"),
        ('env = {"A=B" = "1"}', "tools.aider.env", "environment variable"),
    ],
)
def test_tool_numbers_are_bounded(tmp_path: Path, toml: str, key: str, problem: str) -> None:
    (tmp_path / "uet.toml").write_text(f"[tools.aider]\n{toml}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_tools(load_settings(cwd=tmp_path, env={}))
    assert caught.value.key.startswith(key), caught.value
    assert problem in caught.value.problem
