"""The fake agent CLI, end to end: real subprocesses in a real working folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from uet.spec.tools import Outcome, check_tool, classify_output, render_argv
from uet.testing import (
    RATE_LIMIT_EXIT,
    fake_tool_profile,
    reset_script,
    script_calls,
    write_script,
)


def _run(argv: list[str], cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """The folder the agent works in (an agent's clone, for the fake agent's purposes)."""
    folder = tmp_path / "clone"
    folder.mkdir()
    return folder


def _invoke(
    script: Path, clone: Path, prompt: str = "do it", files: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run the fake agent once in ``clone``, as the runner would: argv from the profile."""
    profile = fake_tool_profile("fake", script)
    prompt_file = clone.parent / "prompt.txt"
    prompt_file.write_text(prompt, encoding="utf-8")
    argv = render_argv(profile, prompt_file=prompt_file, files=files, workdir=clone)
    return _run(argv, clone)


def test_writes_appends_and_deletes_files_in_its_working_folder(
    tmp_path: Path, clone: Path
) -> None:
    """Steps edit files relative to the cwd; placeholders in content are filled."""
    (clone / "old.txt").write_text("bye", encoding="utf-8")
    script = write_script(
        tmp_path / "agent.json",
        [
            {"action": "write", "path": "src/app/io.py", "content": "# {prompt} (call {call})\n"},
            {"action": "append", "path": "src/app/io.py", "content": "# files: {files}\n"},
            {"action": "delete", "path": "old.txt"},
            {"action": "print", "text": "done"},
            {"action": "print", "text": "a warning", "stream": "stderr"},
        ],
    )
    result = _invoke(script, clone, prompt="validate input", files=("src/app/io.py",))
    assert result.returncode == 0, result.stderr
    assert (clone / "src/app/io.py").read_text() == (
        "# validate input (call 1)\n# files: src/app/io.py\n"
    )
    assert not (clone / "old.txt").exists()
    assert result.stdout == "done\n"
    assert result.stderr == "a warning\n"
    assert not (clone / ".git").exists()


def test_calls_follow_the_sequence_succeed_succeed_rate_limit(tmp_path: Path, clone: Path) -> None:
    """The counter next to the script picks each call's steps; past the end, the last repeats."""
    script = write_script(
        tmp_path / "agent.json",
        calls=[
            [{"action": "write", "path": "one.txt", "content": "1"}],
            [{"action": "write", "path": "two.txt", "content": "2"}],
            [{"action": "rate_limit"}],
        ],
    )
    profile = fake_tool_profile("fake", script)
    results = [_invoke(script, clone, prompt=f"p{n}") for n in range(4)]
    assert [r.returncode for r in results] == [0, 0, RATE_LIMIT_EXIT, RATE_LIMIT_EXIT]
    assert (clone / "one.txt").exists()
    assert (clone / "two.txt").exists()
    assert [classify_output(profile, r.stdout + r.stderr) for r in results] == [
        None,
        None,
        Outcome.RATE_LIMITED,
        Outcome.RATE_LIMITED,
    ]
    calls = script_calls(script)
    assert [c["call"] for c in calls] == [1, 2, 3, 4]
    assert [c["prompt"] for c in calls] == ["p0", "p1", "p2", "p3"]
    assert calls[0]["cwd"] == str(clone)
    reset_script(script)
    assert _invoke(script, clone).returncode == 0  # call 1 again


def test_then_cycle_and_then_fail(tmp_path: Path, clone: Path) -> None:
    """`cycle` starts over after the last call; `fail` exits 1 past the end."""
    ok, bad = [{"action": "print", "text": "ok"}], [{"action": "fail", "exit_code": 4}]
    cycle = write_script(tmp_path / "cycle.json", calls=[ok, bad], then="cycle")
    assert [_invoke(cycle, clone).returncode for _ in range(4)] == [0, 4, 0, 4]
    once = write_script(tmp_path / "once.json", calls=[ok], then="fail")
    assert [_invoke(once, clone).returncode for _ in range(2)] == [0, 1]


def test_fail_quota_and_custom_messages(tmp_path: Path, clone: Path) -> None:
    """fail exits with its code; quota prints a message the profile classifies as quota."""
    fail = write_script(
        tmp_path / "f.json", [{"action": "fail", "exit_code": 9, "message": "boom"}]
    )
    result = _invoke(fail, clone)
    assert (result.returncode, result.stderr) == (9, "boom\n")
    quota = write_script(tmp_path / "q.json", [{"action": "quota"}])
    result = _invoke(quota, clone)
    assert result.returncode == RATE_LIMIT_EXIT
    assert classify_output(fake_tool_profile("fake", quota), result.stderr) is Outcome.QUOTA


