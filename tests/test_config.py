"""Settings: precedence, project discovery, path resolution, and errors that name their source.

Every test passes ``env=`` and ``cwd=`` explicitly: the real environment is never read.
"""

from __future__ import annotations

import dataclasses
import io
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uet import config, defaults
from uet.config import (
    RESERVED_SECTIONS,
    SETTINGS,
    Settings,
    find_project_root,
    is_non_interactive,
    load_settings,
)
from uet.errors import ConfigError, ExitCode


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty folder that is nobody's project yet."""
    root = tmp_path / "proj"
    root.mkdir()
    return root


# -- defaults and precedence ----------------------------------------------------------------


def test_defaults_without_any_configuration(project: Path) -> None:
    """No file, no env, no flag: documented defaults, home and database under the cwd."""
    found = load_settings(env={}, cwd=project)
    assert found.root == project.resolve()
    assert found.config_file is None
    assert found.home == project.resolve() / ".uet"
    assert found.db == f"sqlite:///{project.resolve() / '.uet' / 'state.db'}"
    assert found.is_sqlite
    assert found.backup_dir == project.resolve() / ".uet" / "backups"
    assert found.event_batch_size == defaults.EVENT_BATCH_SIZE
    assert found.event_flush_interval == defaults.EVENT_FLUSH_INTERVAL_S
    assert found.event_queue_max == defaults.EVENT_QUEUE_MAX
    assert found.sqlite_synchronous == defaults.SQLITE_SYNCHRONOUS
    assert found.sqlite_busy_timeout == defaults.SQLITE_BUSY_TIMEOUT_S
    assert found.backup_retention_days == defaults.BACKUP_RETENTION_DAYS
    assert found.non_interactive is False
    assert found.pg_bindir is None
    assert found.sections == {}


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ((), defaults.EVENT_BATCH_SIZE),
        (("pyproject",), 5),
        (("pyproject", "uet.toml"), 6),
        (("pyproject", "uet.toml", "env"), 7),
        (("pyproject", "uet.toml", "env", "flag"), 8),
        (("env", "flag"), 8),
        (("uet.toml", "flag"), 8),
        (("pyproject", "env"), 7),
        (("uet.toml",), 6),
    ],
)
def test_precedence_flag_env_uet_toml_pyproject_default(
    project: Path, layers: tuple[str, ...], expected: int
) -> None:
    """flag > UET_* environment > uet.toml > pyproject [tool.uet] > default."""
    if "pyproject" in layers:
        write(
            project / "pyproject.toml", "[project]\nname='x'\n[tool.uet.events]\nbatch_size = 5\n"
        )
    if "uet.toml" in layers:
        write(project / "uet.toml", "[events]\nbatch_size = 6\n")
    env = {"UET_EVENT_BATCH_SIZE": "7"} if "env" in layers else {}
    overrides = {"event_batch_size": 8} if "flag" in layers else None
    assert load_settings(overrides, env=env, cwd=project).event_batch_size == expected


def test_flag_given_as_none_means_not_given(project: Path) -> None:
    """An override of None (a flag the user did not pass) leaves the lower layer's value."""
    write(project / "uet.toml", "[events]\nbatch_size = 6\n")
    found = load_settings({"event_batch_size": None}, env={}, cwd=project)
    assert found.event_batch_size == 6


def test_empty_environment_variable_is_ignored(project: Path) -> None:
    """UET_X= (empty) does not override the file's value."""
    write(project / "uet.toml", "[events]\nbatch_size = 6\n")
    found = load_settings(env={"UET_EVENT_BATCH_SIZE": ""}, cwd=project)
    assert found.event_batch_size == 6


