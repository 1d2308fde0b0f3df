"""Runs end to end through ``uet.engine.api.start_run``: real processes, a real SQLite file.

Plans come from YAML files loaded by ``uet.spec.load_files``; settings from the project folder
(``uet.toml``) as the command line would resolve them. Assertions read the store (runs,
tasks, attempts, events, decisions) and the files the tasks and uet wrote.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from uet.config import Settings, load_settings
from uet.engine.api import start_run
from uet.engine.model import RunOptions, RunResult
from uet.spec import load_files
from uet.state.records import AttemptRecord, DecisionRecord, EventRecord, RunRecord, TaskRecord
from uet.state.store import Store
from uet.states import AttemptState, RunStatus, TaskStatus


@dataclass
class Project:
    """A project folder with its settings and an open store; runs workstream YAML."""

    root: Path
    settings: Settings
    store: Store

    def write(self, name: str, text: str) -> Path:
        path = self.root / "workstreams" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def run(self, *texts: str, concurrency: int = 4) -> RunResult:
        """Write each YAML text to its own file, load them as one plan and run it."""
        files = [self.write(f"ws{i}.yaml", text) for i, text in enumerate(texts)]
        plan = load_files(files)
        options = RunOptions(concurrency=concurrency)
        return start_run(plan, settings=self.settings, store=self.store, options=options)

    def run_record(self, run_id: str) -> RunRecord:
        with self.store.reader() as tx:
            run = tx.get_run(run_id)
        assert run is not None
        return run

    def tasks(self, run_id: str) -> dict[str, TaskRecord]:
        with self.store.reader() as tx:
            return {task.id: task for task in tx.get_tasks(run_id)}

    def attempts(self, run_id: str, task_id: str | None = None) -> list[AttemptRecord]:
        with self.store.reader() as tx:
            return tx.get_attempts(run_id, task_id=task_id)

    def events(self, run_id: str, types: str | None = None) -> list[EventRecord]:
        with self.store.reader() as tx:
            return tx.get_events(run_id, types=types)

    def decisions(self, run_id: str) -> list[DecisionRecord]:
        with self.store.reader() as tx:
            return tx.get_decisions(run_id=run_id)

    def output(self, run_id: str, key: str) -> list[str]:
        """Every line the task printed, from its task.output events, in order."""
        lines: list[str] = []
        for event in self.events(run_id, "task.output"):
            if event.task_id == key:
                lines.extend(event.payload["lines"])
        return lines

    def log(self, run_id: str, key: str) -> str:
        return (self.settings.home / "logs" / run_id / f"{key}.log").read_text(encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A fresh project (uet.toml, default SQLite database); its store is closed afterwards."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "uet.toml").write_text("", encoding="utf-8")
    settings = load_settings(cwd=root)
    store = Store.open(settings)
    try:
        yield Project(root, settings, store)
    finally:
        store.close()


def event_index(events: list[EventRecord], type_: str, task: str | None = None) -> int:
    """Position of the first event of that type (and task) in the run's log."""
    for index, event in enumerate(events):
        if event.type == type_ and (task is None or event.task_id == task):
            return index
    raise AssertionError(f"no {type_} event for {task}")


# -- the happy path -------------------------------------------------------------------------


