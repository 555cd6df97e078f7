"""The pure rule: which refill and battery alerts a pump needs on a date (boundary days)."""

from __future__ import annotations

import datetime as dt

import pytest

from alerts import rules

DUE = dt.date(2024, 6, 8)
ALARM = dt.date(2024, 6, 15)
EOS = dt.date(2031, 1, 15)


def conditions(as_of: dt.date, *, due=DUE, alarm=ALARM, eos=EOS) -> dict[str, dt.date]:
    return rules.pump_alert_conditions(
        as_of=as_of,
        refill_due_on=due,
        alarm_date=alarm,
        battery_end_of_service_on=eos,
        due_soon_days=14,
        battery_warning_days=180,
    )


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (dt.date(2024, 5, 24), {}),  # 15 days before due: nothing yet
        (dt.date(2024, 5, 25), {"refill_due_soon": DUE}),  # 14 days before due
        (dt.date(2024, 6, 8), {"refill_due_soon": DUE}),  # due today is not overdue yet
        (dt.date(2024, 6, 9), {"refill_overdue": DUE}),  # the day after the due date
        (dt.date(2024, 6, 15), {"refill_overdue": DUE}),  # on the alarm date: still "only" overdue
        (dt.date(2024, 6, 16), {"past_alarm_date": ALARM}),  # past the alarm date supersedes overdue
        (dt.date(2025, 1, 1), {"past_alarm_date": ALARM}),
    ],
)
def test_refill_alerts_follow_the_due_and_alarm_dates(as_of, expected):
    assert conditions(as_of) == expected


@pytest.mark.parametrize(
    ("eos", "raised"),
    [
        (dt.date(2024, 6, 1) + dt.timedelta(days=180), True),  # exactly 180 days left
        (dt.date(2024, 6, 1) + dt.timedelta(days=181), False),
        (dt.date(2024, 5, 1), True),  # end of service already passed: still raised
    ],
)
def test_the_battery_alert_starts_180_days_before_end_of_service(eos, raised):
    result = conditions(dt.date(2024, 6, 1), due=None, alarm=None, eos=eos)
    assert ("battery_end_of_life" in result) is raised
    if raised:
        assert result["battery_end_of_life"] == eos


def test_urgency_puts_a_past_alarm_date_first_and_due_soon_last():
    assert rules.KINDS_BY_URGENCY == (
        "past_alarm_date",
        "projection_missing",
        "mri_follow_up_missing",
        "second_check_disagreed",
        "refill_overdue",
        "appointment_missed",
        "second_check_missing",
        "booking_after_alarm",
        "battery_end_of_life",
        "delivery_deviation",
        "refill_not_booked",
        "refill_due_soon",
    )