def test_every_setting_has_a_working_environment_variable(project: Path) -> None:
    """Each documented UET_* variable sets its field, coerced from text."""
    env = {
        "UET_HOME": "h",
        "UET_DB": "postgresql+psycopg://u@localhost/uet",
        "UET_NON_INTERACTIVE": "1",
        "UET_SQLITE_SYNCHRONOUS": "full",
        "UET_SQLITE_BUSY_TIMEOUT": "2.5",
        "UET_STORE_FAULT_TIMEOUT": "4",
        "UET_EVENT_BATCH_SIZE": "10",
        "UET_EVENT_FLUSH_INTERVAL": "0.5",
        "UET_EVENT_QUEUE_MAX": "20",
        "UET_BACKUP_DIR": "bk",
        "UET_BACKUP_RETENTION_DAYS": "0",
        "UET_PG_BINDIR": "/opt/pg/bin",
        "UET_PROTECTED_PATHS": "deploy/,Makefile",
        "UET_MAX_SPEC_BYTES": "1024",
        "UET_RUN_LEASE_TTL": "7.5",
        "UET_ORCHESTRATOR_STALE": "9",
        "UET_EXECUTOR": "local-inproc",
        "UET_LOST_REDISPATCH_MAX": "0",
        "UET_SANDBOX": "required",
    }
    assert {key.env for key in SETTINGS} == set(env)
    found = load_settings(env=env, cwd=project)
    root = project.resolve()
    assert found.home == root / "h"
    assert found.db == "postgresql+psycopg://u@localhost/uet"
    assert not found.is_sqlite
    assert found.non_interactive is True
    assert found.sqlite_synchronous == "FULL"
    assert found.sqlite_busy_timeout == 2.5
    assert found.store_fault_timeout == 4.0
    assert (found.event_batch_size, found.event_queue_max) == (10, 20)
    assert found.event_flush_interval == 0.5
    assert found.protected_paths == ("deploy/", "Makefile")
    assert found.sandbox == "required"
    assert found.backup_dir == root / "bk"
    assert found.backup_retention_days == 0
    assert found.pg_bindir == Path("/opt/pg/bin")
    assert found.max_spec_bytes == 1024
    assert (found.run_lease_ttl, found.orchestrator_stale) == (7.5, 9.0)
    assert found.executor == "local-inproc"
    assert found.lost_redispatch_max == 0


def test_every_setting_has_a_working_file_key(project: Path) -> None:
    """Each documented key path of uet.toml sets its field."""
    write(
        project / "uet.toml",
        """
home = "h"
db = "sqlite:///:memory:"
non_interactive = true
max_spec_bytes = 2048
[sqlite]
synchronous = "FULL"
busy_timeout = 3
[events]
batch_size = 11
flush_interval = 0.25
queue_max = 12
[backups]
dir = "/abs/backups"
retention_days = 9
[postgres]
bindir = "/usr/lib/postgresql/16/bin"
[runs]
lease_ttl = 12
orchestrator_stale = 120
""",
    )
    found = load_settings(env={}, cwd=project)
    assert (found.run_lease_ttl, found.orchestrator_stale) == (12.0, 120.0)
    assert found.config_file == project.resolve() / "uet.toml"
    assert found.home == project.resolve() / "h"
    assert found.db == "sqlite:///:memory:"
    assert found.non_interactive is True
    assert (found.sqlite_synchronous, found.sqlite_busy_timeout) == ("FULL", 3.0)
    assert (found.event_batch_size, found.event_flush_interval, found.event_queue_max) == (
        11,
        0.25,
        12,
    )
    assert found.backup_dir == Path("/abs/backups")
    assert found.backup_retention_days == 9
    assert found.pg_bindir == Path("/usr/lib/postgresql/16/bin")
    assert found.max_spec_bytes == 2048


def test_settings_are_frozen(project: Path) -> None:
    """Resolved settings cannot be changed after the fact."""
    found = load_settings(env={}, cwd=project)
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.event_batch_size = 3  # type: ignore[misc]


# -- project discovery and paths ------------------------------------------------------------


def test_project_root_is_found_from_a_subfolder(project: Path) -> None:
    """Run from deep inside a project, the root is the folder holding uet.toml and every
    relative path resolves against it, not against the working directory."""
    write(project / "uet.toml", 'home = "state"\n[backups]\ndir = "bk"\n')
    deep = project / "src" / "pkg" / "sub"
    deep.mkdir(parents=True)
    found = load_settings(env={}, cwd=deep)
    root = project.resolve()
    assert found.root == root
    assert found.config_file == root / "uet.toml"
    assert found.home == root / "state"
    assert found.db == f"sqlite:///{root / 'state' / 'state.db'}"
    assert found.backup_dir == root / "bk"


