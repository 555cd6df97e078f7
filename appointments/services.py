"""Every write with rules for appointments (spec section 7): book, change, cancel, no-show, attended.

The pages and the API parse their input into an ``Appointment`` and a list of staff, then
call these; every rule is here:

* who may: nurses, doctors and administrators (``book_appointment``), checked again here;
* what a booking must name: a patient whose record is not voided; a pump of that patient,
  in the patient, for a refill or a titration visit; one or two active clinic staff;
* a refill respects the pump's dates (``appointments.schedule``): after ``refill_due_on``
  it needs a ``confirmation_reason``; on or after ``alarm_date`` it is refused; both are
  messages on ``starts_at``. ``starts_at`` may be in the past (entered after the fact);
* the status moves only from ``booked``: cancelled (with a reason), not attended (once the
  start has passed) or attended. ``appointment_mark_attended_for`` is called by the refill
  and dose-change services: recording the visit marks the booked appointment attended.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from alerts.services import alerts_refresh_for_pump
from appointments import schedule
from appointments.models import Appointment, AppointmentKind, AppointmentStatus, local_date, local_start_of_day
from patients.models import Patient
from pumps.models import Pump
from spasticity.access import require_permission
from spasticity.audit import audited_save, check_version, record_save
from spasticity.roles import PERMS, roles_of
from spasticity.timeutil import clinic_today

MAX_STAFF = 2
# What a change to a booked appointment must check again: when, where, who, what for.
SCHEDULING_FIELDS = ("patient_id", "pump_id", "kind", "starts_at", "duration_minutes", "place")


def refill_window_days() -> int:
    return int(settings.CLINIC["REFILL_BOOKING_WINDOW_DAYS"])


def _require_booker(by: Any) -> None:
    require_permission(by, PERMS.BOOK_APPOINTMENT, "Your role does not book or change appointments.")


def _refresh_alerts(*pump_ids: int | None, by: Any, today: dt.date | None) -> None:
    """The pump's alerts follow its bookings in the same transaction (``refill_not_booked``,
    ``appointment_missed``, ``booking_after_alarm``), so the worklist is right at once."""
    for pump_id in dict.fromkeys(pump_id for pump_id in pump_ids if pump_id is not None):
        alerts_refresh_for_pump(Pump(pk=pump_id), as_of=today or clinic_today(), by=by)


# --------------------------------------------------------------------------
# What a booking must name
# --------------------------------------------------------------------------


def _staff_errors(staff: Sequence[User]) -> list[str]:
    if not staff:
        return ["Name the staff member who will see the patient."]
    if len(staff) > MAX_STAFF:
        return [f"Name one or two staff members, not {len(staff)}."]
    if len({user.pk for user in staff}) != len(staff):
        return ["Name two different people, or one."]
    return [f"{user} is not an active member of the clinic's staff." for user in staff if not _is_clinic_staff(user)]


def _is_clinic_staff(user: User) -> bool:
    return bool(user.is_active and roles_of(user))


def _assign_staff(appointment: Appointment, staff: Sequence[User]) -> None:
    errors = _staff_errors(staff)
    if errors:
        raise ValidationError({"staff": errors})
    appointment.lead_staff = staff[0]
    appointment.second_staff = staff[1] if len(staff) > 1 else None


def _record_errors(appointment: Appointment) -> dict[str, list[str]]:
    """The patient and the pump must be ones the clinic is still seeing."""
    errors: dict[str, list[str]] = {}
    if appointment.patient_id is not None and appointment.patient.is_voided:
        errors["patient"] = ["This patient's record is voided: nothing can be booked for them."]
    pump = appointment.pump
    if pump is not None and pump.is_voided:
        errors["pump"] = ["This pump's record is voided."]
    elif pump is not None and pump.explanted_on is not None:
        errors["pump"] = [f"This pump was explanted on {pump.explanted_on:%Y-%m-%d}."]
    return errors


def refill_day_error(pump: Pump, day: dt.date, *, has_reason: bool) -> str:
    """The message for a refill booked on ``day`` against the pump's stored dates ("" when fine)."""
    problem = schedule.refill_booking_problem(
        day, refill_due_on=pump.refill_due_on, alarm_date=pump.alarm_date, has_reason=has_reason
    )
    if problem == schedule.ON_OR_AFTER_ALARM:
        return (
            f"{day:%Y-%m-%d} is on or after the pump's alarm date ({pump.alarm_date:%Y-%m-%d}): the reservoir "
            f"may run dry before then. Book the refill by {pump.refill_due_on or pump.alarm_date:%Y-%m-%d}."
        )
    if problem == schedule.AFTER_DUE_WITHOUT_REASON:
        window = schedule.refill_window(pump.refill_due_on, window_days=refill_window_days())
        assert window is not None
        return (
            f"{day:%Y-%m-%d} is after the pump's refill-due date ({window.closes_on:%Y-%m-%d}): book between "
            f"{window.opens_on:%Y-%m-%d} and {window.closes_on:%Y-%m-%d}, or give a confirmation reason."
        )
    return ""