def test_copy_replaces_the_named_file_from_an_answer_key(tmp_path: Path, clone: Path) -> None:
    """``copy`` with ``{files}`` in both paths: the file the agent is asked about, mended."""
    key = tmp_path / "key"
    (key / "src").mkdir(parents=True)
    (key / "src" / "a.py").write_bytes(b"fixed\n")
    (clone / "src").mkdir()
    (clone / "src" / "a.py").write_text("broken\n", encoding="utf-8")
    step = {"action": "copy", "from": f"{key}/{{files}}", "path": "{files}"}
    script = write_script(tmp_path / "agent.json", [step])
    assert _invoke(script, clone, files=("src/a.py",)).returncode == 0
    assert (clone / "src" / "a.py").read_text() == "fixed\n"


def test_edit_out_of_scope_is_just_a_write_elsewhere(tmp_path: Path, clone: Path) -> None:
    """Writing outside the task's scope is what a misbehaving agent does; the fake does it."""
    script = write_script(
        tmp_path / "agent.json",
        [
            {"action": "write", "path": "src/app/io.py", "content": "in scope"},
            {"action": "write", "path": "setup.cfg", "content": "out of scope"},
        ],
    )
    assert _invoke(script, clone, files=("src/app/io.py",)).returncode == 0
    assert (clone / "setup.cfg").read_text() == "out of scope"


@pytest.mark.parametrize("ignore_sigterm", [False, True])
def test_hang_is_killable(tmp_path: Path, clone: Path, ignore_sigterm: bool) -> None:
    """A hanging fake agent stops on SIGTERM, or only on SIGKILL when told to ignore SIGTERM."""
    script = write_script(
        tmp_path / "agent.json", [{"action": "hang", "ignore_sigterm": ignore_sigterm}]
    )
    argv = render_argv(fake_tool_profile("fake", script), prompt_file=os.devnull)
    process = subprocess.Popen(
        argv, cwd=clone, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith(b"fake agent: working")  # it is hanging
        os.killpg(process.pid, signal.SIGTERM)
        if ignore_sigterm:
            with pytest.raises(subprocess.TimeoutExpired):
                process.wait(timeout=0.5)
            os.killpg(process.pid, signal.SIGKILL)
        started = time.monotonic()
        code = process.wait(timeout=10)
        assert time.monotonic() - started < 5
        assert code == (-signal.SIGKILL if ignore_sigterm else -signal.SIGTERM)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_parallel_calls_are_counted_once_each(tmp_path: Path, clone: Path) -> None:
    """Concurrent invocations each get their own call number (the counter is locked)."""
    script = write_script(tmp_path / "agent.json", [{"action": "print", "text": "{call}"}])
    argv = render_argv(fake_tool_profile("fake", script), prompt_file=os.devnull)
    processes = [
        subprocess.Popen(argv, cwd=clone, stdout=subprocess.PIPE, text=True) for _ in range(6)
    ]
    outputs = [p.communicate(timeout=30)[0].strip() for p in processes]
    assert sorted(int(o) for o in outputs) == [1, 2, 3, 4, 5, 6]


def test_a_bad_script_exits_2_with_a_message(tmp_path: Path, clone: Path) -> None:
    """An unknown action is reported, not run."""
    script = tmp_path / "agent.json"
    script.write_text(json.dumps([{"action": "explode"}]), encoding="utf-8")
    result = _invoke(script, clone)
    assert result.returncode == 2
    assert "script[0]: a step needs an action among" in result.stderr


def test_the_prompt_can_be_an_argument(tmp_path: Path, clone: Path) -> None:
    """prompt_via="arg": --prompt=TEXT reaches the script's {prompt}."""
    script = write_script(tmp_path / "agent.json", [{"action": "print", "text": "<{prompt}>"}])
    profile = fake_tool_profile("fake", script, prompt_via="arg")
    assert profile.prompt_via == "arg"
    result = _run(render_argv(profile, prompt="--tricky {files}"), clone)
    assert result.stdout == "<--tricky {files}>\n"


def test_the_fake_profile_is_usable_and_reports_a_version(tmp_path: Path) -> None:
    """check_tool finds the Python running the fake agent and its version."""
    profile = fake_tool_profile("fake", write_script(tmp_path / "a.json", []))
    status = check_tool(profile)
    assert status.usable, status.problem
    assert status.binary_path == sys.executable or status.binary_path is not None
    assert status.version == "1.0.0"
    assert not check_tool(fake_tool_profile("fake", tmp_path / "a.json", min_version="2")).usable
