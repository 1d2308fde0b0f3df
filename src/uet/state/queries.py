"""The store's statements, written once in SQLAlchemy Core: its reads, the writes of a run,
and the schema of a new database.

:class:`uet.state.store.Transaction` executes them through SQLAlchemy (PostgreSQL, and
SQLite URLs with options); :mod:`uet.state.fastread` and :mod:`uet.state.sqlite_store`
execute the same statements' SQLite text, compiled once into ``uet/state/_compiled.py``,
through the stdlib ``sqlite3`` (the reading commands, ``uet run`` and ``uet exec`` then never
import SQLAlchemy). Regenerate that module after changing a statement or the schema::

    python -m uet.state.queries > src/uet/state/_compiled.py

(tests/state/test_fastread.py fails while it is stale.) A name is a base and its optional
filters: ``attempts+states+task`` is the attempts of a run in some states, of one task.
Lists of values are expanding parameters: the text holds ``(__[POSTCOMPILE_name])`` for the
reader to replace with one ``?`` per value.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from uet.state.schema import HEAD, VERSION_TABLE, version_table
from uet.state.tables import (
    attempts,
    decisions,
    events,
    metadata,
    run_leases,
    runs,
    tasks,
    workstreams,
)
from uet.states import LIVE_ATTEMPT_STATES, AttemptState

Statement = sa.Select[Any]


def _param(name: str) -> sa.BindParameter[object]:
    return sa.bindparam(name)


def _values(name: str) -> sa.BindParameter[object]:
    return sa.bindparam(name, expanding=True)


def _run() -> Statement:
    return sa.select(runs).where(runs.c.id == _param("run_id"))


def _runs_by_id() -> Statement:
    return sa.select(runs).where(runs.c.id.in_(_values("ids")))


def _recent_runs(statuses: bool) -> Statement:
    query = sa.select(runs).order_by(runs.c.created_at.desc(), runs.c.id.desc())
    query = query.limit(sa.bindparam("limit", type_=sa.Integer))
    return query.where(runs.c.status.in_(_values("statuses"))) if statuses else query


def _workstreams() -> Statement:
    query = sa.select(workstreams).where(workstreams.c.run_id == _param("run_id"))
    return query.order_by(workstreams.c.id)


def _tasks(statuses: bool) -> Statement:
    query = sa.select(tasks).where(tasks.c.run_id == _param("run_id")).order_by(tasks.c.id)
    return query.where(tasks.c.status.in_(_values("statuses"))) if statuses else query


def _attempts(states: bool, task: bool) -> Statement:
    query = sa.select(attempts).where(attempts.c.run_id == _param("run_id"))
    if states:
        query = query.where(attempts.c.state.in_(_values("states")))
    if task:
        query = query.where(attempts.c.task_id == _param("task_id"))
    return query.order_by(attempts.c.id)


def _events(by_run: bool, typed: bool, limited: bool, glob: bool = True) -> Statement:
    """``glob``: the type filter is SQLite's case-sensitive GLOB (else LIKE with ``\\``)."""
    query = sa.select(events)
    if by_run:
        query = query.where(events.c.run_id == _param("run_id"), events.c.seq > _param("after"))
        query = query.order_by(events.c.seq)
    else:
        query = query.where(events.c.id > _param("after")).order_by(events.c.id)
    if typed:
        pattern = _param("types")
        kind = events.c.type.op("GLOB")(pattern) if glob else events.c.type.like(pattern, "\\")
        query = query.where(kind)
    return query.limit(sa.bindparam("limit", type_=sa.Integer)) if limited else query


def _count_events(by_run: bool) -> Statement:
    query = sa.select(sa.func.count()).select_from(events)
    return query.where(events.c.run_id == _param("run_id")) if by_run else query


def _decisions(by_run: bool, category: bool, limited: bool) -> Statement:
    query = sa.select(decisions).order_by(decisions.c.id)
    if by_run:
        query = query.where(decisions.c.run_id == _param("run_id"))
    if category:
        query = query.where(decisions.c.category == _param("category"))
    return query.limit(sa.bindparam("limit", type_=sa.Integer)) if limited else query


def _workstream_names() -> Statement:
    query = sa.select(workstreams.c.run_id, workstreams.c.id)
    query = query.where(workstreams.c.run_id.in_(_values("ids")))
    return query.order_by(workstreams.c.run_id, workstreams.c.id)