def test_a_dag_runs_in_dependency_order_and_every_state_is_recorded(project: Project) -> None:
    """Exit 0; run, tasks and attempts recorded succeeded; the event log starts with
    run.created, ends with run.completed and shows each dependent starting only after its
    dependencies completed."""
    result = project.run(
        """
        id: build
        tasks:
          - {id: fetch, run: echo fetched}
          - {id: compile, argv: [echo, compiled], depends_on: [fetch]}
          - {id: lint, run: "true", depends_on: [fetch]}
          - {id: package, run: echo packaged, depends_on: [compile, lint]}
        """
    )
    assert result.status is RunStatus.SUCCEEDED
    assert result.exit_code == 0
    assert result.counts == {TaskStatus.SUCCEEDED: 4}
    run = project.run_record(result.run_id)
    assert run.status is RunStatus.SUCCEEDED
    assert run.ended_at is not None
    assert run.summary == {"succeeded": 4}
    tasks = project.tasks(result.run_id)
    assert {t.status for t in tasks.values()} == {TaskStatus.SUCCEEDED}
    assert {(t.outcome, t.exit_code, t.attempts_used) for t in tasks.values()} == {
        (AttemptState.SUCCEEDED, 0, 1)
    }
    attempts = project.attempts(result.run_id)
    assert sorted(a.task_id for a in attempts) == sorted(tasks)
    assert {(a.number, a.state) for a in attempts} == {(1, AttemptState.SUCCEEDED)}
    events = project.events(result.run_id)
    assert events[0].type == "run.created"
    assert events[-1].type == "run.completed"
    assert events[-1].payload == {"status": "succeeded", "tasks": {"succeeded": 4}}
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    for dependent, dependency in [
        ("build/compile", "build/fetch"),
        ("build/lint", "build/fetch"),
        ("build/package", "build/compile"),
        ("build/package", "build/lint"),
    ]:
        completed = event_index(events, "task.completed", dependency)
        assert completed < event_index(events, "task.started", dependent)
    assert project.output(result.run_id, "build/package") == ["packaged"]


# -- retries and failure policies -----------------------------------------------------------


def test_a_flaky_task_succeeds_on_its_second_attempt_with_the_retry_recorded(
    project: Project,
) -> None:
    """A failed attempt with budget left is retried: task.retrying, a `retry` decision,
    two attempt rows (failed, then succeeded), and both attempts in the log file."""
    result = project.run(
        """
        id: ws
        tasks:
          - id: flaky
            run: 'echo try; test -f marker || { touch marker; exit 3; }'
            retries: 2
            retry_delay: 0
        """
    )
    assert result.status is RunStatus.SUCCEEDED
    task = project.tasks(result.run_id)["ws/flaky"]
    assert (task.status, task.attempts_used, task.max_attempts) == (TaskStatus.SUCCEEDED, 2, 3)
    attempts = project.attempts(result.run_id, "ws/flaky")
    assert [(a.number, a.state, a.exit_code) for a in attempts] == [
        (1, AttemptState.FAILED, 3),
        (2, AttemptState.SUCCEEDED, 0),
    ]
    retrying = project.events(result.run_id, "task.retrying")
    assert [(e.task_id, e.payload["attempt"], e.payload["outcome"]) for e in retrying] == [
        ("ws/flaky", 1, "failed")
    ]
    decisions = [d for d in project.decisions(result.run_id) if d.category == "retry"]
    assert len(decisions) == 1
    assert (decisions[0].task_id, decisions[0].chosen) == ("ws/flaky", "retry")
    assert "retry" in decisions[0].alternatives
    log = project.log(result.run_id, "ws/flaky")
    assert log.count("try\n") == 2
    assert "attempt 2" in log


def test_a_task_that_keeps_failing_uses_exactly_its_budget(project: Project) -> None:
    """retries: 2 means three attempts, then the task fails and the run exits 1."""
    result = project.run(
        """
        id: ws
        defaults: {retries: 2, retry_delay: 0}
        tasks:
          - {id: broken, run: exit 7}
        """
    )
    assert result.status is RunStatus.FAILED
    assert result.exit_code == 1
    attempts = project.attempts(result.run_id, "ws/broken")
    assert [(a.number, a.state, a.exit_code) for a in attempts] == [
        (n, AttemptState.FAILED, 7) for n in (1, 2, 3)
    ]
    assert len(project.events(result.run_id, "task.retrying")) == 2
    failed = project.events(result.run_id, "task.failed")
    assert [(e.task_id, e.payload["attempt"], e.payload["exit_code"]) for e in failed] == [
        ("ws/broken", 3, 7)
    ]