def test_nearest_project_marker_wins(project: Path) -> None:
    """A nested uet.toml is nearer than the parent's; so is a nested .uet home."""
    write(project / "uet.toml", "[events]\nbatch_size = 2\n")
    write(project / "inner" / "uet.toml", "[events]\nbatch_size = 3\n")
    (project / "other" / ".uet").mkdir(parents=True)
    inner = load_settings(env={}, cwd=project / "inner")
    assert (inner.root, inner.event_batch_size) == ((project / "inner").resolve(), 3)
    other = load_settings(env={}, cwd=project / "other")
    assert other.root == (project / "other").resolve()
    assert other.config_file is None
    assert other.event_batch_size == defaults.EVENT_BATCH_SIZE


def test_pyproject_without_tool_uet_is_not_a_project_marker(project: Path) -> None:
    """A package's pyproject.toml with no [tool.uet] is passed over on the way up."""
    write(project / "uet.toml", "[events]\nbatch_size = 2\n")
    write(project / "pkg" / "pyproject.toml", "[project]\nname = 'pkg'\n[tool.ruff]\nx = 1\n")
    root, config_file = find_project_root(project / "pkg")
    assert (root, config_file) == (project.resolve(), project.resolve() / "uet.toml")
    assert load_settings(env={}, cwd=project / "pkg").event_batch_size == 2


def test_pyproject_with_tool_uet_is_the_config_file(project: Path) -> None:
    """[tool.uet] in pyproject.toml is read like uet.toml, from a subfolder too."""
    write(project / "pyproject.toml", '[tool.uet]\nhome = "u"\n[tool.uet.sqlite]\nbusy_timeout=4\n')
    (project / "a").mkdir()
    found = load_settings(env={}, cwd=project / "a")
    assert found.config_file == project.resolve() / "pyproject.toml"
    assert found.home == project.resolve() / "u"
    assert found.sqlite_busy_timeout == 4.0


def test_uet_toml_is_chosen_over_pyproject_in_the_same_folder(project: Path) -> None:
    """With both files in one folder, uet.toml is the config file."""
    write(project / "pyproject.toml", "[tool.uet]\nhome = 'from-pyproject'\n")
    write(project / "uet.toml", "home = 'from-uet-toml'\n")
    found = load_settings(env={}, cwd=project)
    assert found.config_file == project.resolve() / "uet.toml"
    assert found.home == project.resolve() / "from-uet-toml"


@pytest.mark.parametrize("source", ["file", "env", "flag"])
def test_relative_sqlite_url_is_resolved_against_the_root(project: Path, source: str) -> None:
    """sqlite:///relative.db means relative to the project root, from any layer and cwd."""
    write(project / "uet.toml", "db = 'sqlite:///data/x.db'\n" if source == "file" else "")
    env = {"UET_DB": "sqlite:///data/x.db"} if source == "env" else {}
    overrides = {"db": "sqlite:///data/x.db"} if source == "flag" else None
    (project / "deep").mkdir()
    found = load_settings(overrides, env=env, cwd=project / "deep")
    assert found.db == f"sqlite:///{project.resolve() / 'data' / 'x.db'}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("sqlite://", "sqlite://"),
        ("sqlite:////abs/state.db", "sqlite:////abs/state.db"),
        ("sqlite:///rel.db?timeout=5", "sqlite:///{root}/rel.db?timeout=5"),
        ("sqlite:///./a/../b.db", "sqlite:///{root}/b.db"),
        ("sqlite+pysqlite:///rel.db", "sqlite+pysqlite:///{root}/rel.db"),
        ("postgresql+psycopg://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
    ],
)
def test_database_url_resolution(project: Path, url: str, expected: str) -> None:
    """Only relative SQLite file paths are rewritten (query kept); other URLs are untouched."""
    found = load_settings(env={"UET_DB": url}, cwd=project)
    assert found.db == expected.format(root=project.resolve())


def test_absolute_home_is_kept(project: Path, tmp_path: Path) -> None:
    """An absolute home is not joined to the root, and the default database follows it."""
    elsewhere = tmp_path / "elsewhere"
    found = load_settings({"home": str(elsewhere)}, env={}, cwd=project)
    assert found.home == elsewhere
    assert found.db == f"sqlite:///{elsewhere / 'state.db'}"
    assert found.backup_dir == elsewhere / "backups"


