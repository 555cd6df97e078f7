"""The appointment alert kinds, decided from the scan's one pump row (``alerts.sources.RowSource``).

Three kinds (spec "Appointments and reminders"; ranks in ``alerts.rules``):

* ``refill_not_booked``: a watched pump whose refill is due within
  ``CLINIC["REFILL_NOT_BOOKED_DAYS"]`` (or already overdue) with no refill booked from today
  on. Dated with the refill-due date. Not raised once the pump is on or past its alarm date:
  the booking service refuses a refill on or after the alarm date, so nobody could answer it,
  and ``past_alarm_date`` (the most urgent kind, never snoozed) already asks for the refill now.
  A booking still "booked" on a day already past protects nothing (the family came, and the
  refill marks it attended, or did not, and it waits to be marked not attended).
* ``appointment_missed``: an appointment on the pump marked not attended, not answered by a
  later booking of its kind or by the visit itself (``appointments.selectors._answered``).
  Dated with the missed day (the earliest, when several wait).
* ``booking_after_alarm``: the booked refill's day is on or after the pump's alarm date (the
  pump was refilled or its dose changed since). Dated with the alarm date.

The scan adds two values to its pump row (``annotations``: the booked refill's day and the
earliest unanswered missed day) and ``appointment_alerts`` decides from plain values.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Q

from alerts import rules
from alerts.sources import PumpRow, RowSource
from appointments.selectors import (
    booked_refill_on,
    first_unanswered_no_show_on,
    late_refill_booking_exists,
    unanswered_no_show_exists,
)

BOOKED_REFILL_ON = "appointments_booked_refill_on"
MISSED_ON = "appointments_missed_on"
KINDS = (rules.REFILL_NOT_BOOKED, rules.APPOINTMENT_MISSED, rules.BOOKING_AFTER_ALARM)


def not_booked_days() -> int:
    return int(settings.CLINIC["REFILL_NOT_BOOKED_DAYS"])


def appointment_alerts(
    *,
    as_of: dt.date,
    refill_due_on: dt.date | None,
    alarm_date: dt.date | None,
    booked_refill_on: dt.date | None,
    missed_on: dt.date | None,
    within_days: int,
) -> dict[str, dt.date]:
    """The appointment alerts a watched pump needs on ``as_of``, each with the date it is about (pure)."""
    wanted: dict[str, dt.date] = {}
    booked_ahead = booked_refill_on is not None and booked_refill_on >= as_of
    bookable = alarm_date is None or alarm_date > as_of
    if (
        refill_due_on is not None
        and refill_due_on <= as_of + dt.timedelta(days=within_days)
        and bookable
        and not booked_ahead
    ):
        wanted[rules.REFILL_NOT_BOOKED] = refill_due_on
    if missed_on is not None:
        wanted[rules.APPOINTMENT_MISSED] = missed_on
    if booked_refill_on is not None and alarm_date is not None and booked_refill_on >= alarm_date:
        wanted[rules.BOOKING_AFTER_ALARM] = alarm_date
    return wanted


def _annotations(as_of: dt.date) -> dict[str, Any]:  # Subqueries: ``Expression`` in the source's terms
    return {BOOKED_REFILL_ON: booked_refill_on(), MISSED_ON: first_unanswered_no_show_on()}


def _candidates(as_of: dt.date) -> Q:
    """The pumps that may need one of the kinds: due within the days, a missed appointment waiting,
    or a booked refill on or after the alarm date (each an index lookup by pump)."""
    return (
        Q(refill_due_on__lte=as_of + dt.timedelta(days=not_booked_days()))
        | Q(unanswered_no_show_exists())
        | Q(late_refill_booking_exists())
    )


def _wanted(row: PumpRow, as_of: dt.date) -> dict[str, dt.date]:
    return appointment_alerts(
        as_of=as_of,
        refill_due_on=row["refill_due_on"],
        alarm_date=row["alarm_date"],
        booked_refill_on=row[BOOKED_REFILL_ON],
        missed_on=row[MISSED_ON],
        within_days=not_booked_days(),
    )


SOURCE = RowSource(kinds=KINDS, annotations=_annotations, candidates=_candidates, wanted=_wanted)
