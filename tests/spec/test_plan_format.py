"""The originals' plan format, with their defaults and meanings (Orchestrator.execute_plan)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.spec.helpers import write
from uet.spec import AbortRunning, OnFailure, RetryBackoff, load_files


def plan_file(tmp_path: Path, steps: list[dict[str, Any]], **top: Any) -> Path:
    data = {"plan_id": "PLAN-X-001", "version": "1.0", "globals": {}, "steps": steps, **top}
    return write(tmp_path, "plan.json", json.dumps(data))


def step(step_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": step_id, "name": step_id.title(), "command": "python", "args": [], **fields}


def test_a_plan_without_settings_gets_the_originals_defaults(tmp_path: Path) -> None:
    """One at a time, 1800 s, abort (the running steps finish), a fixed delay of 0."""
    plan = load_files([plan_file(tmp_path, [step("a"), step("b", depends_on=["a"])])], env={})
    (ws,) = plan.workstreams
    assert (ws.id, ws.concurrency) == ("plan-x-001", 1)
    for task in plan.tasks:
        assert (task.timeout, task.on_failure, task.retries, task.retry_delay) == (
            1800,
            OnFailure.ABORT,
            0,
            0,
        )
        assert (task.retry_backoff, task.abort_running) == (
            RetryBackoff.FIXED,
            AbortRunning.FINISH,
        )


def test_zero_means_the_default_as_in_the_original(tmp_path: Path) -> None:
    """``step.retries or default_retries``, ``timeout_sec or default_timeout_sec``."""
    path = plan_file(
        tmp_path,
        [step("a", retries=0, timeout_sec=0, retry_delay_sec=5), step("b", retries=1)],
        globals={"default_retries": 2, "default_timeout_sec": 60},
    )
    a, b = load_files([path], env={}).tasks
    assert (a.retries, a.timeout, a.retry_delay) == (2, 60, 5)
    assert (b.retries, b.timeout) == (1, 60)


def test_a_step_that_is_not_critical_never_aborts(tmp_path: Path) -> None:
    path = plan_file(
        tmp_path,
        [
            step("a", critical=False),
            step("b", critical=False, on_failure="skip_dependents"),
            step("c", critical=True, on_failure="continue"),
            step("d"),
        ],
    )
    policies = [task.on_failure for task in load_files([path], env={}).tasks]
    assert policies == [
        OnFailure.CONTINUE,
        OnFailure.SKIP_DEPENDENTS,
        OnFailure.CONTINUE,
        OnFailure.ABORT,
    ]


def test_shell_true_runs_through_the_shell_with_args_quoted(tmp_path: Path) -> None:
    path = plan_file(
        tmp_path,
        [
            step("sh", command="echo $HOME && ls", shell=True, args=["a b", "$x"]),  # noqa: S604
            step("exec", command="echo", args=["a b"]),
        ],
    )
    exec_, sh = load_files([path], env={}).tasks  # in key order
    assert (sh.spec.run, sh.spec.argv) == ("echo $HOME && ls 'a b' '$x'", None)
    assert (exec_.spec.run, exec_.spec.argv) == (None, ["echo", "a b"])


def test_any_plan_and_step_id_is_accepted_and_kept(tmp_path: Path) -> None:
    path = plan_file(tmp_path, [step("Build Docs"), step("Test_All", depends_on=["Build Docs"])])
    plan = load_files([path], env={})
    assert [task.key for task in plan.tasks] == ["plan-x-001/build-docs", "plan-x-001/test_all"]
    assert plan.tasks[1].depends_on == ("plan-x-001/build-docs",)
    kept = plan.workstreams[0].metadata["plan"]
    assert (kept["plan_id"], kept["version"]) == ("PLAN-X-001", "1.0")
    assert kept["steps"]["Build Docs"]["id"] == "Build Docs"


def test_keys_the_originals_ignored_are_warnings_and_kept(tmp_path: Path) -> None:
    path = plan_file(
        tmp_path,
        [step("a", owner="me", condition="x == 1", tags=["t"]), step("b")],
        schedule="nightly",
        globals={"max_parallel": 2},
    )
    plan = load_files([path], env={})
    assert [(w.path, w.message) for w in plan.warnings] == [
        ("schedule", "unknown key (ignored, as the originals did)"),
        ("globals.max_parallel", "unknown key (ignored, as the originals did)"),
        ("steps[0].owner", "unknown step key (ignored, as the originals did)"),
        (
            "steps[0].condition",
            "condition is not evaluated (the originals did not either): the step runs",
        ),
    ]
    kept = plan.workstreams[0].metadata["plan"]
    assert kept["steps"]["a"] == {"owner": "me", "condition": "x == 1", "tags": ["t"]}
    assert kept["extra"] == {"schedule": "nightly"}


def test_a_native_workstream_keeps_uets_defaults(tmp_path: Path) -> None:
    """The plan's defaults are the plan format's: a native file is unchanged."""
    path = write(tmp_path, "w.yaml", "id: w\ntasks: [{id: t, run: 'true'}]")
    (task,) = load_files([path], env={}).tasks
    assert (task.on_failure, task.retry_backoff, task.abort_running, task.timeout) == (
        OnFailure.SKIP_DEPENDENTS,
        RetryBackoff.EXPONENTIAL,
        AbortRunning.KILL,
        None,
    )
