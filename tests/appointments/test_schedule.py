"""The date rules as plain functions: the refill window, its refusals, the suggested day and the reminders due."""

from __future__ import annotations

import datetime as dt

import pytest

from appointments import schedule

DUE = dt.date(2024, 6, 8)  # a Saturday
ALARM = dt.date(2024, 6, 15)
WINDOW = schedule.refill_window(DUE, window_days=14)


def test_the_window_runs_from_fourteen_days_before_the_refill_due_date_to_it():
    assert schedule.RefillWindow(opens_on=dt.date(2024, 5, 25), closes_on=DUE) == WINDOW
    assert schedule.refill_window(None, window_days=14) is None


@pytest.mark.parametrize(
    ("day", "has_reason", "problem"),
    [
        (dt.date(2024, 5, 20), False, None),  # early is allowed: only wasteful
        (DUE, False, None),
        (DUE + dt.timedelta(days=1), False, schedule.AFTER_DUE_WITHOUT_REASON),
        (DUE + dt.timedelta(days=1), True, None),
        (ALARM - dt.timedelta(days=1), True, None),
        (ALARM, True, schedule.ON_OR_AFTER_ALARM),
        (ALARM + dt.timedelta(days=3), False, schedule.ON_OR_AFTER_ALARM),
    ],
)
def test_a_refill_day_is_checked_against_the_due_and_alarm_dates(day, has_reason, problem):
    assert schedule.refill_booking_problem(day, refill_due_on=DUE, alarm_date=ALARM, has_reason=has_reason) == problem


def test_a_pump_without_a_projection_has_no_refill_rule():
    assert (
        schedule.refill_booking_problem(dt.date(2030, 1, 1), refill_due_on=None, alarm_date=None, has_reason=False)
        is None
    )


def test_the_suggested_day_is_a_weekday_a_week_before_the_due_date():
    # Due Saturday 8 June: a week before is Saturday 1 June, which moves to Friday 31 May.
    assert schedule.suggested_refill_day(WINDOW, today=dt.date(2024, 4, 1)) == dt.date(2024, 5, 31)


def test_the_suggested_day_is_never_before_tomorrow():
    assert schedule.suggested_refill_day(WINDOW, today=dt.date(2024, 6, 4)) == dt.date(2024, 6, 5)


def test_an_overdue_refill_is_suggested_for_tomorrow():
    assert schedule.suggested_refill_day(WINDOW, today=dt.date(2024, 6, 10)) == dt.date(2024, 6, 11)


@pytest.mark.parametrize(
    ("days_until", "due"),
    [(5, None), (4, None), (3, 3), (2, 3), (1, 1), (0, None), (-2, None)],
)
def test_the_reminder_due_is_the_nearest_one_not_yet_passed(days_until, due):
    assert schedule.reminder_due(days_until=days_until, reminders=(3, 1)) == due


def test_a_first_reminder_on_the_day_before_makes_one_reminder():
    assert schedule.reminder_days_before(1) == (1,)
    assert schedule.reminder_days_before(3) == (3, 1)
