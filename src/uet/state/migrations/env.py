"""Alembic environment: uet always hands it a connection (see ``uet.state.schema``)."""

from __future__ import annotations

from alembic import context

from uet.state.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "uet's migrations run through `uet db upgrade` (or uet.state.schema), "
        "which provides the connection; the alembic command line is not configured for them"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite alters tables by copying them; batch mode does that
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
