"""The originals' tool-profile files load as they are: invoke.yaml's tools:, the pipeline's
config/tool_profiles.json and MINI_PIPE's profiles{…}, placeholders mapped onto uet's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.routing.originals import corpus_file, manifest
from tests.tools.conftest import Uet
from uet.config import load_settings
from uet.errors import ConfigError
from uet.spec.tools import check_tools, load_tools, render_argv

# corpus file -> where the originals kept it in a project
TOOL_PROFILE_FILES = {
    "pipe0-tool_profiles.json": "config/tool_profiles.json",
    "mini-tool_profiles.json": "config/tool_profiles.json",
    "pipe0-invoke.yaml": "invoke.yaml",
    "mini-invoke.yaml": "invoke.yaml",
}


def _project_with(tmp_path: Path, name: str, where: str) -> Path:
    target = tmp_path / where
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(corpus_file(name), target)
    return tmp_path


def _their_tools(name: str) -> set[str]:
    """The tool names the originals' loader reads from the file."""
    path = corpus_file(name)
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return set(data.get("profiles", data))
    return set(yaml.safe_load(path.read_text(encoding="utf-8"))["tools"])


def test_the_list_of_tool_profile_files_follows_the_corpus_manifest() -> None:
    listed = manifest("tool profiles")
    if not listed:
        corpus_file("MANIFEST.tsv")  # skips, or fails on CI
    assert sorted(listed) == sorted(TOOL_PROFILE_FILES)


@pytest.mark.parametrize("name", sorted(TOOL_PROFILE_FILES))
@pytest.mark.parametrize("at", ["originals' place", "config/tools.yaml"])
def test_every_tool_profile_file_of_the_corpus_loads_every_tool(
    name: str, at: str, tmp_path: Path
) -> None:
    """Where the originals kept it, or as uet's config/tools.yaml: every tool is a profile."""
    where = TOOL_PROFILE_FILES[name] if at == "originals' place" else "config/tools.yaml"
    root = _project_with(tmp_path, name, where)
    tools = load_tools(load_settings(cwd=root, env={}), include_disabled=True)
    assert _their_tools(name) <= set(tools)
    assert tools["aider"].overrides == "built-in aider"
    assert tools["aider"].prompt_via == "file"  # the prompt still reaches aider


def test_mini_profiles_map_every_key(tmp_path: Path) -> None:
    root = _project_with(tmp_path, "mini-tool_profiles.json", "config/tool_profiles.json")
    tools = load_tools(load_settings(cwd=root, env={}), include_disabled=True)
    aider = tools["aider"]
    assert aider.argv == [
        "aider", "--no-auto-commits", "--yes", "--model={model}", "--message-file", "{prompt_file}"
    ]  # fmt: skip
    assert aider.env == {"AIDER_NO_AUTO_COMMITS": "1"}
    assert aider.timeout == 1800
    assert aider.check.min_version == "0.30.0"
    assert aider.exit_codes[-2] == "Binary not found"
    assert aider.capabilities == ["code_edit", "refactor", "test_fix", "docs"]  # the built-in's
    pytest_ = tools["pytest"]
    assert pytest_.argv == ["pytest", "-v", "--tb=short", "{files}"]  # {test_paths}
    assert pytest_.check.min_version == "7.0.0"
    assert render_argv(pytest_, files=["tests/a.py", "tests/b.py"])[-2:] == [
        "tests/a.py",
        "tests/b.py",
    ]
    assert tools["ruff"].argv == ["ruff", "check", "{files}"]  # {file_paths}


def test_a_placeholder_uet_cannot_fill_disables_the_profile_and_says_why(tmp_path: Path) -> None:
    root = _project_with(tmp_path, "mini-tool_profiles.json", "config/tool_profiles.json")
    settings = load_settings(cwd=root, env={})
    git = load_tools(settings, include_disabled=True)["git"]
    assert not git.enabled
    assert "{git_subcommand}" in git.notes[0]
    assert "git" not in load_tools(settings)  # never routed to, never run
    [status] = check_tools([git])
    assert status.problem is not None
    assert "{git_subcommand}" in status.problem  # uet tools check says why, too


def test_model_name_and_message_map_onto_model_and_prompt(tmp_path: Path) -> None:
    root = _project_with(tmp_path, "pipe0-tool_profiles.json", "config/tool_profiles.json")
    tools = load_tools(load_settings(cwd=root, env={}), include_disabled=True)
    aider = tools["aider"]
    assert "--model={model}" in aider.argv
    assert render_argv(aider, prompt_file="/p.txt", model="m1")[-3:] == [
        "--model=m1",
        "--message-file",
        "/p.txt",
    ]
    assert "--model={model}" not in render_argv(aider, prompt_file="/p.txt")  # no model: gone
    assert render_argv(tools["echo"], prompt="hello") == ["echo", "hello"]  # {message}
    assert tools["pytest"].success_codes == [0, 5]
    assert tools["sleep-test"].timeout == 2


def test_invoke_aider_keeps_the_builtin_prompt_delivery_and_its_own_model(tmp_path: Path) -> None:
    """The finding: an aider entry carried over replaced the built-in and dropped the model."""
    root = _project_with(tmp_path, "pipe0-invoke.yaml", "invoke.yaml")
    aider = load_tools(load_settings(cwd=root, env={}))["aider"]
    assert aider.model == "ollama/qwen2.5-coder:32b"
    argv = render_argv(aider, prompt_file="/p.txt")
    assert argv[:3] == ["aider", "--no-auto-commits", "--yes"]
    assert "--model=ollama/qwen2.5-coder:32b" in argv
    assert argv[-2:] == ["--message-file", "/p.txt"]
    assert aider.env["OLLAMA_API_BASE"] == "http://127.0.0.1:11434"
    assert aider.max_parallel == 3  # the built-in's limits and patterns are kept
    assert aider.rate_limit_patterns


