"""Due slots of cleanup policies in their own zone, across DST changes (Europe/Berlin: spring forward on
2026-03-29 at 02:00 to 03:00, fall back on 2026-10-25 at 03:00 to 02:00)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

from dli_admin.policies.schedule import due_slot, latest_slot, next_slot, slot_of

BERLIN = "Europe/Berlin"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


NEW_YEAR = datetime(2026, 1, 1, tzinfo=UTC)


def policy(at: time, *, schedule="daily", weekday=None, zone=BERLIN, since=NEW_YEAR):
    return SimpleNamespace(schedule=schedule, weekday=weekday, at_time=at, zone=zone, schedule_from=since)


def test_a_slot_is_the_local_time_in_its_zone_summer_and_winter():
    assert slot_of(date(2026, 1, 15), time(2, 0), BERLIN) == utc(2026, 1, 15, 1, 0)  # CET, +01:00
    assert slot_of(date(2026, 7, 15), time(2, 0), BERLIN) == utc(2026, 7, 15, 0, 0)  # CEST, +02:00
    assert slot_of(date(2026, 7, 15), time(2, 0), "America/New_York") == utc(2026, 7, 15, 6, 0)


def test_spring_forward_a_time_that_does_not_exist_runs_once_just_after_the_jump():
    # 02:30 does not exist on 2026-03-29 in Berlin: it runs at 03:30 CEST (01:30 UTC), once.
    assert slot_of(date(2026, 3, 29), time(2, 30), BERLIN) == utc(2026, 3, 29, 1, 30)
    slots = daily_slots(time(2, 30), utc(2026, 3, 27, 12), utc(2026, 3, 30, 12))
    assert slots == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]
    # A time outside the gap keeps its wall-clock time on either side of the change.
    assert slot_of(date(2026, 3, 29), time(1, 30), BERLIN) == utc(2026, 3, 29, 0, 30)
    assert slot_of(date(2026, 3, 29), time(3, 30), BERLIN) == utc(2026, 3, 29, 1, 30)


def test_fall_back_a_time_that_happens_twice_runs_once_at_its_first_occurrence():
    # 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET) on 2026-10-25: one slot, the first.
    assert slot_of(date(2026, 10, 25), time(2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)
    slots = daily_slots(time(2, 30), utc(2026, 10, 23, 12), utc(2026, 10, 26, 12))
    assert slots == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    # During the repeated hour the slot has passed: it is the latest, and not due a second time.
    assert latest_slot(
        schedule="daily", weekday=None, at=time(2, 30), zone=BERLIN, now=utc(2026, 10, 25, 1, 45)
    ) == (utc(2026, 10, 25, 0, 30))


def daily_slots(at: time, start: datetime, end: datetime) -> list[datetime]:
    """Every slot between start and end, by walking next_slot: what the workers' tick would run."""
    slots, now = [], start
    while (slot := next_slot(schedule="daily", weekday=None, at=at, zone=BERLIN, now=now)) < end:
        slots.append(slot)
        now = slot
    return slots


def test_weekly_slots_fall_on_the_day_in_the_zone():
    # Monday 00:30 in Tokyo is Sunday 15:30 UTC.
    sunday = utc(2026, 12, 6, 12)
    assert next_slot(schedule="weekly", weekday=0, at=time(0, 30), zone="Asia/Tokyo", now=sunday) == utc(
        2026, 12, 6, 15, 30
    )
    assert latest_slot(schedule="weekly", weekday=0, at=time(0, 30), zone="Asia/Tokyo", now=sunday) == utc(
        2026, 11, 29, 15, 30
    )


def test_missed_slots_give_only_the_latest_and_nothing_before_the_policy_began():
    daily = policy(time(2, 0))
    # Workers down for three days: the due slot is the latest one only.
    assert due_slot(daily, utc(2026, 2, 4, 9)) == utc(2026, 2, 4, 1, 0)
    # A policy made at 10:00 with a 02:00 schedule does not run for this morning.
    fresh = policy(time(2, 0), since=utc(2026, 2, 4, 9))
    assert due_slot(fresh, utc(2026, 2, 4, 10)) is None
    assert due_slot(fresh, utc(2026, 2, 5, 1, 0)) == utc(2026, 2, 5, 1, 0)
    assert due_slot(fresh, utc(2026, 2, 5, 1, 0) - timedelta(seconds=1)) is None