def _refill_errors(appointment: Appointment) -> dict[str, list[str]]:
    if appointment.kind != AppointmentKind.REFILL or appointment.pump is None or appointment.starts_at is None:
        return {}
    message = refill_day_error(
        appointment.pump,
        local_date(appointment.starts_at),
        has_reason=bool(appointment.confirmation_reason.strip()),
    )
    return {"starts_at": [message]} if message else {}


def _shape_errors(appointment: Appointment) -> dict[str, list[str]]:
    """The record's own checks (``Appointment.clean`` and the field validators), as messages by field.

    The one-booked-refill constraint is checked by ``_second_refill_errors`` instead, with a
    message on ``pump``; the database still refuses two bookings that race past it.
    """
    try:
        appointment.full_clean(validate_constraints=False)
    except ValidationError as error:
        return dict(error.message_dict)
    return {}


def _second_refill_errors(appointment: Appointment) -> dict[str, list[str]]:
    if appointment.kind != AppointmentKind.REFILL or appointment.pump_id is None:
        return {}
    other = Appointment.objects.booked().filter(pump_id=appointment.pump_id, kind=AppointmentKind.REFILL)
    booked = other.exclude(pk=appointment.pk).first() if appointment.pk else other.first()
    if booked is None:
        return {}
    when = f"{booked.local_starts_at:%Y-%m-%d %H:%M}"
    return {"pump": [f"This pump already has a refill booked on {when}: change or cancel that one."]}


def _booking_errors(appointment: Appointment) -> dict[str, list[str]]:
    """Everything wrong with a booking, by field: its shape first, then the patient, the pump and its dates."""
    errors = _shape_errors(appointment)
    if errors.keys() & {"patient", "pump", "starts_at"}:
        return errors
    return errors | _record_errors(appointment) | _second_refill_errors(appointment) | _refill_errors(appointment)


# --------------------------------------------------------------------------
# Book and change
# --------------------------------------------------------------------------


@transaction.atomic
def appointment_book(
    appointment: Appointment, *, staff: Sequence[User], by: Any, reason: str = "", today: dt.date | None = None
) -> Appointment:
    """Book a new appointment (status ``booked``) with one or two staff members.

    ``today``: the day the pump's alerts are refreshed as of (the clinic's today by default).
    """
    _require_booker(by)
    if appointment.pk is not None:
        raise ValueError("appointment_book books a new appointment; use appointment_update for a booked one.")
    appointment.status = AppointmentStatus.BOOKED
    appointment.cancel_reason = ""
    _assign_staff(appointment, staff)
    errors = _booking_errors(appointment)
    if errors:
        raise ValidationError(errors)
    record_save(appointment, by=by, reason=reason or "Booked")
    _refresh_alerts(appointment.pump_id, by=by, today=today)
    return appointment


