"""`uet runs` and `uet events` read what the store and the bus wrote."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Uet
from uet.config import load_settings
from uet.events.bus import EventBus
from uet.state.records import RunRecord
from uet.state.store import Store
from uet.states import RunStatus


@pytest.fixture
def recorded(uet: Uet) -> None:
    """Two runs in the project's default database, one with a few events."""
    store = Store.open(load_settings())
    with store.transaction() as tx:
        tx.create_run(RunRecord(id="run-a", status=RunStatus.SUCCEEDED, created_at=1.0))
        tx.create_run(RunRecord(id="run-b", status=RunStatus.FAILED, created_at=2.0, name="b"))
    with EventBus(store) as bus:
        bus.emit("task.started", {}, run_id="run-b", task_id="lint")
        bus.emit("task.output", {"line": "[bold]not markup[/bold]"}, run_id="run-b", task_id="lint")
        bus.emit("task.failed", {"exit_code": 1}, run_id="run-b", task_id="lint")
        bus.emit("run.completed", {"status": "failed"}, run_id="run-b")
    store.close()


@pytest.mark.usefixtures("recorded")
def test_runs_lists_newest_first_and_filters_by_status(uet: Uet) -> None:
    """Newest first; --status narrows; --json gives the records."""
    listed = json.loads(uet("runs", "--json").out)
    assert [run["id"] for run in listed] == ["run-b", "run-a"]
    failed = json.loads(uet("runs", "--status", "failed", "--json").out)
    assert [run["id"] for run in failed] == ["run-b"]
    assert "run-a" in uet("runs").out


@pytest.mark.usefixtures("recorded")
def test_events_prints_the_log_in_order_with_type_filter(uet: Uet) -> None:
    """JSON Lines in sequence order; --type takes a glob; text output shows payloads raw."""
    lines = uet("events", "run-b", "--json").out.splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3, 4]
    tasks = [
        json.loads(line)["type"]
        for line in uet("events", "run-b", "--type", "task.*", "--json").out.splitlines()
    ]
    assert tasks == ["task.started", "task.output", "task.failed"]
    assert "[bold]not markup[/bold]" in uet("events", "run-b").out
    after = uet("events", "run-b", "--after", "3", "--json").out.splitlines()
    assert [json.loads(line)["type"] for line in after] == ["run.completed"]


@pytest.mark.usefixtures("recorded")
def test_events_of_an_unknown_run_is_a_usage_error(uet: Uet) -> None:
    """Exit 2 and a hint, not an empty silence."""
    result = uet("events", "run-zzz")
    assert result.code == 2
    assert "uet runs" in result.err


@pytest.mark.usefixtures("recorded")
def test_follow_stops_when_the_run_has_finished(uet: Uet) -> None:
    """--follow on a finished run prints its log and returns."""
    result = uet("events", "run-b", "--follow", "--json")
    assert result.code == 0
    assert len(result.out.splitlines()) == 4
