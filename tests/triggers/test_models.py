"""Trigger models: durations, exactly one source and one target, policies and their defaults."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from uet.spec.triggers import (
    Catchup,
    Overlap,
    TriggerKind,
    TriggerSpec,
    parse_duration,
)


def spec(**fields: Any) -> TriggerSpec:
    data = {"id": "t", "target": {"exec": ["true"]}, **fields}
    return TriggerSpec.model_validate(data)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("1d", 86400),
        ("2w", 1_209_600),
        ("500ms", 0.5),
        ("1.5s", 1.5),
        ("90", 90),
        (45, 45),
        (2.5, 2.5),
        ("1H 30M", 5400),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    """Every documented duration form gives its seconds."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "m5", "1h1h", "-5s", "nan", "inf", "1h 30", True, None])
def test_bad_durations(text: object) -> None:
    """A duration that is not one is a ValueError that says what is expected."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@given(
    st.integers(0, 30),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.integers(0, 999),
)
def test_duration_parser_property(d: int, h: int, m: int, s: int, ms: int) -> None:
    """Any combination of units, in order, sums to its seconds; zero parts may be left out."""
    parts = [(d, "d"), (h, "h"), (m, "m"), (s, "s"), (ms, "ms")]
    text = "".join(f"{n}{u}" for n, u in parts if n) or "0s"
    expected = d * 86400 + h * 3600 + m * 60 + s + ms / 1000
    assert parse_duration(text) == pytest.approx(expected)


def test_defaults_and_kinds() -> None:
    """Policies default to catchup latest (5 at most), overlap skip, grace 10 s."""
    t = spec(every="30s")
    assert (t.kind, t.every, t.catchup, t.max_catchup, t.overlap, t.grace) == (
        TriggerKind.EVERY,
        30.0,
        Catchup.LATEST,
        5,
        Overlap.SKIP,
        10.0,
    )
    assert spec(event="run.completed").kind == TriggerKind.EVENT
    assert spec(files=["src/"]).debounce == 0.5
    assert spec(files=["src/"], debounce="200ms").debounce == pytest.approx(0.2)
    assert spec(cron="0 * * * *", timezone="UTC").kind == TriggerKind.CRON


def test_cron_nicknames() -> None:
    """@daily and friends stand for their expressions."""
    assert spec(cron="@daily").cron == "0 0 * * *"
    assert spec(cron="@Hourly").cron == "0 * * * *"


def test_tool_targets_catch_up_once_unless_configured() -> None:
    """A tool target's catch-up limit is 1 by default, and the configured value when set."""
    tool = {"exec": ["aider"], "tool": True}
    assert spec(every="1h", target=tool).catchup_limit == 1
    assert spec(every="1h", target=tool).catchup_capped
    assert spec(every="1h", target=tool, max_catchup=5).catchup_limit == 5
    assert spec(every="1h").catchup_limit == 5
    assert spec(every="1h", max_catchup=3).catchup_limit == 3


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({}, "exactly one of event, files, cron, every"),
        ({"event": "a", "every": "1s"}, r"found event, every"),
        ({"every": "1s", "where": {"a": 1}}, "'where' goes with 'event'"),
        ({"event": "a", "debounce": 1}, "'debounce' goes with 'files'"),
        ({"every": "1s", "timezone": "UTC"}, "'timezone' goes with 'cron'"),
        ({"every": "0.5s"}, "greater than or equal to 1"),
        ({"every": "5x"}, "not a duration"),
        ({"cron": "61 * * * *"}, "Bad minute"),
        ({"cron": "0 0 31 2 *"}, "Bad day-of-month"),
        ({"cron": "* * *"}, "Wrong number of fields"),
        ({"cron": "* * * * *", "timezone": "Europe/Berln"}, "did you mean 'Europe/Berlin'"),
        ({"cron": "* * * * *", "timezone": "Nowhere"}, "unknown time zone"),
        ({"event": "Run.*"}, "characters event types never have"),
        ({"files": ["**x"]}, "whole segment"),
        ({"files": []}, "at least 1"),
        ({"event": "a", "where": {"": 1}}, "dotted field path"),
        ({"event": "a", "where": {"a": [[1]]}}, "not lists or mappings"),
        ({"event": "a", "catchup": "never"}, "'skip', 'latest' or 'all'"),
        ({"event": "a", "overlap": "wait"}, "'skip', 'queue', 'replace' or 'allow'"),
        ({"event": "a", "target": {}}, "exactly one of workstreams, script, exec"),
        ({"event": "a", "target": {"script": "a", "exec": ["b"]}}, "found script, exec"),
        ({"event": "a", "id": "Bad Id"}, "pattern"),
        ({"event": "a", "target": {"exec": []}}, "at least 1"),
        ({"event": "a", "max_runs_per_hour": 0}, "greater than or equal to 1"),
        ({"event": "a", "colour": "red"}, "Extra inputs"),
    ],
)
def test_invalid_triggers(fields: dict[str, Any], words: str) -> None:
    """Each bad value is a validation error whose message names the problem."""
    with pytest.raises(pydantic.ValidationError, match=words):
        spec(**fields)
