"""Why a task failed, in one line a user can act on (issue 10, finding 6; Build item 5).

A real run of real processes: a timeout, a missing program, a bad cwd and a failing test.
Each failure's reason is printed in the run's summary and in `uet status`, with the last lines
of output of a task that exited non-zero and the `uet logs` command for more.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Uet

FAILING = """\
id: ws
tasks:
  - id: slow
    run: sleep 30
    timeout: 1
  - id: missing
    argv: [pytst, -q]
  - id: badcwd
    run: "true"
    cwd: src/x
  - id: test
    run: |
      for i in 1 2 3 4 5 6 7; do echo "line $i"; done
      exit 1
  - id: shell-missing
    run: pytst -q
  - id: fine
    run: "true"
  - id: after
    run: "true"
    depends_on: [test]
"""

REASONS = {
    "ws/slow": "timed out after 1 s (killed the process group)",
    "ws/missing": "could not start: 'pytst' not found on PATH",
    "ws/badcwd": "cwd 'src/x' does not exist",
    "ws/test": "exited 1",
    "ws/shell-missing": "could not start: 'pytst' not found on PATH",
}


def _failure_lines(text: str, run_id: str) -> dict[str, list[str]]:
    """Each `FAILED task  reason` line and the lines under it, by task."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("FAILED "):
            _, task, reason = stripped.split(maxsplit=2)
            current = found[task] = [reason]
        elif current is not None and (stripped.startswith(("|", "→"))):
            current.append(stripped)
        else:
            current = None
    return found


def _check(text: str, run_id: str) -> None:
    found = _failure_lines(text, run_id)
    assert {task: lines[0] for task, lines in found.items()} == REASONS
    for task, lines in found.items():
        assert lines[-1] == f"→ uet logs {run_id} {task}"
    assert found["ws/test"][1:-1] == [f"| line {n}" for n in range(3, 8)]  # the last 5 lines
    assert found["ws/slow"][1:-1] == []


def test_each_failure_reason_is_in_the_run_summary_and_in_status(uet: Uet, project: Path) -> None:
    (project / "ws.yaml").write_text(FAILING)
    result = uet("run", "ws.yaml", "--run-id", "why", "-j", "8")
    assert result.code == 1
    assert result.out.startswith("run why: failed (5 failed, 1 skipped, 1 succeeded)")
    _check(result.out, "why")

    status = uet("status", "why")
    assert status.code == 0
    lines = status.out.splitlines()
    assert lines[0] == "run why: failed"
    assert lines[1].startswith("  7 tasks: 5 failed, 1 skipped, 1 succeeded  ·  ")
    assert lines[1].endswith("workstreams: ws")
    assert lines[2] == "failed (5):"  # failures first, before any other task
    _check(status.out, "why")
    assert "ws/after" in status.out  # the skipped task is listed, with why
    assert "a task it depends on did not succeed" in status.out
    assert "ws/fine" not in status.out  # succeeded tasks are counted, not listed
    assert "1 succeeded not listed" in status.out


def test_status_json_carries_the_reasons_and_the_attempt_records_are_precise(
    uet: Uet, project: Path
) -> None:
    """The execution layer records what happened: a timeout is `timed_out`, a program that
    cannot start and a bad cwd are `error` with a message, not a blank exit code."""
    (project / "ws.yaml").write_text(FAILING)
    assert uet("run", "ws.yaml", "--run-id", "why").code == 1
    report = json.loads(uet("status", "why", "--json").out)
    tasks = {t["id"]: t for t in report["tasks"]}
    assert {k: tasks[k]["reason"] for k in REASONS} == REASONS
    assert tasks["ws/test"]["tail"] == [f"line {n}" for n in range(3, 8)]
    assert tasks["ws/fine"]["reason"] is None
    assert tasks["ws/slow"]["outcome"] == "timed_out"
    assert (tasks["ws/missing"]["outcome"], tasks["ws/missing"]["exit_code"]) == ("error", None)
    assert (tasks["ws/badcwd"]["outcome"], tasks["ws/badcwd"]["exit_code"]) == ("error", None)
    assert report["workstreams"] == ["ws"]
    assert report["counts"] == {"failed": 5, "skipped": 1, "succeeded": 1}
    # the duration is the recorded run's, from its start to its end (not a timing claim)
    assert report["duration"] == pytest.approx(report["ended_at"] - report["started_at"])


