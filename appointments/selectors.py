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

from django.db.models import DateField, Exists, F, IntegerField, OuterRef, Q, Subquery

from appointments.models import (
    Appointment,
    AppointmentKind,
    AppointmentQuerySet,
    AppointmentStatus,
    local_date_sql,
    local_start_of_day,
)
from pumps.models import DoseChange, Pump, PumpQuerySet, Refill
from spasticity.lists import GROUP_PAGE_SIZE, GroupPage, page_slice

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


def booked_refill_between(*, first_day: dt.date, last_day: dt.date) -> Q:
    """SQL: the pump has a refill booked on a clinic-local day from ``first_day`` to ``last_day`` (the week's list).

    ``pk IN (the booked pumps)``, not a correlated ``EXISTS``: PostgreSQL reads the few
    bookings once into a hash, where an ``EXISTS`` ran once for each of a nurse's pumps
    (a third of her worklist's time at 20,000 pumps).
    """
    # No NULL in the list: ``pk IN (…, NULL)`` is unknown, not false, for every pump not listed.
    booked = _booked_refills().starting_between(first_day, last_day).filter(pump_id__isnull=False)
    return Q(pk__in=booked.values("pump_id"))


def booked_visits_between(
    *, first_day: dt.date, last_day: dt.date, pumps: PumpQuerySet, kinds: Iterable[str]
) -> list[Appointment]:
    """The booked appointments of ``kinds`` on these pumps from ``first_day`` to ``last_day`` (one query)."""
    rows = (
        Appointment.objects.booked()
        .starting_between(first_day, last_day)
        .filter(kind__in=list(kinds), pump__in=pumps.values("pk"))
        .select_related("lead_staff", "second_staff")
    )
    return list(rows.order_by("starts_at", "pk"))


def booked_refill_on(*, pump_ref: str = "pk") -> Subquery:
    """SQL: the clinic-local day of the pump's booked refill (None when not booked)."""
    booked = _booked_refills().filter(pump_id=OuterRef(pump_ref)).annotate(booked_on=local_date_sql())
    return Subquery(booked.order_by("starts_at").values("booked_on")[:1], output_field=DateField())


def booked_visit_id(*, kind: str, on_or_before: dt.date, pump_ref: str = "pk") -> Subquery:
    """SQL: the pump's latest booked ``kind`` appointment on or before ``on_or_before`` (its id, or None).

    The refill and dose-change services read it beside the pump row they lock, so that a
    visit with no booking costs no statement of its own (``appointment_mark_attended_for``).
    """
    booked = Appointment.objects.booked().filter(
        pump_id=OuterRef(pump_ref), kind=kind, starts_at__lt=local_start_of_day(on_or_before + dt.timedelta(days=1))
    )
    return Subquery(booked.order_by("-starts_at", "-pk").values("pk")[:1], output_field=IntegerField())


# --------------------------------------------------------------------------
# What the alert scan will want
# --------------------------------------------------------------------------


def refill_not_booked_pumps(*, as_of: dt.date, within_days: int, pump_ids: Iterable[int] | None = None) -> PumpQuerySet:
    """Watched pumps whose refill is due within ``within_days`` of ``as_of`` (or already due), still
    before their alarm date, and that have no refill booked from ``as_of`` on (``refill_not_booked``).

    A refill still "booked" on a day already past protects nothing: the family either came (the
    refill marks it attended) or did not (it waits to be marked not attended), so it does not count.
    """
    pumps = Pump.objects.watched().filter(
        refill_due_on__isnull=False, refill_due_on__lte=as_of + dt.timedelta(days=within_days)
    )
    if pump_ids is not None:
        pumps = pumps.filter(pk__in=list(pump_ids))
    # A pump on or past its alarm date cannot be booked (the booking service refuses it): it needs the
    # refill now, and its ``past_alarm_date`` alert says so.
    pumps = pumps.exclude(alarm_date__lte=as_of)
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


def _unanswered_no_shows() -> AppointmentQuerySet:
    """Appointments marked not attended, on a pump, not yet answered (each with its ``missed_on`` day)."""
    missed = Appointment.objects.filter(
        voided_at__isnull=True, status=AppointmentStatus.NO_SHOW, pump__isnull=False
    ).annotate(missed_on=local_date_sql())
    unanswered = Q()
    for kind in AppointmentKind.values:
        unanswered |= Q(kind=kind) & ~_answered(kind)
    return missed.filter(unanswered)


def no_shows_unanswered(*, pump_ids: Iterable[int] | None = None) -> AppointmentQuerySet:
    """Appointments marked not attended, on a watched pump, not yet answered (``appointment_missed``).

    Answered by a later booking of the same kind on the pump (booked or attended), or by the
    visit itself: a refill (for a missed refill) or a dose change (for a missed titration visit)
    recorded on or after the missed day.
    """
    missed = _unanswered_no_shows().filter(pump__in=Pump.objects.watched())
    if pump_ids is not None:
        missed = missed.filter(pump_id__in=list(pump_ids))
    return missed.select_related("pump", "patient").order_by("starts_at", "pk")


def unanswered_no_show_exists(*, pump_ref: str = "pk") -> Exists:
    """SQL: the pump has a no-show not yet answered."""
    return Exists(_unanswered_no_shows().filter(pump_id=OuterRef(pump_ref)))


def late_refill_booking_exists(*, pump_ref: str = "pk") -> Exists:
    """SQL: the pump's booked refill falls on or after its alarm date (``alarm_date`` of the outer pump)."""
    late = (
        _booked_refills()
        .filter(pump_id=OuterRef(pump_ref))
        .annotate(booked_on=local_date_sql())
        .filter(booked_on__gte=OuterRef("alarm_date"))
    )
    return Exists(late)


def first_unanswered_no_show_on(*, pump_ref: str = "pk") -> Subquery:
    """SQL: the day of the pump's earliest unanswered no-show (None when every one is answered)."""
    missed = _unanswered_no_shows().filter(pump_id=OuterRef(pump_ref)).order_by("starts_at", "pk")
    return Subquery(missed.values("missed_on")[:1], output_field=DateField())


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


# --------------------------------------------------------------------------
# The "not booked" list
# --------------------------------------------------------------------------


def not_booked_page(
    *,
    as_of: dt.date,
    within_days: int,
    nurse_id: int | None = None,
    unassigned: bool = False,
    page: int = 1,
    page_size: int = GROUP_PAGE_SIZE,
) -> GroupPage[Pump]:
    """One page of the pumps ``refill_not_booked`` is about (``refill_not_booked_pumps``), of one
    nurse's patients, of the patients with no pump nurse, or of everyone: soonest due first.

    Two queries whatever the caseload: the count, and the page's rows with their patient and nurse.
    """
    pumps = refill_not_booked_pumps(as_of=as_of, within_days=within_days)
    if nurse_id is not None:
        pumps = pumps.filter(patient__assigned_nurse_id=nurse_id)
    elif unassigned:
        pumps = pumps.filter(patient__assigned_nurse__isnull=True)
    total = pumps.count()
    number, start, end = page_slice(page, total, page_size)
    rows = list(pumps.select_related("patient", "patient__assigned_nurse", "model")[start:end]) if total else []
    return GroupPage("not_booked", "Refills not booked", total, number, page_size, rows)
