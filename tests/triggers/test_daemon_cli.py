"""`uet daemon`, `uet triggers list|fire` and `uet launch` as a user runs them: real
processes on a real SQLite file."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from uet.state import fires as ledger
from uet.states import RunStatus

from .helpers import kill9, run, start, store_of, wait_until, write_project

TOML = """
[triggers.tick]
every = "1s"
target = { exec = ["true"] }

[triggers.on-deploy]
event = "deploy.requested"
target = { exec = ["sh", "-c", "echo deployed"] }
"""


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, str]:
    root = write_project(tmp_path / "project", TOML)
    return root, f"sqlite:///{root / '.uet' / 'state.db'}"


def _runs(db: str) -> list[tuple[str, RunStatus, dict[str, object]]]:
    store = store_of(db)
    with store.reader() as tx:
        return [(r.id, r.status, r.params) for r in tx.list_runs(limit=1000)]


def _ended(db: str) -> bool:
    runs = _runs(db)
    return bool(runs) and all(status.finished for _id, status, _p in runs)


def test_once_fires_what_is_due_since_the_daemon_first_saw_the_trigger(
    project: tuple[Path, str],
) -> None:
    """A first --once only notes when it first saw the trigger (nothing fires before
    that); a --once a second later fires the latest slot due since (catchup latest), and its
    run succeeds: `uet daemon --once` from cron works."""
    root, db = project
    first = run(root, db, "daemon", "--once", "--json")
    assert first.returncode == 0, first.stderr
    assert '"fired"' not in first.stdout
    time.sleep(1.1)
    second = run(root, db, "daemon", "--once", "--json")
    assert second.returncode == 0, second.stderr
    fired = [json.loads(line) for line in second.stdout.splitlines()]
    fired = [f for f in fired if f.get("outcome") == "fired"]
    assert [f["trigger"] for f in fired] == ["tick"]
    wait_until(lambda: _ended(db), 60)
    assert [(status, p["fire_key"]) for _id, status, p in _runs(db)] == [
        (RunStatus.SUCCEEDED, fired[0]["fire_key"])
    ]


def test_sigterm_stops_the_daemon_within_two_seconds(project: tuple[Path, str]) -> None:
    root, db = project
    log = root / "daemon.log"
    daemon = start(root, db, "daemon", "--json", log=log)
    try:
        wait_until(lambda: '"leading"' in log.read_text(), 30)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=2.0) == 0
    finally:
        kill9(daemon)


def test_a_standby_takes_over_when_the_leader_is_killed(project: tuple[Path, str]) -> None:
    """A second daemon on the same store waits; kill -9 of the leader and it leads, and
    fires the events the leader never saw."""
    root, db = project
    first_log, second_log = root / "first.log", root / "second.log"
    first = start(root, db, "daemon", "--json", log=first_log)
    second = None
    try:
        wait_until(lambda: '"leading"' in first_log.read_text(), 30)
        second = start(root, db, "daemon", "--json", log=second_log)
        wait_until(lambda: "standby" in second_log.read_text(), 30)
        assert '"leading"' not in second_log.read_text()
        kill9(first)
        wait_until(lambda: '"leading"' in second_log.read_text(), 30)
        emitted = run(root, db, "triggers", "fire", "deploy.requested")
        assert emitted.returncode == 0, emitted.stderr
        wait_until(lambda: '"on-deploy"' in second_log.read_text(), 30)
    finally:
        kill9(first)
        if second is not None:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=10)


def test_an_event_fired_by_hand_reaches_the_daemon_through_the_store(
    project: tuple[Path, str],
) -> None:
    """`uet triggers fire EVENT` writes the event; the daemon's event trigger fires once
    for it, with the key event:<id>, and the run it starts succeeds."""
    root, db = project
    log = root / "daemon.log"
    daemon = start(root, db, "daemon", "--json", log=log)
    try:
        wait_until(lambda: '"leading"' in log.read_text(), 30)
        emitted = run(root, db, "triggers", "fire", "deploy.requested", "--data", '{"env": "x"}')
        assert emitted.returncode == 0, emitted.stderr
        wait_until(lambda: '"on-deploy"' in log.read_text(), 30)
        wait_until(lambda: _ended(db), 60)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=10)
    keys = [p["fire_key"] for _id, _s, p in _runs(db) if p.get("trigger") == "on-deploy"]
    assert len(keys) == 1
    assert str(keys[0]).startswith("event:")


def test_a_trigger_fired_by_hand_starts_its_run(project: tuple[Path, str]) -> None:
    root, db = project
    fired = run(root, db, "triggers", "fire", "on-deploy", "--json")
    assert fired.returncode == 0, fired.stderr
    report = json.loads(fired.stdout)
    assert report["outcome"] == "fired"
    assert report["fire_key"].startswith("manual:")
    wait_until(lambda: _ended(db), 60)
    assert [s for _id, s, _p in _runs(db)] == [RunStatus.SUCCEEDED]
    listed = run(root, db, "triggers", "list", "--json")
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    assert rows["on-deploy"]["last_fire"]["run_id"] == report["run_id"]
    assert rows["tick"]["schedule"] == "every 3600 seconds" or rows["tick"]["next_fire"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("triggers", "fire", "nope"), "not a trigger id"),
        (("triggers", "fire", "on-deploy", "--data", "{oops"), "--data: not JSON"),
        (("triggers", "fire", "on-deploy", "--data", "[1]"), "expected a JSON object"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    project: tuple[Path, str], args: tuple[str, ...], says: str
) -> None:
    root, db = project
    result = run(root, db, *args)
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_trigger_section_stops_the_daemon_before_anything_starts(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", '[triggers.x]\nevery = "soon"\ntarget = {exec=["true"]}\n')
    db = f"sqlite:///{root / '.uet' / 'state.db'}"
    result = run(root, db, "daemon", "--once")
    assert result.returncode == 2
    assert "triggers.x" in result.stderr
    assert "Traceback" not in result.stderr


def test_launch_of_a_finished_run_does_nothing(project: tuple[Path, str]) -> None:
    root, db = project
    fired = json.loads(run(root, db, "triggers", "fire", "on-deploy", "--json").stdout)
    wait_until(lambda: _ended(db), 60)
    again = run(root, db, "launch", fired["run_id"])
    assert again.returncode == 0
    assert "nothing to do" in again.stdout
    store = store_of(db)
    with store.reader() as tx:
        assert len(tx.get_attempts(fired["run_id"])) == 1
        assert ledger.unlaunched_fires(tx) == []


def test_help_has_an_example() -> None:
    for args in (["daemon"], ["triggers"], ["triggers", "list"], ["triggers", "fire"]):
        out = subprocess.run(
            ["uet", *args, "--help"], capture_output=True, text=True, check=True
        ).stdout
        assert "Example" in out


def test_a_script_target_runs_the_registrys_command(tmp_path: Path) -> None:
    """A trigger whose target is a registry script: fired by hand, its run executes the
    script's command with its parameter's default; a trigger naming no script is exit 2."""
    root = write_project(
        tmp_path / "project",
        """
[scripts.stamp]
run = "echo ${who} > stamped.txt"
params = { who = { type = "str", default = "daemon" } }

[triggers.stamp-it]
event = "stamp.requested"
target = { script = "stamp" }
""",
    )
    db = f"sqlite:///{root / '.uet' / 'state.db'}"
    fired = run(root, db, "triggers", "fire", "stamp-it", "--json")
    assert fired.returncode == 0, fired.stderr
    wait_until(lambda: _ended(db), 60)
    assert [s for _id, s, _p in _runs(db)] == [RunStatus.SUCCEEDED]
    assert (root / "stamped.txt").read_text() == "daemon\n"

    (root / "uet.toml").write_text(
        '[triggers.x]\nevent = "a.b"\ntarget = { script = "nope" }\n', encoding="utf-8"
    )
    refused = run(root, db, "triggers", "list")
    assert refused.returncode == 2
    assert "nope" in refused.stderr
