"""The reports' hand-written SQL floors return what the app's selectors return.

The benchmark divides the app's time by the floor's: the ratio only means something if
both read the same rows, with the same status, days and order.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from alerts import reports
from alerts.report_floors import (
    BATTERY_FLOOR_COLUMNS,
    OVERDUE_FLOOR_COLUMNS,
    battery_floor_sql,
    overdue_refills_floor_sql,
)
from pumps.models import Pump
from spasticity.roles import Role
from tests.alerts.conftest import bulk_pumps
from tests.factories import CaregiverFactory, UserFactory

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2024, 6, 20)


@pytest.fixture
def mixed_caseload(nurse):
    """About 300 pumps: every status, boundaries on the day, no nurse, explanted, implanted later."""
    unnamed = UserFactory(username="nurse_nameless", first_name="", last_name="", role=Role.PUMP_NURSE)
    day = dt.timedelta(days=1)
    cases = [
        {"refill_due_on": AS_OF - 20 * day, "alarm_date": AS_OF - 13 * day},  # past alarm
        {"refill_due_on": AS_OF - 7 * day, "alarm_date": AS_OF - day},  # past alarm, alarm yesterday
        {"refill_due_on": AS_OF - 7 * day, "alarm_date": AS_OF},  # overdue: alarm today is not past
        {"refill_due_on": AS_OF - day, "alarm_date": AS_OF + 6 * day},  # overdue by one day
        {"refill_due_on": AS_OF, "alarm_date": AS_OF + 7 * day},  # due today: not overdue
        {"refill_due_on": AS_OF + 30 * day, "alarm_date": AS_OF + 37 * day},  # not overdue
        {"refill_due_on": AS_OF + 100 * day, "alarm_date": None},  # fill without a program: no projection
        {"refill_due_on": None, "alarm_date": None},  # nothing at all: no projection
        {"refill_due_on": AS_OF - 30 * day, "alarm_date": AS_OF - 23 * day, "explanted_on": AS_OF - 5 * day},
        {"refill_due_on": AS_OF - 30 * day, "alarm_date": AS_OF - 23 * day},  # implanted tomorrow (below)
    ]
    for number, case in enumerate(cases):
        owner = (nurse, unnamed, None)[number % 3]
        eos = AS_OF + dt.timedelta(days=60 * number - 120)
        pumps = bulk_pumps(30, nurse=owner, battery_end_of_service_on=eos, **case)
    # Test data written in bulk, as bulk_pumps does: the last case is implanted after AS_OF.
    Pump.objects.filter(pk__in=[pump.pk for pump in pumps]).update(implanted_on=AS_OF + day)
    # Caregivers on a few overdue pumps: two (guardian first), one, and one voided.
    first, second, third = (pump.patient for pump in Pump.objects.filter(alarm_date=AS_OF - 13 * day)[:3])
    CaregiverFactory(patient=first, name="Béa", is_legal_guardian=False)
    CaregiverFactory(patient=first, name="Zed")
    CaregiverFactory(patient=second, name="Ann")
    CaregiverFactory(patient=third, name="Gone", voided_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))


def floor_rows(sql_and_params, width: int) -> list[tuple]:
    sql, params = sql_and_params
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row[:width]) for row in cursor.fetchall()]


def test_the_overdue_floor_returns_the_selectors_rows_in_its_order(mixed_caseload):
    app = reports.overdue_refills(as_of=AS_OF, today=AS_OF)
    floor = floor_rows(overdue_refills_floor_sql(AS_OF), len(OVERDUE_FLOOR_COLUMNS))

    assert len(app) == 30 * 6  # four overdue cases and two without a projection
    assert {row["status"] for row in app} == {"past_alarm", "overdue", "no_projection"}
    assert {row["pump_nurse"] for row in app} == {"Nia Nash", "nurse_nameless", ""}
    assert {row["status_label"] for row in app} == {"Past alarm date", "Overdue", "No projection"}
    assert sum(1 for row in app if row["caregiver_phones"]) == 2
    assert floor == [tuple(row[column] for column in OVERDUE_FLOOR_COLUMNS) for row in app]


def test_the_overdue_floor_agrees_for_another_day(mixed_caseload):
    later = AS_OF + dt.timedelta(days=10)
    app = reports.overdue_refills(as_of=later, today=later)
    floor = floor_rows(overdue_refills_floor_sql(later), len(OVERDUE_FLOOR_COLUMNS))
    assert [(row[3], row[9], row[10]) for row in floor] == [(r["pump"], r["days_overdue"], r["status"]) for r in app]
    assert len(app) == 30 * 8  # the pumps implanted after AS_OF are watched by then; one case not yet due


def test_the_battery_floor_returns_the_selectors_rows_in_its_order(mixed_caseload):
    app = reports.battery_end_of_life(as_of=AS_OF, within_days=180, today=AS_OF)
    floor = floor_rows(battery_floor_sql(AS_OF, 180), len(BATTERY_FLOOR_COLUMNS))

    assert len(app) == 30 * 6  # end of service from 120 days ago to 180 days ahead
    assert min(row["days_left"] for row in app) == -120
    assert floor == [tuple(row[column] for column in BATTERY_FLOOR_COLUMNS) for row in app]
