"""Schedules: cron in the trigger's zone across real DST transitions of the system tzdata,
every's epoch-anchored slots, fire keys and the words `uet triggers list` shows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uet.spec.triggers import TriggerSpec
from uet.triggers.policy import due_fires_for
from uet.triggers.schedule import CronSchedule, EverySchedule, Schedule, schedule_of

ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Santiago",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Australia/Lord_Howe",  # a 30-minute shift
]


def cron(expr: str, zone: str) -> Schedule:
    spec = TriggerSpec.model_validate(
        {"id": "t", "cron": expr, "timezone": zone, "target": {"exec": ["true"]}}
    )
    return schedule_of(spec)


def transitions(zone: str, years: range) -> Iterator[tuple[datetime, timedelta]]:
    """Each instant (UTC) the zone's offset changes, and the change (negative: fall-back),
    found by scanning the zone's own rules hour by hour and bisecting to the minute."""
    tz = ZoneInfo(zone)
    t = datetime(years.start, 1, 1, tzinfo=UTC)
    end = datetime(years.stop, 1, 1, tzinfo=UTC)
    step = timedelta(hours=1)
    while t < end:
        before, after = t.astimezone(tz).utcoffset(), (t + step).astimezone(tz).utcoffset()
        assert before is not None
        assert after is not None
        if before != after:
            low, high = t, t + step
            while high - low > timedelta(minutes=1):
                mid = low + (high - low) / 2
                if mid.astimezone(tz).utcoffset() == before:
                    low = mid
                else:
                    high = mid
            yield high, after - before
        t += step


def local_fires_on(schedule: Schedule, zone: str, day: date) -> list[datetime]:
    """Every fire whose local date is ``day``, walking next_after from the day before."""
    tz = ZoneInfo(zone)
    t = datetime(day.year, day.month, day.day, tzinfo=tz) - timedelta(days=1)
    found = []
    while True:
        t = schedule.next_after(t)
        local = t.astimezone(tz)
        if local.date() > day:
            return found
        if local.date() == day:
            found.append(local)


ALL = [(zone, at, shift) for zone in ZONES for at, shift in transitions(zone, range(2025, 2028))]


def test_there_are_enough_transitions() -> None:
    """The system tzdata gives the zones' DST changes for 2025-2027: well over 10."""
    assert len(ALL) >= 10
    assert {shift < timedelta(0) for _, _, shift in ALL} == {True, False}


@pytest.mark.parametrize(("zone", "at", "shift"), ALL, ids=str)
def test_fixed_time_job_fires_once_on_each_transition_day(
    zone: str, at: datetime, shift: timedelta
) -> None:
    """`30 2 * * *` fires exactly once on the local day of every transition, and so does a
    job at the middle of the repeated (fall-back) or missing (spring-forward) wall time."""
    tz = ZoneInfo(zone)
    day = at.astimezone(tz).date()
    assert len(local_fires_on(cron("30 2 * * *", zone), zone, day)) == 1
    # the wall time just before the clocks go back, or just after they jump forward;
    # half a shift earlier (wall-clock arithmetic) is inside the repeated or missing time
    wall = (at - timedelta(minutes=1)).astimezone(tz) if shift < timedelta(0) else at.astimezone(tz)
    middle = wall - abs(shift) / 2
    inside = f"{middle.minute} {middle.hour} * * *"
    fires = local_fires_on(cron(inside, zone), zone, middle.date())
    assert len(fires) == 1, (inside, fires)


@pytest.mark.parametrize(("zone", "at", "shift"), ALL, ids=str)
def test_a_daemon_ticking_through_the_day_launches_once(
    zone: str, at: datetime, shift: timedelta
) -> None:
    """The daemon's loop (due_fires every 15 minutes of a fake clock, the last fire recorded)
    launches `30 2 * * *` exactly once on the transition day and once on each neighbour."""
    tz = ZoneInfo(zone)
    spec = TriggerSpec.model_validate(
        {"id": "t", "cron": "30 2 * * *", "timezone": zone, "target": {"exec": ["true"]}}
    )
    schedule = schedule_of(spec)
    day = at.astimezone(tz).date()
    now = datetime(day.year, day.month, day.day, tzinfo=tz) - timedelta(days=1)
    enabled_at, last, keys = now, None, []
    while now.astimezone(tz).date() <= day + timedelta(days=1):
        due = due_fires_for(spec, schedule, last_fire=last, enabled_at=enabled_at, now=now)
        assert not due.skipped
        for fire in due.launch:
            keys.append(fire.key)
            last = fire.at
        now += timedelta(minutes=15)
    assert len(keys) == len(set(keys)) == 3, keys


