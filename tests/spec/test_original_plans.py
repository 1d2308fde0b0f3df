"""Every real plan of the originals *runs* in uet (``uet run`` in a temporary project) with
the originals' semantics, checked step by step against a side-by-side table: what runs, in
which order and how many at once, what a failure does, what the original did instead where
it was broken (it waits forever for the dependents of a failed ``continue`` step).

The steps' programs are real: ``python`` and small scripts written into the project, and
for the safe-merge plan stand-ins for ``pwsh`` and ``git`` on a PATH of their own (each
records its call, so the log of calls is the order in which the steps ran).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.spec.originals import require_corpus
from uet.cli import main


@dataclass(frozen=True)
class Row:
    """One step of a plan: what the original did, what uet must do."""

    step: str
    original: str
    status: str  # uet's final task status
    attempts: int = 1


@dataclass
class Ran:
    code: int
    tasks: dict[str, dict[str, Any]]  # step id -> uet status record
    events: list[dict[str, Any]]
    err: str


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def run_plan(
    capsys: pytest.CaptureFixture[str],
    project: Path,
    name: str,
    *options: str,
    run_id: str = "r",
) -> Ran:
    """``uet run`` of the corpus file ``name`` in the project, then its status and events."""
    shutil.copyfile(require_corpus() / name, project / name)
    code = main(["run", name, "--run-id", run_id, "--json", *options])
    err = capsys.readouterr().err
    main(["status", run_id, "--json"])
    status = json.loads(capsys.readouterr().out)
    main(["events", run_id, "--json"])
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    tasks = {task["id"].split("/", 1)[1]: task for task in status["tasks"]}
    return Ran(code, tasks, events, err)


def check_table(ran: Ran, table: list[Row]) -> None:
    assert set(ran.tasks) == {row.step for row in table}
    for row in table:
        task = ran.tasks[row.step]
        assert (row.step, task["status"]) == (row.step, row.status), row.original
        if row.status != "canceled":
            assert (row.step, task["attempts"]) == (row.step, row.attempts)


def started_order(ran: Ran) -> list[str]:
    return [e["task_id"].split("/", 1)[1] for e in ran.events if e["type"] == "task.started"]


def most_at_once(ran: Ran) -> int:
    """The most attempts running at one moment, from the ordered event log."""
    running: set[int] = set()
    most = 0
    for event in ran.events:
        if event["type"] == "task.started":
            running.add(event["attempt_id"])
            most = max(most, len(running))
        elif event["type"] in ("task.completed", "task.failed", "task.retrying"):
            running.discard(event["attempt_id"])
    return most


def test_test_simple_runs_as_the_original(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """plans/test_simple.json: step1, then step2 and step3 side by side (max_concurrency
    2), then step4 (critical: false, continue)."""
    ran = run_plan(capsys, project, "pipe0-test_simple.json")
    check_table(
        ran,
        [
            Row("step1", "runs first, prints 'Step 1 complete'", "succeeded"),
            Row("step2", "runs after step1, beside step3", "succeeded"),
            Row("step3", "runs after step1, beside step2 (sleeps 1 s)", "succeeded"),
            Row("step4", "runs after step2 and step3", "succeeded"),
        ],
    )
    order = started_order(ran)
    assert order[0] == "step1"
    assert set(order[1:3]) == {"step2", "step3"}
    assert order[3] == "step4"
    assert most_at_once(ran) <= 2
    assert ran.code == 0


def test_safe_merge_runs_as_the_original_where_it_did_not_hang(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """plans/safe_merge.json with --var BRANCH=feature-x: eleven steps one at a time; the
    merge fails (critical: false, on_failure: continue): the original then waited forever
    for timestamp_resolver's dependency; uet runs the dependents and the run fails."""
    bin_dir = project / "bin"
    bin_dir.mkdir()
    record = 'echo "${0##*/} $*" >> "$PWD/calls.log"'
    _script(bin_dir / "pwsh", f"#!/bin/sh\n{record}\nexit 0\n")
    _script(bin_dir / "git", f'#!/bin/sh\n{record}\n[ "$1" = merge ] && exit 1\nexit 0\n')
    os.symlink(sys.executable, bin_dir / "python")
    monkeypatch.setenv("PATH", str(bin_dir))
    scripts = project / "scripts"
    scripts.mkdir()
    for name in (
        "sync_log_summary",
        "nested_repo_detector",
        "nested_repo_normalizer",
        "merge_file_classifier",
        "merge_timestamp_resolver",
        "ai_conflict_resolver",
        "multi_clone_guard",
        "safe_merge_emit_event",
    ):
        (scripts / f"{name}.py").write_text(
            "import pathlib, sys\n"
            "with open('calls.log', 'a') as log:\n"
            "    log.write(pathlib.Path(sys.argv[0]).stem + ' ' + ' '.join(sys.argv[1:]) + '\\n')\n"
        )
    ran = run_plan(capsys, project, "pipe0-safe_merge.json", "--var", "BRANCH=feature-x")
    check_table(
        ran,
        [
            Row("env_scan", "runs first (pwsh)", "succeeded"),
            Row("sync_health_check", "after env_scan", "succeeded"),
            Row("nested_repos_detect", "after sync_health_check", "succeeded"),
            Row("nested_repos_normalize", "after nested_repos_detect", "succeeded"),
            Row("file_classification", "after nested_repos_normalize", "succeeded"),
            Row("git_fetch", "after file_classification (retries 2, none needed)", "succeeded"),
            Row("git_merge", "fails, exit 1; not critical: the plan goes on", "failed"),
            Row("timestamp_resolver", "original: waits forever (dependency failed)", "succeeded"),
            Row("ai_conflict_resolver", "original: never reached", "succeeded"),
            Row("guarded_push", "original: never reached", "succeeded"),
            Row("emit_success_event", "original: never reached", "succeeded"),
        ],
    )
    calls = (project / "calls.log").read_text().splitlines()
    assert [call.split()[0] for call in calls] == [
        "pwsh",
        "sync_log_summary",
        "nested_repo_detector",
        "nested_repo_normalizer",
        "merge_file_classifier",
        "git",
        "git",
        "merge_timestamp_resolver",
        "ai_conflict_resolver",
        "multi_clone_guard",
        "safe_merge_emit_event",
    ]
    assert calls[5:7] == ["git fetch origin feature-x", "git merge --no-ff origin/feature-x"]
    assert "-Branch feature-x -OutputPath .state/safe_merge/env_scan_feature-x.json" in calls[0]
    assert most_at_once(ran) == 1  # max_concurrency 1
    assert ran.code == 1  # a failed step fails the run, as the original's final status


