"""When a policy is due: slots are wall-clock times in the policy's own IANA zone.

A slot is one local date at the policy's time. Across DST changes, zoneinfo's rules give the answer a
person expects: a time that does not exist that day (the clocks jump over it) runs as many minutes
after the jump as it was after the last valid minute (02:30 on a spring-forward day at 02:00 runs at
03:30), and a time that happens twice (fall back) runs once, at its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from .models import Schedule


def zone_names() -> set[str]:
    return available_timezones()


def slot_of(day: date, at: time, zone: str) -> datetime:
    """The UTC instant of `at` on the local `day` in `zone` (fold=0: first occurrence; a gap moves on)."""
    local = datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC)


def _days(schedule: str, weekday: int | None, around: date, step: int) -> list[date]:
    """Local dates that carry a slot, from `around` going `step` (+1 or -1) days, two weeks' worth."""
    days = [around + timedelta(days=step * n) for n in range(15)]
    if schedule == Schedule.WEEKLY:
        days = [day for day in days if day.weekday() == weekday]
    return days


def latest_slot(*, schedule: str, weekday: int | None, at: time, zone: str, now: datetime) -> datetime:
    """The latest slot at or before `now`."""
    today = now.astimezone(ZoneInfo(zone)).date()
    for day in _days(schedule, weekday, today + timedelta(days=1), -1):
        slot = slot_of(day, at, zone)
        if slot <= now:
            return slot
    raise ValueError("no slot in the last two weeks")  # cannot happen: every week has one


def next_slot(*, schedule: str, weekday: int | None, at: time, zone: str, now: datetime) -> datetime:
    """The first slot after `now`."""
    today = now.astimezone(ZoneInfo(zone)).date()
    for day in _days(schedule, weekday, today - timedelta(days=1), 1):
        slot = slot_of(day, at, zone)
        if slot > now:
            return slot
    raise ValueError("no slot in the next two weeks")


def due_slot(policy, now: datetime) -> datetime | None:
    """The slot to run now, if any: the latest one that has passed, not before the policy's schedule
    began. Older missed slots are not returned: a policy whose workers were down runs once."""
    slot = latest_slot(
        schedule=policy.schedule, weekday=policy.weekday, at=policy.at_time, zone=policy.zone, now=now
    )
    return slot if slot >= policy.schedule_from else None


def policy_next_slot(policy, now: datetime) -> datetime:
    return next_slot(
        schedule=policy.schedule, weekday=policy.weekday, at=policy.at_time, zone=policy.zone, now=now
    )