def test_run_json_lists_the_failures(uet: Uet, project: Path) -> None:
    (project / "ws.yaml").write_text(FAILING)
    result = uet("run", "ws.yaml", "--run-id", "why", "--json")
    assert result.code == 1
    report = json.loads(result.out)
    reasons = {f["task_id"]: f["reason"] for f in report["failures"]}
    assert reasons == REASONS
    assert {f["logs"] for f in report["failures"]} == {f"uet logs why {t}" for t in REASONS}


def test_status_state_filter(uet: Uet, project: Path) -> None:
    """`--state` lists only tasks in those states, succeeded ones included when asked."""
    (project / "ws.yaml").write_text(FAILING)
    assert uet("run", "ws.yaml", "--run-id", "why").code == 1
    only_ok = uet("status", "why", "--state", "succeeded")
    assert only_ok.code == 0
    assert "ws/fine" in only_ok.out
    assert "FAILED" not in only_ok.out
    assert "ws/after" not in only_ok.out
    skipped = json.loads(uet("status", "why", "--state", "skipped", "--json").out)
    assert [t["id"] for t in skipped["tasks"]] == ["ws/after"]
    failed = uet("status", "why", "--state", "failed")
    assert len(_failure_lines(failed.out, "why")) == len(REASONS)
    assert "ws/after" not in failed.out
    bad = uet("status", "why", "--state", "bogus")
    assert bad.code == 2


def test_logs_of_a_task_that_printed_nothing_says_why(uet: Uet, project: Path) -> None:
    (project / "ws.yaml").write_text(FAILING)
    assert uet("run", "ws.yaml", "--run-id", "why").code == 1
    result = uet("logs", "why", "badcwd")
    assert result.code == 0
    assert result.err.strip() == "ws/badcwd printed nothing: cwd 'src/x' does not exist"


@pytest.mark.slow
def test_status_of_200_tasks_stays_readable(uet: Uet, project: Path) -> None:
    """A summary first, the 3 failures next, and the 197 successes as one count line."""
    tasks = [f"  - {{id: t{n:03d}, run: 'true'}}" for n in range(197)]
    tasks += [f"  - {{id: bad{n}, run: 'echo oops; exit {n + 2}'}}" for n in range(3)]
    (project / "big.yaml").write_text("id: big\ntasks:\n" + "\n".join(tasks) + "\n")
    result = uet("run", "big.yaml", "--run-id", "big", "-j", "8")
    assert result.code == 1
    assert len(result.err.splitlines()) < 10  # no line per task off a terminal
    status = uet("status", "big")
    lines = status.out.splitlines()
    assert lines[1].startswith("  200 tasks: 3 failed, 197 succeeded")
    assert lines[2] == "failed (3):"
    assert [line.split()[1] for line in lines[3:12:3]] == ["big/bad0", "big/bad1", "big/bad2"]
    assert [line.split(maxsplit=2)[2] for line in lines[3:12:3]] == [
        "exited 2",
        "exited 3",
        "exited 4",
    ]
    assert len(lines) < 20
    assert "197 succeeded not listed" in lines[-1]


def test_runs_shows_workstreams_counts_duration_and_name(uet: Uet, project: Path) -> None:
    (project / "ws.yaml").write_text(FAILING)
    (project / "ok.yaml").write_text("id: ok\ntasks: [{id: a, run: 'true'}]\n")
    assert uet("run", "ws.yaml", "--run-id", "first").code == 1
    assert uet("run", "ok.yaml", "--run-id", "second", "--name", "nightly build").code == 0
    text = uet("runs")
    assert text.code == 0
    header, second, first = text.out.splitlines()
    assert header.split() == [
        "RUN",
        "STATUS",
        "STARTED",
        "DURATION",
        "TASKS",
        "WORKSTREAMS",
        "NAME",
    ]
    assert second.startswith("second ")
    assert "1 succeeded" in second
    assert second.split()[-3:] == ["ok", "nightly", "build"]
    assert "5 failed, 1 skipped, 1 succeeded" in first
    assert first.split()[-1] == "ws"
    report = json.loads(uet("runs", "--json").out)
    assert [(r["id"], r["name"], r["workstreams"]) for r in report] == [
        ("second", "nightly build", ["ok"]),
        ("first", None, ["ws"]),
    ]
    assert report[1]["tasks"] == {"failed": 5, "skipped": 1, "succeeded": 1}
    assert all(r["duration"] >= 0 for r in report)
    named = json.loads(uet("status", "second", "--json").out)
    assert named["name"] == "nightly build"
    assert uet("status", "second").out.startswith("run second (nightly build): succeeded")
