"""Settings: small typed values, from flag > ``UET_*`` environment > config file > default.

The config file is the nearest ``uet.toml`` (or a ``pyproject.toml`` with a ``[tool.uet]``
table) in the working directory or above it; that directory is the project root, and relative
paths in settings are resolved against it. Every setting has one environment variable and one
key path in the file; ``SETTINGS`` lists them, and ``docs/configuration.md`` documents them.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from uet import defaults
from uet.errors import ConfigError
from uet.scope import Protected

CONFIG_FILE = "uet.toml"
PYPROJECT_FILE = "pyproject.toml"

RESERVED_SECTIONS = frozenset(
    {"tools", "routing", "triggers", "alerts", "scripts", "deploy", "checkers", "patch_policy"}
)
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


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings. Build with :func:`load_settings`; paths are absolute.

    A plain frozen dataclass checked by :func:`_checked` (not a pydantic model): every
    command builds one, and importing pydantic would cost each of them ~0.1 s.
    """

    root: Path
    home: Path
    db: str
    backup_dir: Path
    non_interactive: bool = False
    sqlite_synchronous: Literal["NORMAL", "FULL"] = defaults.SQLITE_SYNCHRONOUS
    sqlite_busy_timeout: float = defaults.SQLITE_BUSY_TIMEOUT_S
    store_fault_timeout: float = defaults.STORE_FAULT_TIMEOUT_S
    event_batch_size: int = defaults.EVENT_BATCH_SIZE
    event_flush_interval: float = defaults.EVENT_FLUSH_INTERVAL_S
    event_queue_max: int = defaults.EVENT_QUEUE_MAX
    run_lease_ttl: float = defaults.RUN_LEASE_TTL_S
    orchestrator_stale: float = defaults.ORCHESTRATOR_STALE_S
    backup_retention_days: int = defaults.BACKUP_RETENTION_DAYS
    max_spec_bytes: int = defaults.MAX_SPEC_BYTES
    pg_bindir: Path | None = None
    protected_paths: tuple[str, ...] = ()  # added to defaults.PROTECTED_PATHS
    sandbox: Literal["none", "auto", "required"] | None = None  # None: each tool profile's
    executor: Literal["local", "local-inproc"] = "local"
    lost_redispatch_max: int = defaults.LOST_REDISPATCH_MAX
    sections: dict[str, Any] = dataclasses.field(default_factory=dict)
    config_file: Path | None = None

    def updated(self, **values: object) -> Settings:
        """A copy with ``values`` changed, checked like loaded settings (ValueError if bad)."""
        return dataclasses.replace(self, **{k: _checked(k, v) for k, v in values.items()})

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
    values.update(root=root, config_file=config_file, sections=sections)
    try:
        checked: dict[str, Any] = {name: _checked(name, value) for name, value in values.items()}
        return Settings(**checked)
    except ValueError as exc:
        name = str(exc.args[1]) if len(exc.args) > 1 else ""
        key = _BY_FIELD.get(name)
        source = origins.get(name, "settings")
        raise ConfigError(source, key.dotted if key else name, str(exc.args[0])) from None


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if type(value) is int and value in (0, 1):
        return bool(value)
    raise ValueError("Input should be a valid boolean")


def _as_int(value: object) -> int:
    if isinstance(value, bool):  # booleans are not numbers
        raise ValueError("Input should be a valid integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:  # int() refuses more than sys.get_int_max_str_digits() digits: a ValueError
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError("Input should be a valid integer")


def _as_float(value: object) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None:
        raise ValueError("Input should be a valid number")
    if not math.isfinite(number):
        raise ValueError("Input should be a finite number")
    return number


def _as_path(value: object) -> Path:
    if isinstance(value, str | Path):
        return Path(value)
    raise ValueError("Input should be a valid path")


def _as_paths(value: object) -> tuple[str, ...]:
    if isinstance(value, str):  # from the environment variable
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError("Input should be a list of strings")
    for entry in value:
        Protected.parse(entry)  # a bad pattern is a ValueError: a ConfigError
    return tuple(value)


def _one_of(*choices: str, upper: bool = False) -> Callable[[object], str]:
    def check(value: object) -> str:
        text = value.upper() if upper and isinstance(value, str) else value
        if text not in choices:
            raise ValueError(f"Input should be {' or '.join(map(repr, choices))}")
        return str(text)

    return check


def _bounded(
    convert: Callable[[object], Any],
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
) -> Callable[[object], Any]:
    def check(value: object) -> Any:
        number = convert(value)
        if gt is not None and not number > gt:
            raise ValueError(f"Input should be greater than {gt:g}")
        if ge is not None and not number >= ge:
            raise ValueError(f"Input should be greater than or equal to {ge:g}")
        if le is not None and not number <= le:
            raise ValueError(f"Input should be less than or equal to {le:g}")
        return number

    return check


def _as_str(value: object) -> str:
    if isinstance(value, str):
        return value
    raise ValueError("Input should be a valid string")


def _as_dict(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise ValueError("Input should be a valid dictionary")


def _optional(convert: Callable[[object], Any]) -> Callable[[object], Any]:
    return lambda value: None if value is None else convert(value)


_TIMEOUT = _bounded(_as_float, gt=0, le=defaults.MAX_TIMEOUT_S)
_CHECKS: dict[str, Callable[[object], Any]] = {
    "root": _as_path,
    "home": _as_path,
    "db": _as_str,
    "backup_dir": _as_path,
    "non_interactive": _as_bool,
    "sqlite_synchronous": _one_of("NORMAL", "FULL", upper=True),
    "sqlite_busy_timeout": _TIMEOUT,
    "store_fault_timeout": _TIMEOUT,
    "event_batch_size": _bounded(_as_int, ge=1),
    "event_flush_interval": _TIMEOUT,
    "event_queue_max": _bounded(_as_int, ge=1),
    "run_lease_ttl": _bounded(_as_float, gt=0),
    "orchestrator_stale": _bounded(_as_float, gt=0),
    "backup_retention_days": _bounded(_as_int, ge=0),
    "max_spec_bytes": _bounded(_as_int, ge=1),
    "pg_bindir": _optional(_as_path),
    "protected_paths": _as_paths,
    "executor": _one_of("local", "local-inproc"),
    "lost_redispatch_max": _bounded(_as_int, ge=0, le=100),
    "sandbox": _optional(_one_of("none", "auto", "required")),
    "sections": _as_dict,
    "config_file": _optional(_as_path),
}
"""How each field of :class:`Settings` is checked and converted (as pydantic's lax mode
would, except that booleans are not numbers and numbers are finite)."""


def _checked(name: str, value: object) -> Any:
    """``value`` converted for field ``name``; ValueError(problem, name) when it is wrong."""
    check = _CHECKS.get(name)
    if check is None:
        raise ValueError("Extra inputs are not permitted", name)
    try:
        return check(value)
    except ValueError as exc:
        raise ValueError(str(exc.args[0]) if exc.args else "invalid value", name) from None


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