def _task_counts() -> Statement:
    query = sa.select(tasks.c.run_id, tasks.c.status, sa.func.count())
    query = query.where(tasks.c.run_id.in_(_values("ids")))
    return query.group_by(tasks.c.run_id, tasks.c.status)


def _schema_version() -> Statement:
    version = sa.table(VERSION_TABLE, sa.column("version_num"))
    return sa.select(version.c.version_num)


# -- writes ---------------------------------------------------------------------------------
# Parameters are named ``b_<column>`` (a bind parameter may not take a column's own name in
# an UPDATE's SET); all of them are plain values (text, numbers, NULL, booleans), so the
# store may execute the compiled text straight on the driver.

Write = sa.Insert | sa.Update | sa.Select[Any]


def _b(name: str, type_: Any = None) -> sa.BindParameter[Any]:
    return sa.bindparam(f"b_{name}", type_=type_)


def _insert(table: sa.Table, *, skip: tuple[str, ...] = ()) -> sa.Insert:
    """An INSERT of one row of ``table``: every column but ``skip``, as ``b_<column>``."""
    values = {c.name: _b(c.name, c.type) for c in table.c if c.name not in skip}
    return sa.insert(table).values(values)


def _keep(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """``COALESCE(:b_<column>, column)``: a None parameter leaves the stored value alone."""
    return sa.func.coalesce(_b(column.name, column.type), column)


_LIVE = sorted(state.value for state in LIVE_ATTEMPT_STATES)  # same text whatever the hash seed


def _live(table: sa.Table) -> sa.ColumnElement[bool]:
    # not IN (...): an expanding list cannot go into executemany
    return sa.or_(*(table.c.state == state for state in _LIVE))


def _set_run_status() -> sa.Update:
    values = {c: _keep(runs.c[c]) for c in ("started_at", "ended_at", "summary")}
    return sa.update(runs).where(runs.c.id == _b("id")).values(status=_b("status"), **values)


def _claim_run() -> sa.Update:
    values = {"host": _b("host"), "pid": _b("pid"), "heartbeat_at": _b("heartbeat_at")}
    return sa.update(runs).where(runs.c.id == _b("id")).values(values)


def _heartbeat() -> sa.Update:
    return sa.update(runs).where(runs.c.id == _b("id")).values(heartbeat_at=_b("heartbeat_at"))


def _update_task() -> sa.Update:
    kept = ("outcome", "exit_code", "attempts_used", "started_at", "ended_at")
    return (
        sa.update(tasks)
        .where(tasks.c.run_id == _b("run_id"), tasks.c.id == _b("id"))
        .values(status=_b("status"), **{c: _keep(tasks.c[c]) for c in kept})
    )


def _mark_started() -> sa.Update:
    return (
        sa.update(attempts)
        .where(attempts.c.id == _b("id"), _live(attempts))
        .values(
            state=AttemptState.RUNNING.value,
            pid=_b("pid"),
            pgid=_b("pgid"),
            started_at=_b("started_at"),
        )
    )


def _complete_attempt() -> sa.Update:
    given = ("state", "ended_at", "exit_code", "output_tail", "error")
    return (
        sa.update(attempts)
        .where(attempts.c.id == _b("id"), _live(attempts))
        .values(
            **{c: _b(c, attempts.c[c].type) for c in given},
            **{c: _keep(attempts.c[c]) for c in ("pid", "pgid", "started_at")},
        )
    )


def _db_now(dialect: str) -> sa.ColumnElement[float]:
    """The database's clock, in seconds since the epoch, as an SQL expression."""
    if dialect == "postgresql":
        return sa.cast(sa.extract("epoch", sa.func.now()), sa.Float)
    return sa.cast((sa.func.julianday("now") - 2440587.5) * 86400.0, sa.Float)


def _lease_claim(dialect: str) -> sa.Insert:
    """A new lease row (epoch 1), or nothing where the run has one: RETURNING says which."""
    insert: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # noqa: PLC0415
    else:
        from sqlalchemy.dialects.sqlite import insert  # noqa: PLC0415
    values = {c: _b(c) for c in ("run_id", "host", "pid")}
    claim: sa.Insert = (
        insert(run_leases)
        .values(**values, epoch=1, expires_at=_db_now(dialect) + _b("ttl", sa.Float))
        .on_conflict_do_nothing(index_elements=["run_id"])
        .returning(run_leases.c.epoch)  # rowcount is not reliable here on every driver
    )
    return claim


def _lease_locked(dialect: str) -> sa.Select[Any]:
    return (
        sa.select(run_leases, _db_now(dialect).label("now"))
        .where(run_leases.c.run_id == _b("run_id"))
        .with_for_update(of=run_leases)
    )


def _lease_take(dialect: str) -> sa.Update:
    return (
        sa.update(run_leases)
        .where(run_leases.c.run_id == _b("run_id"))
        .values(
            host=_b("host"),
            pid=_b("pid"),
            epoch=_b("epoch"),
            expires_at=_db_now(dialect) + _b("ttl", sa.Float),
        )
    )


def _lease_renew(dialect: str) -> sa.Update:
    return (
        sa.update(run_leases)
        .where(run_leases.c.run_id == _b("run_id"), run_leases.c.epoch == _b("epoch"))
        .values(expires_at=_db_now(dialect) + _b("ttl", sa.Float))
    )


def _lease_release() -> sa.Update:
    return (
        sa.update(run_leases)
        .where(run_leases.c.run_id == _b("run_id"), run_leases.c.epoch == _b("epoch"))
        .values(expires_at=0.0)
    )


def _lease_row() -> sa.Select[Any]:
    return sa.select(run_leases).where(run_leases.c.run_id == _b("run_id"))


def _now(dialect: str) -> sa.Select[Any]:
    return sa.select(_db_now(dialect).label("now"))


_WRITERS: dict[str, Callable[[str], Write]] = {
    "insert_run": lambda _: _insert(runs),
    "insert_workstream": lambda _: _insert(workstreams),
    "insert_task": lambda _: _insert(tasks),
    "insert_decision": lambda _: _insert(decisions, skip=("id",)),
    "set_run_status": lambda _: _set_run_status(),
    "claim_run": lambda _: _claim_run(),
    "heartbeat": lambda _: _heartbeat(),
    "update_task": lambda _: _update_task(),
    "mark_started": lambda _: _mark_started(),
    "complete_attempt": lambda _: _complete_attempt(),
    "lease_claim": _lease_claim,
    "lease_locked": _lease_locked,
    "lease_take": _lease_take,
    "lease_renew": _lease_renew,
    "lease_release": lambda _: _lease_release(),
    "lease_row": lambda _: _lease_row(),
    "db_now": _now,
}
WRITES = tuple(_WRITERS)


@cache
def write_statement(name: str, dialect: str = "sqlite") -> Write:
    """The write (or locking read) statement called ``name``, for ``dialect``."""
    return _WRITERS[name](dialect)


COLUMNS = {"attempts": tuple(c.name for c in attempts.c), "events": tuple(c.name for c in events.c)}
"""Column names the store's multi-row statements are made of."""


def _variants(base: str, make: Callable[..., Statement], *flags: str) -> Iterator[tuple[str, Any]]:
    for chosen in itertools.product((False, True), repeat=len(flags)):
        name = "+".join([base, *(flag for flag, on in zip(flags, chosen, strict=True) if on)])
        yield name, (lambda chosen=chosen: make(*chosen))


def variant(base: str, **flags: bool) -> str:
    """The name of ``base`` with the filters in ``flags`` that are on, in order."""
    return "+".join([base, *(flag for flag, on in flags.items() if on)])


_MAKERS: dict[str, Callable[[], Statement]] = {
    "run": _run,
    "runs_by_id": _runs_by_id,
    "workstreams": _workstreams,
    "workstream_names": _workstream_names,
    "task_counts": _task_counts,
    "schema_version": _schema_version,
    **dict(_variants("recent_runs", _recent_runs, "statuses")),
    **dict(_variants("tasks", _tasks, "statuses")),
    **dict(_variants("attempts", _attempts, "states", "task")),
    **dict(_variants("events", _events, "run", "types", "limit")),
    **dict(_variants("count_events", _count_events, "run")),
    **dict(_variants("decisions", _decisions, "run", "category", "limit")),
}
NAMES = tuple(_MAKERS)


@cache
def statement(name: str, *, glob: bool = True) -> Statement:
    """The statement called ``name`` (``glob=False``: events typed by LIKE, PostgreSQL)."""
    if not glob and name.startswith("events+"):
        flags = name.split("+")[1:]
        return _events("run" in flags, "types" in flags, "limit" in flags, glob=False)
    return _MAKERS[name]()


@cache
def parameters(name: str, *, glob: bool = True) -> frozenset[str]:
    """The names of the parameters the statement ``name`` takes."""
    return frozenset(statement(name, glob=glob).compile().params)


Compiled = tuple[str, tuple[str, ...], dict[str, object]]


def compiled_sqlite(name: str) -> Compiled:
    """The SQLite text of ``name``, the names of its parameters in order, and the values
    of those the statement fixes itself (``OFFSET``'s)."""
    compiled = statement(name).compile(dialect=sqlite.dialect())
    names = tuple(compiled.positiontup or ())
    fixed = {k: v for k, v in compiled.params.items() if k in names and v is not None}
    return " ".join(str(compiled).split()), names, fixed


def compiled_write(name: str) -> Compiled:
    """As :func:`compiled_sqlite`, for the write statement ``name``."""
    compiled = write_statement(name).compile(dialect=sqlite.dialect())
    names = tuple(compiled.positiontup or ())
    fixed = {k: v for k, v in compiled.params.items() if k in names and v is not None}
    return " ".join(str(compiled).split()), names, fixed


def schema_ddl() -> tuple[str, ...]:
    """The statements that make an empty SQLite database at :data:`HEAD`: what
    ``metadata.create_all`` sends (tables in dependency order, each with its indexes), then
    Alembic's version table (its row is inserted by the caller)."""
    dialect = sqlite.dialect()
    ddl = []
    for table in [*metadata.sorted_tables, version_table]:
        ddl.append(str(sa.schema.CreateTable(table).compile(dialect=dialect)).strip())
        for index in sorted(table.indexes, key=lambda index: index.name or ""):
            ddl.append(str(sa.schema.CreateIndex(index).compile(dialect=dialect)).strip())
    return tuple(ddl)


def module_text() -> str:
    """The text of ``uet/state/_compiled.py``."""
    lines = [
        '"""Generated by ``python -m uet.state.queries > src/uet/state/_compiled.py``: do not',
        "edit. The SQLite text of :mod:`uet.state.queries`' statements, for",
        ':mod:`uet.state.fastread` and :mod:`uet.state.sqlite_store`."""',
        "",
        f"SCHEMA_HEAD = {HEAD!r}",
        '"""The schema revision these statements were compiled against."""',
        "",
        "SQL: dict[str, tuple[str, tuple[str, ...], dict[str, object]]] = {",
    ]
    for name in NAMES:
        sql, params, fixed = compiled_sqlite(name)
        lines.append(f"    {name!r}: (")
        lines.extend(f"        {piece}" for piece in _pieces(sql))
        lines.append(f"        {params!r},")
        lines.append(f"        {fixed!r},")
        lines.append("    ),")
    lines.append("}")
    lines += ["", "WRITES: dict[str, tuple[str, tuple[str, ...], dict[str, object]]] = {"]
    for name in WRITES:
        sql, params, fixed = compiled_write(name)
        lines.append(f"    {name!r}: (")
        lines.extend(f"        {piece}" for piece in _pieces(sql))
        lines.append(f"        {params!r},")
        lines.append(f"        {fixed!r},")
        lines.append("    ),")
    lines.append("}")
    lines += ["", f"COLUMNS = {COLUMNS!r}", "", f"VERSION_TABLE = {VERSION_TABLE!r}"]
    lines += ["", "DDL = ("]
    for text in schema_ddl():  # kept byte for byte: SQLite stores each CREATE's text
        lines.append("    (")
        for line in text.splitlines(keepends=True):
            lines.extend(f"        {piece!r}" for piece in _exact_pieces(line))
        lines.append("    ),")
    lines.append(")")
    lines.append('"""The statements that make an empty database at SCHEMA_HEAD."""')
    return "\n".join(lines) + "\n"


def _exact_pieces(text: str, width: int = 72) -> list[str]:
    """``text`` in pieces of about ``width`` characters, cut after spaces, that join to
    exactly ``text``."""
    pieces, piece = [], ""
    for word in text.split(" "):
        if piece and len(piece) + len(word) > width:
            pieces.append(piece)
            piece = ""
        piece += word + " "
    pieces.append(piece[:-1])
    return pieces


def _pieces(sql: str, width: int = 72) -> list[str]:
    """``sql`` as Python string literals of at most ``width`` characters, cut at spaces
    (implicitly concatenated in parentheses when more than one: lines ruff keeps)."""
    if len(sql) <= width:
        return [f"{sql!r},"]
    parts, line = [], ""
    for word in sql.split(" "):
        if line and len(line) + len(word) + 1 > width:
            parts.append(line + " ")
            line = word
        else:
            line = f"{line} {word}" if line else word
    parts.append(line)
    return ["(", *(f"    {part!r}" for part in parts), "),"]


if __name__ == "__main__":  # pragma: no cover - the generator's command line
    print(module_text(), end="")
