"""A throwaway PostgreSQL cluster for tests, started from the machine's own binaries.

The cluster runs as a non-root user (``postgres`` when it exists, else ``nobody``) when the
tests run as root, listens on 127.0.0.1 only, and trades durability for speed (fsync off).
Each test gets a database of its own.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg


def find_bindir() -> Path | None:
    """The folder holding initdb, pg_ctl and pg_dump of one PostgreSQL version, or None."""
    candidates = []
    if found := shutil.which("initdb"):
        candidates.append(Path(os.path.realpath(found)).parent)
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=lambda p: _version(p.parent.name), reverse=True)
    for folder in candidates:
        if all((folder / tool).exists() for tool in ("initdb", "pg_ctl", "pg_dump", "postgres")):
            return folder
    return None


def _version(name: str) -> tuple[int, ...]:
    """'9.6' -> (9, 6), '16' -> (16,): newest first when sorted in reverse."""
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """A running cluster; :meth:`new_database` hands out fresh databases."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="uet-pg-"))
        self.data = self.dir / "data"
        self._names = itertools.count(1)
        self._user: tuple[int, int] | None = None
        if os.geteuid() == 0:
            account = _unprivileged_account()
            self._user = (account.pw_uid, account.pw_gid)
            os.chown(self.dir, *self._user)

    def _run(self, *argv: str) -> None:
        kwargs: dict[str, object] = {}
        if self._user is not None:
            kwargs = {"user": self._user[0], "group": self._user[1], "extra_groups": []}
        subprocess.run(
            argv,
            check=True,
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"},
            **kwargs,  # type: ignore[arg-type]
        )

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "uet",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def new_database(self) -> str:
        name = f"uet_test_{next(self._names)}"
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://uet@127.0.0.1:{self.port}/{name}"

    def admin_dsn(self) -> str:
        return f"postgresql://uet@127.0.0.1:{self.port}/postgres"


def _unprivileged_account() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and no unprivileged account (postgres, nobody) exists")


@contextlib.contextmanager
def running_cluster(bindir: Path) -> Iterator[Cluster]:
    cluster = Cluster(bindir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
