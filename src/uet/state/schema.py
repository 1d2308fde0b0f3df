"""Schema versions: Alembic migrations run from code, and the check every open makes.

``HEAD`` names the newest revision so that opening a store costs one query, not a scan of the
migration scripts (a test keeps it equal to Alembic's head). Alembic itself is imported only
when migrating or comparing, which keeps it out of every command's start-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from uet.errors import SchemaError, UsageError
from uet.state.database import READONLY, translate_errors
from uet.state.tables import metadata

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

HEAD = "0007"
"""The newest schema revision this uet writes."""

VERSION_TABLE = "alembic_version"
MIGRATION_LOCK_KEY = 0x7565745F736368  # "uet_sch": the advisory lock migrations hold


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    current: str | None
    head: str
    has_tables: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


@cache
def alembic_config() -> Config:
    from alembic.config import Config  # noqa: PLC0415 - kept out of start-up

    config = Config()
    config.set_main_option("script_location", "uet.state:migrations")
    return config


def script_directory() -> ScriptDirectory:
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - kept out of start-up

    return ScriptDirectory.from_config(alembic_config())


def revisions() -> list[str]:
    """Every revision id, oldest first."""
    return [rev.revision for rev in reversed(list(script_directory().walk_revisions()))]


def status(engine: sa.Engine) -> SchemaStatus:
    reader = engine.execution_options(**{READONLY: True})
    with translate_errors(engine), reader.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        current = None
        if VERSION_TABLE in tables:
            rows = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
            current = next(iter(rows), None)
        conn.rollback()
    # An empty alembic_version alone (left by a downgrade to base) is an empty database.
    return SchemaStatus(current=current, head=HEAD, has_tables=bool(tables - {VERSION_TABLE}))


def ensure_current(engine: sa.Engine, *, create: bool = True) -> bool:
    """Create an empty database at head (only when ``create``; False: it is empty and was
    left so); refuse one at another revision with a clear message."""
    state = status(engine)
    if state.up_to_date:
        return True
    where = engine.url.render_as_string(hide_password=True)
    if state.current is None and not state.has_tables:
        if create:
            create_at_head(engine)
        return create
    if state.current is None:
        message = (
            f"{where} has tables but no uet schema version: it is not a uet database "
            "(point --db / UET_DB at another one)"
        )
    elif state.current in revisions():
        message = (
            f"{where} is at schema revision {state.current}; this uet needs {HEAD}. "
            "Run `uet db upgrade` (it takes a backup first on SQLite)."
        )
    else:
        message = (
            f"{where} is at schema revision {state.current}, which this uet does not know: "
            "it was written by a newer uet. Upgrade uet to use it."
        )
    raise SchemaError(message, current=state.current, expected=HEAD)


@contextmanager
def _migration_connection(engine: sa.Engine) -> Iterator[Config]:
    config = alembic_config()
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table by copying it and dropping the original; with
            # foreign keys on, that DROP would cascade to every child row. The pragma cannot
            # change inside a transaction, so it is set before BEGIN and the keys are checked
            # before COMMIT instead.
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    # Concurrent first opens must not both create the schema (SQLite's
                    # BEGIN IMMEDIATE already serialises them).
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
                config.attributes["connection"] = conn
                try:
                    yield config
                finally:
                    config.attributes.pop("connection", None)
                if sqlite:
                    _check_foreign_keys(conn)
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


@contextmanager
def _revision_errors() -> Iterator[None]:
    """An unknown or unreachable revision is the user's input, not a crash (exit 2)."""
    from alembic.util.exc import CommandError  # noqa: PLC0415 - kept out of start-up

    try:
        yield
    except CommandError as exc:
        raise UsageError(f"{exc} (known revisions: {', '.join(revisions())}, head, base)") from None


def _check_foreign_keys(conn: sa.Connection) -> None:
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise SchemaError(
            f"migration left {len(broken)} rows whose foreign keys point nowhere "
            f"(first: {tuple(broken[0])}); rolled back",
            current=None,
            expected=HEAD,
        )


_version_table = sa.Table(  # as Alembic makes it, in a MetaData of its own (not uet's tables)
    VERSION_TABLE,
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
)


def create_at_head(engine: sa.Engine) -> None:
    """Make an empty database straight at ``HEAD``: the tables of ``tables.py`` and the
    version row, in one transaction, without loading Alembic or replaying every migration
    (a fresh project's first command pays for neither). tests/state/test_migrations.py keeps
    the result equal to what the migrations make. A database another process created
    meanwhile is left as it is (SQLite's BEGIN IMMEDIATE and PostgreSQL's advisory lock
    serialise first opens)."""
    with translate_errors(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
        if set(sa.inspect(conn).get_table_names()) - {VERSION_TABLE}:
            return
        metadata.create_all(conn)
        _version_table.create(conn, checkfirst=True)  # a downgrade to base leaves it empty
        conn.execute(_version_table.delete())
        conn.execute(_version_table.insert().values(version_num=HEAD))


def upgrade(engine: sa.Engine, target: str = "head") -> None:
    """Upgrade to ``target`` in one transaction (DDL is transactional on both dialects)."""
    from alembic import command  # noqa: PLC0415 - kept out of start-up

    with translate_errors(engine), _revision_errors(), _migration_connection(engine) as config:
        command.upgrade(config, target)


def downgrade(engine: sa.Engine, target: str) -> None:
    """Downgrade to ``target`` (a revision id, ``-1``, or ``base``) in one transaction."""
    from alembic import command  # noqa: PLC0415 - kept out of start-up

    with translate_errors(engine), _revision_errors(), _migration_connection(engine) as config:
        command.downgrade(config, target)


def drift(engine: sa.Engine) -> list[str]:
    """Differences between the tables in ``tables.py`` and the database (empty: none)."""
    from alembic.autogenerate import compare_metadata  # noqa: PLC0415 - kept out of start-up
    from alembic.migration import MigrationContext  # noqa: PLC0415

    reader = engine.execution_options(**{READONLY: True})
    with translate_errors(engine), reader.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": True}
        )
        diffs = compare_metadata(context, metadata)
        conn.rollback()
    return [_describe(diff) for diff in diffs]


def _describe(diff: Any) -> str:
    if isinstance(diff, list):  # column modifications come grouped
        return "; ".join(_describe(item) for item in diff)
    kind, *rest = diff
    names = []
    for item in rest:
        name = getattr(item, "name", None)
        table = getattr(item, "table", None)
        if name is not None and table is not None and hasattr(table, "name"):
            names.append(f"{table.name}.{name}")
        elif name is not None:
            names.append(str(name))
        elif isinstance(item, str):
            names.append(item)
    return f"{kind} {' '.join(names)}".strip()