def test_mini_invoke_flags_are_split_into_words(tmp_path: Path) -> None:
    root = _project_with(tmp_path, "mini-invoke.yaml", "invoke.yaml")
    tools = load_tools(load_settings(cwd=root, env={}))
    assert tools["pytest"].argv == ["pytest", "-q", "-n", "auto"]
    assert tools["sphinx"].argv == ["sphinx-build", "-W", "-b", "html"]
    assert tools["mkdocs"].argv == ["mkdocs"]
    shell = tools["shell"]
    assert shell.argv == ["sh", "-c", "{prompt}"]
    assert shell.overrides == "built-in shell"


def test_uet_tools_list_reports_the_override(uet: Uet, project: Path) -> None:
    shutil.copy(corpus_file("pipe0-invoke.yaml"), project / "invoke.yaml")
    result = uet("tools", "list")
    assert result.code == 0, result.err
    [line] = [line for line in result.out.splitlines() if line.startswith("aider ")]
    assert "overrides built-in aider" in line
    assert "aider: keeps the built-in's prompt delivery: --message-file {prompt_file}" in result.out
    listed = {p["name"]: p for p in json.loads(uet("tools", "list", "--json").out)}
    assert listed["aider"]["overrides"] == "built-in aider"
    assert listed["claude"]["overrides"] is None


def test_a_native_argv_for_a_builtin_keeps_its_prompt_delivery_unless_prompt_via_is_set(
    tmp_path: Path,
) -> None:
    (tmp_path / "uet.toml").write_text(
        '[tools.claude]\nargv = ["claude", "--verbose"]\n'
        '[tools.codex]\nargv = ["codex", "exec"]\nprompt_via = "stdin"\n',
        encoding="utf-8",
    )
    tools = load_tools(load_settings(cwd=tmp_path, env={}))
    assert tools["claude"].argv == ["claude", "--verbose", "--model={model}", "-p", "{prompt}"]
    assert tools["claude"].overrides == "built-in claude"
    assert tools["codex"].prompt_via == "stdin"  # the user said so
    assert tools["codex"].argv == ["codex", "exec", "--model={model}"]


def test_changing_a_key_of_a_builtin_is_not_an_override(tmp_path: Path) -> None:
    (tmp_path / "uet.toml").write_text("[tools.aider]\nmax_parallel = 1\n", encoding="utf-8")
    aider = load_tools(load_settings(cwd=tmp_path, env={}))["aider"]
    assert aider.overrides is None
    assert aider.source == "built-in + uet.toml"


@pytest.mark.parametrize(
    ("entry", "key", "problem"),
    [
        ({"command": "x", "args": "-q"}, "tools.x.args", "expected a list of strings"),
        ({"command": 3}, "tools.x.command", "expected a string"),
        ({"command": "x", "timeout": "ten"}, "tools.x.timeout", "number of seconds"),
        ({"command": "x", "success_exit_codes": [0, "5"]}, "tools.x.success_exit_codes", "exit"),
        (
            {"command_template": ["x"], "requirements": {"min_version": "v1"}},
            "tools.x.requirements.min_version",
            "not a version",
        ),
        (
            {"command_template": ["x"], "exit_codes": {"ok": "fine"}},
            "tools.x.exit_codes.ok",
            "whole number",
        ),
    ],
)
def test_a_bad_original_entry_names_the_file_and_key(
    entry: dict[str, object], key: str, problem: str, tmp_path: Path
) -> None:
    (tmp_path / "invoke.yaml").write_text(json.dumps({"tools": {"x": entry}}), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_tools(load_settings(cwd=tmp_path, env={}))
    assert caught.value.source == str(tmp_path / "invoke.yaml")
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_a_builtin_argv_that_is_not_a_list_is_an_error_not_a_list_of_letters(
    tmp_path: Path,
) -> None:
    (tmp_path / "uet.toml").write_text('[tools.aider]\nargv = "aider --yes"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_tools(load_settings(cwd=tmp_path, env={}))
    assert caught.value.key == "tools.aider.argv"


def test_the_originals_placeholder_names_work_in_uet_profiles_too(tmp_path: Path) -> None:
    """{model_name}, {message}, {file_paths}, {test_paths} were "unknown placeholder"s."""
    (tmp_path / "uet.toml").write_text(
        '[tools.mine]\nargv = ["mine", "--model={model_name}", "--say={message}", '
        '"{file_paths}", "{test_paths}", "--cwd={repo_root}", "{{literal}}"]\n',
        encoding="utf-8",
    )
    mine = load_tools(load_settings(cwd=tmp_path, env={}))["mine"]
    assert mine.argv == [
        "mine", "--model={model}", "--say={prompt}", "{files}", "{files}", "--cwd={workdir}",
        "{{literal}}",
    ]  # fmt: skip
    assert mine.prompt_via == "arg"
    argv = render_argv(mine, prompt="hi", files=["a.py"], workdir="/w", model="m")
    assert argv == ["mine", "--model=m", "--say=hi", "a.py", "a.py", "--cwd=/w", "{literal}"]
