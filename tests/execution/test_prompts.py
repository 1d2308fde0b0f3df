"""The needs_input patterns: each entry matches its own example, plain output matches none."""

from __future__ import annotations

import pytest

from uet.execution.prompts import PROMPTS, waited_for_input


@pytest.mark.parametrize("prompt", PROMPTS, ids=[p.name for p in PROMPTS])
def test_each_pattern_matches_its_example_at_the_end_of_a_failed_output(prompt: object) -> None:
    name, example = prompt.name, prompt.example  # type: ignore[attr-defined]
    found = waited_for_input(f"building...\nstep 2 done\n{example}", succeeded=False)
    assert found is not None
    assert found.split(":", 1)[0] == name


@pytest.mark.parametrize(
    "prompt", [p for p in PROMPTS if p.at_end], ids=[p.name for p in PROMPTS if p.at_end]
)
def test_a_question_left_on_the_last_line_counts_even_after_exit_0(prompt: object) -> None:
    example = prompt.example  # type: ignore[attr-defined]
    assert waited_for_input(f"working\n{example}", succeeded=True) is not None


@pytest.mark.parametrize(
    "output",
    [
        "",
        "ok\n",
        "3 passed in 0.2s\n",
        "Traceback (most recent call last):\nValueError: bad value\n",
        "error: src/x.py:3: undefined name 'y'\n",
        "Continue reading the docs at https://x.org\n",
    ],
)
def test_ordinary_output_is_not_a_prompt(output: str) -> None:
    assert waited_for_input(output, succeeded=False) is None
    assert waited_for_input(output, succeeded=True) is None


def test_after_exit_0_only_the_last_line_counts() -> None:
    """A successful command that once printed a question, then went on, succeeded."""
    assert waited_for_input("Continue? [y/N] y\ninstalled 3 packages\n", succeeded=True) is None
    assert waited_for_input("EOFError: EOF when reading a line\n", succeeded=True) is None


def test_only_the_last_lines_are_searched() -> None:
    old = "Password: \n" + "line\n" * 40
    assert waited_for_input(old, succeeded=False) is None