def test_abort_cancels_what_runs_and_what_waits_and_fails_the_run(project: Project) -> None:
    """on_failure: abort kills the running sibling (it does not sleep its 60 s), cancels
    what had not started, and the run ends failed."""
    result = project.run(
        """
        id: ws
        tasks:
          - {id: bad, run: exit 1, on_failure: abort}
          - {id: slow, argv: [sleep, "60"]}
          - {id: waiting, run: echo never}
          - {id: after-bad, run: echo never, depends_on: [bad]}
        """,
        concurrency=2,
    )
    assert result.status is RunStatus.FAILED
    assert result.exit_code == 1
    statuses = {key: t.status for key, t in project.tasks(result.run_id).items()}
    assert statuses == {
        "ws/bad": TaskStatus.FAILED,
        "ws/slow": TaskStatus.CANCELED,
        "ws/waiting": TaskStatus.CANCELED,
        "ws/after-bad": TaskStatus.CANCELED,
    }
    (slow,) = project.attempts(result.run_id, "ws/slow")
    assert slow.state is AttemptState.CANCELED
    started = {e.task_id for e in project.events(result.run_id, "task.started")}
    assert started == {"ws/bad", "ws/slow"}
    canceled = {e.task_id for e in project.events(result.run_id, "task.canceled")}
    assert canceled == {"ws/slow", "ws/waiting", "ws/after-bad"}
    assert project.run_record(result.run_id).status is RunStatus.FAILED


def test_skip_dependents_skips_the_chain_but_independent_tasks_run(project: Project) -> None:
    """The default policy: dependents (transitively) are skipped with a task.skipped event
    naming the failure; an unrelated task still succeeds; the run fails."""
    result = project.run(
        """
        id: ws
        tasks:
          - {id: a, run: exit 2}
          - {id: b, run: echo b, depends_on: [a]}
          - {id: c, run: echo c, depends_on: [b]}
          - {id: d, run: echo d}
        """
    )
    assert result.status is RunStatus.FAILED
    statuses = {key: t.status for key, t in project.tasks(result.run_id).items()}
    assert statuses == {
        "ws/a": TaskStatus.FAILED,
        "ws/b": TaskStatus.SKIPPED,
        "ws/c": TaskStatus.SKIPPED,
        "ws/d": TaskStatus.SUCCEEDED,
    }
    skipped = project.events(result.run_id, "task.skipped")
    assert sorted((e.task_id, e.payload["because"]) for e in skipped) == [
        ("ws/b", "ws/a"),
        ("ws/c", "ws/a"),
    ]
    assert not project.attempts(result.run_id, "ws/b")  # never dispatched


def test_continue_runs_the_dependents_but_the_run_still_fails(project: Project) -> None:
    """on_failure: continue lets dependents run; the failure still makes the run fail."""
    result = project.run(
        """
        id: ws
        tasks:
          - {id: a, run: exit 2, on_failure: continue}
          - {id: b, run: echo b ran, depends_on: [a]}
        """
    )
    assert result.status is RunStatus.FAILED
    assert result.exit_code == 1
    tasks = project.tasks(result.run_id)
    assert tasks["ws/a"].status is TaskStatus.FAILED
    assert tasks["ws/b"].status is TaskStatus.SUCCEEDED
    assert project.output(result.run_id, "ws/b") == ["b ran"]


# -- outcomes that are not "exit non-zero" --------------------------------------------------


def test_a_timeout_kills_the_task_and_is_recorded_as_timed_out(project: Project) -> None:
    """Past its timeout the task's process group is killed: outcome timed_out, not failed."""
    result = project.run(
        """
        id: ws
        tasks:
          - {id: hang, argv: [sleep, "60"], timeout: 0.3}
        """
    )
    assert result.status is RunStatus.FAILED
    task = project.tasks(result.run_id)["ws/hang"]
    assert (task.status, task.outcome) == (TaskStatus.FAILED, AttemptState.TIMED_OUT)
    (attempt,) = project.attempts(result.run_id)
    assert attempt.state is AttemptState.TIMED_OUT
    (failed,) = project.events(result.run_id, "task.failed")
    assert failed.payload["outcome"] == "timed_out"


