"""Catch-up and rate-cap policy: exact counts per policy after an outage (a fake clock),
and the invariants of due_fires over random schedules, outages and policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uet.spec.triggers import Catchup, TriggerSpec
from uet.triggers.policy import COUNT_CAP, SkipReason, due_fires, due_fires_for, rate_capped
from uet.triggers.schedule import CronSchedule, EverySchedule, Schedule

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def every(seconds: float) -> EverySchedule:
    return EverySchedule(seconds)


def outage(
    catchup: Catchup,
    *,
    max_catchup: int | None = None,
    tool: bool = False,
    schedule: Schedule | None = None,
    hours: float = 1.0,
    late: float = 0.5,
) -> tuple[int, int, set[SkipReason]]:
    """A daemon last fired at T0, came back after ``hours`` (plus ``late`` seconds past a
    slot): (launched, skipped, reasons)."""
    now = T0 + timedelta(hours=hours, seconds=late)
    due = due_fires(
        schedule or every(60),
        last_fire=T0,
        enabled_at=T0 - timedelta(days=1),
        now=now,
        catchup=catchup,
        max_catchup=max_catchup,
        tool_target=tool,
    )
    return len(due.launch), due.skipped_count, {s.reason for s in due.skipped}


def test_one_hour_outage_counts_per_policy() -> None:
    """An every-minute trigger, one hour down (60 fires due, the newest on time)."""
    assert outage(Catchup.SKIP) == (1, 59, {SkipReason.CATCHUP_SKIP})
    assert outage(Catchup.LATEST) == (1, 59, {SkipReason.CATCHUP_LATEST})
    assert outage(Catchup.ALL) == (5, 55, {SkipReason.MAX_CATCHUP})
    assert outage(Catchup.ALL, max_catchup=100) == (60, 0, set())
    assert outage(Catchup.ALL, tool=True) == (1, 59, {SkipReason.TOOL_CAP})
    assert outage(Catchup.ALL, tool=True, max_catchup=3) == (3, 57, {SkipReason.MAX_CATCHUP})


def test_skip_launches_nothing_when_the_newest_fire_is_late() -> None:
    """An hourly trigger back 10 minutes after its fire: skip launches none, latest one."""
    assert outage(Catchup.SKIP, schedule=every(3600), hours=3, late=600) == (
        0,
        3,
        {SkipReason.CATCHUP_SKIP},
    )
    assert outage(Catchup.LATEST, schedule=every(3600), hours=3, late=600)[:2] == (1, 2)


def test_a_day_of_hourly_tool_runs_gives_one_run() -> None:
    """A 24 h outage of an hourly tool trigger: one run (AI agents cost money)."""
    spec = TriggerSpec.model_validate(
        {"id": "t", "every": "1h", "catchup": "all", "target": {"exec": ["aider"], "tool": True}}
    )
    due = due_fires_for(
        spec,
        every(3600),
        last_fire=T0,
        enabled_at=T0,
        now=T0 + timedelta(hours=24, minutes=1),
    )
    assert len(due.launch) == 1
    assert due.skipped_count == 23
    assert due.reason == SkipReason.TOOL_CAP


def test_never_before_enabled_at() -> None:
    """A trigger first seen now does not replay its past, even with catchup all."""
    due = due_fires(
        every(60),
        last_fire=None,
        enabled_at=T0,
        now=T0 + timedelta(seconds=30),
        catchup=Catchup.ALL,
        max_catchup=1000,
        tool_target=False,
    )
    assert due.launch[0].at == T0  # a fire exactly at enabled_at counts
    assert len(due.launch) == 1
    assert not due.skipped


def test_a_year_of_per_minute_cron_is_counted_and_bounded() -> None:
    """A long outage lists at most MAX_LISTED skips and caps the count, quickly."""
    due = due_fires(
        CronSchedule("* * * * *", UTC),
        last_fire=T0,
        enabled_at=T0,
        now=T0 + timedelta(days=365),
        catchup=Catchup.LATEST,
        max_catchup=None,
        tool_target=False,
    )
    assert len(due.launch) == 1
    assert len(due.skipped) == 1000
    assert due.count_capped
    assert due.skipped_count >= 100_000 - 1


def test_rate_cap() -> None:
    """max_runs_per_hour caps at the given count; None never caps."""
    assert not rate_capped(10**6, None)
    assert not rate_capped(2, 3)
    assert rate_capped(3, 3)


SCHEDULES = st.one_of(
    st.integers(1, 7200).map(lambda s: every(float(s))),
    st.sampled_from(["*/5 * * * *", "30 2 * * *", "0 */3 * * *", "15,45 9-17 * * 1-5"]).map(
        lambda expr: CronSchedule(expr, UTC)
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    SCHEDULES,
    st.integers(0, 2 * 86400),  # the outage, seconds
    st.integers(-86400, 86400),  # enabled_at relative to the last fire
    st.booleans(),  # a last fire recorded at all
    st.sampled_from(list(Catchup)),
    st.one_of(st.none(), st.integers(1, 50)),
    st.booleans(),
)
def test_due_fires_invariants(
    schedule: Schedule,
    down: int,
    enabled_shift: int,
    has_last: bool,
    catchup: Catchup,
    max_catchup: int | None,
    tool: bool,
) -> None:
    """Never a key twice, never at or before the last fire, never before enabled_at, never
    after now, launches oldest first and after every skipped one, counts exact per policy."""
    last = T0 if has_last else None
    enabled_at = T0 + timedelta(seconds=enabled_shift)
    now = T0 + timedelta(seconds=down)
    due = due_fires(
        schedule,
        last_fire=last,
        enabled_at=enabled_at,
        now=now,
        catchup=catchup,
        max_catchup=max_catchup,
        tool_target=tool,
    )
    launched = [f.at for f in due.launch]
    skipped = [s.at for s in due.skipped]
    keys = [f.key for f in due.launch] + [s.key for s in due.skipped]
    assert len(keys) == len(set(keys))
    assert launched == sorted(launched)
    assert skipped == sorted(skipped)
    floor = enabled_at - timedelta(microseconds=1)  # a fire at enabled_at may launch
    if last is not None and last > floor:
        floor = last
    for at in launched + skipped:
        assert floor < at <= now
        assert at >= enabled_at
    if launched and skipped:
        assert max(skipped) < min(launched)
    total = schedule.count_in(floor, now, cap=10**6) if now > floor else 0
    if due.count_capped:  # counted up to COUNT_CAP, no further
        assert total >= COUNT_CAP
        assert len(launched) + due.skipped_count == COUNT_CAP
    else:
        assert len(launched) + due.skipped_count == total
    limit = max_catchup if max_catchup is not None else (1 if tool else 5)
    expected = {
        Catchup.SKIP: 1 if launched and (now - launched[-1]).total_seconds() <= 60 else 0,
        Catchup.LATEST: min(1, total),
        Catchup.ALL: min(limit, total),
    }[catchup]
    assert len(launched) == expected
    if catchup == Catchup.SKIP and total:
        newest = schedule.fires_in(floor, now, newest=1)[0]
        assert len(launched) == (1 if (now - newest).total_seconds() <= 60 else 0)


@pytest.mark.parametrize("catchup", list(Catchup))
def test_a_steady_daemon_launches_every_fire_once(catchup: Catchup) -> None:
    """Ticking every 7 s through 10 minutes of an every-30s trigger: each slot once, no skip."""
    schedule, last, launched = every(30), None, []
    now = T0
    while now < T0 + timedelta(minutes=10):
        due = due_fires(
            schedule,
            last_fire=last,
            enabled_at=T0,
            now=now,
            catchup=catchup,
            max_catchup=None,
            tool_target=False,
        )
        assert not due.skipped
        launched += [f.key for f in due.launch]
        last = due.launch[-1].at if due.launch else last
        now += timedelta(seconds=7)
    assert len(launched) == len(set(launched)) == 20
