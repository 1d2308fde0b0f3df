"""The Store API, run unchanged on a SQLite file and on a PostgreSQL database (``db_url``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from uet.config import load_settings
from uet.errors import ExitCode, StoreError
from uet.state.records import (
    AttemptRecord,
    AttemptResult,
    DecisionRecord,
    RunRecord,
    TaskRecord,
    TaskUpdate,
    WorkstreamRecord,
)
from uet.state.store import NewEvent, Store
from uet.states import AttemptState, RunStatus, TaskStatus


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store.open(db_url)
    yield opened
    opened.close()


def make_run(run_id: str, created_at: float = 100.0, **fields: object) -> RunRecord:
    return RunRecord(id=run_id, status=RunStatus.PENDING, created_at=created_at, **fields)  # type: ignore[arg-type]


def make_task(run_id: str, task_id: str, **fields: object) -> TaskRecord:
    values: dict[str, object] = {"workstream_id": "ws", "status": TaskStatus.PENDING}
    return TaskRecord(run_id=run_id, id=task_id, **{**values, **fields})  # type: ignore[arg-type]


def make_attempt(run_id: str, task_id: str, number: int = 1, **fields: object) -> AttemptRecord:
    return AttemptRecord(
        id=0,
        run_id=run_id,
        task_id=task_id,
        number=number,
        state=AttemptState.DISPATCHED,
        dispatched_at=1000.0 + number,
        **fields,  # type: ignore[arg-type]
    )


def seed_run_with_tasks(store: Store, run_id: str, task_ids: list[str]) -> None:
    with store.transaction() as tx:
        tx.create_run(make_run(run_id))
        tx.add_tasks([make_task(run_id, task_id) for task_id in task_ids])


def event(type_: str, run_id: str | None = "r1", **payload: object) -> NewEvent:
    return (type_, 5.0, run_id, None, None, payload or None)


# -- runs -------------------------------------------------------------------------------------


def test_create_and_get_run_round_trips_every_field(store: Store) -> None:
    """A run written with every field set reads back equal, JSON documents included."""
    run = RunRecord(
        id="run-1",
        status=RunStatus.RUNNING,
        created_at=1.5,
        name="build",
        started_at=2.25,
        ended_at=None,
        host="box",
        pid=4242,
        heartbeat_at=3.125,
        deterministic=True,
        params={"files": ["a.yaml"], "concurrency": 4, "nested": {"ü": [1, 2.5, None]}},
        summary={"ok": 3},
    )
    with store.transaction() as tx:
        tx.create_run(run)
    with store.reader() as tx:
        assert tx.get_run("run-1") == run
        assert tx.get_run("missing") is None


def test_run_defaults_read_back_as_empty_documents(store: Store) -> None:
    """Empty params/summary are stored as NULL and come back as {} (not None)."""
    with store.transaction() as tx:
        tx.create_run(make_run("r"))
    with store.reader() as tx:
        run = tx.get_run("r")
    assert run is not None
    assert run.params == {}
    assert run.summary == {}
    assert run.deterministic is False


def test_get_runs_batch_omits_missing_ids_and_spans_chunks(store: Store) -> None:
    """get_runs returns exactly the existing ids, even past the 500-ids-per-query chunk."""
    with store.transaction() as tx:
        for number in range(0, 1200, 2):
            tx.create_run(make_run(f"run-{number:04d}", created_at=float(number)))
    wanted = [f"run-{number:04d}" for number in range(1200)] + ["run-0000", "nope"]
    with store.reader() as tx:
        found = tx.get_runs(wanted)
        assert tx.get_runs([]) == {}
    assert set(found) == {f"run-{number:04d}" for number in range(0, 1200, 2)}
    assert found["run-1198"].created_at == 1198.0


def test_list_runs_newest_first_with_limit_and_status_filter(store: Store) -> None:
    """list_runs orders by created_at desc (ties by id desc), honours limit and statuses."""
    with store.transaction() as tx:
        tx.create_run(make_run("a", created_at=10.0))
        tx.create_run(make_run("b", created_at=30.0))
        tx.create_run(make_run("c", created_at=20.0))
        tx.create_run(make_run("d", created_at=20.0))
        tx.set_run_status("c", RunStatus.FAILED)
        tx.set_run_status("a", RunStatus.SUCCEEDED)
    with store.reader() as tx:
        assert [r.id for r in tx.list_runs()] == ["b", "d", "c", "a"]
        assert [r.id for r in tx.list_runs(limit=2)] == ["b", "d"]
        failed_or_ok = tx.list_runs(statuses=[RunStatus.FAILED, RunStatus.SUCCEEDED])
        assert [r.id for r in failed_or_ok] == ["c", "a"]
        assert [r.id for r in tx.list_runs(statuses=[RunStatus.PENDING], limit=1)] == ["b"]
        assert tx.list_runs(statuses=[RunStatus.CANCELED]) == []


def test_set_run_status_writes_given_fields_and_reports_unknown_run(store: Store) -> None:
    """set_run_status returns True and writes only what is given; False for an unknown id."""
    with store.transaction() as tx:
        tx.create_run(make_run("r", started_at=7.0))
        assert tx.set_run_status("r", RunStatus.RUNNING) is True
        assert tx.set_run_status("r", RunStatus.RUNNING) is True  # unchanged value still found
        assert tx.set_run_status("ghost", RunStatus.FAILED) is False
        assert (
            tx.set_run_status("r", RunStatus.SUCCEEDED, ended_at=9.0, summary={"tasks": 2}) is True
        )
    with store.reader() as tx:
        run = tx.get_run("r")
        assert tx.get_run("ghost") is None
    assert run is not None
    assert run.status is RunStatus.SUCCEEDED
    assert run.started_at == 7.0  # not given, so untouched
    assert run.ended_at == 9.0
    assert run.summary == {"tasks": 2}


def test_claim_run_and_heartbeat_record_the_orchestrator(store: Store) -> None:
    """claim_run sets host, pid and first heartbeat; heartbeat only moves heartbeat_at."""
    with store.transaction() as tx:
        tx.create_run(make_run("r"))
        tx.create_run(make_run("other"))
        tx.claim_run("r", host="worker-1", pid=321, at=50.0)
    with store.transaction() as tx:
        tx.heartbeat("r", 60.0)
    with store.reader() as tx:
        run = tx.get_run("r")
        other = tx.get_run("other")
    assert run is not None
    assert other is not None
    assert (run.host, run.pid, run.heartbeat_at) == ("worker-1", 321, 60.0)
    assert (other.host, other.pid, other.heartbeat_at) == (None, None, None)


def test_duplicate_run_id_is_a_store_error_not_a_driver_error(store: Store) -> None:
    """An integrity violation surfaces as StoreError (exit 3) naming the database."""
    with store.transaction() as tx:
        tx.create_run(make_run("dup"))
    with pytest.raises(StoreError) as caught, store.transaction() as tx:
        tx.create_run(make_run("dup"))
    assert type(caught.value) is StoreError
    assert caught.value.exit_code == ExitCode.INFRA
    assert isinstance(caught.value.__cause__, sa.exc.IntegrityError)
    assert store.url.split("://")[0] in str(caught.value)


def test_unreachable_database_is_a_store_error_with_password_hidden() -> None:
    """A connection failure is a StoreError whose message does not leak the password."""
    url = "postgresql+psycopg://uet:s3cret-pw@127.0.0.1:1/nothing?connect_timeout=2"
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    assert "s3cret-pw" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)
    store = Store.open(url, check_schema=False)
    assert "s3cret-pw" not in store.url


def test_open_from_settings_uses_the_configured_database(tmp_path: Path) -> None:
    """Store.open(settings) opens settings.db: the default .uet/state.db under the root."""
    (tmp_path / "uet.toml").write_text("[sqlite]\nsynchronous = 'full'\n")
    settings = load_settings(env={}, cwd=tmp_path)
    store = Store.open(settings)
    with store.transaction() as tx:
        tx.create_run(make_run("r"))
    assert store.dialect == "sqlite"
    assert (tmp_path / ".uet" / "state.db").is_file()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    store.close()


# -- transactions ----------------------------------------------------------------------------


def test_exception_inside_transaction_rolls_everything_back(store: Store) -> None:
    """Runs, tasks, attempts and events written before an exception are all undone."""

    def write_then_fail() -> None:
        with store.transaction() as tx:
            tx.create_run(make_run("r"))
            tx.add_tasks([make_task("r", "t")])
            tx.dispatch_attempts([make_attempt("r", "t")])
            tx.insert_events([event("run.created", "r")])
            tx.record_decisions([DecisionRecord("retry", "again", "because", 1.0, run_id="r")])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail()
    with store.reader() as tx:
        assert tx.get_run("r") is None
        assert tx.get_tasks("r") == []
        assert tx.get_attempts("r") == []
        assert tx.count_events() == 0
        assert tx.get_decisions() == []


def test_store_error_midway_rolls_back_earlier_writes_of_the_transaction(store: Store) -> None:
    """A failing statement aborts the whole transaction, not just itself."""
    with store.transaction() as tx:
        tx.create_run(make_run("existing"))

    def write_then_collide() -> None:
        with store.transaction() as tx:
            tx.create_run(make_run("new"))
            tx.insert_events([event("run.created", "new")])
            tx.create_run(make_run("existing"))

    with pytest.raises(StoreError):
        write_then_collide()
    with store.reader() as tx:
        assert tx.get_run("new") is None
        assert tx.count_events("new") == 0


@pytest.mark.parametrize(
    "write",
    [
        lambda tx: tx.create_run(make_run("r")),
        lambda tx: tx.insert_events([event("x.y")]),
        lambda tx: tx.set_run_status("r", RunStatus.RUNNING),
        lambda tx: tx.record_decisions([DecisionRecord("c", "x", "y", 1.0)]),
        lambda tx: tx.complete_attempts([]),
    ],
    ids=["create_run", "insert_events", "set_run_status", "record_decisions", "complete"],
)
def test_write_inside_reader_raises_store_error(store: Store, write: object) -> None:
    """Every write method refuses to run in a read-only transaction, and nothing is written."""
    with pytest.raises(StoreError, match="read-only"), store.reader() as tx:
        write(tx)  # type: ignore[operator]
    with store.reader() as tx:
        assert tx.get_run("r") is None
        assert tx.count_events() == 0
        assert tx.get_decisions() == []


def test_reader_is_a_consistent_snapshot(store: Store) -> None:
    """A write committed while a reader is open is not seen by that reader, only later."""
    with store.transaction() as tx:
        tx.create_run(make_run("r"))
        tx.insert_events([event("a.b", "r")])
    with store.reader() as reader:
        assert reader.count_events("r") == 1
        with store.transaction() as writer:  # a reader never blocks a writer
            writer.insert_events([event("a.b", "r")])
            writer.set_run_status("r", RunStatus.RUNNING)
        assert reader.count_events("r") == 1
        run = reader.get_run("r")
        assert run is not None
        assert run.status is RunStatus.PENDING
    with store.reader() as tx:
        assert tx.count_events("r") == 2


# -- workstreams and tasks -------------------------------------------------------------------


def test_workstreams_round_trip_in_id_order_per_run(store: Store) -> None:
    """add_workstreams/get_workstreams keep every field and list one run's, sorted by id."""
    items = [
        WorkstreamRecord(
            run_id="r",
            id="ws-b",
            status=TaskStatus.RUNNING,
            name="B",
            concurrency=2,
            depends_on=["ws-a"],
            source="/w/b.yaml",
            spec={"tasks": [{"id": "x"}]},
        ),
        WorkstreamRecord(run_id="r", id="ws-a", status=TaskStatus.PENDING),
    ]
    with store.transaction() as tx:
        tx.create_run(make_run("r"))
        tx.create_run(make_run("r2"))
        tx.add_workstreams(items)
        tx.add_workstreams([])
        tx.add_workstreams([WorkstreamRecord(run_id="r2", id="ws-a", status=TaskStatus.FAILED)])
    with store.reader() as tx:
        assert tx.get_workstreams("r") == [items[1], items[0]]
        assert [w.status for w in tx.get_workstreams("r2")] == [TaskStatus.FAILED]
        assert tx.get_workstreams("none") == []


