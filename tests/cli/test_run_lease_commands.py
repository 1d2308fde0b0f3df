"""The run's lock through the command line: held while ``uet run``/``uet resume`` lives,
free on every way out (success, failure, SIGTERM, SIGKILL), gone once the run ended; a live
owner is refused to ``uet resume`` (exit 2, pid and host) and still obeys ``uet cancel``."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
from pathlib import Path

from tests.engine.procs import Project, kill_run_processes, stop, unique_run_id, wait_until

BLOCKS = """\
id: w
tasks:
  - id: first
    run: "true"
  - id: wait
    run: while [ ! -f {go} ]; do sleep 0.05; done
    depends_on: [first]
    retries: 2
"""
"""``wait`` runs until ``go`` exists; its retries cover the attempt lost to the kill -9
(a lost attempt uses up a retry: issue 9 item 2, another change)."""


IN_PROCESS = '[run]\nexecutor = "local-inproc"\n'
"""Tasks run by a thread of uet: they die with it, as the lock tests need."""


def _lock(project: Project, run_id: str) -> Path:
    return project.db.with_name(project.db.name + "-locks") / f"{run_id}.lock"


def _held(path: Path) -> bool:
    """Whether some process holds the flock at ``path`` (looked at with fcntl, not uet)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _waiting(project: Project, run_id: str) -> bool:
    rows = project.run_row(run_id) and project.sql(
        "SELECT 1 FROM attempts WHERE run_id = ? AND task_id = 'w/wait' AND state = 'running'",
        (run_id,),
    )
    return bool(rows)


def test_the_lock_is_given_back_on_success_and_on_failure(tmp_path: Path) -> None:
    """A run that succeeds or fails leaves no lock file (on a SQLite file the lock decides;
    the lease row only counts takes, and is not written on the way out)."""
    project = Project.create(tmp_path)
    project.write("ok.yaml", "id: ok\ntasks:\n  - id: a\n    run: 'true'\n")
    project.write("bad.yaml", "id: bad\ntasks:\n  - id: a\n    run: exit 3\n")
    for name, code in (("ok", 0), ("bad", 1)):
        done = project.uet("run", f"{name}.yaml", "--run-id", f"{name}-run")
        assert done.returncode == code, done.stderr
        assert project.sql("SELECT epoch FROM run_leases WHERE run_id = ?", (f"{name}-run",)) == [
            (1,)
        ]
        assert not _lock(project, f"{name}-run").exists()


def test_kill_9_and_sigterm_free_the_lock_and_resume_goes_on(tmp_path: Path) -> None:
    """SIGKILL of ``uet run``: the lock is free at once, ``uet status`` reconciles the run
    ``interrupted``; a ``uet resume`` holds the lock while it drives, SIGTERM makes it exit
    130 with the lock free again; the last resume ends the run and removes the lock file."""
    project = Project.create(tmp_path)
    go = tmp_path / "go"
    project.write("w.yaml", BLOCKS.format(go=go))
    project.write("uet.toml", IN_PROCESS)  # the task dies with uet: what this test pins
    run_id = unique_run_id("exits")
    lock = _lock(project, run_id)
    proc = project.start("run", "w.yaml", "--run-id", run_id, log="run")
    try:
        assert wait_until(lambda: _waiting(project, run_id), 60)
        assert _held(lock)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not _held(lock)
        shown = project.uet("status", run_id, "--json")
        assert json.loads(shown.stdout)["status"] == "interrupted", shown.stdout + shown.stderr

        proc = project.start("resume", run_id, log="resume")
        assert wait_until(lambda: project.run_row(run_id) == ("running", proc.pid), 60)
        assert wait_until(lambda: _waiting(project, run_id), 60)
        assert _held(lock)
        refused = project.uet("resume", run_id)
        assert refused.returncode == 2, refused.stderr
        assert f"pid {proc.pid} on {socket.gethostname()}" in refused.stderr
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 130
        assert not _held(lock)

        go.touch()
        last = project.uet("resume", run_id, "--json")
        assert last.returncode == 0, last.stdout + last.stderr
        assert json.loads(last.stdout)["status"] == "succeeded"
        assert not lock.exists()
    finally:
        stop(proc)
        kill_run_processes(run_id)


