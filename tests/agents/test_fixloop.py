"""The fix loop's rules: the error signature (the originals' rule, normalised) and when to
stop (max_attempts, max_error_repeats, oscillation)."""

from __future__ import annotations

import pytest

from uet.agents.fixloop import error_signature, normalise, returns, verdict
from uet.spec.models import FixLoop


def test_the_same_failure_with_other_numbers_paths_and_ids_has_one_signature() -> None:
    first = "FAILED tests/test_io.py::test_read - took 0.31s in /tmp/pytest-7/x (id 3fa9c2e1d)"
    again = "FAILED tests/test_io.py::test_read - took 12.5s in /tmp/pytest-91/y (id 0b77aa12f)"
    assert normalise(first) == normalise(again)
    assert error_signature("pytest -q", 1, first) == error_signature("pytest -q", 1, again)


def test_a_different_error_command_or_exit_code_has_another_signature() -> None:
    base = error_signature("pytest -q", 1, "AssertionError: expected HELLO")
    assert error_signature("pytest -q", 1, "NameError: name 'greet' is not defined") != base
    assert error_signature("ruff check .", 1, "AssertionError: expected HELLO") != base
    assert error_signature("pytest -q", 2, "AssertionError: expected HELLO") != base
    assert error_signature("pytest -q", 1, "AssertionError:   expected\n HELLO") == base


def test_only_the_first_2000_characters_of_the_message_count() -> None:
    head = "x" * 2000
    assert error_signature("t", 1, head + " one") == error_signature("t", 1, head + " two")


def test_returns_count_a_signature_that_comes_back_after_another() -> None:
    assert returns(["A", "A", "A"]) == 0  # a repeat, not an oscillation
    assert returns(["A", "B", "A"]) == 1
    assert returns(["A", "B", "A", "B"]) == 2
    assert returns(["A", "B", "C", "A"]) == 1


@pytest.mark.parametrize(
    ("signatures", "loop", "stopped_by"),
    [
        (["A"], FixLoop(max_attempts=1), "max_attempts"),
        (["A", "B"], FixLoop(max_attempts=3), None),
        (["A", "B", "C"], FixLoop(max_attempts=3), "max_attempts"),
        (["A", "A"], FixLoop(max_attempts=5, max_error_repeats=2), "max_error_repeats"),
        (["A", "B", "A"], FixLoop(max_attempts=5, max_error_repeats=3), None),
        (["A", "B", "A"], FixLoop(max_attempts=9, oscillation_threshold=1), "oscillation"),
        (["A", "B", "A"], FixLoop(max_attempts=9, oscillation_threshold=2), None),
        (["A", "B", "A", "B"], FixLoop(max_attempts=9, oscillation_threshold=2), "oscillation"),
        (["A"], None, "max_attempts"),  # no fix loop: one try
    ],
)
def test_the_verdict_says_whether_to_try_again_and_what_stopped_the_loop(
    signatures: list[str], loop: FixLoop | None, stopped_by: str | None
) -> None:
    result = verdict(signatures, loop)
    assert result.again is (stopped_by is None)
    assert result.stopped_by == stopped_by
    assert result.reason
