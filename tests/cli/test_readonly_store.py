"""Finding 9: read commands on a database the user cannot write.

The project's ``.uet/`` (database, logs) is a tmpfs remounted read-only: that stops writes for
root too (CI runs as root, where chmod does not), as a read-only share or a chmod'ed folder
stops a user. `uet status`, `runs`, `events`, `logs` and `decisions` work there, and write
nothing; a command that writes fails with exit 3 and one line. Mounting needs root
(CAP_SYS_ADMIN): elsewhere these tests skip, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engine.procs import (
    Project,
    kill_run_processes,
    run_processes,
    still_alive,
    stop,
    unique_run_id,
    wait_until,
)

pytestmark = pytest.mark.slow  # whole `uet` processes, a dozen per test

HELLO = """\
id: w
tasks:
  - id: hello
    run: echo hello from the task
"""
SLEEPER = """\
id: w
tasks:
  - id: long
    run: sleep 1000
"""
READS = (
    ("status", "{run}"),
    ("status", "{run}", "--json"),
    ("runs",),
    ("runs", "--json"),
    ("events", "{run}"),
    ("events", "{run}", "--json"),
    ("logs", "{run}", "hello"),
    ("decisions",),
    ("db", "status"),
    ("db", "check"),
)


@dataclass
class ReadOnlyHome:
    project: Project
    folder: Path

    def remount(self, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.folder)], check=True)

    def files(self) -> dict[str, bytes]:
        """Every file under ``.uet/`` and its bytes: what 'nothing was written' means."""
        return {
            str(path.relative_to(self.folder)): path.read_bytes()
            for path in sorted(self.folder.rglob("*"))
            if path.is_file()
        }


IN_PROCESS = '[run]\nexecutor = "local-inproc"\n'
"""Tasks run by a thread of uet: they die with it (and with them any open file in .uet)."""


@pytest.fixture
def home(tmp_path: Path) -> Iterator[ReadOnlyHome]:
    """A project whose ``.uet/`` is a tmpfs of its own (writable until remounted ro)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a read-only mount needs root (CAP_SYS_ADMIN) and mount(8)")
    project = Project.create(tmp_path)
    folder = project.root / ".uet"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {mounted.stderr.strip()}")
    project.db = folder / "state.db"
    try:
        yield ReadOnlyHome(project, folder)
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_read_commands_work_on_a_read_only_database_and_write_nothing(
    home: ReadOnlyHome,
) -> None:
    """A finished run, its database closed cleanly (no -wal, no -shm, which a read would
    have to create): every read command exits 0 with the run's data; not a byte changes."""
    project = home.project
    run_id = unique_run_id("ro")
    project.write("ws.yaml", HELLO)
    assert project.uet("run", "ws.yaml", "--run-id", run_id).returncode == 0
    assert not (home.folder / "state.db-wal").exists()
    home.remount("ro")
    before = home.files()

    results = {args: project.uet(*(a.format(run=run_id) for a in args)) for args in READS}

    for args, done in results.items():
        assert done.returncode == 0, f"uet {' '.join(args)}: {done.stderr}"
        assert "Traceback" not in done.stderr
    assert json.loads(results[("status", "{run}", "--json")].stdout)["status"] == "succeeded"
    assert [r["id"] for r in json.loads(results[("runs", "--json")].stdout)] == [run_id]
    assert "run.completed" in results[("events", "{run}")].stdout
    assert results[("logs", "{run}", "hello")].stdout == "hello from the task\n"
    assert home.files() == before


def test_a_crashed_run_reads_as_interrupted_without_being_reconciled(
    home: ReadOnlyHome,
) -> None:
    """The orchestrator was SIGKILLed (its -wal and -shm left behind), then the folder became
    read-only: `uet status` shows the run interrupted (its orchestrator is gone) and says how
    to settle it, but records nothing: the attempt is still `running` in the file."""
    project = home.project
    run_id = unique_run_id("rocrash")
    project.write("ws.yaml", SLEEPER)
    project.write("uet.toml", IN_PROCESS)  # the task dies with uet, as this pins
    proc = project.start("run", "ws.yaml", "--run-id", run_id)
    try:
        assert wait_until(
            lambda: bool(
                project.run_row(run_id)
                and project.sql(
                    "SELECT 1 FROM attempts WHERE run_id = ? AND state = 'running'", (run_id,)
                )
            ),
            timeout=30,
        ), "the task never started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kill_run_processes(run_id)
        assert (home.folder / "state.db-wal").exists()
        home.remount("ro")
        before = home.files()

        shown = project.uet("status", run_id, "--json")
        text = project.uet("status", run_id)
        events = project.uet("events", run_id, "--json")

        assert shown.returncode == 0, shown.stderr
        status = json.loads(shown.stdout)
        assert status["status"] == "interrupted"
        assert status["recorded_status"] == "running"
        assert f"uet resume {run_id}" in text.stdout
        assert events.returncode == 0, events.stderr
        assert "task.started" in events.stdout
        assert home.files() == before
    finally:
        stop(proc)
        kill_run_processes(run_id)


@pytest.mark.parametrize(
    "command",
    [
        ("run", "ws.yaml"),
        ("resume", "{run}"),
        ("cancel", "{run}"),
        ("status", "{run}", "--reconcile"),
        ("db", "upgrade"),
    ],
)
def test_a_write_command_on_a_read_only_database_fails_in_one_line(
    home: ReadOnlyHome, command: tuple[str, ...]
) -> None:
    """Exit 3 (infrastructure), one line naming the database and why, no traceback."""
    project = home.project
    run_id = unique_run_id("rowrite")
    project.write("ws.yaml", HELLO)
    assert project.uet("run", "ws.yaml", "--run-id", run_id).returncode == 0
    home.remount("ro")

    done = project.uet(*(a.format(run=run_id) for a in command))

    assert done.returncode == 3, done.stdout + done.stderr
    line = one_line_error(done)
    assert str(project.db) in line
    assert "read-only file system" in line