# -- reserved sections ----------------------------------------------------------------------


def test_reserved_sections_are_kept_raw(project: Path) -> None:
    """tools, routing, triggers… are not validated here: they are handed on untouched."""
    write(
        project / "uet.toml",
        """
[events]
batch_size = 3
[tools.aider]
command = ["aider", "--yes"]
anything_goes = 1
[routing]
rules = [{kind = "code_edit", tool = "aider"}]
[scripts.lint]
run = "ruff check ."
""",
    )
    found = load_settings(env={}, cwd=project)
    assert found.event_batch_size == 3
    assert found.sections == {
        "tools": {"aider": {"command": ["aider", "--yes"], "anything_goes": 1}},
        "routing": {"rules": [{"kind": "code_edit", "tool": "aider"}]},
        "scripts": {"lint": {"run": "ruff check ."}},
    }
    assert {"tools", "routing", "triggers", "alerts", "scripts", "deploy"} <= RESERVED_SECTIONS


def test_reserved_sections_from_pyproject(project: Path) -> None:
    """[tool.uet.<section>] tables are kept raw just the same."""
    write(project / "pyproject.toml", "[tool.uet.alerts]\nchannels = ['mailto://x']\n")
    found = load_settings(env={}, cwd=project)
    assert found.sections == {"alerts": {"channels": ["mailto://x"]}}


# -- errors ---------------------------------------------------------------------------------


def test_unknown_top_level_key_names_file_and_key(project: Path) -> None:
    """An unknown key is a usage error (exit 2) naming the file and the key, listing known."""
    config = write(project / "uet.toml", "bogus = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, cwd=project)
    error = caught.value
    assert error.exit_code == ExitCode.USAGE == 2
    assert (error.source, error.key) == (str(config.resolve()), "bogus")
    assert str(config.resolve()) in str(error)
    assert "bogus" in str(error)
    assert "unknown key" in error.problem
    assert "events" in error.problem  # the known keys are listed


def test_unknown_nested_key_names_the_dotted_path(project: Path) -> None:
    """An unknown key inside a known section is named with its dotted path."""
    config = write(project / "uet.toml", "[events]\nbatch_size = 3\nbatchsize = 4\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, cwd=project)
    assert (caught.value.source, caught.value.key) == (str(config.resolve()), "events.batchsize")
    assert "batch_size" in caught.value.problem  # what was probably meant
    assert caught.value.exit_code == 2


def test_unknown_key_in_pyproject_tool_uet(project: Path) -> None:
    """Unknown keys under [tool.uet] name pyproject.toml."""
    config = write(project / "pyproject.toml", "[tool.uet]\nnope = true\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, cwd=project)
    assert (caught.value.source, caught.value.key) == (str(config.resolve()), "nope")


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[events]\nbatch_size = 0\n", "events.batch_size"),
        ("[events]\nbatch_size = 'many'\n", "events.batch_size"),
        ("[events]\nflush_interval = -1\n", "events.flush_interval"),
        ("[sqlite]\nsynchronous = 'OFF'\n", "sqlite.synchronous"),
        ("[sqlite]\nbusy_timeout = 0\n", "sqlite.busy_timeout"),
        ("[backups]\nretention_days = -1\n", "backups.retention_days"),
        ("non_interactive = 'maybe'\n", "non_interactive"),
    ],
)
def test_bad_value_in_file_names_file_and_dotted_key(project: Path, toml: str, key: str) -> None:
    """A bad value in the file is a usage error naming the file and the key path."""
    config = write(project / "uet.toml", toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, cwd=project)
    assert (caught.value.source, caught.value.key) == (str(config.resolve()), key)
    assert caught.value.exit_code == 2
    assert f"{config.resolve()}: {key}: " in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("UET_EVENT_BATCH_SIZE", "ten", "events.batch_size"),
        ("UET_EVENT_QUEUE_MAX", "0", "events.queue_max"),
        ("UET_SQLITE_SYNCHRONOUS", "OFF", "sqlite.synchronous"),
        ("UET_SQLITE_BUSY_TIMEOUT", "-3", "sqlite.busy_timeout"),
        ("UET_NON_INTERACTIVE", "perhaps", "non_interactive"),
    ],
)
def test_bad_value_in_environment_names_the_variable(
    project: Path, variable: str, value: str, key: str
) -> None:
    """A bad UET_* value is a usage error naming the variable and the key path; the
    environment error wins over a valid file value it overrides."""
    write(project / "uet.toml", "[events]\nbatch_size = 3\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(env={variable: value}, cwd=project)
    assert variable in caught.value.source
    assert caught.value.key == key
    assert caught.value.exit_code == 2
    assert variable in str(caught.value)


def test_bad_flag_value_names_the_flag(project: Path) -> None:
    """A bad command-line value names the flag."""
    with pytest.raises(ConfigError) as caught:
        load_settings({"event_queue_max": 0}, env={}, cwd=project)
    assert caught.value.source == "--event-queue-max"
    assert caught.value.key == "events.queue_max"


@pytest.mark.parametrize("name", ["uet.toml", "pyproject.toml"])
def test_invalid_toml_is_a_config_error_naming_the_file(project: Path, name: str) -> None:
    """A config file that is not TOML is a usage error naming the file."""
    config = write(project / name, "[events\nbatch_size = = 3\n")
    (project / "sub").mkdir()
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, cwd=project / "sub")
    assert caught.value.source == str(config.resolve())
    assert "not valid TOML" in str(caught.value)
    assert caught.value.exit_code == 2