def test_tasks_round_trip_and_filter_by_status(store: Store) -> None:
    """Tasks keep their fields; get_tasks lists one run's tasks by id, filtered by status."""
    full = make_task(
        "r",
        "t2",
        depends_on=["t1"],
        spec={"run": "echo hi"},
        max_attempts=3,
        attempts_used=1,
        outcome=AttemptState.TIMED_OUT,
        exit_code=-9,
        started_at=1.0,
        ended_at=2.0,
        status=TaskStatus.FAILED,
    )
    with store.transaction() as tx:
        tx.create_run(make_run("r"))
        tx.add_tasks([full, make_task("r", "t1"), make_task("r", "t3", status=TaskStatus.READY)])
        tx.add_tasks([])
    with store.reader() as tx:
        assert [t.id for t in tx.get_tasks("r")] == ["t1", "t2", "t3"]
        assert tx.get_tasks("r", statuses=[TaskStatus.FAILED]) == [full]
        ready_or_pending = tx.get_tasks("r", statuses=[TaskStatus.READY, TaskStatus.PENDING])
        assert [t.id for t in ready_or_pending] == ["t1", "t3"]
        assert tx.get_tasks("r", statuses=[TaskStatus.SKIPPED]) == []


def test_update_tasks_batch_writes_only_given_fields_of_that_run(store: Store) -> None:
    """update_tasks applies many updates; None fields keep their value; other runs untouched."""
    with store.transaction() as tx:
        for run_id in ("r", "other"):
            tx.create_run(make_run(run_id))
            tx.add_tasks(
                [make_task(run_id, "a", started_at=1.0), make_task(run_id, "b", exit_code=7)]
            )
    with store.transaction() as tx:
        tx.update_tasks(
            "r",
            [
                TaskUpdate("a", TaskStatus.RUNNING, attempts_used=1, started_at=5.0),
                TaskUpdate(
                    "b",
                    TaskStatus.SUCCEEDED,
                    outcome=AttemptState.SUCCEEDED,
                    exit_code=0,
                    ended_at=9.0,
                ),
                TaskUpdate("missing", TaskStatus.FAILED),
            ],
        )
    with store.reader() as tx:
        a, b = tx.get_tasks("r")
        other = tx.get_tasks("other")
    assert (a.status, a.attempts_used, a.started_at, a.outcome) == (
        TaskStatus.RUNNING,
        1,
        5.0,
        None,
    )
    assert (b.status, b.outcome, b.exit_code, b.ended_at, b.attempts_used) == (
        TaskStatus.SUCCEEDED,
        AttemptState.SUCCEEDED,
        0,  # 0 is a value, not "not given"
        9.0,
        0,
    )
    assert [t.status for t in other] == [TaskStatus.PENDING, TaskStatus.PENDING]
    assert other[1].exit_code == 7
    assert [t.id for t in other] == ["a", "b"]


