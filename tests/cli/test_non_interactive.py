"""Every task ``uet run`` starts is non-interactive: stdin at end-of-file, a session of its own
(no controlling terminal), ``NON_INTERACTIVE_ENV`` under the files' own ``env:``; a task
that waited for input is ``needs_input`` and never retried; ``retry_on`` picks which
failures are retried; ``interactive: true`` is refused when uet cannot use a terminal, and
gets the terminal when it can."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect
import pytest

from tests.cli.conftest import Uet
from uet.defaults import NON_INTERACTIVE_ENV

PROBE = (
    "import json, os, sys\n"
    "try:\n"
    "    os.open('/dev/tty', os.O_RDWR)\n"
    "    tty = 'opened'\n"
    "except OSError as exc:\n"
    "    tty = exc.strerror\n"
    "print(json.dumps({'env': dict(os.environ), 'tty': tty, 'sid': os.getsid(0),"
    " 'pid': os.getpid(), 'stdin': os.readlink('/proc/self/fd/0'),"
    " 'read': sys.stdin.read()}))\n"
)


def _workstream(project: Path, body: str, name: str = "ws.yaml") -> Path:
    path = project / name
    path.write_text(body, encoding="utf-8")
    return path


def _run_json(uet: Uet, *args: str) -> dict[str, object]:
    result = uet("run", *args, "--json")
    return json.loads(result.out)  # type: ignore[no-any-return]


def test_a_task_gets_the_non_interactive_environment_under_its_own_env(
    uet: Uet, project: Path
) -> None:
    (project / "probe.py").write_text(PROBE)
    _workstream(
        project,
        "id: ws\nenv: {PAGER: less}\ntasks:\n"
        f"  - id: probe\n    argv: [{sys.executable}, probe.py]\n    env: {{TERM: xterm}}\n",
    )
    report = _run_json(uet, "ws.yaml")
    assert report["status"] == "succeeded"
    seen = json.loads(uet("logs", str(report["run_id"]), "probe").out)
    for key, value in NON_INTERACTIVE_ENV.items():
        if key not in ("TERM", "PAGER"):
            assert seen["env"][key] == value, key
    assert seen["env"]["TERM"] == "xterm"  # the task's env wins
    assert seen["env"]["PAGER"] == "less"  # so does the workstream's
    assert seen["tty"] == "No such device or address"  # no controlling terminal
    assert seen["sid"] == seen["pid"]  # it leads a session of its own
    assert seen["stdin"].startswith("pipe:[")  # uet's probe: nobody writes to it, and
    assert seen["read"] == ""  # a read of it gets end-of-file, as from /dev/null


def test_a_prompting_task_is_needs_input_and_never_retried(uet: Uet, project: Path) -> None:
    counter = project / "count"
    _workstream(
        project,
        "id: ws\ntasks:\n  - id: ask\n    retries: 3\n    retry_delay: 0\n"
        f"    run: echo x >> {counter}; printf 'Continue? [y/N] '; read answer\n",
    )
    report = _run_json(uet, "ws.yaml")
    assert report["status"] == "failed"
    assert counter.read_text().count("x") == 1
    run_id = str(report["run_id"])
    status = uet("status", run_id)
    assert "needs input (yes-no: Continue? [y/N])" in status.out
    failed = [json.loads(line) for line in uet("events", run_id, "--type", "task.failed",
                                               "--json").out.splitlines()]  # fmt: skip
    (event,) = failed
    assert event["payload"]["outcome"] == "needs_input"
    assert event["payload"]["needs_input"] == "yes-no: Continue? [y/N]"
    rows = json.loads(uet("status", run_id, "--json").out)["tasks"]
    assert rows[0]["outcome"] == "needs_input"
    assert rows[0]["attempts"] == 1


def test_retry_on_exit_codes_and_regex_in_a_workstream(uet: Uet, project: Path) -> None:
    _workstream(
        project,
        "id: ws\ndefaults: {retries: 2, retry_delay: 0}\ntasks:\n"
        "  - id: other-code\n    run: echo x >> a; exit 5\n    retry_on: [1, 75]\n"
        "  - id: listed-code\n    run: echo x >> b; exit 75\n    retry_on: [75]\n"
        "  - id: by-output\n    run: echo x >> c; echo 'HTTP 503 from registry'; exit 1\n"
        "    retry_on: 'HTTP 50[23]'\n"
        "  - id: not-matching\n    run: echo x >> d; echo 'syntax error'; exit 1\n"
        "    retry_on: 'HTTP 50[23]'\n",
    )
    report = _run_json(uet, "ws.yaml")
    assert report["status"] == "failed"
    runs = {name: (project / name).read_text().count("x") for name in "abcd"}
    assert runs == {"a": 1, "b": 3, "c": 3, "d": 1}


@pytest.mark.parametrize(
    ("value", "says"),
    [("[0]", "exit codes are whole numbers 1 to 255"), ("'('", "not a valid regular expression")],
)
def test_a_bad_retry_on_names_file_key_and_problem(
    uet: Uet, project: Path, value: str, says: str
) -> None:
    _workstream(project, f"id: ws\ntasks:\n  - id: t\n    run: 'true'\n    retry_on: {value}\n")
    result = uet("validate", "ws.yaml")
    assert result.code == 2
    assert "ws.yaml: tasks[0].retry_on:" in result.err
    assert says in result.err


def test_an_interactive_task_is_refused_in_non_interactive_mode(
    uet: Uet, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    marker = project / "started"
    _workstream(
        project,
        f"id: ws\ntasks:\n  - id: first\n    run: touch {marker}\n"
        "  - id: login\n    run: ssh-keygen\n    interactive: true\n",
    )
    result = uet("run", "ws.yaml")
    assert result.code == 2
    assert "ws.yaml: tasks[1].interactive: task 'login' needs a terminal" in result.err
    assert "Traceback" not in result.err
    assert not marker.exists()  # nothing started
    assert uet("runs", "--json").out.strip() in ("", "[]")


@pytest.mark.slow
def test_an_interactive_task_gets_the_terminal_when_there_is_one(tmp_path: Path) -> None:
    """Under a real pseudo-terminal (no CI): the task sees a terminal on stdin, asks, gets
    the answer typed, and succeeds; no NON_INTERACTIVE_ENV reaches it."""
    project = tmp_path / "project"
    project.mkdir()
    script = (
        "import os, sys\n"
        "print('tty', sys.stdin.isatty(), 'ci', os.environ.get('CI'))\n"
        "name = input('Name: ')\n"
        "print('hello', name)\n"
    )
    (project / "ask.py").write_text(script)
    _workstream(
        project,
        f"id: ws\ntasks:\n  - id: ask\n    argv: [{sys.executable}, ask.py]\n"
        "    interactive: true\n",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("UET_") and k != "CI"}
    child = pexpect.spawn(sys.executable, ["-m", "uet", "run", "ws.yaml"], cwd=str(project),
                          env=env, timeout=60)  # fmt: skip
    try:
        child.expect(r"tty True ci None")
        child.expect(r"Name: ")
        child.sendline("bob")
        child.expect(r"hello bob")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
