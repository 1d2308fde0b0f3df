"""Settings: small typed values, from flag > ``UET_*`` environment > config file > default.

The config file is the nearest ``uet.toml`` (or a ``pyproject.toml`` with a ``[tool.uet]``
table) in the working directory or above it; that directory is the project root, and relative
paths in settings are resolved against it. Every setting has one environment variable and one
key path in the file; ``SETTINGS`` lists them, and ``docs/configuration.md`` documents them.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pydantic

from uet import defaults
from uet.errors import ConfigError
from uet.scope import Protected

CONFIG_FILE = "uet.toml"
PYPROJECT_FILE = "pyproject.toml"

RESERVED_SECTIONS = frozenset({"tools", "routing", "triggers", "alerts", "scripts", "deploy"})
"""Config sections owned by later layers; kept raw here and validated by their owners."""


@dataclass(frozen=True, slots=True)
class SettingKey:
    """Where one setting comes from: its field, environment variable and file key path."""

    field: str
    env: str
    path: tuple[str, ...]
    help: str

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


SETTINGS: tuple[SettingKey, ...] = (
    SettingKey("home", "UET_HOME", ("home",), "uet's home folder in the project"),
    SettingKey("db", "UET_DB", ("db",), "SQLAlchemy URL of the state database"),
    SettingKey("non_interactive", "UET_NON_INTERACTIVE", ("non_interactive",), "never prompt"),
    SettingKey(
        "sqlite_synchronous",
        "UET_SQLITE_SYNCHRONOUS",
        ("sqlite", "synchronous"),
        "NORMAL (survives process crashes) or FULL (also power loss)",
    ),
    SettingKey(
        "sqlite_busy_timeout",
        "UET_SQLITE_BUSY_TIMEOUT",
        ("sqlite", "busy_timeout"),
        "seconds a writer waits for the SQLite write lock",
    ),
    SettingKey(
        "store_fault_timeout",
        "UET_STORE_FAULT_TIMEOUT",
        ("store", "fault_timeout"),
        "seconds a write failing for a transient reason is retried before the run ends",
    ),
    SettingKey(
        "event_batch_size",
        "UET_EVENT_BATCH_SIZE",
        ("events", "batch_size"),
        "events per write transaction, at most",
    ),
    SettingKey(
        "event_flush_interval",
        "UET_EVENT_FLUSH_INTERVAL",
        ("events", "flush_interval"),
        "seconds an event may wait before it is written",
    ),
    SettingKey(
        "event_queue_max",
        "UET_EVENT_QUEUE_MAX",
        ("events", "queue_max"),
        "events waiting to be written before emit() blocks",
    ),
    SettingKey(
        "run_lease_ttl",
        "UET_RUN_LEASE_TTL",
        ("runs", "lease_ttl"),
        "seconds a run's lease lives without renewal (PostgreSQL takeover)",
    ),
    SettingKey(
        "orchestrator_stale",
        "UET_ORCHESTRATOR_STALE",
        ("runs", "orchestrator_stale"),
        "seconds without a heartbeat that orphan a run with no lease (older runs)",
    ),
    SettingKey("backup_dir", "UET_BACKUP_DIR", ("backups", "dir"), "where backups go"),
    SettingKey(
        "backup_retention_days",
        "UET_BACKUP_RETENTION_DAYS",
        ("backups", "retention_days"),
        "days `uet db prune` keeps backups",
    ),
    SettingKey(
        "max_spec_bytes",
        "UET_MAX_SPEC_BYTES",
        ("max_spec_bytes",),
        "bytes a workstream file may have, at most",
    ),
    SettingKey(
        "pg_bindir",
        "UET_PG_BINDIR",
        ("postgres", "bindir"),
        "folder of pg_dump/pg_restore (default: found on PATH)",
    ),
    SettingKey(
        "protected_paths",
        "UET_PROTECTED_PATHS",
        ("agents", "protected_paths"),
        "more paths agents may not change (comma-separated in the variable)",
    ),
    SettingKey(
        "sandbox",
        "UET_SANDBOX",
        ("agents", "sandbox"),
        "none | auto | required: the sandbox of tool processes, over the profiles' (a task's wins)",
    ),
    SettingKey(
        "executor",
        "UET_EXECUTOR",
        ("run", "executor"),
        "local (an executor process; outcomes survive uet) or local-inproc (a thread of uet)",
    ),
    SettingKey(
        "lost_redispatch_max",
        "UET_LOST_REDISPATCH_MAX",
        ("run", "lost_redispatch_max"),
        "re-runs of a task whose attempt was lost because uet died, without using a retry",
    ),
)
_BY_FIELD = {key.field: key for key in SETTINGS}


class Settings(pydantic.BaseModel):
    """Resolved settings. Build with :func:`load_settings`; paths are absolute."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    root: Path
    home: Path
    db: str
    non_interactive: bool = False
    sqlite_synchronous: Literal["NORMAL", "FULL"] = defaults.SQLITE_SYNCHRONOUS
    sqlite_busy_timeout: float = pydantic.Field(
        defaults.SQLITE_BUSY_TIMEOUT_S, gt=0, le=defaults.MAX_TIMEOUT_S, allow_inf_nan=False
    )
    store_fault_timeout: float = pydantic.Field(
        defaults.STORE_FAULT_TIMEOUT_S, gt=0, le=defaults.MAX_TIMEOUT_S, allow_inf_nan=False
    )
    event_batch_size: int = pydantic.Field(defaults.EVENT_BATCH_SIZE, ge=1)
    event_flush_interval: float = pydantic.Field(
        defaults.EVENT_FLUSH_INTERVAL_S, gt=0, le=defaults.MAX_TIMEOUT_S, allow_inf_nan=False
    )
    event_queue_max: int = pydantic.Field(defaults.EVENT_QUEUE_MAX, ge=1)
    run_lease_ttl: float = pydantic.Field(defaults.RUN_LEASE_TTL_S, gt=0)
    orchestrator_stale: float = pydantic.Field(defaults.ORCHESTRATOR_STALE_S, gt=0)
    backup_dir: Path
    backup_retention_days: int = pydantic.Field(defaults.BACKUP_RETENTION_DAYS, ge=0)
    max_spec_bytes: int = pydantic.Field(defaults.MAX_SPEC_BYTES, ge=1)
    pg_bindir: Path | None = None
    protected_paths: tuple[str, ...] = ()  # added to defaults.PROTECTED_PATHS
    sandbox: Literal["none", "auto", "required"] | None = None  # None: each tool profile's
    executor: Literal["local", "local-inproc"] = "local"
    lost_redispatch_max: int = pydantic.Field(defaults.LOST_REDISPATCH_MAX, ge=0, le=100)
    sections: dict[str, Any] = pydantic.Field(default_factory=dict)
    config_file: Path | None = None

    @pydantic.field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @pydantic.field_validator("protected_paths", mode="before")
    @classmethod
    def _paths(cls, value: object) -> object:
        if isinstance(value, str):  # from the environment variable
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            for entry in value:
                if isinstance(entry, str):
                    Protected.parse(entry)  # a bad pattern is a ValueError: a ConfigError
        return value

    @property
    def all_protected_paths(self) -> tuple[str, ...]:
        """The built-in protected paths, uet's home when it is not ``.uet``, then the
        configured ones."""
        home: tuple[str, ...] = ()
        if self.home.is_relative_to(self.root) and self.home != self.root:
            home = (f"{self.home.relative_to(self.root).as_posix()}/**",)
        entries = (*defaults.PROTECTED_PATHS, *home, *self.protected_paths)
        return tuple(dict.fromkeys(entries))

    @property
    def is_sqlite(self) -> bool:
        return self.db.startswith("sqlite")