def test_task_of_unknown_run_is_rejected_by_the_foreign_key(store: Store) -> None:
    """Tasks reference runs on both dialects (SQLite foreign keys are switched on)."""
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.add_tasks([make_task("no-such-run", "t")])


# -- attempts --------------------------------------------------------------------------------


def test_dispatch_attempts_returns_new_ids_in_input_order(store: Store) -> None:
    """The ids returned match the rows inserted, position by position, and keep growing."""
    seed_run_with_tasks(store, "r", ["a", "b", "c"])
    with store.transaction() as tx:
        assert tx.dispatch_attempts([]) == []
        first = tx.dispatch_attempts(
            [make_attempt("r", "c"), make_attempt("r", "a"), make_attempt("r", "b", tool="aider")]
        )
    with store.transaction() as tx:
        second = tx.dispatch_attempts([make_attempt("r", "a", number=2)])
    assert len(set(first)) == 3
    assert second[0] > max(first)
    with store.reader() as tx:
        by_id = {a.id: a for a in tx.get_attempts("r")}
    assert [(by_id[i].task_id, by_id[i].number) for i in first + second] == [
        ("c", 1),
        ("a", 1),
        ("b", 1),
        ("a", 2),
    ]
    assert by_id[first[2]].tool == "aider"
    assert by_id[first[0]].state is AttemptState.DISPATCHED
    assert by_id[first[0]].dispatched_at == 1001.0


