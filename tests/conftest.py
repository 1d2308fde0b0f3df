"""Fixtures shared by every test: clean settings, real databases on both dialects."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import Cluster, find_bindir, running_cluster
from uet.state.database import dispose_engines


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No UET_* variable from the developer's shell leaks into a test; engines are closed."""
    for name in list(os.environ):
        if name.startswith("UET_"):
            monkeypatch.delenv(name)
    # Tool tasks run without the sandbox unless a test asks for it (tests/contain do): many
    # tests keep their fake agents' scripts inside the repository, which the sandbox hides.
    monkeypatch.setenv("UET_SANDBOX", "none")
    yield
    dispose_engines()


@pytest.fixture(autouse=True, scope="session")
def _git_identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """git in tests runs with a known identity and defaults, never the developer's config."""
    config = tmp_path_factory.mktemp("git") / "gitconfig"
    config.write_text(
        "[user]\n\tname = uet tests\n\temail = tests@uet.invalid\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n",
        encoding="utf-8",
    )
    saved = {name: os.environ.get(name) for name in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")}
    os.environ.update(GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1")
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster for the whole session; skipped locally without the binaries,
    required in CI (CI=true)."""
    bindir = find_bindir()
    if bindir is None:
        message = "PostgreSQL binaries (initdb, pg_ctl, pg_dump) not found"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must have them (.ci/run installs them)")
        pytest.skip(message)
    with running_cluster(bindir) as cluster:
        yield cluster


@pytest.fixture
def pg_url(postgres_cluster: Cluster) -> str:
    """A fresh, empty PostgreSQL database."""
    return postgres_cluster.new_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file (not created yet)."""
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """The same test on an empty SQLite file and on an empty PostgreSQL database."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))