@transaction.atomic
def appointment_update(
    appointment: Appointment,
    *,
    by: Any,
    staff: Sequence[User] | None = None,
    expected_version: int | None = None,
    reason: str = "",
    today: dt.date | None = None,
) -> Appointment:
    """Change an appointment. Only a booked one can be moved or given other staff; notes can always change.

    The pump's dates are checked again only when the booking moves (another day or time,
    pump or kind): a note added to a refill booked before the pump's dates moved still saves.
    """
    _require_booker(by)
    check_version(appointment, expected_version)
    stored = Appointment.objects.get(pk=appointment.pk)
    if staff is not None:
        _assign_staff(appointment, staff)
    moved = [name for name in SCHEDULING_FIELDS if getattr(stored, name) != getattr(appointment, name)]
    restaffed = (stored.lead_staff_id, stored.second_staff_id) != (
        appointment.lead_staff_id,
        appointment.second_staff_id,
    )
    if appointment.patient_id != stored.patient_id:
        raise ValidationError({"patient": ["An appointment cannot move to another patient: cancel it and book anew."]})
    if appointment.status != stored.status or appointment.cancel_reason != stored.cancel_reason:
        raise ValidationError({"status": ["Cancel, mark attended or mark not attended with their own actions."]})
    if (moved or restaffed) and not stored.is_booked:
        field = moved[0].removesuffix("_id") if moved else "staff"
        raise ValidationError({field: [f"This appointment is {stored.get_status_display().lower()}: book a new one."]})
    errors = _booking_errors(appointment) if moved else _shape_errors(appointment)
    if errors:
        raise ValidationError(errors)
    audited_save(appointment, by=by, reason=reason or ("Rescheduled" if moved else "Changed"))
    if moved:
        _refresh_alerts(stored.pump_id, appointment.pump_id, by=by, today=today)
    return appointment


# --------------------------------------------------------------------------
# Status changes
# --------------------------------------------------------------------------


def _require_booked(appointment: Appointment, action: str) -> None:
    if appointment.is_voided:
        raise ValidationError({"status": ["This appointment is voided."]})
    if appointment.status != AppointmentStatus.BOOKED:
        status = appointment.get_status_display().lower()
        raise ValidationError({"status": [f"This appointment is {status}: only a booked one can be {action}."]})


@transaction.atomic
def appointment_cancel(
    appointment: Appointment,
    *,
    by: Any,
    reason: str,
    expected_version: int | None = None,
    today: dt.date | None = None,
) -> Appointment:
    """Cancel a booked appointment; the reason is required and kept on the record."""
    _require_booker(by)
    check_version(appointment, expected_version)
    _require_booked(appointment, "cancelled")
    if not reason.strip():
        raise ValidationError({"cancel_reason": ["Say why the appointment is cancelled."]})
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancel_reason = reason.strip()
    audited_save(appointment, by=by, reason=f"Cancelled: {reason.strip()}")
    _refresh_alerts(appointment.pump_id, by=by, today=today)
    return appointment


@transaction.atomic
def appointment_mark_no_show(
    appointment: Appointment, *, by: Any, now: dt.datetime, expected_version: int | None = None
) -> Appointment:
    """The patient did not come: only once the appointment's start has passed."""
    _require_booker(by)
    check_version(appointment, expected_version)
    _require_booked(appointment, "marked not attended")
    if appointment.starts_at > now:
        raise ValidationError(
            {
                "starts_at": [
                    f"This appointment starts at {appointment.local_starts_at:%Y-%m-%d %H:%M}: it can be marked "
                    "not attended once its start has passed."
                ]
            }
        )
    appointment.status = AppointmentStatus.NO_SHOW
    audited_save(appointment, by=by, reason="Did not attend")
    _refresh_alerts(appointment.pump_id, by=by, today=local_date(now))
    return appointment


@transaction.atomic
def appointment_mark_attended(
    appointment: Appointment, *, by: Any, today: dt.date, expected_version: int | None = None
) -> Appointment:
    """The patient was seen (a review, a trial day: visits no other record marks). Not before its day."""
    _require_booker(by)
    check_version(appointment, expected_version)
    _require_booked(appointment, "marked attended")
    if appointment.starts_on > today:
        raise ValidationError(
            {"starts_at": [f"This appointment is on {appointment.starts_on:%Y-%m-%d}: it cannot be attended yet."]}
        )
    appointment.status = AppointmentStatus.ATTENDED
    audited_save(appointment, by=by, reason="Attended")
    _refresh_alerts(appointment.pump_id, by=by, today=today)
    return appointment


# ``appointment_mark_attended_for(booked_id=...)`` when the caller has not read the booking itself.
LOOK_IT_UP = -1


