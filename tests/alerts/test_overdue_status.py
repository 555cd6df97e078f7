"""The one overdue classifier: its Python rule and its SQL twin agree on every boundary day."""

from __future__ import annotations

import datetime as dt

import pytest

from alerts.overdue import REPORT_ORDER, overdue_status, overdue_status_sql, report_order_sql
from pumps.models import Pump
from tests.factories import PumpFactory

pytestmark = pytest.mark.django_db

DUE_ON, ALARM_ON = dt.date(2024, 6, 8), dt.date(2024, 6, 15)
# (refill_due_on, alarm_date): the worked example, a due date on the alarm day itself, no projection.
DATES = [(DUE_ON, ALARM_ON), (ALARM_ON, ALARM_ON), (None, None)]


@pytest.fixture
def pumps(surgeon):
    made = []
    for refill_due_on, alarm_date in DATES:
        pump = PumpFactory(by=surgeon)
        # Test data only: stored columns set directly to reach each boundary.
        Pump.objects.filter(pk=pump.pk).update(refill_due_on=refill_due_on, alarm_date=alarm_date)
        made.append(pump.pk)
    return made


def test_python_and_sql_agree_on_every_day_around_the_due_and_alarm_dates(pumps):
    for offset in range(-3, 12):
        as_of = DUE_ON + dt.timedelta(days=offset)
        rows = Pump.objects.filter(pk__in=pumps).annotate(
            status=overdue_status_sql(as_of=as_of), order=report_order_sql(as_of=as_of)
        )
        for row in rows.values("refill_due_on", "alarm_date", "status", "order"):
            expected = overdue_status(as_of=as_of, refill_due_on=row["refill_due_on"], alarm_date=row["alarm_date"])
            assert row["status"] == expected, (as_of, row)
            assert row["order"] == REPORT_ORDER.get(expected, 9), (as_of, row)


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (DUE_ON, None),  # on the due day: not yet overdue
        (DUE_ON + dt.timedelta(days=1), "overdue"),
        (ALARM_ON, "overdue"),  # on the alarm day: the alarm sounds that day, still overdue
        (ALARM_ON + dt.timedelta(days=1), "past_alarm"),
    ],
)
def test_the_worked_example_boundaries(as_of, expected):
    assert overdue_status(as_of=as_of, refill_due_on=DUE_ON, alarm_date=ALARM_ON) == expected


def test_a_pump_without_a_projection_is_no_projection_on_any_day():
    assert overdue_status(as_of=dt.date(2024, 1, 1), refill_due_on=None, alarm_date=None) == "no_projection"