def test_safe_merge_without_pwsh_aborts_as_the_original(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first step cannot start (no pwsh): critical, abort → every other step canceled."""
    bin_dir = project / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    ran = run_plan(capsys, project, "pipe0-safe_merge.json", "--var", "BRANCH=main")
    assert ran.tasks["env_scan"]["status"] == "failed"
    others = {step: task["status"] for step, task in ran.tasks.items() if step != "env_scan"}
    assert set(others.values()) == {"canceled"}
    assert len(others) == 10
    assert ran.code == 1


def test_the_originals_execute_plan_tests_run_as_they_expected(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """tests/engine/test_plan_execution.py of the originals, run by uet."""
    simple = run_plan(capsys, project, "pipeT-execute_simple_plan.json")
    check_table(simple, [Row("echo_step", "prints hello, succeeds", "succeeded")])
    chained = run_plan(capsys, project, "pipeT-execute_plan_with_dependencies.json", run_id="r2")
    check_table(
        chained,
        [
            Row("step1", "first", "succeeded"),
            Row("step2", "after step1", "succeeded"),
            Row("step3", "after step2", "succeeded"),
        ],
    )
    assert started_order(chained) == ["step1", "step2", "step3"]
    aborted = run_plan(
        capsys, project, "pipeT-execute_plan_handles_failure_abort.json", run_id="r3"
    )
    check_table(
        aborted,
        [
            Row("fail_step", "exits 1: critical, abort", "failed"),
            Row("should_cancel", "canceled, never runs", "canceled"),
        ],
    )
    assert aborted.code == 1
    assert started_order(aborted) == ["fail_step"]
    valid = run_plan(capsys, project, "pipeT-plan_schema_loads_valid_plan.json", run_id="r4")
    check_table(valid, [Row("step1", "prints hello", "succeeded")])
    assert (simple.code, chained.code, valid.code) == (0, 0, 0)


@pytest.mark.slow
def test_the_flaky_step_is_retried_with_its_fixed_delay(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """execute_plan_with_retry: flaky.py fails twice, then succeeds (retries 2, 1 s apart:
    a fixed delay, as the original's ``time.sleep(retry_delay_sec)``)."""
    (project / "flaky.py").write_text(
        "import pathlib, sys\n"
        "count = pathlib.Path('count')\n"
        "n = int(count.read_text()) + 1 if count.exists() else 1\n"
        "count.write_text(str(n))\n"
        "sys.exit(0 if n >= 3 else 1)\n"
    )
    ran = run_plan(capsys, project, "pipeT-execute_plan_with_retry.json")
    check_table(ran, [Row("retry_step", "fails twice, then succeeds", "succeeded", attempts=3)])
    delays = [e["payload"]["delay"] for e in ran.events if e["type"] == "task.retrying"]
    assert delays == [1.0, 1.0]  # fixed, not growing
    assert ran.code == 0


def test_variables_come_from_var(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """plan_schema_variable_substitution: ${MESSAGE} from --var, as the original's
    ``variables`` argument."""
    ran = run_plan(
        capsys, project, "pipeT-plan_schema_variable_substitution.json", "--var", "MESSAGE=hi"
    )
    check_table(ran, [Row("echo_var", "prints the variable", "succeeded")])
    main(["logs", "r", "echo_var"])
    assert capsys.readouterr().out.strip().endswith("hi")


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


ABORT_PLAN = {
    "plan_id": "ABORT-DEMO",
    "version": "1.0",
    "globals": {"max_concurrency": 2},
    "steps": [
        {
            "id": "a_fails",
            "name": "Fails",
            "command": "python",
            "args": ["-c", "import pathlib, sys; pathlib.Path('failed').touch(); sys.exit(1)"],
        },
        {
            "id": "b_runs",
            "name": "Runs on",
            "command": "python",
            "args": [
                "-c",
                "import pathlib, time\n"
                "while not pathlib.Path('failed').exists(): time.sleep(0.05)\n"
                "time.sleep(${LINGER})",
            ],
        },
        {
            "id": "c_after",
            "name": "After",
            "command": "python",
            "args": [],
            "depends_on": ["b_runs"],
        },
    ],
}


@pytest.mark.parametrize(
    ("options", "linger", "b_status"),
    [((), "0", "succeeded"), (("--abort-kills",), "60", "canceled")],
    ids=["running-steps-finish", "abort-kills"],
)
def test_an_abort_lets_running_steps_finish_unless_abort_kills(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    options: tuple[str, ...],
    linger: str,
    b_status: str,
) -> None:
    """As the original: a critical failure cancels what has not started and lets what runs
    finish; with --abort-kills what runs is killed (b would otherwise sleep a minute)."""
    (project / "abort.json").write_text(json.dumps(ABORT_PLAN))
    code = main(["run", "abort.json", "--run-id", "r", "--var", f"LINGER={linger}", *options])
    capsys.readouterr()
    main(["status", "r", "--json"])
    tasks = {
        t["id"].split("/", 1)[1]: t["status"] for t in json.loads(capsys.readouterr().out)["tasks"]
    }
    assert tasks == {"a_fails": "failed", "b_runs": b_status, "c_after": "canceled"}
    assert code == 1
