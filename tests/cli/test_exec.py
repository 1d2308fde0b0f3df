"""``uet exec``: a command as a recorded run, its exit code, its output byte for byte.

Every test runs ``python -m uet exec`` as a real process in a project folder of its own
(the passthrough writes uet's own file descriptors 1 and 2, which only a real process has).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from uet.defaults import NON_INTERACTIVE_ENV

MARKER = "UET_EXEC_TEST_MARKER"


def uet(project: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60):
    """``uet ARGS`` in ``project``: the finished process (stdout, stderr as bytes)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("UET_")}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "uet", *args],
        cwd=project,
        env=full,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def _json(proc: subprocess.CompletedProcess[bytes]) -> dict[str, object]:
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


# -- exit codes ------------------------------------------------------------------------------


def test_the_commands_own_exit_code_is_uets(project: Path) -> None:
    proc = uet(project, "exec", "--", "sh", "-c", "exit 7")
    assert proc.returncode == 7
    assert proc.stdout == b""
    assert proc.stderr == b""  # a plain exit status: uet adds nothing to the command's stderr


def test_a_command_killed_by_sigkill_exits_137(project: Path) -> None:
    proc = uet(project, "exec", "--", "sh", "-c", "kill -9 $$")
    assert proc.returncode == 128 + 9


def test_a_bad_flag_is_a_usage_error(project: Path) -> None:
    proc = uet(project, "exec", "--bogus", "--", "true")
    assert proc.returncode == 2
    assert b"No such option" in proc.stderr
    assert b"Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--env", "1X=2"], b"--env '1X=2'"),
        (["--retry-on", "("], b"retry_on"),
        (["--timeout", "0"], b"--timeout"),
        (["--cwd", "no/such/folder"], b"--cwd"),
    ],
)
def test_bad_values_exit_2_naming_the_option(project: Path, args: list[str], says: bytes) -> None:
    proc = uet(project, "exec", *args, "--", "true")
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr
    assert b"Traceback" not in proc.stderr
    assert not (project / ".uet" / "logs").exists()  # nothing ran


def test_a_missing_program_exits_127_and_says_so(project: Path) -> None:
    proc = uet(project, "exec", "--", "no-such-program-uet")
    assert proc.returncode == 127
    assert b"'no-such-program-uet' not found on PATH" in proc.stderr


def test_a_timeout_kills_the_command_and_exits_124(project: Path) -> None:
    proc = uet(project, "exec", "--json", "--timeout", "0.5", "--", "sleep", "30")
    assert proc.returncode == 124
    record = _json(proc)
    assert record["outcome"] == "timed_out"
    assert record["attempts"] == 1


# -- output ------------------------------------------------------------------------------------


