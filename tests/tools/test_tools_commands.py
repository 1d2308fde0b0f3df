"""`uet tools list|check`, run in-process in a project of their own."""

from __future__ import annotations

import json
from pathlib import Path

from tests.tools.conftest import FakeBinary, Uet


def test_list_shows_builtins_and_configured_tools_with_their_source(
    uet: Uet, project: Path
) -> None:
    """Every profile with capabilities, limit, binary and where it was defined."""
    (project / "uet.toml").write_text(
        "[tools.aider]\nmax_parallel = 1\n[tools.gemini]\nenabled = false\n"
        '[tools.mine]\nargv = ["mine", "{prompt}"]\ncapabilities = ["docs"]\n',
        encoding="utf-8",
    )
    result = uet("tools", "list")
    assert result.code == 0
    lines = {line.split()[0]: line for line in result.out.splitlines()}
    assert set(lines) == {"aider", "claude", "codex", "gemini", "mine", "shell"}
    assert "parallel 1" in lines["aider"]
    assert "built-in + uet.toml" in lines["aider"]
    assert "(disabled)" in lines["gemini"]
    assert lines["mine"].split()[1:3] == ["docs", "parallel"]


def test_list_json(uet: Uet) -> None:
    """--json: one object per profile, with the documented keys."""
    result = uet("tools", "list", "--json")
    assert result.code == 0
    tools = {t["name"]: t for t in json.loads(result.out)}
    assert tools["shell"]["binary"] == "sh"
    assert tools["aider"]["source"] == "built-in"
    assert {"capabilities", "max_parallel", "binary", "source", "enabled"} <= set(tools["claude"])


def test_check_exits_1_when_a_named_tool_is_unusable(
    uet: Uet, project: Path, fake_binary: FakeBinary
) -> None:
    """A named tool that is missing fails the check; a usable one passes."""
    fake_binary("mine", "echo mine 1.2.3")
    (project / "uet.toml").write_text(
        '[tools.mine]\nargv = ["mine", "{prompt}"]\n'
        '[tools.gone]\nargv = ["definitely-not-installed", "{prompt}"]\n',
        encoding="utf-8",
    )
    ok = uet("tools", "check", "mine")
    assert ok.code == 0
    assert ok.out.split()[:3] == ["mine", "usable", "1.2.3"]
    bad = uet("tools", "check", "mine", "gone")
    assert bad.code == 1
    assert "not found on PATH" in bad.out


def test_check_without_names_reports_all_and_exits_0(uet: Uet) -> None:
    """Checking everything is a report: exit 0 even when some tools are missing."""
    result = uet("tools", "check", "--json")
    assert result.code == 0
    statuses = {s["name"]: s for s in json.loads(result.out)}
    assert statuses["shell"]["usable"] is True
    assert set(statuses) == {"aider", "claude", "codex", "gemini", "shell"}


def test_check_of_an_unknown_tool_is_a_usage_error(uet: Uet) -> None:
    """Exit 2, naming the tool and the known ones."""
    result = uet("tools", "check", "aidr")
    assert result.code == 2
    assert "no tool 'aidr'" in result.err
    assert "aider" in result.err


def test_a_bad_tools_section_is_reported_with_its_key_path(uet: Uet, project: Path) -> None:
    """Exit 2 and `file: tools.NAME.KEY: problem`."""
    (project / "uet.toml").write_text("[tools.aider]\nmax_parallel = 0\n", encoding="utf-8")
    result = uet("tools", "list")
    assert result.code == 2
    assert "uet.toml: tools.aider.max_parallel: must be at least 1" in result.err
