"""Every read with rules for appointments: the pump's booked refill, the week, and what the scan will want.

Each function is one query. The three the alert scan needs (``refill_not_booked_pumps``,
``no_shows_unanswered``, ``bookings_after_alarm``) take an optional set of pump ids so that
a chunk of the scan asks about its own pumps only; the SQL pieces they are built from
(``booked_refill_exists``, ``booked_refill_starts_at``) can be annotated on any pump
queryset (the worklist, the overdue-refill report's ``booked_on``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Exists, F, OuterRef, Q, Subquery

from appointments.models import (
    Appointment,
    AppointmentKind,
    AppointmentQuerySet,
    AppointmentStatus,
    local_date_sql,
    local_start_of_day,
)
from pumps.models import DoseChange, Pump, PumpQuerySet, Refill

# What answers a missed appointment of each kind besides a new booking: the visit itself.
ANSWERING_RECORDS: dict[str, tuple[type[Refill] | type[DoseChange], str]] = {
    AppointmentKind.REFILL: (Refill, "refilled_on"),
    AppointmentKind.TITRATION: (DoseChange, "changed_on"),
}


def _booked_refills() -> AppointmentQuerySet:
    return Appointment.objects.booked().filter(kind=AppointmentKind.REFILL)


# --------------------------------------------------------------------------
# The pump's booked refill
# --------------------------------------------------------------------------


def booked_refill(pump: Pump | int) -> Appointment | None:
    """The pump's booked refill appointment (at most one: a database constraint), or None."""
    pump_id = pump if isinstance(pump, int) else pump.pk
    return _booked_refills().filter(pump_id=pump_id).select_related("lead_staff", "second_staff").first()


def booked_refills_by_pump(pump_ids: Iterable[int]) -> dict[int, Appointment]:
    """For lists: each pump's booked refill appointment, by pump id (pumps with none are absent)."""
    ids = list(pump_ids)
    if not ids:
        return {}
    rows = _booked_refills().filter(pump_id__in=ids).select_related("lead_staff", "second_staff")
    return {appointment.pump_id: appointment for appointment in rows if appointment.pump_id is not None}


def booked_refill_exists(*, from_day: dt.date | None = None, pump_ref: str = "pk") -> Exists:
    """SQL: the pump (``OuterRef(pump_ref)``) has a booked refill, starting on or after ``from_day`` when given."""
    booked = _booked_refills().filter(pump_id=OuterRef(pump_ref))
    if from_day is not None:
        booked = booked.filter(starts_at__gte=local_start_of_day(from_day))
    return Exists(booked)


def booked_refill_starts_at(*, pump_ref: str = "pk") -> Subquery:
    """SQL: when the pump's booked refill starts (None when not booked), e.g. the report's ``booked_on``."""
    booked = _booked_refills().filter(pump_id=OuterRef(pump_ref)).order_by("starts_at").values("starts_at")[:1]
    return Subquery(booked)


# --------------------------------------------------------------------------
# What the alert scan will want
# --------------------------------------------------------------------------


def refill_not_booked_pumps(*, as_of: dt.date, within_days: int, pump_ids: Iterable[int] | None = None) -> PumpQuerySet:
    """Watched pumps whose refill is due within ``within_days`` of ``as_of`` (or already due) and that
    have no refill booked from ``as_of`` on (``refill_not_booked``).

    A refill still "booked" on a day already past protects nothing: the family either came (the
    refill marks it attended) or did not (it waits to be marked not attended), so it does not count.
    """
    pumps = Pump.objects.watched().filter(
        refill_due_on__isnull=False, refill_due_on__lte=as_of + dt.timedelta(days=within_days)
    )
    if pump_ids is not None:
        pumps = pumps.filter(pk__in=list(pump_ids))
    return pumps.filter(~booked_refill_exists(from_day=as_of)).order_by("refill_due_on", "pk")


def _answered(kind: str) -> Q:
    """SQL: a missed appointment of ``kind`` has been answered: a later booking of the same kind on the
    pump (booked or attended), or, for a refill or a titration visit, the visit recorded on or after its day."""
    later_booking = Appointment.objects.filter(
        voided_at__isnull=True,
        pump_id=OuterRef("pump_id"),
        kind=kind,
        status__in=[AppointmentStatus.BOOKED, AppointmentStatus.ATTENDED],
        starts_at__gt=OuterRef("starts_at"),
    )
    answered = Q(Exists(later_booking))
    if kind in ANSWERING_RECORDS:
        model, date_field = ANSWERING_RECORDS[kind]
        visit = model.objects.filter(
            voided_at__isnull=True, pump_id=OuterRef("pump_id"), **{f"{date_field}__gte": OuterRef("missed_on")}
        )
        answered |= Q(Exists(visit))
    return answered


def no_shows_unanswered(*, pump_ids: Iterable[int] | None = None) -> AppointmentQuerySet:
    """Appointments marked not attended, on a watched pump, not yet answered (``appointment_missed``).

    Answered by a later booking of the same kind on the pump (booked or attended), or by the
    visit itself: a refill (for a missed refill) or a dose change (for a missed titration visit)
    recorded on or after the missed day.
    """
    missed = (
        Appointment.objects.filter(voided_at__isnull=True, status=AppointmentStatus.NO_SHOW, pump__isnull=False)
        .filter(pump__in=Pump.objects.watched())
        .annotate(missed_on=local_date_sql())
    )
    if pump_ids is not None:
        missed = missed.filter(pump_id__in=list(pump_ids))
    unanswered = Q()
    for kind in AppointmentKind.values:
        unanswered |= Q(kind=kind) & ~_answered(kind)
    return missed.filter(unanswered).select_related("pump", "patient").order_by("starts_at", "pk")


def bookings_after_alarm(*, pump_ids: Iterable[int] | None = None) -> AppointmentQuerySet:
    """Booked refills on a watched pump that fall on or after the pump's alarm date (``booking_after_alarm``):
    the pump was refilled or its dose changed after the booking, and the booking is now too late."""
    bookings = (
        _booked_refills()
        .filter(pump__in=Pump.objects.watched(), pump__alarm_date__isnull=False)
        .annotate(booked_on=local_date_sql())
        .filter(booked_on__gte=F("pump__alarm_date"))
    )
    if pump_ids is not None:
        bookings = bookings.filter(pump_id__in=list(pump_ids))
    return bookings.select_related("pump", "patient").order_by("starts_at", "pk")


# --------------------------------------------------------------------------
# Pages and the calendar
# --------------------------------------------------------------------------


def appointments_between(*, first_day: dt.date, last_day: dt.date, staff_id: int | None = None) -> list[Appointment]:
    """The week (or day) view: every appointment in the days, with its patient, pump and staff, one query."""
    rows = Appointment.objects.starting_between(first_day, last_day).filter(voided_at__isnull=True)
    if staff_id is not None:
        rows = rows.for_staff(staff_id)
    return list(
        rows.select_related("patient", "pump", "pump__model", "lead_staff", "second_staff").order_by("starts_at", "pk")
    )


def appointments_for_calendar(*, user_id: int, since: dt.datetime) -> list[Appointment]:
    """A staff member's feed: their appointments from ``since`` on, cancelled and voided ones included
    (so that a subscribed calendar removes them), one query."""
    rows = Appointment.objects.for_staff(user_id).filter(starts_at__gte=since)
    return list(rows.select_related("patient", "pump", "lead_staff", "second_staff").order_by("starts_at", "pk"))