def test_stdout_and_stderr_pass_through_byte_for_byte_and_are_logged(project: Path) -> None:
    """All 256 byte values without a trailing newline on stdout, other bytes on stderr:
    both arrive unchanged, each on its own stream, and the log holds both."""
    script = (
        "import os\n"
        "os.write(1, bytes(range(256)) * 40)\n"
        "os.write(2, b'\\xff\\xfe err \\x00 line\\n' * 100 + b'no newline')\n"
        "os.write(1, b'\\r\\n-- the end')\n"
    )
    proc = uet(project, "exec", "--", sys.executable, "-c", script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == bytes(range(256)) * 40 + b"\r\n-- the end"
    assert proc.stderr == b"\xff\xfe err \x00 line\n" * 100 + b"no newline"
    (log,) = (project / ".uet" / "logs").glob("*/exec/*.log")
    logged = log.read_bytes()
    assert bytes(range(256)) in logged
    assert b"no newline" in logged


def test_json_prints_the_run_record_instead_of_the_output(project: Path) -> None:
    proc = uet(project, "exec", "--json", "--name", "Say Hi", "--", "sh", "-c", "echo hi")
    assert proc.returncode == 0
    record = _json(proc)
    assert record["status"] == "succeeded"
    assert record["exit_code"] == 0
    assert record["attempts"] == 1
    assert record["task_id"] == "exec/say-hi"
    assert Path(str(record["log_path"])).read_text() == "hi\n"
    assert isinstance(record["duration"], float)


def test_status_logs_and_events_work_on_an_exec_run(project: Path) -> None:
    record = _json(uet(project, "exec", "--json", "--", "sh", "-c", "echo logged; exit 3"))
    run_id = str(record["run_id"])
    status = uet(project, "status", run_id)
    assert status.returncode == 0
    assert b"exited 3" in status.stdout
    logs = uet(project, "logs", run_id, "sh")
    assert logs.stdout == b"logged\n"
    events = uet(project, "events", run_id, "--json")
    types = [json.loads(line)["type"] for line in events.stdout.splitlines()]
    assert types[0] == "run.created"
    assert "task.failed" in types
    assert types[-1] == "run.failed"


def test_dry_run_prints_argv_cwd_and_environment_and_runs_nothing(project: Path) -> None:
    proc = uet(project, "exec", "--dry-run", "--json", "--env", "STAGE=dev x", "--",
               "touch", "made")  # fmt: skip
    assert proc.returncode == 0
    shown = _json(proc)
    assert shown["argv"] == ["touch", "made"]
    assert shown["cwd"] == str(project)
    env = shown["env"]
    assert isinstance(env, dict)
    assert env["STAGE"] == "dev x"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert not (project / "made").exists()
    assert not (project / ".uet").exists()
    text = uet(project, "exec", "--dry-run", "--", "touch", "it's")
    assert b"argv: touch 'it'\"'\"'s'" in text.stdout


# -- retries ------------------------------------------------------------------------------


def _counting(project: Path, code: int, output: str = "") -> list[str]:
    """A command that counts its runs in a file and fails with ``code``."""
    counter = project / "count"
    return ["sh", "-c", f"echo x >> {counter}; printf '{output}'; exit {code}"]


def test_retries_retry_every_failure_without_retry_on(project: Path) -> None:
    proc = uet(project, "exec", "--json", "--retries", "2", "--", *_counting(project, 5))
    assert proc.returncode == 5
    assert _json(proc)["attempts"] == 3
    assert (project / "count").read_text().count("x") == 3


def test_retry_on_codes_retries_only_those_codes(project: Path) -> None:
    proc = uet(project, "exec", "--json", "--retries", "3", "--retry-on", "1,75", "--",
               *_counting(project, 5))  # fmt: skip
    assert proc.returncode == 5
    assert _json(proc)["attempts"] == 1
    (project / "count").unlink()
    proc = uet(project, "exec", "--json", "--retries", "1", "--retry-on", "1,75", "--",
               *_counting(project, 75))  # fmt: skip
    assert _json(proc)["attempts"] == 2


def test_retry_on_a_regex_is_searched_in_the_output(project: Path) -> None:
    flaky = _counting(project, 1, "Connection reset by peer")
    retry_on = "Connection (reset|refused)"
    proc = uet(project, "exec", "--json", "--retries", "1", "--retry-on", retry_on, "--", *flaky)
    assert _json(proc)["attempts"] == 2
    (project / "count").unlink()
    other = _counting(project, 1, "syntax error")
    proc = uet(project, "exec", "--json", "--retries", "1", "--retry-on", "Connection reset",
               "--", *other)  # fmt: skip
    assert _json(proc)["attempts"] == 1


# -- the environment ------------------------------------------------------------------------


def test_the_command_gets_the_non_interactive_environment_and_no_terminal(project: Path) -> None:
    script = (
        "import json, os\n"
        "try:\n"
        "    os.open('/dev/tty', os.O_RDWR)\n"
        "    tty = 'opened'\n"
        "except OSError as exc:\n"
        "    tty = exc.strerror\n"
        "print(json.dumps({'env': dict(os.environ), 'tty': tty, 'sid': os.getsid(0),"
        " 'pid': os.getpid(), 'pgid': os.getpgid(0)}))\n"
    )
    proc = uet(project, "exec", "--env", "TERM=xterm", "--", sys.executable, "-c", script)
    seen = json.loads(proc.stdout)
    for key, value in NON_INTERACTIVE_ENV.items():
        if key != "TERM":
            assert seen["env"][key] == value, key
    assert seen["env"]["TERM"] == "xterm"  # --env wins over the non-interactive defaults
    assert seen["tty"] == "No such device or address"
    assert seen["sid"] == seen["pid"] == seen["pgid"]  # a session (and group) of its own


# -- stopping ------------------------------------------------------------------------------


def _with_marker(token: str) -> list[int]:
    """Live processes whose environment carries ``MARKER=token`` (read from /proc)."""
    found = []
    wanted = f"{MARKER}={token}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as file:
                environ = file.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as file:
                state = file.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if wanted in environ and state not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def _wait_gone(token: str, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := _with_marker(token)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


@pytest.mark.slow
def test_a_timeout_leaves_no_double_forked_setsid_or_nohup_survivor(project: Path) -> None:
    """The script starts a double-forked sleep, a setsid one and a nohup one, then waits:
    at its timeout the group is killed, and what left the group (setsid, reparented to
    uet, a child subreaper) is stopped too: no survivor within the grace + 1 s."""
    token = str(os.getpid()) + "-timeout"
    script = (
        "(sleep 300 &)\n"
        "setsid sleep 300 &\n"
        "nohup sleep 300 >/dev/null 2>&1 &\n"
        "echo started\n"
        "sleep 300\n"
    )
    started = time.monotonic()
    proc = uet(project, "exec", "--timeout", "1", "--env", f"{MARKER}={token}", "--",
               "sh", "-c", script, timeout=30)  # fmt: skip
    assert proc.returncode == 124
    assert proc.stdout == b"started\n"
    grace = 5.0  # defaults.KILL_GRACE_S: sleep dies at SIGTERM, well within it
    assert _wait_gone(token, grace + 1.0) == []
    assert time.monotonic() - started < 30


@pytest.mark.slow
def test_sigint_stops_the_group_with_sigterm_then_sigkill_and_leaves_the_run_resumable(
    project: Path,
) -> None:
    """The command ignores SIGTERM: uet sends it, waits the grace, then SIGKILL; the run is
    interrupted (resumable) and uet exits 130."""
    token = str(os.getpid()) + "-sigint"
    ready = project / "ready"
    got_term = project / "got-term"
    script = f"trap 'touch {got_term}' TERM\ntouch {ready}\nwhile true; do sleep 0.1; done\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("UET_")}
    child = subprocess.Popen(
        [sys.executable, "-m", "uet", "exec", "--env", f"{MARKER}={token}", "--", "sh", "-c",
         script],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert time.monotonic() < deadline, "the command never started"
            assert child.poll() is None
            time.sleep(0.05)
        assert _with_marker(token)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130, err
    assert got_term.exists()  # SIGTERM came first
    assert _wait_gone(token, 1.0) == []  # then SIGKILL, before uet exited
    assert b"uet resume" in err
    runs = json.loads(uet(project, "runs", "--json").stdout)
    assert runs[0]["status"] == "interrupted"


def test_tty_and_json_do_not_go_together(project: Path) -> None:
    proc = uet(project, "exec", "--tty", "--json", "--", "true")
    assert proc.returncode == 2
    assert b"--tty" in proc.stderr


@pytest.mark.slow
def test_tty_gives_the_command_the_terminal_and_no_non_interactive_environment(
    project: Path,
) -> None:
    """Under a real pseudo-terminal: the command sees a terminal on stdin, uet's TERM, no
    CI flag, shares uet's session; it asks, the answer typed reaches it."""
    import pexpect  # noqa: PLC0415 - a dev dependency, for the tests that drive a terminal

    script = (
        "import os, sys\n"
        "print('tty', sys.stdin.isatty(), os.environ.get('TERM'), os.environ.get('CI'),"
        " os.getsid(0) == os.getpid())\n"
        "print('hello', input('Name: '))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("UET_") and k != "CI"}
    env["TERM"] = "xterm"
    child = pexpect.spawn(sys.executable, ["-m", "uet", "exec", "--tty", "--", sys.executable,
                                           "-c", script], cwd=str(project), env=env,
                          timeout=60)  # fmt: skip
    try:
        child.expect(r"tty True xterm None False")
        child.expect(r"Name: ")
        child.sendline("bob")
        child.expect(r"hello bob")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