def test_a_missing_program_is_an_error_outcome_naming_the_program(project: Project) -> None:
    """uet could not run it: outcome `error` (not `failed`), no exit code, a message that
    names the program."""
    result = project.run(
        """
        id: ws
        tasks:
          - {id: ghost, argv: [no-such-binary-xyz, --flag]}
        """
    )
    assert result.status is RunStatus.FAILED
    task = project.tasks(result.run_id)["ws/ghost"]
    assert (task.status, task.outcome, task.exit_code) == (
        TaskStatus.FAILED,
        AttemptState.ERROR,
        None,
    )
    (attempt,) = project.attempts(result.run_id)
    assert attempt.state is AttemptState.ERROR
    assert attempt.error is not None
    assert "no-such-binary-xyz" in attempt.error
    (failed,) = project.events(result.run_id, "task.failed")
    assert failed.payload["outcome"] == "error"
    assert "no-such-binary-xyz" in failed.payload["error"]


def test_a_missing_working_directory_is_an_error_outcome(project: Project) -> None:
    """A cwd that does not exist: outcome `error`, the message names the directory."""
    result = project.run(
        """
        id: ws
        tasks:
          - {id: lost, run: echo hi, cwd: no/such/dir}
        """
    )
    task = project.tasks(result.run_id)["ws/lost"]
    assert (task.status, task.outcome) == (TaskStatus.FAILED, AttemptState.ERROR)
    (attempt,) = project.attempts(result.run_id)
    assert attempt.error is not None
    assert "no/such/dir" in attempt.error


def test_a_tool_task_no_tool_can_take_is_an_error_outcome_and_the_run_goes_on(
    project: Project,
) -> None:
    """`tool: auto` with no routing rule for its kind and no tool capable of it: the attempt
    ends as `error` with the router's reason, not as a crash, and the rest of the run goes
    on. (A kind no profile lists, so that no AI tool installed here can take it.)"""
    result = project.run(
        """
        id: ws
        tasks:
          - {id: agent, tool: auto, kind: translate, prompt: Fix the bug}
          - {id: plain, run: echo still runs}
        """
    )
    assert result.status is RunStatus.FAILED
    tasks = project.tasks(result.run_id)
    assert (tasks["ws/agent"].status, tasks["ws/agent"].outcome) == (
        TaskStatus.FAILED,
        AttemptState.ERROR,
    )
    assert tasks["ws/plain"].status is TaskStatus.SUCCEEDED
    (attempt,) = project.attempts(result.run_id, "ws/agent")
    assert attempt.state is AttemptState.ERROR
    assert attempt.tool == "auto"
    assert attempt.error is not None
    assert attempt.error.startswith("no tool can take it")


def test_tasks_get_uet_variables_and_stdin_from_dev_null(project: Project) -> None:
    """UET_RUN_ID, UET_TASK_ID, UET_NON_INTERACTIVE=1 and NON_INTERACTIVE=1 are set; stdin
    ends as /dev/null does (a pipe nobody writes to), so a task that reads stdin (`cat`)
    sees end of file and finishes."""
    result = project.run(
        """
        id: ws
        tasks:
          - id: show
            run: >-
              echo "run=$UET_RUN_ID task=$UET_TASK_ID
              uni=$UET_NON_INTERACTIVE ni=$NON_INTERACTIVE";
              readlink /proc/self/fd/0
          - id: reader
            argv: [cat]
        """
    )
    assert result.status is RunStatus.SUCCEEDED
    shown = project.output(result.run_id, "ws/show")
    assert shown[0] == f"run={result.run_id} task=ws/show uni=1 ni=1"
    assert shown[1].startswith("pipe:[")  # uet's stdin probe: ends like /dev/null
    assert project.tasks(result.run_id)["ws/reader"].status is TaskStatus.SUCCEEDED