def appointment_mark_attended_for(
    *, pump: Pump, kind: str, on_date: dt.date, by: Any, booked_id: int | None = LOOK_IT_UP
) -> Appointment | None:
    """Recording a visit answers its booking: the pump's booked ``kind`` appointment on or before ``on_date``
    becomes ``attended`` (the latest one, when several are booked). Returns it, or None.

    For the refill service (``kind="refill"``, the refill's date) and the dose-change service
    (``kind="titration"``). Call it inside their transaction: it locks the row. No permission
    of its own: it follows the refill or dose change its caller has already allowed. The caller
    refreshes the pump's alerts after its own write.

    ``booked_id``: the booking as the caller already read it with the pump row it locked
    (``appointments.selectors.booked_visit_id``); None means there is none, so a visit with no
    booking costs no statement here. It is read again under a lock: a booking cancelled in the
    meantime is left alone.
    """
    if booked_id is None:
        return None
    booked = (
        Appointment.objects.booked()
        .select_for_update(of=("self",))
        .select_related("pump", "patient", "lead_staff", "second_staff")  # its checks look up none of them
    )
    if booked_id == LOOK_IT_UP:
        booked = booked.filter(pump=pump, kind=kind, starts_at__lt=local_start_of_day(on_date + dt.timedelta(days=1)))
    else:
        booked = booked.filter(pk=booked_id)
    appointment = booked.order_by("-starts_at", "-pk").first()
    if appointment is None:
        return None
    appointment.status = AppointmentStatus.ATTENDED
    reason = f"Attended: {AppointmentKind(kind).label.lower()} recorded on {on_date}"
    # Only the status is written (one UPDATE and its history row), so only it is checked.
    audited_save(appointment, by=by, reason=reason, update_fields=["status"])
    return appointment


# --------------------------------------------------------------------------
# Bookings nobody can keep: the pump came out, or the record was voided
# --------------------------------------------------------------------------


def _cancel_booked(appointments: Any, *, by: Any, reason: str) -> list[Appointment]:
    """Cancel each of these booked appointments, with the reason on the record and its history.

    No permission of its own: it follows the surgery or the voiding its caller has already
    allowed. The caller refreshes the pump's alerts (the pump is no longer watched anyway).
    """
    cancelled = []
    rows = appointments.select_for_update(of=("self",)).select_related("pump", "patient", "lead_staff", "second_staff")
    for appointment in rows.order_by("starts_at", "pk"):
        appointment.status = AppointmentStatus.CANCELLED
        appointment.cancel_reason = reason
        audited_save(appointment, by=by, reason=f"Cancelled: {reason}", update_fields=["status", "cancel_reason"])
        cancelled.append(appointment)
    return cancelled


def appointments_cancel_for_explant(pump: Pump, *, explanted_on: dt.date, by: Any) -> list[Appointment]:
    """The pump came out (explant or replacement): its appointments booked from that day on are cancelled.

    Those booked before it stay, to be marked attended or not. Voiding the explant later puts the
    pump back in but books nothing again: the nurse books what the pump then needs (and the
    ``refill_not_booked`` alert says so).
    """
    booked = Appointment.objects.booked().filter(pump_id=pump.pk, starts_at__gte=local_start_of_day(explanted_on))
    return _cancel_booked(booked, by=by, reason=f"Pump {pump.serial_number} came out on {explanted_on:%Y-%m-%d}.")


def appointments_cancel_for_voided_pump(record: Any, by: Any) -> None:
    """After-void hook for a pump (entered in error): its booked appointments are cancelled."""
    booked = Appointment.objects.booked().filter(pump_id=record.pk)
    _cancel_booked(booked, by=by, reason=f"The record of pump {record.serial_number} was voided.")


def appointments_cancel_for_voided_patient(record: Any, by: Any) -> None:
    """After-void hook for a patient: every appointment still booked is cancelled (a voided record
    has no visits left to keep or to mark, and no reminders go out for it)."""
    assert isinstance(record, Patient)
    booked = Appointment.objects.booked().filter(patient_id=record.pk)
    _cancel_booked(booked, by=by, reason="The patient's record was voided.")
