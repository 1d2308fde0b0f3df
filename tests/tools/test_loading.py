"""Loading profiles: built-ins < uet.toml (or [tool.uet]) < config/tools.yaml, with real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from uet.config import load_settings
from uet.errors import ConfigError
from uet.spec.tools import BUILTIN_TOOLS, load_tools


def _load(root: Path, *, include_disabled: bool = False) -> dict[str, object]:
    return dict(load_tools(load_settings(cwd=root, env={}), include_disabled=include_disabled))


def _write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_without_configuration_the_builtins_are_loaded(tmp_path: Path) -> None:
    """An empty project has exactly the built-in profiles, marked as such."""
    tools = load_tools(load_settings(cwd=tmp_path, env={}))
    assert list(tools) == sorted(BUILTIN_TOOLS)
    assert {p.source for p in tools.values()} == {"built-in"}


def test_layers_apply_in_order_builtin_then_toml_then_yaml(tmp_path: Path) -> None:
    """uet.toml changes a built-in key by key; config/tools.yaml wins over uet.toml."""
    _write(
        tmp_path,
        "uet.toml",
        '[tools.aider]\nmax_parallel = 1\ntimeout = 60\nenv = {A = "1"}\n'
        '[tools.mine]\nargv = ["mine", "{prompt}"]\ncapabilities = ["docs"]\n',
    )
    _write(
        tmp_path,
        "config/tools.yaml",
        "aider:\n  timeout: 90\n  env: {B: '2'}\n  check: {min_version: '0.80'}\n"
        "other:\n  argv: [other, '{prompt_file}']\n",
    )
    tools = load_tools(load_settings(cwd=tmp_path, env={}))
    aider = tools["aider"]
    assert aider.max_parallel == 1  # uet.toml
    assert aider.timeout == 90  # config/tools.yaml wins
    assert aider.env == {"A": "1", "B": "2"}  # mappings merge
    assert aider.check.min_version == "0.80"
    assert aider.check.version_args == ["--version"]  # the rest of check kept
    assert aider.argv == BUILTIN_TOOLS["aider"].argv
    assert aider.source == "built-in + uet.toml + config/tools.yaml"
    assert tools["mine"].source == "uet.toml"
    assert tools["other"].source == "config/tools.yaml"
    assert tools["other"].prompt_via == "file"
    assert list(tools) == sorted(tools)


def test_pyproject_tool_uet_tools_is_read(tmp_path: Path) -> None:
    """[tool.uet.tools] in pyproject.toml is the same section; errors name its key path."""
    _write(tmp_path, "pyproject.toml", "[tool.uet.tools.shell]\ntimeout = 5\n")
    assert load_tools(load_settings(cwd=tmp_path, env={}))["shell"].timeout == 5
    _write(tmp_path, "pyproject.toml", "[tool.uet.tools.shell]\ntimeout = 0\n")
    with pytest.raises(ConfigError) as caught:
        load_tools(load_settings(cwd=tmp_path, env={}))
    assert caught.value.key == "tool.uet.tools.shell.timeout"


def test_disabled_tools_are_left_out_unless_asked_for(tmp_path: Path) -> None:
    """enabled = false hides a tool from load_tools; include_disabled shows it."""
    _write(tmp_path, "uet.toml", "[tools.gemini]\nenabled = false\n")
    assert "gemini" not in _load(tmp_path)
    assert "gemini" in _load(tmp_path, include_disabled=True)


def test_yaml_file_may_wrap_the_section_in_a_tools_key(tmp_path: Path) -> None:
    """config/tools.yaml holds the section's body, or the same under `tools:`."""
    _write(tmp_path, "config/tools.yaml", "tools:\n  shell:\n    max_parallel: 7\n")
    tools = load_tools(load_settings(cwd=tmp_path, env={}))
    assert tools["shell"].max_parallel == 7


@pytest.mark.parametrize(
    ("file", "text", "key", "problem"),
    [
        ("uet.toml", "[tools.aider]\nmax_parallel = 0\n", "tools.aider.max_parallel", "at least 1"),
        ("uet.toml", "[tools.aider]\ncolour = 1\n", "tools.aider.colour", "unknown key"),
        ("uet.toml", '[tools.x]\nargv = ["x", "{prmpt}"]\n', "tools.x.argv[1]", "{prmpt}"),
        ("uet.toml", "[tools.new]\ntimeout = 3\n", "tools.new.argv", "required key is missing"),
        ("uet.toml", "[tools.aider]\nsource = 'me'\n", "tools.aider.source", "set by uet"),
        ("uet.toml", "tools = 3\n", "tools", "expected a table"),
        ("uet.toml", "[tools]\naider = 3\n", "tools.aider", "expected a mapping"),
        (
            "config/tools.yaml",
            "claude:\n  quota_patterns: ['(']\n",
            "claude.quota_patterns[0]",
            "not a valid regular expression",
        ),
        ("config/tools.yaml", "- a\n- b\n", "", "expected a mapping"),
        ("config/tools.yaml", "aider: [\n", "", "not valid YAML"),
        ("config/tools.yaml", "Bad Name:\n  argv: [x]\n", "['Bad Name']", "not a valid tool name"),
        ("uet.toml", '[tools.auto]\nargv = ["x"]\n', "tools.auto", "reserved"),
    ],
)
def test_errors_name_the_file_the_key_path_and_the_problem(
    tmp_path: Path, file: str, text: str, key: str, problem: str
) -> None:
    """A bad entry raises ConfigError(source file, key path, problem)."""
    _write(tmp_path, file, text)
    with pytest.raises(ConfigError) as caught:
        load_tools(load_settings(cwd=tmp_path, env={}))
    assert caught.value.source == str(tmp_path / file)
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_an_empty_yaml_file_changes_nothing(tmp_path: Path) -> None:
    """A config/tools.yaml with nothing in it is no layer at all."""
    _write(tmp_path, "config/tools.yaml", "\n# nothing yet\n")
    assert load_tools(load_settings(cwd=tmp_path, env={}))["aider"].source == "built-in"