def test_get_attempts_filters_by_state_and_task(store: Store) -> None:
    """get_attempts lists one run's attempts in id order, by state and/or task."""
    seed_run_with_tasks(store, "r", ["a", "b"])
    with store.transaction() as tx:
        a1, a2, b1 = tx.dispatch_attempts(
            [make_attempt("r", "a"), make_attempt("r", "a", 2), make_attempt("r", "b")]
        )
        tx.complete_attempts([AttemptResult(a1, AttemptState.FAILED, 3.0, exit_code=1)])
    with store.reader() as tx:
        assert [a.id for a in tx.get_attempts("r")] == [a1, a2, b1]
        assert [a.id for a in tx.get_attempts("r", task_id="a")] == [a1, a2]
        live = tx.get_attempts("r", states=[AttemptState.DISPATCHED])
        assert [a.id for a in live] == [a2, b1]
        assert tx.get_attempts("r", states=[AttemptState.FAILED], task_id="b") == []
        assert tx.get_attempts("other") == []


def test_duplicate_attempt_number_for_a_task_is_rejected(store: Store) -> None:
    """(run, task, number) is unique: a second attempt 1 of the same task is a StoreError."""
    seed_run_with_tasks(store, "r", ["t"])
    with store.transaction() as tx:
        tx.dispatch_attempts([make_attempt("r", "t", 1)])
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.dispatch_attempts([make_attempt("r", "t", 1)])
    with store.reader() as tx:
        assert len(tx.get_attempts("r")) == 1


