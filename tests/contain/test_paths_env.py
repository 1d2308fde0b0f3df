"""uet never follows a link out of .uet/ or a clone; the tool environment is an allow-list
and known secrets are masked."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from uet.contain.env import Masker, known_secrets, tool_environment
from uet.contain.paths import LinkOutError, inside, read_text, write_text
from uet.contain.sandbox import NPROC_HEADROOM, nproc_limit


def test_inside_refuses_a_folder_that_a_symlink_leads_out(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    (home / "logs").symlink_to(elsewhere)
    with pytest.raises(LinkOutError, match="outside"):
        inside(home, home / "logs" / "run")
    assert inside(home, home / "reports" / "x") == home / "reports" / "x"


def test_write_text_never_follows_a_planted_link_as_last_component(tmp_path: Path) -> None:
    home, victim = tmp_path / "home", tmp_path / "bashrc"
    home.mkdir()
    victim.write_text("mine\n", "utf-8")
    (home / "prompt.md").symlink_to(victim)
    with pytest.raises(LinkOutError):
        write_text(home, home / "prompt.md", "evil\n")
    assert victim.read_text("utf-8") == "mine\n"
    assert read_text(home, home / "prompt.md") is None  # reading does not follow it either


def test_uet_run_refuses_a_logs_folder_that_is_a_symlink_out(tmp_path: Path) -> None:
    """A symlink planted at .uet/logs cannot redirect the run's task logs (exit 2)."""
    project = tmp_path / "p"
    (project / ".uet").mkdir(parents=True)
    (project / "uet.toml").write_text("", "utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (project / ".uet" / "logs").symlink_to(outside)
    (project / "ws.yaml").write_text("id: w\ntasks:\n  - id: a\n    run: echo hi\n", "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "uet", "run", "ws.yaml"],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ},
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "never follows a link out" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert list(outside.iterdir()) == []


def test_the_tool_environment_is_an_allow_list() -> None:
    environ = {
        "PATH": "/bin",
        "HOME": "/home/u",
        "LC_ALL": "C",
        "AWS_SECRET_ACCESS_KEY": "aws-secret-1234",
        "SLACK_WEBHOOK": "https://hooks.slack.com/x",
        "UET_DB": "postgresql://u:dbpass123@h/db",
        "ANTHROPIC_API_KEY": "sk-ant-123456",
        "RANDOM": "x",
    }
    secrets = known_secrets(environ, {}, environ["UET_DB"])
    env, dropped = tool_environment(
        environ,
        passthrough=["ANTHROPIC_API_KEY"],
        profile_env={"A": "1"},
        task_env={"B": "2"},
        secrets=secrets,
    )
    assert env["PATH"] == "/bin"
    assert env["HOME"] == "/home/u"
    assert env["LC_ALL"] == "C"
    assert env["ANTHROPIC_API_KEY"] == "sk-ant-123456"  # declared by the profile
    assert env["A"] == "1"
    assert env["B"] == "2"
    assert env["NON_INTERACTIVE"] == "1"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    for name in ("AWS_SECRET_ACCESS_KEY", "SLACK_WEBHOOK", "RANDOM", "UET_DB"):
        assert name not in env
    assert dropped == ["UET_DB"]  # the allow-list's UET_* would have carried a password


def test_config_secrets_are_found_and_masked() -> None:
    sections = {
        "alerts": {"channels": {"ops": {"url": "json://hook.example/abc123"}}},
        "deploy": {"token": "deploy-token-99", "retries": 3},
    }
    secrets = known_secrets({}, sections)
    assert "json://hook.example/abc123" in secrets
    assert "deploy-token-99" in secrets
    mask = Masker(secrets)
    line = "posting to json://hook.example/abc123 with deploy-token-99\n"
    assert mask(line) == "posting to *** with ***\n"
    assert Masker([])("same") == "same"


def test_names_that_merely_contain_a_secret_word_are_not_secrets() -> None:
    environ = {"GIT_AUTHOR_NAME": "uet tests author", "MONKEY_PATCHES": "bananas-galore"}
    assert known_secrets(environ, {}) == []
    assert known_secrets({"GITHUB_TOKEN": "ghp_abcdef12"}, {}) == ["ghp_abcdef12"]


def test_the_process_cap_counts_the_users_processes_and_leaves_root_to_the_pid_namespace() -> None:
    assert nproc_limit(0) is None  # the kernel does not limit root
    mine = 0
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            mine += entry.name.isdigit() and entry.stat().st_uid == os.getuid()
    limit = nproc_limit(os.getuid() or 1, headroom=5)
    assert limit is not None
    assert limit >= 5
    if os.getuid():
        assert abs(limit - (mine + 5)) < 50  # processes come and go meanwhile
    assert NPROC_HEADROOM > 0
