"""Is this SQLite file sound, and is this backup the one that was taken? Manifests and checks.

Every backup gets a manifest beside it, ``<backup>.manifest.json``::

    {"file": "state-20261124T020000Z.db", "size": 131072, "sha256": "9f86d0…",
     "schema_revision": "0004", "row_counts": {"events": 200, "runs": 1, …},
     "created_at": "2026-11-24T02:00:00Z", "uet_version": "0.1.0", "dialect": "sqlite"}

Checks, cheapest first; each returns the problems it found (empty: sound):

* :func:`digest_problem`: the file's size and SHA-256 against its manifest. This is what
  catches a changed byte anywhere, free pages included, which SQLite's own checks never see.
* :func:`sqlite_check`: ``PRAGMA quick_check`` or ``integrity_check`` (b-tree structure,
  page format), ``foreign_key_check``, and every JSON column parsed, which the integrity check
  does not look at (a changed byte inside a record passes it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MANIFEST_SUFFIX = ".manifest.json"

JSON_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "runs": ("params", "summary"),
    "workstreams": ("depends_on", "spec"),
    "tasks": ("depends_on", "spec"),
    "events": ("payload",),
    "decisions": ("alternatives", "data"),
    "agents": ("files_scope", "depends_on"),
}
"""The columns that hold JSON documents (``tables.py``): each must parse."""

_SHOWN = 3  # problems named in one message


@dataclass(frozen=True, slots=True)
class Manifest:
    file: str  # the backup's file name (the manifest lies beside it)
    size: int  # bytes
    sha256: str  # hex digest of the whole file
    schema_revision: str | None
    row_counts: dict[str, int]
    created_at: str  # ISO 8601, UTC
    uet_version: str
    dialect: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + MANIFEST_SUFFIX)


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def make_manifest(
    path: Path, *, revision: str | None, row_counts: Mapping[str, int], dialect: str
) -> Manifest:
    from uet import __version__  # noqa: PLC0415 - the package imports the state modules

    return Manifest(
        file=path.name,
        size=path.stat().st_size,
        sha256=sha256_of(path),
        schema_revision=revision,
        row_counts=dict(sorted(row_counts.items())),
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        uet_version=__version__,
        dialect=dialect,
    )


def write_manifest(manifest: Manifest, target: Path) -> None:
    """Write ``manifest`` to ``target`` and fsync it (the rename into place is the caller's)."""
    with target.open("w", encoding="utf-8") as handle:
        json.dump(manifest.to_dict(), handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_manifest(backup: Path) -> Manifest | str:
    """The manifest beside ``backup``, or what is wrong with it (missing, unreadable)."""
    path = manifest_path(backup)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Manifest(
            file=str(data["file"]),
            size=int(data["size"]),
            sha256=str(data["sha256"]),
            schema_revision=None
            if data["schema_revision"] is None
            else str(data["schema_revision"]),
            row_counts={str(k): int(v) for k, v in dict(data["row_counts"]).items()},
            created_at=str(data["created_at"]),
            uet_version=str(data["uet_version"]),
            dialect=str(data.get("dialect", "sqlite")),
        )
    except FileNotFoundError:
        return f"no manifest {path.name} beside it"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"its manifest {path.name} is unreadable ({type(exc).__name__}: {exc})"


def digest_problem(backup: Path, manifest: Manifest) -> str | None:
    """Whether ``backup`` is, byte for byte, the file its manifest describes."""
    size = backup.stat().st_size
    if size != manifest.size:
        return f"its size is {size:,} bytes, its manifest says {manifest.size:,}"
    digest = sha256_of(backup)
    if digest != manifest.sha256:
        return (
            f"its SHA-256 {digest[:16]}… differs from its manifest's {manifest.sha256[:16]}…: "
            "the file changed after the backup was taken"
        )
    return None


def verified(backup: Path) -> str | None:
    """None when ``backup`` has a manifest and matches it; else the problem."""
    manifest = read_manifest(backup)
    if isinstance(manifest, str):
        return manifest
    return digest_problem(backup, manifest)


# -- SQLite ---------------------------------------------------------------------------------


@contextlib.contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the SQLite file ``path`` (never creates it)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def structure_problems(conn: sqlite3.Connection, *, quick: bool) -> list[str]:
    """``PRAGMA quick_check`` (O(N)) or ``integrity_check`` (also indexes against tables)."""
    pragma = "quick_check" if quick else "integrity_check"
    found = [str(row[0]) for row in conn.execute(f"PRAGMA {pragma}({_SHOWN})")]
    if found == ["ok"]:
        return []
    lines = (line.strip() for problem in found for line in problem.splitlines())
    return [f"{pragma}: {line}" for line in lines if line and not line.startswith("***")]


def logical_problems(conn: sqlite3.Connection) -> list[str]:
    """Foreign keys that point nowhere and JSON columns that do not parse."""
    problems = [
        f"foreign key broken: {table} row {rowid} points to a missing {parent} row"
        for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check").fetchmany(_SHOWN)
    ]
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    for table, columns in JSON_COLUMNS.items():
        if table not in tables:
            continue  # an older schema
        present = {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
        for column in columns:
            if column in present:
                problems += _json_problems(conn, table, column)
    return problems


def _json_problems(conn: sqlite3.Connection, table: str, column: str) -> list[str]:
    # SQLite's json_valid is stricter than Python (NaN, Infinity): what it rejects is then
    # parsed as uet reads it, with json.loads.
    try:
        rows = conn.execute(
            f'SELECT rowid, "{column}" FROM "{table}" '
            f'WHERE "{column}" IS NOT NULL AND NOT json_valid("{column}")'
        )
    except sqlite3.OperationalError:  # a SQLite built without JSON: every row through Python
        rows = conn.execute(f'SELECT rowid, "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL')
    problems = []
    for rowid, text in rows:
        try:
            json.loads(text)
        except (ValueError, TypeError) as exc:
            problems.append(f"{table}.{column} of row {rowid} is not JSON ({exc})")
            if len(problems) >= _SHOWN:
                break
    return problems


def row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {
        name: int(conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]) for name in names
    }