def test_attempt_for_unknown_task_is_rejected(store: Store) -> None:
    """Attempts reference (run, task): dispatching for a task that does not exist fails."""
    seed_run_with_tasks(store, "r", ["t"])
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.dispatch_attempts([make_attempt("r", "ghost")])


def test_mark_running_only_moves_a_live_attempt(store: Store) -> None:
    """mark_running records pid/pgid/start on a live attempt; False once it has ended."""
    seed_run_with_tasks(store, "r", ["a", "b"])
    with store.transaction() as tx:
        live, ended = tx.dispatch_attempts([make_attempt("r", "a"), make_attempt("r", "b")])
        tx.complete_attempts([AttemptResult(ended, AttemptState.LOST, 2.0, error="crash")])
        assert tx.mark_running(live, pid=11, pgid=12, started_at=3.0) is True
        assert tx.mark_running(ended, pid=21, pgid=22, started_at=3.0) is False
        assert tx.mark_running(999_999, pid=1, pgid=1, started_at=3.0) is False
    with store.reader() as tx:
        running, lost = tx.get_attempts("r")
    assert (running.state, running.pid, running.pgid, running.started_at) == (
        AttemptState.RUNNING,
        11,
        12,
        3.0,
    )
    assert (lost.state, lost.pid, lost.pgid, lost.started_at) == (
        AttemptState.LOST,
        None,
        None,
        None,
    )


