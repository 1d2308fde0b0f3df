"""Documented defaults, each with its unit. Settings (``uet.config``) start from these."""

from __future__ import annotations

from typing import Final

HOME_DIR = ".uet"
"""uet's home in a project, relative to the project root."""

STATE_DB_NAME = "state.db"
"""File name of the embedded SQLite database inside the home directory."""

SQLITE_BUSY_TIMEOUT_S = 30.0
"""Seconds a SQLite writer waits for the write lock before giving up."""

SQLITE_SYNCHRONOUS: Final = "NORMAL"
"""``PRAGMA synchronous`` in WAL mode: NORMAL survives any process crash; FULL also power loss."""

EVENT_BATCH_SIZE = 1000
"""Events written per transaction, at most."""

EVENT_FLUSH_INTERVAL_S = 0.05
"""Seconds an emitted event may wait before its batch is written."""

EVENT_QUEUE_MAX = 100_000
"""Events waiting to be written before ``emit()`` blocks (backpressure; never a drop)."""

BACKUP_DIR_NAME = "backups"
"""Backups folder inside the home directory."""

BACKUP_RETENTION_DAYS = 30
"""Days ``uet db prune`` keeps backups."""
