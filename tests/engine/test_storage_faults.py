"""Storage faults as users meet them, through the command line: the database on a full
disk, the logs on a full disk, the database made read-only mid-run, its folder removed
mid-run, its write lock held by another process. Each ends the run with exit 3 within
15 s and one clear line (no traceback), the run never claims success, and once the fault
is cleared ``uet resume`` finishes the run.

The full disks are small tmpfs mounts and a read-only file is ``chattr +i``: those tests
need root (CI and this machine run as root) and are skipped, saying why, where it is not.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.procs import Project, unique_run_id

FAULT_EXIT_WITHIN_S = 15.0
SIGNAL_EXIT_WITHIN_S = 2.0 + 1.0  # 2 s to honour it, plus a python start-up's worth of slack

CHATTY = "for i in $(seq 400); do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done"


class Tmpfs:
    def __init__(self, path: Path) -> None:
        self.path = path

    def remount(self, options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(self.path)], check=True)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Tmpfs]:
    """A 2 MiB tmpfs at ``tmp_path/disk``, unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount(8) for a small tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield Tmpfs(disk)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def chatty_dag(tasks: int, *, retries: int = 0) -> str:
    lines = ["id: ws", f"defaults: {{retries: {retries}}}", "tasks:"]
    for i in range(tasks):
        lines.append(f"  - id: t{i:03d}")
        lines.append(f"    run: {CHATTY!r}".replace("'", '"'))
    return "\n".join(lines) + "\n"


def slow_dag(tasks: int) -> str:
    lines = ["id: ws", "tasks:"]
    for i in range(tasks):
        lines.append(f"  - id: t{i:03d}")
        lines.append("    run: sleep 0.2")
    return "\n".join(lines) + "\n"


def finish(proc: subprocess.Popen[bytes], within: float) -> tuple[int, float]:
    started = time.monotonic()
    try:
        code = proc.wait(timeout=within + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"uet did not exit within {within + 30:.0f} s of the fault")
    return code, time.monotonic() - started