def test_a_live_owner_refuses_resume_and_obeys_cancel(tmp_path: Path) -> None:
    """While ``uet run`` drives its run: ``uet resume`` exits 2 naming its pid and host, and
    ``uet status`` shows it running; ``uet cancel`` asks, the owner stops its tasks and
    ends the run canceled (exit 1), and the lock file goes."""
    project = Project.create(tmp_path)
    project.write("w.yaml", BLOCKS.format(go=tmp_path / "never"))
    run_id = unique_run_id("live")
    proc = project.start("run", "w.yaml", "--run-id", run_id, log="run")
    try:
        assert wait_until(lambda: _waiting(project, run_id), 60)
        refused = project.uet("resume", run_id)
        assert refused.returncode == 2, refused.stderr
        assert f"pid {proc.pid} on {socket.gethostname()}" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert project.uet_json("status", run_id)["status"] == "running"
        canceled = project.uet("cancel", run_id, "--json")
        assert canceled.returncode == 0, canceled.stderr
        assert json.loads(canceled.stdout)["status"] == "canceled"
        assert proc.wait(timeout=30) == 1
    finally:
        stop(proc)
        kill_run_processes(run_id)
    assert project.run_status(run_id) == "canceled"
    events = [t for (t,) in project.sql("SELECT type FROM events WHERE run_id = ?", (run_id,))]
    assert events.count("run.canceled") == 1, events
    assert not _lock(project, run_id).exists()


def test_events_follow_ends_when_the_orchestrator_dies(tmp_path: Path) -> None:
    """``uet events --follow`` of a run whose orchestrator is killed -9 does not poll forever:
    it prints what there is, says the run was interrupted and how to go on, and exits 1; while
    the orchestrator lives it keeps following."""
    project = Project.create(tmp_path)
    go = tmp_path / "go"
    project.write("w.yaml", BLOCKS.format(go=go))
    project.write("uet.toml", IN_PROCESS)
    run_id = unique_run_id("follow")
    proc = project.start("run", "w.yaml", "--run-id", run_id, log="run")
    follower = None
    try:
        assert wait_until(lambda: _waiting(project, run_id), 60)
        follower = project.start("events", run_id, "--follow", log="follow")
        assert not wait_until(lambda: follower.poll() is not None, 2.0), "stopped too early"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert follower.wait(timeout=10) == 1
        said = (tmp_path / "follow.out").read_text()
        assert f"run {run_id} was interrupted" in said
        assert f"uet resume {run_id}" in said
        assert "task.started" in said  # what was there was printed first
    finally:
        for started in (proc, follower):
            if started is not None:
                stop(started)
        kill_run_processes(run_id)


ABORT_FINISH = """\
id: w
defaults: {{abort_running: finish}}
tasks:
  - id: long
    run: sleep 60
  - id: gate
    run: while [ ! -f {go} ]; do sleep 0.05; done; exit 1
    on_failure: abort
"""
"""``gate`` fails (abort) once ``go`` exists; ``long`` would run its 60 s to the end (the
workstream says ``finish``) unless the run was started with ``--abort-kills``."""


def test_a_resume_keeps_abort_kills(tmp_path: Path) -> None:
    """``uet run --abort-kills``, kill -9, ``uet resume``: the resumed run still kills what
    runs when it aborts (``long`` ends canceled within seconds, not after its 60 s)."""
    project = Project.create(tmp_path)
    go = tmp_path / "go"
    project.write("w.yaml", ABORT_FINISH.format(go=go))
    project.write("uet.toml", IN_PROCESS)
    run_id = unique_run_id("abortkills")
    query = "SELECT count(*) FROM attempts WHERE run_id = ? AND state = 'running'"

    def both_running() -> bool:
        return project.run_row(run_id) is not None and project.sql(query, (run_id,)) == [(2,)]

    proc = project.start("run", "w.yaml", "--run-id", run_id, "--abort-kills", log="run")
    try:
        assert wait_until(both_running, 60)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc = project.start("resume", run_id, log="resume")
        assert wait_until(lambda: project.run_row(run_id) == ("running", proc.pid), 60)
        assert wait_until(both_running, 60)
        go.touch()
        assert proc.wait(timeout=30) == 1, (tmp_path / "resume.out").read_text()
        assert project.sql(
            "SELECT status FROM tasks WHERE run_id = ? AND id = 'w/long'", (run_id,)
        ) == [("canceled",)]
    finally:
        stop(proc)
        kill_run_processes(run_id)