def test_complete_attempts_fences_results_of_attempts_no_longer_live(store: Store) -> None:
    """A result is accepted only for a dispatched/running attempt; a late result for an
    attempt already lost or finished is refused and does not overwrite what is stored."""
    seed_run_with_tasks(store, "r", ["a", "b", "c"])
    with store.transaction() as tx:
        dispatched, running, lost = tx.dispatch_attempts(
            [make_attempt("r", "a"), make_attempt("r", "b"), make_attempt("r", "c")]
        )
        tx.mark_running(running, pid=5, pgid=5, started_at=1.0)
    with store.transaction() as tx:
        first = tx.complete_attempts(
            [AttemptResult(lost, AttemptState.LOST, 2.0, error="orchestrator died")]
        )
    with store.transaction() as tx:
        accepted = tx.complete_attempts(
            [
                AttemptResult(dispatched, AttemptState.ERROR, 3.0, error="no such binary"),
                AttemptResult(lost, AttemptState.SUCCEEDED, 4.0, exit_code=0, output_tail="ok"),
                AttemptResult(running, AttemptState.SUCCEEDED, 5.0, exit_code=0, output_tail="x"),
                AttemptResult(999_999, AttemptState.SUCCEEDED, 5.0),
            ]
        )
    with store.transaction() as tx:
        again = tx.complete_attempts(
            [AttemptResult(running, AttemptState.FAILED, 6.0, exit_code=1, output_tail="late")]
        )
    assert first == [lost]
    assert accepted == [dispatched, running]
    assert again == []
    with store.reader() as tx:
        by_id = {a.id: a for a in tx.get_attempts("r")}
    assert (by_id[lost].state, by_id[lost].ended_at, by_id[lost].exit_code) == (
        AttemptState.LOST,
        2.0,
        None,
    )
    assert by_id[lost].error == "orchestrator died"
    assert by_id[lost].output_tail is None
    assert (by_id[running].state, by_id[running].exit_code, by_id[running].output_tail) == (
        AttemptState.SUCCEEDED,
        0,
        "x",
    )
    assert by_id[running].ended_at == 5.0
    assert by_id[running].pid == 5  # completing keeps the process ids
    assert (by_id[dispatched].state, by_id[dispatched].error) == (
        AttemptState.ERROR,
        "no such binary",
    )


# -- events ----------------------------------------------------------------------------------


def test_event_seq_counts_per_run_across_calls_and_interleaved_runs(store: Store) -> None:
    """Each run's events are numbered 1..n across batches; runs interleave independently;
    events outside any run get no sequence number."""
    with store.transaction() as tx:
        assert tx.insert_events([]) == []
        assert tx.insert_events(
            [event("a.x", "r1"), event("a.x", "r2"), event("a.x", "r1"), event("b.x", None)]
        ) == [1, 1, 2, None]
    assert store.insert_events([event("a.x", "r2"), event("a.x", None)]) == [2, None]
    with store.transaction() as tx:
        assert tx.insert_events([event("a.x", "r1"), event("a.x", "r3"), event("a.x", "r2")]) == [
            3,
            1,
            3,
        ]
    with store.reader() as tx:
        assert [e.seq for e in tx.get_events("r1")] == [1, 2, 3]
        assert [e.seq for e in tx.get_events("r2")] == [1, 2, 3]
        assert [e.seq for e in tx.get_events("r3")] == [1]
        everything = tx.get_events()
        expected_runs = ["r1", "r2", "r1", None, "r2", None, "r1", "r3", "r2"]
        assert [e.run_id for e in everything] == expected_runs
        assert [e.seq for e in everything if e.run_id is None] == [None, None]