def test_workstream_and_task_env_merge_with_substitution(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task's env overrides its workstream's; ${VAR} and ${VAR:-default} are filled
    from the environment; the rest of uet's environment (PATH) is passed through."""
    monkeypatch.setenv("RUNTEST_FROM_SHELL", "from-shell")
    monkeypatch.delenv("RUNTEST_UNSET", raising=False)
    result = project.run(
        """
        id: ws
        env:
          LEVEL: workstream
          ONLY_WS: ws-value
          FILLED: ${RUNTEST_FROM_SHELL}
          DEFAULTED: ${RUNTEST_UNSET:-fallback}
        tasks:
          - id: show
            env: {LEVEL: task, ONLY_TASK: "x-${RUNTEST_FROM_SHELL}"}
            run: >-
              echo "$LEVEL $ONLY_WS $ONLY_TASK $FILLED $DEFAULTED";
              test -n "$PATH" && echo has-path
        """
    )
    assert result.status is RunStatus.SUCCEEDED
    assert project.output(result.run_id, "ws/show") == [
        "task ws-value x-from-shell from-shell fallback",
        "has-path",
    ]


def test_output_events_precede_completion_and_the_log_file_has_everything(
    project: Project,
) -> None:
    """Every line (1,000, more than one task.output event holds) arrives in task.output
    events before the task's task.completed event; the log file under
    .uet/logs/<run>/<workstream>/<task>.log holds all of it, stderr included."""
    result = project.run(
        """
        id: ws
        tasks:
          - id: talk
            run: 'seq 1 1000; echo to-stderr >&2'
        """
    )
    assert result.status is RunStatus.SUCCEEDED
    events = project.events(result.run_id)
    completed = event_index(events, "task.completed", "ws/talk")
    outputs = [i for i, e in enumerate(events) if e.type == "task.output"]
    assert len(outputs) > 1
    assert max(outputs) < completed
    expected = [str(n) for n in range(1, 1001)] + ["to-stderr"]
    assert project.output(result.run_id, "ws/talk") == expected
    log_path = project.settings.home / "logs" / result.run_id / "ws" / "talk.log"
    assert log_path.read_text(encoding="utf-8").splitlines() == expected


# -- ordering and limits across workstreams -------------------------------------------------


def test_a_workstream_depending_on_another_starts_after_it_finished(project: Project) -> None:
    """Workstream-level depends_on: every task of `deploy` starts after every task of
    `build` completed, although both files are loaded together and nothing else orders them."""
    result = project.run(
        """
        id: deploy
        depends_on: [build]
        tasks:
          - {id: push, run: echo push}
          - {id: notify, run: echo notify}
        """,
        """
        id: build
        tasks:
          - {id: one, run: echo one}
          - {id: two, run: echo two}
        """,
    )
    assert result.status is RunStatus.SUCCEEDED
    events = project.events(result.run_id)
    last_build = max(
        i for i, e in enumerate(events) if e.type == "task.completed" and workstream(e) == "build"
    )
    first_deploy = min(
        i for i, e in enumerate(events) if e.type == "task.started" and workstream(e) == "deploy"
    )
    assert last_build < first_deploy


def test_a_failed_workstream_skips_the_workstreams_that_depend_on_it(project: Project) -> None:
    """Workstream-level depends_on carries failures too: with the default policy every
    task of the dependent workstream is skipped, and never dispatched."""
    result = project.run(
        """
        id: deploy
        depends_on: [build]
        tasks:
          - {id: push, run: echo push}
        """,
        """
        id: build
        tasks:
          - {id: compile, run: exit 1}
        """,
    )
    assert result.status is RunStatus.FAILED
    tasks = project.tasks(result.run_id)
    assert tasks["deploy/push"].status is TaskStatus.SKIPPED
    assert not project.attempts(result.run_id, "deploy/push")


def test_workstream_concurrency_caps_overlapping_tasks(project: Project) -> None:
    """Six tasks of a workstream with concurrency 2 (global 6): their recorded run times
    never overlap more than two at once; another workstream is not held back by it."""
    times = project.root / "times"
    times.mkdir()
    tasks = "\n".join(
        f"  - {{id: t{i}, run: 's=$(date +%s%N); sleep 0.2; echo $s $(date +%s%N) > times/t{i}'}}"
        for i in range(6)
    )
    result = project.run(
        f"id: capped\nconcurrency: 2\ntasks:\n{tasks}\n",
        "id: free\ntasks:\n  - {id: x, run: echo free}\n",
        concurrency=6,
    )
    assert result.status is RunStatus.SUCCEEDED
    intervals = [tuple(int(n) for n in (times / f"t{i}").read_text().split()) for i in range(6)]
    assert max_overlap(intervals) <= 2
    assert project.tasks(result.run_id)["free/x"].status is TaskStatus.SUCCEEDED


def workstream(event: EventRecord) -> str:
    return (event.task_id or "").partition("/")[0]


def max_overlap(intervals: list[tuple[int, ...]]) -> int:
    """The most intervals (start, end) that are open at one instant."""
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    open_now = most = 0
    for _, step in points:  # at equal times an end (-1) sorts before a start (+1)
        open_now += step
        most = max(most, open_now)
    return most


# -- the attempts table ---------------------------------------------------------------------

_SEE_OWN_ATTEMPT = """
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
query = "select state, pid, pgid from attempts where run_id = ? and task_id = ?"
key = (os.environ["UET_RUN_ID"], os.environ["UET_TASK_ID"])
first = db.execute(query, key).fetchone()
deadline = time.monotonic() + 20
row = first
while row[0] != "running" and time.monotonic() < deadline:
    time.sleep(0.02)
    row = db.execute(query, key).fetchone()
print("first", first[0])
print("later", row[0], row[1] == os.getpid(), row[2] == os.getpgrp() == os.getpid())
"""


def test_an_attempt_row_exists_before_the_process_and_records_its_group(
    project: Project,
) -> None:
    """The task reads its own attempt row from the database while it runs: the row was
    committed before the process started (dispatched or already running), then shows the
    process's pid and its own process group; at the end it is terminal with times."""
    script = project.root / "see_attempt.py"
    script.write_text(_SEE_OWN_ATTEMPT, encoding="utf-8")
    db_path = project.settings.home / "state.db"
    result = project.run(
        f"""
        id: ws
        tasks:
          - id: look
            argv: [{sys.executable}, {script}, {db_path}]
        """
    )
    assert result.status is RunStatus.SUCCEEDED
    first, later = project.output(result.run_id, "ws/look")
    assert first in ("first dispatched", "first running")
    assert later == "later running True True"
    (attempt,) = project.attempts(result.run_id)
    assert attempt.state is AttemptState.SUCCEEDED
    assert attempt.pid is not None
    assert attempt.pgid == attempt.pid
    assert attempt.started_at is not None
    assert attempt.ended_at is not None
    assert attempt.dispatched_at <= attempt.started_at <= attempt.ended_at
    assert attempt.exit_code == 0


def test_every_attempt_ends_terminal_with_its_process_recorded(project: Project) -> None:
    """After a run no attempt is left dispatched or running; each that ran a process has
    pid, pgid (= pid: it led its own group) and started_at."""
    result = project.run(
        """
        id: ws
        defaults: {retry_delay: 0}
        tasks:
          - {id: ok, run: "true"}
          - {id: bad, run: exit 4}
          - {id: retried, run: 'test -f m || { touch m; exit 1; }', retries: 1}
        """
    )
    attempts = project.attempts(result.run_id)
    assert sorted((a.task_id, a.number, a.state) for a in attempts) == [
        ("ws/bad", 1, AttemptState.FAILED),
        ("ws/ok", 1, AttemptState.SUCCEEDED),
        ("ws/retried", 1, AttemptState.FAILED),
        ("ws/retried", 2, AttemptState.SUCCEEDED),
    ]
    for attempt in attempts:
        assert attempt.pid is not None
        assert attempt.pgid == attempt.pid
        assert attempt.started_at is not None
        assert attempt.ended_at is not None
        assert attempt.ended_at >= attempt.started_at
