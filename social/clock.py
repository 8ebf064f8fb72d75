"""Response clocks in the council's working hours (local time, England and Wales bank holidays).

Working hours are wall-clock times in Europe/London, so a 09:00–17:00 day stays 09:00–17:00
across the clock changes; the arithmetic walks day by day in local time and converts each
window to UTC, so the lost or repeated hour in March and October never counts twice.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")

# England and Wales, from GOV.UK's bank-holidays.json (substitute days included).
BANK_HOLIDAYS: frozenset[date] = frozenset(
    date.fromisoformat(d)
    for d in [
        "2024-01-01", "2024-03-29", "2024-04-01", "2024-05-06", "2024-05-27", "2024-08-26",
        "2024-12-25", "2024-12-26",
        "2025-01-01", "2025-04-18", "2025-04-21", "2025-05-05", "2025-05-26", "2025-08-25",
        "2025-12-25", "2025-12-26",
        "2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31",
        "2026-12-25", "2026-12-28",
        "2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31", "2027-08-30",
        "2027-12-27", "2027-12-28",
        "2028-01-03", "2028-04-14", "2028-04-17", "2028-05-01", "2028-05-29", "2028-08-28",
        "2028-12-25", "2028-12-26",
    ]
)  # fmt: skip


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in BANK_HOLIDAYS


def add_working_hours(
    start: datetime, hours: float, *, day_starts: time = time(9), day_ends: time = time(17)
) -> datetime:
    """The moment ``hours`` of working time after ``start`` (an aware datetime); returned in
    UTC. A post at 16:00 on a Friday with a 2-hour target is due at 10:00 on Monday (or on
    Tuesday when Monday is a bank holiday)."""
    remaining = timedelta(hours=hours)
    local = start.astimezone(LONDON)
    day = local.date()
    for _ in range(3660):  # ten years of days: more than any target needs
        if is_working_day(day):
            opens = datetime.combine(day, day_starts, tzinfo=LONDON)
            closes = datetime.combine(day, day_ends, tzinfo=LONDON)
            begin = max(opens, local) if day == local.date() else opens
            if begin < closes:
                available = closes.timestamp() - begin.timestamp()
                if remaining.total_seconds() <= available:
                    due = begin.timestamp() + remaining.total_seconds()
                    return datetime.fromtimestamp(due, tz=LONDON).astimezone(ZoneInfo("UTC"))
                remaining -= timedelta(seconds=available)
        day += timedelta(days=1)
    raise ValueError("The response target is too long to compute.")


def working_seconds_between(
    start: datetime, end: datetime, *, day_starts: time = time(9), day_ends: time = time(17)
) -> float:
    """Working time between two moments, in seconds (0 when ``end`` is not after ``start``)."""
    if end <= start:
        return 0.0
    total = 0.0
    local_start = start.astimezone(LONDON)
    day = local_start.date()
    last = end.astimezone(LONDON).date()
    while day <= last:
        if is_working_day(day):
            opens = datetime.combine(day, day_starts, tzinfo=LONDON).timestamp()
            closes = datetime.combine(day, day_ends, tzinfo=LONDON).timestamp()
            lo = max(opens, start.timestamp())
            hi = min(closes, end.timestamp())
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total
