"""Response targets in working hours: weekends, bank holidays, clock changes."""

from datetime import UTC, datetime, time

import pytest

from social.clock import LONDON, add_working_hours, working_seconds_between


def london(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        # Within the day.
        (london(2026, 11, 24, 10, 0), 2, london(2026, 11, 24, 12, 0)),
        # Friday afternoon runs over the weekend.
        (london(2026, 11, 27, 16, 0), 2, london(2026, 11, 30, 10, 0)),
        # Before opening: the clock starts at 09:00.
        (london(2026, 11, 24, 6, 30), 1, london(2026, 11, 24, 10, 0)),
        # Friday before the Easter bank holidays (Good Friday 3 April, Easter Monday 6 April 2026).
        (london(2026, 4, 2, 16, 0), 3, london(2026, 4, 7, 11, 0)),
        # Christmas 2026: Friday 25 and the substitute Boxing Day on Monday 28 December.
        (london(2026, 12, 24, 15, 0), 4, london(2026, 12, 29, 11, 0)),
        # Clocks go forward on Sunday 29 March 2026: Friday 16:00 + 3 h = Monday 11:00 BST.
        (london(2026, 3, 27, 16, 0), 3, london(2026, 3, 30, 11, 0)),
        # Clocks go back on Sunday 25 October 2026: still 11:00 local on Monday.
        (london(2026, 10, 23, 16, 0), 3, london(2026, 10, 26, 11, 0)),
        # Eight working hours is one working day.
        (london(2026, 11, 24, 9, 0), 8, london(2026, 11, 24, 17, 0)),
    ],
)
def test_add_working_hours(start, hours, due):
    assert add_working_hours(start, hours) == due.astimezone(UTC)


def test_the_utc_due_time_differs_by_an_hour_across_the_change():
    before = add_working_hours(london(2026, 3, 27, 16, 0), 3)
    assert before == datetime(2026, 3, 30, 10, 0, tzinfo=UTC)  # 11:00 BST
    after = add_working_hours(london(2026, 10, 23, 16, 0), 3)
    assert after == datetime(2026, 10, 26, 11, 0, tzinfo=UTC)  # 11:00 GMT


def test_custom_working_day():
    due = add_working_hours(
        london(2026, 11, 24, 7, 0), 2, day_starts=time(8, 0), day_ends=time(18, 0)
    )
    assert due == london(2026, 11, 24, 10, 0).astimezone(UTC)


def test_working_seconds_between_skips_nights_weekends_and_holidays():
    start = london(2026, 4, 2, 16, 0)  # Thursday before Easter
    end = london(2026, 4, 7, 10, 0)  # Tuesday after
    assert working_seconds_between(start, end) == 2 * 3600
    assert working_seconds_between(end, start) == 0
