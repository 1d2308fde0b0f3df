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
    yield
    dispose_engines()


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