# -- property: any integer through the environment ------------------------------------------


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(number=st.integers())
def test_any_integer_batch_size_from_env_is_taken_or_named(project: Path, number: int) -> None:
    """UET_EVENT_BATCH_SIZE=<int>: settings hold it when >= 1, else the error names it."""
    env = {"UET_EVENT_BATCH_SIZE": str(number)}
    if number >= 1:
        assert load_settings(env=env, cwd=project).event_batch_size == number
        return
    with pytest.raises(ConfigError, match="UET_EVENT_BATCH_SIZE") as caught:
        load_settings(env=env, cwd=project)
    assert caught.value.key == "events.batch_size"
    assert caught.value.exit_code == 2


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(value=st.text(max_size=20))
def test_any_text_batch_size_from_env_is_a_value_or_a_config_error(
    project: Path, value: str
) -> None:
    """Whatever text UET_EVENT_BATCH_SIZE holds, the outcome is a valid setting or a
    ConfigError naming the variable; never another exception."""
    found: Settings | None = None
    error: ConfigError | None = None
    try:
        found = load_settings(env={"UET_EVENT_BATCH_SIZE": value}, cwd=project)
    except ConfigError as exc:
        error = exc
    if error is not None:
        assert "UET_EVENT_BATCH_SIZE" in str(error)
        assert error.key == "events.batch_size"
    else:
        assert found is not None
        assert found.event_batch_size >= 1
        if value.strip() and value.strip().isascii() and value.strip().isdigit():
            assert found.event_batch_size == int(value)


# -- non-interactive ------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdin looks like a terminal, so only settings and CI decide."""
    monkeypatch.setattr(sys, "stdin", _Terminal())


@pytest.fixture
def plain(project: Path) -> Settings:
    return load_settings(env={}, cwd=project)


@pytest.mark.usefixtures("on_a_terminal")
@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, False), ({"CI": "true"}, True), ({"CI": "TRUE"}, True), ({"CI": "false"}, False)],
)
def test_ci_true_means_non_interactive(
    plain: Settings, env: dict[str, str], expected: bool
) -> None:
    """On a terminal uet may prompt, unless CI=true."""
    assert is_non_interactive(plain, env) is expected


@pytest.mark.usefixtures("on_a_terminal")
def test_non_interactive_setting_means_non_interactive(project: Path) -> None:
    """UET_NON_INTERACTIVE=1 (or the flag) forbids prompts even on a terminal."""
    found = load_settings(env={"UET_NON_INTERACTIVE": "1"}, cwd=project)
    assert is_non_interactive(found, {}) is True
    flagged = load_settings({"non_interactive": True}, env={}, cwd=project)
    assert is_non_interactive(flagged, {}) is True