def test_event_fields_round_trip(store: Store) -> None:
    """type, ts, run, task, attempt id and payload are stored; empty payload reads as {}."""
    store.insert_events(
        [
            ("task.output", 12.5, "r", "t1", 77, {"line": "héllo", "n": [1, None, True]}),
            ("task.ready", 13.0, "r", None, None, None),
            ("task.ready", 13.0, "r", None, None, {}),
        ]
    )
    with store.reader() as tx:
        first, second, third = tx.get_events("r")
    assert first.id is not None
    assert second.id is not None
    assert second.id > first.id
    assert (first.type, first.ts, first.run_id, first.seq, first.task_id, first.attempt_id) == (
        "task.output",
        12.5,
        "r",
        1,
        "t1",
        77,
    )
    assert first.payload == {"line": "héllo", "n": [1, None, True]}
    assert second.payload == {}
    assert third.payload == {}
    assert second.attempt_id is None


@pytest.fixture
def event_log(store: Store) -> Store:
    store.insert_events(
        [
            event("run.created", "r"),
            event("task.ready", "r"),
            event("task.started", "r"),
            event("alert.failed", "r"),
            event("task.completed", "r"),
            event("taskXready", "r"),
            event("deploy.failed", "r"),
            event("task.failed", "other"),
            event("breaker.opened", None),
        ]
    )
    return store


@pytest.mark.parametrize(
    ("glob", "expected"),
    [
        ("task.*", ["task.ready", "task.started", "task.completed"]),
        ("*.failed", ["alert.failed", "deploy.failed"]),
        ("task.?eady", ["task.ready"]),
        ("run.created", ["run.created"]),
        ("*", None),
        ("nothing.*", []),
    ],
)
def test_get_events_filters_types_by_glob(
    event_log: Store, glob: str, expected: list[str] | None
) -> None:
    """Globs match like the bus: ``*`` any run of characters, ``?`` one, ``.`` literal."""
    with event_log.reader() as tx:
        everything = [e.type for e in tx.get_events("r")]
        found = [e.type for e in tx.get_events("r", types=glob)]
    assert found == (everything if expected is None else expected)


def test_get_events_glob_is_case_sensitive_like_the_bus(event_log: Store) -> None:
    """``TASK.*`` matches no ``task.*`` event, on SQLite as on PostgreSQL."""
    with event_log.reader() as tx:
        assert tx.get_events("r", types="TASK.*") == []
        assert tx.get_events("r", types="Run.Created") == []


def test_underscore_and_percent_in_types_are_literal(store: Store) -> None:
    """SQL LIKE/GLOB specials (``_ % \\ [``) in a type pattern match only themselves."""
    store.insert_events(
        [
            event("a_b", "r"),
            event("axb", "r"),
            event("a%b", "r"),
            event("a%%b", "r"),
            event("a\\b", "r"),
            event("ab", "r"),
            event("a[b]", "r"),
        ]
    )
    with store.reader() as tx:
        assert [e.type for e in tx.get_events("r", types="a_b")] == ["a_b"]
        assert [e.type for e in tx.get_events("r", types="a%b")] == ["a%b"]
        assert [e.type for e in tx.get_events("r", types="a\\b")] == ["a\\b"]
        assert [e.type for e in tx.get_events("r", types="a%*")] == ["a%b", "a%%b"]
        assert [e.type for e in tx.get_events("r", types="a?b")] == ["a_b", "axb", "a%b", "a\\b"]
        assert [e.type for e in tx.get_events("r", types="a[b]")] == ["a[b]"]
        assert [e.type for e in tx.get_events("r", types="a[*")] == ["a[b]"]


def test_get_events_after_seq_and_limit_page_through_a_run(event_log: Store) -> None:
    """after_seq skips what was seen; limit caps the page; both combine with types."""
    with event_log.reader() as tx:
        assert [e.seq for e in tx.get_events("r", after_seq=5)] == [6, 7]
        assert [e.seq for e in tx.get_events("r", after_seq=2, limit=2)] == [3, 4]
        assert [e.type for e in tx.get_events("r", after_seq=2, types="task.*", limit=1)] == [
            "task.started"
        ]
        assert tx.get_events("r", after_seq=7) == []
        assert [e.seq for e in tx.get_events("r", limit=0)] == []