def find_project_root(start: Path) -> tuple[Path, Path | None]:
    """The nearest folder at or above ``start`` that is a uet project, and its config file.

    A folder is a project when it holds ``uet.toml``, a ``pyproject.toml`` with
    ``[tool.uet]``, or a ``.uet`` home. Without any, ``start`` itself is the root.
    """
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder, folder / CONFIG_FILE
        pyproject = folder / PYPROJECT_FILE
        if pyproject.is_file() and "uet" in _read_toml(pyproject).get("tool", {}):
            return folder, pyproject
        if (folder / defaults.HOME_DIR).is_dir():
            return folder, None
    return start, None


def load_settings(
    overrides: Mapping[str, object] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve settings. ``overrides`` are command-line flags by field name (None = not given)."""
    env = os.environ if env is None else env
    root, config_file = find_project_root(cwd or Path.cwd())
    values: dict[str, object] = {}
    origins: dict[str, str] = {}
    sections: dict[str, Any] = {}
    if config_file is not None:
        sections = _file_values(config_file, values, origins)
    for key in SETTINGS:
        if key.env in env and env[key.env] != "":
            values[key.field] = env[key.env]
            origins[key.field] = f"environment variable {key.env}"
    for field, value in (overrides or {}).items():
        if value is not None:
            values[field] = value
            origins[field] = f"--{field.replace('_', '-')}"
    return _build(root, config_file, values, origins, sections)


def _build(
    root: Path,
    config_file: Path | None,
    values: dict[str, object],
    origins: dict[str, str],
    sections: dict[str, Any],
) -> Settings:
    home = root / str(values.pop("home", defaults.HOME_DIR))
    values["home"] = home
    values.setdefault("db", f"sqlite:///{home / defaults.STATE_DB_NAME}")
    problem = database_url_problem(str(values["db"]))
    if problem is not None:
        source = origins.get("db", "settings")
        raise ConfigError(source, "db" if source == str(config_file) else "", problem)
    values["db"] = _absolute_sqlite_url(str(values["db"]), root)
    values["backup_dir"] = root / str(values.get("backup_dir", home / defaults.BACKUP_DIR_NAME))
    try:
        return Settings.model_validate(
            {**values, "root": root, "config_file": config_file, "sections": sections}
        )
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        key = _BY_FIELD.get(field)
        source = origins.get(field, "settings")
        raise ConfigError(source, key.dotted if key else field, error["msg"]) from None


DATABASES = {"sqlite": ("pysqlite",), "postgresql": ("psycopg", "psycopg2")}
"""The dialects uet keeps its state in, and the drivers it knows for each (the first is the
default)."""
DATABASE_URL_FORMS = "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
_URL = re.compile(r"(?P<dialect>[A-Za-z][A-Za-z0-9]*)(?:\+(?P<driver>[A-Za-z0-9_]+))?://")


def database_url_problem(url: str) -> str | None:
    """What is wrong with a database URL at a glance (its form, dialect and driver), or None.

    Whether the driver is installed is only known when it is imported, by
    ``uet.state.database``; this needs no SQLAlchemy, so every command checks it cheaply.
    """
    found = _URL.match(url)
    if found is None:
        return f"{hide_password(url)!r} is not a database URL (expected {DATABASE_URL_FORMS})"
    dialect, driver = found["dialect"].lower(), found["driver"]
    if dialect not in DATABASES:
        hint = " (did you mean postgresql://?)" if dialect == "postgres" else ""
        return f"unknown database {dialect!r}{hint}: uet keeps its state in {DATABASE_URL_FORMS}"
    if driver is not None and driver.lower() not in DATABASES[dialect]:
        known = ", ".join(f"{dialect}+{name}" for name in DATABASES[dialect])
        return f"unknown driver {driver!r} for {dialect} (known: {known})"
    return None


def hide_password(url: str) -> str:
    """``scheme://user:***@host/...``: a URL fit to print."""
    return re.sub(r"(://[^/?#@:]*:)[^/?#@]*@", r"\1***@", url, count=1)


def _absolute_sqlite_url(url: str, root: Path) -> str:
    """Make a relative SQLite path absolute against the project root (memory URLs untouched)."""
    scheme, found, rest = url.partition(":///")  # sqlite or sqlite+<driver>
    if not found or scheme.split("+")[0] != "sqlite" or rest.startswith("/"):
        return url
    prefix = f"{scheme}:///"
    path, sep, query = rest.partition("?")
    if not path or path == ":memory:":
        return url
    return f"{prefix}{(root / path).resolve()}{sep}{query}"


def _file_values(path: Path, values: dict[str, object], origins: dict[str, str]) -> dict[str, Any]:
    """Read the config file into ``values``; return the reserved sections untouched."""
    data = _read_toml(path)
    if path.name == PYPROJECT_FILE:
        data = data.get("tool", {}).get("uet", {})
    by_path = {key.path: key for key in SETTINGS}
    sections: dict[str, Any] = {}
    for name, value in data.items():
        if name in RESERVED_SECTIONS:
            sections[name] = value
        elif (name,) in by_path:
            _take(by_path[(name,)], value, path, values, origins)
        elif isinstance(value, dict) and any(p[0] == name for p in by_path):
            for sub, sub_value in value.items():
                if (name, sub) not in by_path:
                    raise ConfigError(str(path), f"{name}.{sub}", _unknown(name, by_path))
                _take(by_path[(name, sub)], sub_value, path, values, origins)
        else:
            raise ConfigError(str(path), name, _unknown(None, by_path))
    return sections


def _take(
    key: SettingKey, value: object, path: Path, values: dict[str, object], origins: dict[str, str]
) -> None:
    values[key.field] = value
    origins[key.field] = str(path)


def _unknown(section: str | None, by_path: Mapping[tuple[str, ...], SettingKey]) -> str:
    if section is None:
        known = sorted({p[0] for p in by_path} | RESERVED_SECTIONS)
    else:
        known = sorted(p[1] for p in by_path if p[0] == section and len(p) > 1)
    return f"unknown key (known: {', '.join(known)})"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}") from None


def is_non_interactive(settings: Settings, env: Mapping[str, str] | None = None) -> bool:
    """True when uet must never prompt: the setting, ``CI=true``, or stdin not a terminal."""
    env = os.environ if env is None else env
    if settings.non_interactive or env.get("CI", "").lower() == "true":
        return True
    return not (sys.stdin is not None and sys.stdin.isatty())