def test_a_write_ahead_log_that_cannot_be_read_is_said_clearly(home: ReadOnlyHome) -> None:
    """A -wal without its -shm in a read-only folder cannot be read consistently (and must
    not be ignored): exit 3, one line that names the file and the cause."""
    project = home.project
    run_id = unique_run_id("rowal")
    project.write("ws.yaml", SLEEPER)
    proc = project.start("run", "ws.yaml", "--run-id", run_id)
    try:
        assert wait_until(lambda: project.run_row(run_id) is not None, timeout=30)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kill_run_processes(run_id)
        (home.folder / "state.db-shm").unlink()
        home.remount("ro")

        done = project.uet("status", run_id)

        assert done.returncode == 3, done.stdout + done.stderr
        line = one_line_error(done)
        assert "state.db-wal" in line
        assert "read-only folder" in line
    finally:
        stop(proc)
        kill_run_processes(run_id)


def test_a_backup_of_a_read_only_database_goes_to_a_writable_folder(
    home: ReadOnlyHome, tmp_path: Path
) -> None:
    """`uet db backup` only reads the database: it works with the backups elsewhere."""
    project = home.project
    run_id = unique_run_id("robackup")
    project.write("ws.yaml", HELLO)
    assert project.uet("run", "ws.yaml", "--run-id", run_id).returncode == 0
    home.remount("ro")
    (project.root / "uet.toml").write_text(f'[backups]\ndir = "{tmp_path / "saved"}"\n')

    done = project.uet("db", "backup", "--json")

    assert done.returncode == 0, done.stderr
    assert Path(json.loads(done.stdout)["backup"]).parent == tmp_path / "saved"


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Project]:
    """A project another user can read (pytest's own temporary folders are private)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("running a command as another user needs root and setpriv(1)")
    probe = subprocess.run(
        [*NOBODY, sys.executable, "-c", "import uet"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:  # e.g. a checkout inside a private (mktemp -d) folder
        pytest.skip(f"the user nobody cannot run this checkout's uet: {probe.stderr.strip()}")
    folder = Path(tempfile.mkdtemp(prefix="uet-shared-"))
    folder.chmod(0o755)
    project = Project.create(folder)
    project.db = project.root / ".uet" / "state.db"
    try:
        yield project
    finally:
        shutil.rmtree(folder, ignore_errors=True)


NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


def as_nobody(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    """``uet ARGS`` as the user nobody, who may read the project but write none of it."""
    return subprocess.run(
        [*NOBODY, sys.executable, "-m", "uet", *args],
        cwd=project.root,
        env={**project.env, "HOME": "/nonexistent"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_user_who_cannot_write_the_database_can_read_it(shared: Project) -> None:
    """As a user meets it: the database and its folder belong to someone else (mode 0444 and
    0555). `uet status`, `runs`, `events`, `logs`, `decisions` work for that user; `uet run`
    fails in one line (exit 3) saying the database cannot be written."""
    run_id = unique_run_id("nobody")
    shared.write("ws.yaml", HELLO)
    assert shared.uet("run", "ws.yaml", "--run-id", run_id).returncode == 0
    shared.db.chmod(0o444)
    shared.db.parent.chmod(0o555)
    before = shared.db.read_bytes()
    listed = sorted(p.name for p in shared.db.parent.iterdir())  # the run's lock folder too

    reads = {args: as_nobody(shared, *(a.format(run=run_id) for a in args)) for args in READS}
    write = as_nobody(shared, "run", "ws.yaml")

    for args, done in reads.items():
        assert done.returncode == 0, f"uet {' '.join(args)}: {done.stderr}"
    assert reads[("logs", "{run}", "hello")].stdout == "hello from the task\n"
    assert write.returncode == 3, write.stdout + write.stderr
    assert "permission denied" in one_line_error(write)
    assert shared.db.read_bytes() == before
    assert sorted(p.name for p in shared.db.parent.iterdir()) == listed  # nothing created
    assert "state.db" in listed


def test_status_on_a_writable_database_does_not_reconcile_either(tmp_path: Path) -> None:
    """Reading is not settling, whoever may write: after SIGKILL of the orchestrator, plain
    `uet status` shows the run interrupted but leaves the attempt `running` and its process
    alive; `--reconcile` then marks it `lost` and kills the group."""
    project = Project.create(tmp_path)
    run_id = unique_run_id("rwstatus")
    project.write("ws.yaml", SLEEPER)
    project.write("uet.toml", IN_PROCESS)  # the task dies with uet, as this pins
    proc = project.start("run", "ws.yaml", "--run-id", run_id)
    try:
        assert wait_until(
            lambda: bool(
                project.run_row(run_id)
                and project.sql(
                    "SELECT 1 FROM attempts WHERE run_id = ? AND state = 'running' AND pgid > 0",
                    (run_id,),
                )
            ),
            timeout=30,
        ), "the task never started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        strays = run_processes(run_id)

        shown = project.uet_json("status", run_id)
        after_read = project.sql("SELECT state FROM attempts WHERE run_id = ?", (run_id,))
        alive_after_read = still_alive(strays)
        settled = project.uet_json("status", run_id, "--reconcile")

        assert shown["status"] == "interrupted"
        assert after_read == [("running",)]
        assert alive_after_read
        assert settled["recorded_status"] == "interrupted"
        assert project.sql("SELECT state FROM attempts WHERE run_id = ?", (run_id,)) == [("lost",)]
        assert wait_until(lambda: not still_alive(strays), timeout=5)
    finally:
        stop(proc)
        kill_run_processes(run_id)
