"""Resume and reconcile count a routed task's could-not-start attempt as the run loop does:
it went on to the next tool, so it spent no retry (the rule is recovery.counted_attempts)."""

from __future__ import annotations

from uet.engine.recovery import counted_attempts
from uet.engine.tooltasks import CANNOT_START_EXIT, RATE_LIMITED_EXIT
from uet.state.records import AttemptRecord
from uet.states import AttemptState


def _attempt(number: int, task: str, exit_code: int) -> AttemptRecord:
    return AttemptRecord(
        id=number,
        run_id="r1",
        task_id=task,
        number=number,
        state=AttemptState.FAILED,
        dispatched_at=0.0,
        exit_code=exit_code,
    )


def test_a_routed_task_spends_no_retry_on_a_tool_that_could_not_start() -> None:
    attempts = [
        _attempt(1, "routed", CANNOT_START_EXIT),
        _attempt(2, "routed", RATE_LIMITED_EXIT),
        _attempt(3, "routed", 1),
        _attempt(4, "named", CANNOT_START_EXIT),  # a named tool is retried: it counts
    ]
    assert counted_attempts(attempts, {"routed"}) == {"routed": 1, "named": 1}