def test_get_events_without_run_lists_all_in_id_order_after_id(event_log: Store) -> None:
    """With no run, every event (run-less included) comes in insertion order after after_id."""
    with event_log.reader() as tx:
        everything = tx.get_events()
        assert len(everything) == 9
        ids = [e.id for e in everything]
        assert ids == sorted(ids)
        assert everything[-1].type == "breaker.opened"
        third_id = everything[2].id
        assert third_id is not None
        after = tx.get_events(after_id=third_id, types="*.failed", limit=2)
        assert [e.type for e in after] == ["alert.failed", "deploy.failed"]


def test_count_events_per_run_and_overall(event_log: Store) -> None:
    """count_events counts one run's events, or every event when no run is given."""
    with event_log.reader() as tx:
        assert tx.count_events("r") == 7
        assert tx.count_events("other") == 1
        assert tx.count_events("missing") == 0
        assert tx.count_events() == 9


@pytest.mark.parametrize("writers", [2, 4])
def test_concurrent_writers_get_gapless_unique_seqs(store: Store, writers: int) -> None:
    """W threads x N insert_events on one store and one run: seqs are exactly 1..W*N."""
    per_thread = 60
    start = threading.Barrier(writers)
    returned: list[int | None] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def write(name: int) -> None:
        try:
            start.wait()
            for number in range(per_thread):
                batch = [event("w.x", "r", writer=name, n=number)]
                if number % 3 == 0:
                    batch.append(event("w.x", f"side-{name}"))
                seqs = store.insert_events(batch)
                with lock:
                    returned.append(seqs[0])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    total = writers * per_thread
    assert sorted(s for s in returned if s is not None) == list(range(1, total + 1))
    with store.reader() as tx:
        stored = tx.get_events("r")
        assert [e.seq for e in stored] == list(range(1, total + 1))
        for name in range(writers):
            # each writer's own events appear in the order it wrote them
            mine = [e.payload["n"] for e in stored if e.payload["writer"] == name]
            assert mine == list(range(per_thread))
            assert [e.seq for e in tx.get_events(f"side-{name}")] == list(range(1, 21))


# -- decisions -------------------------------------------------------------------------------


def test_decisions_round_trip_and_filter(store: Store) -> None:
    """Decisions keep alternatives and data; filters by run, category and limit combine."""
    items = [
        DecisionRecord(
            "routing",
            "aider",
            "first healthy tool",
            1.0,
            run_id="r1",
            task_id="t",
            alternatives=["aider", {"tool": "codex", "score": 0.5}],
            data={"scores": {"aider": 1.0}},
        ),
        DecisionRecord("retry", "again", "budget left", 2.0, run_id="r1"),
        DecisionRecord("routing", "codex", "fallback", 3.0, run_id="r2"),
        DecisionRecord("breaker", "open", "5 failures", 4.0),
    ]
    with store.transaction() as tx:
        tx.record_decisions(items)
        tx.record_decisions([])
    with store.reader() as tx:
        everything = tx.get_decisions()
        assert [d.chosen for d in everything] == ["aider", "again", "codex", "open"]
        assert all(d.id is not None for d in everything)
        assert [d.chosen for d in tx.get_decisions(run_id="r1")] == ["aider", "again"]
        assert [d.chosen for d in tx.get_decisions(category="routing")] == ["aider", "codex"]
        assert [d.chosen for d in tx.get_decisions(run_id="r1", category="routing")] == ["aider"]
        assert [d.chosen for d in tx.get_decisions(limit=2)] == ["aider", "again"]
        assert tx.get_decisions(category="merge") == []
    stored = everything[0]
    assert stored.alternatives == ["aider", {"tool": "codex", "score": 0.5}]
    assert stored.data == {"scores": {"aider": 1.0}}
    assert (stored.task_id, stored.reason, stored.ts) == ("t", "first healthy tool", 1.0)
    assert everything[3].run_id is None
    assert everything[3].alternatives == []
    assert everything[3].data == {}
