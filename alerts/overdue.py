"""Where a watched pump stands against its refill dates: the one classifier.

The alert scan, the overdue-refill report (page, CSV, print and API) and the nurse's
worklist all ask this module, so that "overdue" and "past alarm" can never mean two
things. The rule is written twice, once in Python and once in SQL for the report's
ordering and filtering, side by side here; a test checks that they agree on every
boundary day.

Statuses, most urgent first:

* ``past_alarm``: ``as_of`` is after the alarm date (withdrawal risk).
* ``no_projection``: no alarm date (no active program or no active fill), so
  nobody knows when the pump runs dry. It sorts just after ``past_alarm`` in the
  alert ranks and first in the report, because nothing else can warn about it.
* ``overdue``: after the refill-due date, not yet after the alarm date.
* ``None``: not overdue.
"""

from __future__ import annotations

from datetime import date
from typing import Any

PAST_ALARM = "past_alarm"
NO_PROJECTION = "no_projection"
OVERDUE = "overdue"
OVERDUE_STATUSES: tuple[tuple[str, str], ...] = (
    (NO_PROJECTION, "No projection"),
    (PAST_ALARM, "Past alarm date"),
    (OVERDUE, "Overdue"),
)
# The report's order: a pump without a projection first (spec "Reports"), then past alarm.
REPORT_ORDER: dict[str, int] = {NO_PROJECTION: 0, PAST_ALARM: 1, OVERDUE: 2}


def overdue_status(*, as_of: date, refill_due_on: date | None, alarm_date: date | None) -> str | None:
    """The refill status of a watched pump on ``as_of`` (pure Python)."""
    if alarm_date is None:
        return NO_PROJECTION
    if as_of > alarm_date:
        return PAST_ALARM
    if refill_due_on is not None and as_of > refill_due_on:
        return OVERDUE
    return None


def overdue_status_sql(*, as_of: date) -> Any:
    """The same rule as ``overdue_status``, as a SQL expression over a Pump queryset."""
    from django.db.models import Case, CharField, Q, Value, When

    return Case(
        When(alarm_date__isnull=True, then=Value(NO_PROJECTION)),
        When(alarm_date__lt=as_of, then=Value(PAST_ALARM)),
        When(Q(refill_due_on__isnull=False, refill_due_on__lt=as_of), then=Value(OVERDUE)),
        default=Value(None),
        output_field=CharField(),
    )


def report_order_sql(*, as_of: date) -> Any:
    """The report's sort key for ``overdue_status_sql`` (``REPORT_ORDER``) in SQL."""
    from django.db.models import Case, IntegerField, Q, Value, When

    return Case(
        When(alarm_date__isnull=True, then=Value(REPORT_ORDER[NO_PROJECTION])),
        When(alarm_date__lt=as_of, then=Value(REPORT_ORDER[PAST_ALARM])),
        When(Q(refill_due_on__isnull=False, refill_due_on__lt=as_of), then=Value(REPORT_ORDER[OVERDUE])),
        default=Value(9),
        output_field=IntegerField(),
    )