def assert_clean_message(output: str, *words: str) -> None:
    assert "Traceback" not in output, output[-3000:]
    errors = [line for line in output.splitlines() if line.startswith("uet: error:")]
    assert len(errors) == 1, output[-3000:]
    for word in words:
        assert word in errors[0], errors[0]


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def test_database_on_a_full_disk_ends_the_run_with_exit_3_then_resume_finishes(
    tmp_path: Path, tmpfs: Tmpfs
) -> None:
    project = Project(root=tmp_path / "project", db=tmpfs.path / "state.db")
    (project.root / ".uet").mkdir(parents=True)
    project.write("dag.yaml", chatty_dag(300))
    run_id = unique_run_id("full")
    began = time.monotonic()
    proc = project.start("run", "dag.yaml", "--run-id", run_id, "-j", "8", log="full")
    code, _ = finish(proc, FAULT_EXIT_WITHIN_S)
    took = time.monotonic() - began
    output = (tmp_path / "full.out").read_text(errors="replace")
    assert code == 3, output[-3000:]
    assert took < FAULT_EXIT_WITHIN_S + 10, f"took {took:.1f} s"  # the fill itself takes some
    assert_clean_message(output, str(project.db), "full", f"uet resume {run_id}")
    assert "succeeded" not in output.splitlines()[-1]

    tmpfs.remount("size=64m")  # the fault clears
    resumed = project.uet("resume", run_id, "-j", "8", "--json", timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert project.run_status(run_id) == "succeeded"
    assert integrity(project.db) == "ok"


def test_logs_on_a_full_disk_end_the_run_with_exit_3(tmp_path: Path, tmpfs: Tmpfs) -> None:
    project = Project.create(tmp_path)
    project.write("dag.yaml", chatty_dag(200))
    env_home = tmpfs.path / "home"
    run_id = unique_run_id("logs")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uet", "run", "dag.yaml", "--run-id", run_id, "-j", "8"],
        cwd=project.root,
        env={**project.env, "UET_HOME": str(env_home)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    began = time.monotonic()
    out, _ = proc.communicate(timeout=120)
    took = time.monotonic() - began
    output = out.decode(errors="replace")
    assert proc.returncode == 3, output[-3000:]
    assert took < FAULT_EXIT_WITHIN_S + 10, f"took {took:.1f} s"
    assert_clean_message(output, "logs", "No space left on device")
    assert project.run_status(run_id) not in ("succeeded", None)
    assert integrity(project.db) == "ok"


def immutable(paths: list[Path], *, on: bool) -> None:
    """``chattr +i`` (or ``-i``): even root cannot write the file, not even through a file
    descriptor it holds open — how a database turns read-only under a live process."""
    for path in paths:
        if path.exists():
            subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True)


def test_database_made_read_only_mid_run_exits_3_then_resume_finishes(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("needs root and chattr(1) to make a file read-only for root")
    folder = tmp_path / "state"
    folder.mkdir()
    probe = folder / "probe"
    probe.touch()
    if subprocess.run(["chattr", "+i", str(probe)], check=False).returncode != 0:
        pytest.skip("this file system has no immutable flag")
    immutable([probe], on=False)
    probe.unlink()
    project = Project(root=tmp_path / "project", db=folder / "state.db")
    (project.root / ".uet").mkdir(parents=True)
    project.write("dag.yaml", slow_dag(80))
    run_id = unique_run_id("ro")
    proc = project.start("run", "dag.yaml", "--run-id", run_id, "-j", "2", log="ro")
    wait_until(lambda: project.db.exists() and project.run_status(run_id) == "running")
    time.sleep(0.5)
    # not the -shm file: SQLite writes it through a shared mapping (a write there would be
    # SIGBUS, which no read-only file system does to a process that opened it writable)
    files = [project.db, Path(f"{project.db}-wal"), folder]
    immutable(files, on=True)
    try:
        code, took = finish(proc, FAULT_EXIT_WITHIN_S)
    finally:
        immutable(files, on=False)
    output = (tmp_path / "ro.out").read_text(errors="replace")
    assert code == 3, output[-3000:]
    assert took < FAULT_EXIT_WITHIN_S, f"took {took:.1f} s"
    assert_clean_message(output, str(project.db), f"uet resume {run_id}")

    resumed = project.uet("resume", run_id, "-j", "8", "--json", timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert project.run_status(run_id) == "succeeded"
    assert integrity(project.db) == "ok"


def test_database_folder_removed_mid_run_never_reports_success(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    project = Project(root=tmp_path / "project", db=folder / "state.db")
    (project.root / ".uet").mkdir(parents=True)
    project.write("dag.yaml", slow_dag(40))
    run_id = unique_run_id("gone")
    proc = project.start("run", "dag.yaml", "--run-id", run_id, "-j", "2", log="gone")
    wait_until(lambda: project.db.exists() and project.run_status(run_id) == "running")
    shutil.rmtree(folder)
    code, took = finish(proc, FAULT_EXIT_WITHIN_S)
    output = (tmp_path / "gone.out").read_text(errors="replace")
    assert code == 3, output[-3000:]
    assert took < FAULT_EXIT_WITHIN_S, f"took {took:.1f} s"
    assert_clean_message(output, str(project.db), "gone")
    assert "succeeded" not in output


def test_sigterm_while_another_process_holds_the_write_lock_is_honoured_within_2s(
    tmp_path: Path,
) -> None:
    project = Project.create(tmp_path)
    project.write("dag.yaml", slow_dag(200))
    run_id = unique_run_id("lock")
    proc = project.start("run", "dag.yaml", "--run-id", run_id, "-j", "2", log="lock")
    wait_until(lambda: project.db.exists() and project.run_status(run_id) == "running")
    holder = sqlite3.connect(project.db, isolation_level=None, timeout=30)
    holder.execute("BEGIN IMMEDIATE")  # uet's next tick now waits for the lock
    try:
        time.sleep(1.5)
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGTERM)
        code, took = finish(proc, SIGNAL_EXIT_WITHIN_S)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    output = (tmp_path / "lock.out").read_text(errors="replace")
    assert took < SIGNAL_EXIT_WITHIN_S, f"took {took:.1f} s: {output[-2000:]}"
    assert code in (3, 130), output[-3000:]
    assert "Traceback" not in output


def wait_until(condition: object, timeout: float = 30.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except sqlite3.Error:
            pass  # the database is being created
        time.sleep(0.05)
    pytest.fail("condition not met in time")