def test_stdin_not_a_terminal_means_non_interactive(
    plain: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Piped or missing stdin never gets a prompt."""
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    assert is_non_interactive(plain, {}) is True
    monkeypatch.setattr(sys, "stdin", None)
    assert is_non_interactive(plain, {}) is True


# -- the database URL, checked before anything is opened (issue 9, finding 8) ----------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("bogus", "'bogus' is not a database URL (expected sqlite:///PATH or postgresql+psycopg"),
        ("", "'' is not a database URL"),
        ("sqlite:/x.db", "'sqlite:/x.db' is not a database URL"),
        ("mysql://u:secret@h/db", "unknown database 'mysql': uet keeps its state in sqlite"),
        ("mysql+pymysql://h/db", "unknown database 'mysql'"),
        ("postgres://h/db", "unknown database 'postgres' (did you mean postgresql://?)"),
        (
            "postgresql+asyncpg://h/db",
            "unknown driver 'asyncpg' for postgresql (known: postgresql+psycopg, postgresql+ps",
        ),
        (
            "sqlite+aiosqlite:///x.db",
            "unknown driver 'aiosqlite' for sqlite (known: sqlite+pysqlite)",
        ),
    ],
)
def test_a_bad_database_url_names_its_source_and_the_problem(
    project: Path, url: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={"UET_DB": url} if url else {}, overrides={"db": url}, cwd=project)
    assert info.value.source == "--db"
    assert info.value.key == ""
    assert problem in info.value.problem
    assert "secret" not in str(info.value)


def test_a_bad_database_url_in_the_file_names_the_file_and_key(project: Path) -> None:
    write(project / "uet.toml", 'db = "redis://localhost"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, cwd=project)
    assert (info.value.source, info.value.key) == (str(project.resolve() / "uet.toml"), "db")
    assert info.value.problem.startswith("unknown database 'redis'")


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite+pysqlite:///x.db",
        "SQLite:///x.db",
        "postgresql://h/db",
        "postgresql+psycopg://u:p@h:5432/db",
        "postgresql+psycopg2://h/db",
    ],
)
def test_the_database_urls_uet_supports_pass(project: Path, url: str) -> None:
    assert load_settings(env={"UET_DB": url}, cwd=project).db.lower().startswith(url[:6].lower())


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("UET_SQLITE_BUSY_TIMEOUT", "inf"),
        ("UET_SQLITE_BUSY_TIMEOUT", "nan"),
        ("UET_EVENT_FLUSH_INTERVAL", "1e999"),
        ("UET_EVENT_BATCH_SIZE", "9" * 5000),
        ("UET_MAX_SPEC_BYTES", "0"),
        ("UET_MAX_SPEC_BYTES", "true"),
    ],
)
def test_numeric_settings_are_finite_and_sane(project: Path, variable: str, value: str) -> None:
    """A setting from the environment is checked like a workstream's numbers."""
    with pytest.raises(ConfigError) as info:
        load_settings(env={variable: value}, cwd=project)
    assert info.value.source == f"environment variable {variable}"


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[events]\nbatch_size = true\n", "events.batch_size"),
        ("[sqlite]\nbusy_timeout = false\n", "sqlite.busy_timeout"),
        ("[run]\nexecutor = 'ray'\n", "run.executor"),
        ("[agents]\nprotected_paths = [1]\n", "agents.protected_paths"),
    ],
)
def test_booleans_are_not_numbers_and_choices_are_checked(
    project: Path, toml: str, key: str
) -> None:
    """Settings are a plain dataclass now (no pydantic at start-up); its checks still refuse
    a boolean where a number goes, an unknown choice, a number where a path pattern goes."""
    write(project / "uet.toml", toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, cwd=project)
    assert caught.value.key == key
    assert caught.value.exit_code == 2


def test_a_changed_setting_is_checked_like_a_loaded_one(project: Path) -> None:
    found = load_settings(env={}, cwd=project)
    assert found.updated(executor="local-inproc").executor == "local-inproc"
    assert found.updated(event_batch_size="7").event_batch_size == 7
    with pytest.raises(ValueError, match="local"):
        found.updated(executor="ray")


def test_every_setting_field_has_a_check() -> None:
    """A field added to Settings without its converter would be refused as unknown from
    every source (a merge once left ``sandbox`` so)."""
    assert {f.name for f in dataclasses.fields(config.Settings)} <= set(config._CHECKS)
