"""The store's read statements, written once in SQLAlchemy Core.

:class:`uet.state.store.Transaction` executes them through SQLAlchemy (SQLite and
PostgreSQL); :mod:`uet.state.fastread` executes the same statements' SQLite text, compiled
once into ``uet/state/_compiled.py``, through the stdlib ``sqlite3`` (the reading commands
then never import SQLAlchemy). Regenerate that module after changing a statement or the
schema head::

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

from uet.state.schema import HEAD, VERSION_TABLE
from uet.state.tables import attempts, decisions, events, runs, tasks, workstreams

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


def module_text() -> str:
    """The text of ``uet/state/_compiled.py``."""
    lines = [
        '"""Generated by ``python -m uet.state.queries > src/uet/state/_compiled.py``: do not',
        "edit. The SQLite text of :mod:`uet.state.queries`' statements, for",
        ':mod:`uet.state.fastread`."""',
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
    return "\n".join(lines) + "\n"


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
