"""The reading commands' SQLite path (uet.state.fastread) against the SQLAlchemy store.

Both read one real database holding runs in every state; every read method must return the
same records. The compiled SQL module must equal a fresh compilation of state/queries.py.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uet.state import _compiled, queries, schema
from uet.state.database import dispose_engines
from uet.state.fastread import SqliteReadStore, sqlite_file
from uet.state.records import (
    AttemptRecord,
    AttemptResult,
    DecisionRecord,
    RunRecord,
    TaskRecord,
    WorkstreamRecord,
)
from uet.state.store import Store
from uet.states import AttemptState, RunStatus, TaskStatus

TYPES = ["run.created", "task.started", "task.output", "task.completed", "Task.Odd", "x[1]"]


def test_the_compiled_module_equals_a_fresh_compilation() -> None:
    """state/_compiled.py is what `python -m uet.state.queries` makes now (regenerate it
    after changing a statement or the schema head)."""
    assert _compiled.SCHEMA_HEAD == schema.HEAD
    assert set(_compiled.SQL) == set(queries.NAMES)
    for name in queries.NAMES:
        assert _compiled.SQL[name] == queries.compiled_sqlite(name), name


def _fill(store: Store) -> list[str]:
    """A run in every status, with workstreams, tasks in every state, attempts in every
    state, events of several types and decisions; returns the run ids."""
    ids = []
    with store.transaction() as tx:
        for n, status in enumerate(RunStatus):
            run_id = f"run-2026120{n % 10}T000000-{n:06x}"
            ids.append(run_id)
            tx.create_run(
                RunRecord(
                    run_id,
                    status,
                    created_at=1000.0 + n,
                    name=f"n{n}" if n % 2 else None,
                    started_at=None if n % 3 == 0 else 1001.0 + n,
                    ended_at=1005.5 + n if status.finished else None,
                    host="h",
                    pid=100 + n,
                    heartbeat_at=1002.25,
                    deterministic=bool(n % 2),
                    params={"files": ["a.yaml"], "n": n},
                    summary={"ok": n} if n % 2 else {},
                )
            )
            tx.add_workstreams(
                [
                    WorkstreamRecord(run_id, "ws-b", TaskStatus.PENDING, depends_on=["ws-a"]),
                    WorkstreamRecord(run_id, "ws-a", TaskStatus.SUCCEEDED, name="A", spec={"k": 1}),
                ]
            )
            tx.add_tasks(
                [
                    TaskRecord(
                        run_id,
                        f"ws-a/t{i}",
                        "ws-a",
                        state,
                        depends_on=[f"ws-a/t{i - 1}"] if i else [],
                        spec={"task": {"id": f"t{i}", "run": "true"}, "timeout": 5},
                        exit_code=i if i % 2 else None,
                        started_at=1.5 * i if i % 3 else None,
                    )
                    for i, state in enumerate(TaskStatus)
                ]
            )
            made = tx.dispatch_attempts(
                [
                    AttemptRecord(0, run_id, f"ws-a/t{i % 3}", i + 1, AttemptState.DISPATCHED, 3.0)
                    for i in range(len(AttemptState))
                ]
            )
            finished = [s for s in AttemptState if s.finished]
            tx.complete_attempts(
                [
                    AttemptResult(attempt, state, 9.0, exit_code=1, output_tail="a\nb", error="e")
                    for attempt, state in zip(made, finished, strict=False)
                ]
            )
            tx.insert_events(
                [
                    (TYPES[i % len(TYPES)], 10.0 + i, run_id, "ws-a/t0", None, {"i": i})
                    for i in range(9)
                ]
            )
            tx.record_decisions(
                [
                    DecisionRecord(
                        ts=20.0,
                        category=("route", "retry")[i % 2],
                        run_id=run_id,
                        chosen="x",
                        alternatives=["x", "y"],
                        reason="r",
                        data={"i": i},
                    )
                    for i in range(3)
                ]
            )
    return ids


@pytest.fixture(scope="module")
def stores(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Store, SqliteReadStore, list[str]]]:
    path = tmp_path_factory.mktemp("fastread") / "state.db"
    url = f"sqlite:///{path}"
    ids = _fill(Store.open(url))
    slow = Store.open(url, create=False, readonly=True)
    fast = SqliteReadStore.open(url)
    assert fast is not None
    yield slow, fast, ids
    fast.close()
    dispose_engines()


_FAST = [HealthCheck.function_scoped_fixture]


def _same(
    stores: tuple[Store, SqliteReadStore, list[str]], method: str, *args: object, **kw: object
) -> object:
    slow, fast, _ = stores
    with slow.reader() as a, fast.reader() as b:
        expected = getattr(a, method)(*args, **kw)
        found = getattr(b, method)(*args, **kw)
    assert found == expected, (method, args, kw)
    return found


def test_every_run_reads_the_same(stores: tuple[Store, SqliteReadStore, list[str]]) -> None:
    ids = stores[2]
    assert _same(stores, "get_runs", [*ids, "run-missing"])
    assert _same(stores, "get_run", "run-missing") is None
    for run_id in ids:
        assert _same(stores, "get_run", run_id) is not None
        assert _same(stores, "get_workstreams", run_id)
        assert _same(stores, "get_tasks", run_id)
        assert _same(stores, "get_attempts", run_id)
        assert _same(stores, "get_events", run_id)
        _same(stores, "count_events", run_id)
        _same(stores, "get_decisions", run_id=run_id)
    assert _same(stores, "workstream_names", ids)
    assert _same(stores, "task_counts", ids)
    assert _same(stores, "get_events", after_id=3, limit=5)
    assert _same(stores, "count_events")
    assert _same(stores, "get_decisions", category="retry", limit=2)
    assert _same(stores, "get_decisions")


@settings(max_examples=60, deadline=None, suppress_health_check=_FAST)
@given(
    limit=st.integers(1, 30),
    statuses=st.none() | st.sets(st.sampled_from(list(RunStatus))),
)
def test_listing_runs_reads_the_same(
    stores: tuple[Store, SqliteReadStore, list[str]], limit: int, statuses: set[RunStatus] | None
) -> None:
    _same(stores, "list_runs", limit=limit, statuses=statuses)


@settings(max_examples=60, deadline=None, suppress_health_check=_FAST)
@given(
    run=st.integers(0, len(RunStatus) - 1),
    states=st.none() | st.sets(st.sampled_from(list(AttemptState))),
    task=st.none() | st.sampled_from(["ws-a/t0", "ws-a/t1", "ws-a/none"]),
    task_states=st.none() | st.sets(st.sampled_from(list(TaskStatus))),
)
def test_tasks_and_attempts_read_the_same(
    stores: tuple[Store, SqliteReadStore, list[str]],
    run: int,
    states: set[AttemptState] | None,
    task: str | None,
    task_states: set[TaskStatus] | None,
) -> None:
    run_id = stores[2][run]
    _same(stores, "get_attempts", run_id, states=states, task_id=task)
    _same(stores, "get_tasks", run_id, statuses=task_states)


@settings(max_examples=80, deadline=None, suppress_health_check=_FAST)
@given(
    run=st.none() | st.integers(0, len(RunStatus) - 1),
    after=st.integers(0, 12),
    types=st.none()
    | st.sampled_from(["*", "task.*", "*.started", "task.?utput", "x[1]", "task*", "TASK.*"]),
    limit=st.none() | st.integers(1, 5),
)
def test_events_read_the_same(
    stores: tuple[Store, SqliteReadStore, list[str]],
    run: int | None,
    after: int,
    types: str | None,
    limit: int | None,
) -> None:
    run_id = None if run is None else stores[2][run]
    _same(stores, "get_events", run_id, after_seq=after, after_id=after, types=types, limit=limit)


def test_only_a_current_sqlite_file_is_read_this_way(tmp_path: Path) -> None:
    """An older schema, a missing file, a file that is not a database, other URLs: None
    (the SQLAlchemy store opens those and says what is wrong)."""
    path = tmp_path / "state.db"
    url = f"sqlite:///{path}"
    assert SqliteReadStore.open(url) is None  # no file yet
    Store.open(url).close()
    fast = SqliteReadStore.open(url)
    assert fast is not None
    fast.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0004'")
    conn.close()
    assert SqliteReadStore.open(url) is None
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    assert SqliteReadStore.open(f"sqlite:///{tmp_path / 'junk.db'}") is None
    assert sqlite_file("sqlite:///relative.db") is None
    assert sqlite_file(f"sqlite:///{path}?mode=ro") is None
    assert sqlite_file("postgresql+psycopg://h/db") is None
    assert sqlite_file(f"sqlite+pysqlite:///{path}") == path
    dispose_engines()


_PROBE = """
import sys
from uet.cli import main
code = main(sys.argv[1:])
heavy = ("sqlalchemy", "pydantic", "alembic", "rich")
print("loaded:", sorted(m for m in heavy if m in sys.modules))
sys.exit(code)
"""


@pytest.fixture(scope="module")
def project_with_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("project")
    (folder / "w.json").write_text(
        '{"id": "ws-a", "tasks": [{"id": "ok", "run": "true"}, {"id": "bad", "run": "exit 3"}]}'
    )
    done = subprocess.run(
        [sys.executable, "-m", "uet", "run", "w.json", "--json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    found = subprocess.run(
        [sys.executable, "-m", "uet", "runs", "--json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    import json  # noqa: PLC0415

    return folder, json.loads(found.stdout)[0]["id"]


@pytest.mark.parametrize(
    "args",
    [["status"], ["runs"], ["events", "RUN"], ["logs", "RUN", "bad"], ["decisions"]],
    ids=lambda args: args[0],
)
def test_reading_commands_import_neither_sqlalchemy_nor_pydantic(
    project_with_runs: tuple[Path, str], args: list[str]
) -> None:
    """Issue 9's speed finding: `uet status` and `runs` cost 0.8 s, mostly importing
    SQLAlchemy and pydantic. On a SQLite file at the current schema they load neither."""
    folder, run_id = project_with_runs
    argv = [run_id if a == "RUN" else a for a in args]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    assert "loaded: []" in done.stdout, done.stdout[-500:]


def test_an_older_schema_still_says_run_db_upgrade(
    project_with_runs: tuple[Path, str], tmp_path: Path
) -> None:
    """The fast path leaves a database at an older revision to the store, which says what to
    do (exit 3), for the reading commands too."""
    folder, _ = project_with_runs
    copy = tmp_path / "old.db"
    with sqlite3.connect(folder / ".uet" / "state.db") as source, sqlite3.connect(copy) as target:
        source.backup(target)
        target.execute("UPDATE alembic_version SET version_num = '0004'")
    for args in (["status"], ["runs"]):
        done = subprocess.run(
            [sys.executable, "-m", "uet", "--db", f"sqlite:///{copy}", *args],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 3, done.stderr
        assert "uet db upgrade" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_table_corrupted_behind_a_good_version_row_is_one_line_exit_3(
    project_with_runs: tuple[Path, str], tmp_path: Path
) -> None:
    """The fast path's version check passes (its page is intact), then reading the runs
    table meets a malformed page: one line naming the database, exit 3, no traceback."""
    folder, _ = project_with_runs
    copy = tmp_path / "bad.db"
    with sqlite3.connect(folder / ".uet" / "state.db") as source, sqlite3.connect(copy) as target:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
    root = sqlite3.connect(copy)
    size = root.execute("PRAGMA page_size").fetchone()[0]
    (page,) = root.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'runs'").fetchone()
    root.close()
    with copy.open("r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(b"\xab" * size)
    assert SqliteReadStore.open(f"sqlite:///{copy}") is not None  # the version row reads
    for args in (["status"], ["runs"], ["runs", "--json"]):
        done = subprocess.run(
            [sys.executable, "-m", "uet", "--db", f"sqlite:///{copy}", *args],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 3, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert str(copy) in done.stderr
        assert "malformed" in done.stderr