def test_repeated_hour_wildcards_fire_in_both_copies() -> None:
    """`*/30 1-3 * * *` on Berlin's fall-back day fires in both copies of 02:00-03:00, with
    distinct keys (their offsets differ): documented, as Vixie cron does."""
    fires = local_fires_on(
        cron("*/30 1-3 * * *", "Europe/Berlin"), "Europe/Berlin", date(2025, 10, 26)
    )
    schedule = cron("*/30 1-3 * * *", "Europe/Berlin")
    keys = [schedule.fire_key(f) for f in fires]
    assert keys == [
        "cron:2025-10-26T01:00+02:00",
        "cron:2025-10-26T01:30+02:00",
        "cron:2025-10-26T02:00+02:00",
        "cron:2025-10-26T02:30+02:00",
        "cron:2025-10-26T02:00+01:00",
        "cron:2025-10-26T02:30+01:00",
        "cron:2025-10-26T03:00+01:00",
        "cron:2025-10-26T03:30+01:00",
    ]


def test_spring_forward_fires_after_the_gap() -> None:
    """Berlin has no 02:30 on 2025-03-30: the job fires at 03:00, the first minute after."""
    (fire,) = local_fires_on(
        cron("30 2 * * *", "Europe/Berlin"), "Europe/Berlin", date(2025, 3, 30)
    )
    assert fire.isoformat() == "2025-03-30T03:00:00+02:00"


def test_previous_is_at_or_before() -> None:
    """previous_at_or_before includes a fire exactly at t; next_after excludes it."""
    s = cron("30 2 * * *", "UTC")
    t = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    assert s.previous_at_or_before(t) == t
    assert s.next_after(t) == t + timedelta(days=1)
    assert s.previous_at_or_before(t - timedelta(seconds=1)) == t - timedelta(days=1)


def test_cron_explained_in_words_with_its_zone() -> None:
    """`uet triggers list` shows cronsim's words and the zone (local when none is given)."""
    assert cron("30 2 * * *", "Europe/Berlin").explain() == "At 02:30 every day (Europe/Berlin)"
    spec = TriggerSpec.model_validate({"id": "t", "cron": "0 * * * *", "target": {"exec": ["x"]}})
    assert "(local time, " in schedule_of(spec).explain()


def test_cron_keys_are_local_time_with_offset() -> None:
    """A fire key names the local wall time and its offset, whatever zone t is given in."""
    s = cron("30 2 * * *", "Europe/Berlin")
    assert s.fire_key(datetime(2026, 10, 25, 0, 30, tzinfo=UTC)) == "cron:2026-10-25T02:30+02:00"
    assert s.fire_key(datetime(2026, 10, 25, 1, 30, tzinfo=UTC)) == "cron:2026-10-25T02:30+01:00"


def test_every_is_anchored_to_the_epoch() -> None:
    """`every: 1h` fires on the hour (UTC) whenever the daemon started; keys are UTC times."""
    s = EverySchedule(3600)
    t = datetime(2026, 12, 4, 22, 17, 3, tzinfo=UTC)
    assert s.next_after(t) == datetime(2026, 12, 4, 23, tzinfo=UTC)
    assert s.previous_at_or_before(t) == datetime(2026, 12, 4, 22, tzinfo=UTC)
    assert s.fire_key(datetime(2026, 12, 4, 22, tzinfo=UTC)) == "every:2026-12-04T22:00:00Z"
    assert s.explain() == "every 1 hour"
    assert EverySchedule(5400).explain() == "every 1 hour 30 minutes"
    assert EverySchedule(30).explain() == "every 30 seconds"


@given(st.integers(1, 100_000), st.floats(0, 2e9), st.integers(0, 50))
def test_every_slots_property(interval: int, start: float, newest: int) -> None:
    """Slots are multiples of the interval since the epoch; next/previous bracket t;
    fires_in gives the newest slots in (after, until], oldest first; count_in agrees."""
    s = EverySchedule(float(interval))
    t = datetime.fromtimestamp(start, UTC)
    nxt, prev = s.next_after(t), s.previous_at_or_before(t)
    assert prev is not None
    assert prev <= t < nxt
    assert nxt - prev == timedelta(seconds=interval)
    assert nxt.timestamp() % interval == 0
    until = t + timedelta(seconds=interval * 7.5)
    fires = s.fires_in(t, until, newest=newest)
    assert fires == sorted(fires)
    assert len(fires) == min(newest, s.count_in(t, until, cap=10**9))
    assert all(t < f <= until for f in fires)
    assert len({s.fire_key(f) for f in fires}) == len(fires)


def test_cron_fires_in_and_count_in_agree() -> None:
    """Cron fires between two times: the newest ones, oldest first; the count is exact."""
    s = cron("*/15 * * * *", "Europe/Berlin")
    after = datetime(2025, 10, 26, 0, 0, tzinfo=UTC)
    until = after + timedelta(hours=2)
    assert s.count_in(after, until, cap=1000) == 8
    fires = s.fires_in(after, until, newest=3)
    assert [f.astimezone(UTC).strftime("%H:%M") for f in fires] == ["01:30", "01:45", "02:00"]
    assert isinstance(s, CronSchedule)


def test_schedule_of_refuses_event_triggers() -> None:
    """Only cron and every triggers have a schedule."""
    spec = TriggerSpec.model_validate({"id": "t", "event": "run.*", "target": {"exec": ["x"]}})
    with pytest.raises(ValueError, match="no schedule"):
        schedule_of(spec)
