"""One function derives a failed attempt's reason from what was recorded; these pin its words
for each kind of record, including those a real run rarely produces (a lost attempt, a
signal, an absolute cwd the user did not write)."""

from __future__ import annotations

import pytest

from uet.state.reasons import attempt_reason, output_tail
from uet.state.records import AttemptRecord
from uet.states import AttemptState


def _attempt(state: AttemptState, **values: object) -> AttemptRecord:
    return AttemptRecord(1, "run", "ws/t", 1, state, 0.0, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("attempt", "document", "reason"),
    [
        (
            _attempt(AttemptState.TIMED_OUT, exit_code=-15, error="timed out after 600 s"),
            {"timeout": 600},
            "timed out after 600 s (killed the process group)",
        ),
        (
            _attempt(AttemptState.TIMED_OUT, error="timed out after 2.5 s; SIGKILL after 5 s"),
            {},
            "timed out after 2.5 s",
        ),
        (
            _attempt(AttemptState.ERROR, error="'pytst' not found on PATH"),
            {},
            "could not start: 'pytst' not found on PATH",
        ),
        (
            _attempt(AttemptState.ERROR, error="cwd '/home/u/p/src/x' does not exist"),
            {"cwd": "src/x"},
            "cwd 'src/x' does not exist",
        ),
        (
            _attempt(AttemptState.ERROR, error="cwd '/elsewhere' is not a directory"),
            {"cwd": "src/x"},
            "cwd '/elsewhere' is not a directory",
        ),
        (_attempt(AttemptState.ERROR), {}, "could not start"),
        (_attempt(AttemptState.FAILED, exit_code=1), {}, "exited 1"),
        (
            _attempt(AttemptState.FAILED, exit_code=127, output_tail="sh: 1: pytst: not found\n"),
            {},
            "could not start: 'pytst' not found on PATH",
        ),
        (
            _attempt(AttemptState.FAILED, exit_code=127, output_tail="my own 127\n"),
            {},
            "exited 127",
        ),
        (
            _attempt(AttemptState.FAILED, exit_code=-9, error="killed by SIGKILL"),
            {},
            "killed by SIGKILL",
        ),
        (
            _attempt(AttemptState.LOST, error="its orchestrator died"),
            {},
            "lost: its orchestrator died",
        ),
        (_attempt(AttemptState.CANCELED, error="canceled"), {}, "canceled"),
    ],
)
def test_attempt_reason(attempt: AttemptRecord, document: dict[str, object], reason: str) -> None:
    assert attempt_reason(attempt, document) == reason


def test_output_tail_keeps_the_last_five_printed_lines_of_a_failure_only() -> None:
    text = "".join(f"line {n}\n\n" for n in range(1, 9))
    failed = _attempt(AttemptState.FAILED, exit_code=1, output_tail=text)
    assert output_tail(failed) == tuple(f"line {n}" for n in range(4, 9))
    timed_out = _attempt(AttemptState.TIMED_OUT, output_tail=text)
    assert output_tail(timed_out) == ()
