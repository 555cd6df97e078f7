"""Reminders to families before each booked appointment, through the alerts outbox (spec section 7).

1. *Queue* (``reminders_queue``, daily): for each booked appointment whose day is within the
   first reminder's reach, the reminder now due (``appointments.schedule.reminder_due``: 3 days
   before, then the day before) goes to each caregiver of the patient who wants reminders,
   by email or text message as they prefer. Each is one outbox row
   (``alerts.Notification``, kind ``reminder``) with a unique key
   ``reminder:<appointment>:<caregiver>:<channel>:<day>:<days before>``, written with
   ``get_or_create``: a second run, a retried task or a second worker finds the row, so each
   reminder is queued once; the outbox's compare-and-swap claim sends it once.
2. *Check* (``reminder_send_check``, registered with the outbox): just before sending, the
   appointment must still be booked on that day and not started, and the caregiver must
   still want reminders that way; else the row is skipped with the reason. The text is
   written again from the appointment as it is then (a time or place changed that day).
3. *Send*: the outbox sends, retries failures and shows them to administrators.

The text names the day, time and place, what to bring and the clinic's phone number. It
holds no diagnosis and no drug: the patient's first name, and the visit's kind in plain words.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from alerts.models import Notification, NotificationChannel, NotificationKind, NotificationStatus
from appointments import schedule
from appointments.models import Appointment, AppointmentKind, AppointmentPlace, AppointmentReminder, local_date
from patients.models import Caregiver, PreferredContact

# The visit in plain words (no diagnosis, no drug).
VISIT_WORDS = {
    AppointmentKind.REFILL: "pump refill",
    AppointmentKind.TITRATION: "pump check",
    AppointmentKind.TRIAL: "trial day",
    AppointmentKind.SURGERY: "operation",
    AppointmentKind.REVIEW: "review",
}
WHAT_TO_BRING = {
    AppointmentKind.REFILL: "the pump ID card and the last visit's summary sheet",
    AppointmentKind.TITRATION: "the pump ID card and the last visit's summary sheet",
    AppointmentKind.TRIAL: "a list of current medicines and any splints or orthoses",
    AppointmentKind.SURGERY: "a list of current medicines; we will call about eating and drinking beforehand",
    AppointmentKind.REVIEW: "a list of current medicines, and the pump ID card if there is a pump",
}
CHANNEL_OF = {PreferredContact.EMAIL: NotificationChannel.EMAIL, PreferredContact.SMS: NotificationChannel.SMS}


def reminder_schedule() -> tuple[int, ...]:
    """The reminders each appointment gets, in days before it (the first is a setting; then the day before)."""
    return schedule.reminder_days_before(int(settings.CLINIC["APPOINTMENT_REMINDER_DAYS_BEFORE"]))


# --------------------------------------------------------------------------
# The message
# --------------------------------------------------------------------------


def _place_words(appointment: Appointment) -> str:
    if appointment.place == AppointmentPlace.HOME:
        return "at home: the team will come to you"
    if appointment.place == AppointmentPlace.PHONE:
        return "by phone: we will call you"
    return f"at {settings.CLINIC['NAME']}"


@dataclass(frozen=True)
class ReminderText:
    subject: str
    body: str


def reminder_text(appointment: Appointment, *, channel: str) -> ReminderText:
    """The reminder's subject and text for ``channel`` (a text message is shorter)."""
    starts = appointment.local_starts_at
    context = {
        "first_name": appointment.patient.given_name,
        "visit": VISIT_WORDS[AppointmentKind(appointment.kind)],
        "day": f"{starts:%A} {starts.day} {starts:%B}",
        "time": f"{starts:%H:%M}",
        "place": _place_words(appointment),
        "bring": WHAT_TO_BRING[AppointmentKind(appointment.kind)],
        "clinic_name": settings.CLINIC["NAME"],
        "clinic_phone": settings.CLINIC["PHONE"],
    }
    template = (
        "appointments/reminder_sms.txt" if channel == NotificationChannel.SMS else "appointments/reminder_email.txt"
    )
    subject = f"Reminder: {context['visit']} on {context['day']} at {context['time']}"
    return ReminderText(subject=subject, body=render_to_string(template, context).strip() + "\n")


# --------------------------------------------------------------------------
# Queue
# --------------------------------------------------------------------------


def _contacts(appointment: Appointment) -> list[Caregiver]:
    """The patient's caregivers who want reminders (prefetched by the caller)."""
    return [
        caregiver
        for caregiver in appointment.patient.caregivers.all()
        if not caregiver.is_voided and caregiver.preferred_contact in CHANNEL_OF
    ]


def _due_appointments(*, today: dt.date, furthest_days: int) -> list[Appointment]:
    first_day, last_day = today + dt.timedelta(days=1), today + dt.timedelta(days=furthest_days)
    return list(
        Appointment.objects.booked()
        .starting_between(first_day, last_day)
        .filter(patient__voided_at__isnull=True)
        .select_related("patient")
        .prefetch_related("patient__caregivers")
        .order_by("starts_at", "pk")
    )


def reminder_key(appointment: Appointment, caregiver: Caregiver, channel: str, days_before: int) -> str:
    return f"reminder:{appointment.pk}:{caregiver.pk}:{channel}:{appointment.starts_on:%Y-%m-%d}:{days_before}"


def _queue_one(
    appointment: Appointment, caregiver: Caregiver, *, days_before: int, today: dt.date
) -> Notification | None:
    """Write the outbox row and its link, once; returns the row when this call wrote it."""
    channel = CHANNEL_OF[PreferredContact(caregiver.preferred_contact)]
    text = reminder_text(appointment, channel=channel)
    with transaction.atomic():
        notification, created = Notification.objects.get_or_create(
            dedupe_key=reminder_key(appointment, caregiver, channel, days_before),
            defaults={
                "kind": NotificationKind.REMINDER,
                "channel": channel,
                "to_email": caregiver.email if channel == NotificationChannel.EMAIL else "",
                "to_phone": caregiver.phone if channel == NotificationChannel.SMS else "",
                "for_date": today,
                "subject": text.subject[:200],
                "body": text.body,
            },
        )
        if not created:
            return None
        AppointmentReminder.objects.create(
            notification=notification,
            appointment=appointment,
            caregiver=caregiver,
            appointment_on=appointment.starts_on,
            days_before=days_before,
        )
    return notification


def reminders_queue(*, today: dt.date) -> list[int]:
    """Queue the reminders due ``today``; returns the ids of the rows this call wrote (to send)."""
    reminders = reminder_schedule()
    queued: list[int] = []
    for appointment in _due_appointments(today=today, furthest_days=max(reminders)):
        days_before = schedule.reminder_due(days_until=(appointment.starts_on - today).days, reminders=reminders)
        if days_before is None:
            continue
        for caregiver in _contacts(appointment):
            notification = _queue_one(appointment, caregiver, days_before=days_before, today=today)
            if notification is not None:
                queued.append(notification.pk)
    return queued


# --------------------------------------------------------------------------
# Check, just before sending
# --------------------------------------------------------------------------


def _why_not_send(link: AppointmentReminder, channel: str, now: dt.datetime) -> str:
    appointment, caregiver = link.appointment, link.caregiver
    if appointment.is_voided or appointment.status != Appointment.Status.BOOKED:
        state = "voided" if appointment.is_voided else appointment.get_status_display().lower()
        return f"Not sent: the appointment is {state}."
    if appointment.patient.is_voided:
        return "Not sent: the patient's record is voided."
    if local_date(appointment.starts_at) != link.appointment_on:
        return "Not sent: the appointment moved to another day (the new day gets its own reminders)."
    if appointment.starts_at <= now:
        return "Not sent: the appointment has started."
    if caregiver.is_voided or CHANNEL_OF.get(PreferredContact(caregiver.preferred_contact)) != channel:
        return "Not sent: the caregiver no longer wants reminders this way."
    return ""


def reminder_send_check(notification: Notification) -> str:
    """The outbox's check for a reminder row: why it is no longer to be sent, or "" after bringing
    its text and address up to date (the caregiver's current email or phone)."""
    link = (
        AppointmentReminder.objects.select_related("appointment__patient", "caregiver")
        .filter(notification=notification)
        .first()
    )
    if link is None:
        return "Not sent: no appointment is linked to this reminder."
    reason = _why_not_send(link, notification.channel, timezone.now())
    if reason:
        return reason
    text = reminder_text(link.appointment, channel=notification.channel)
    notification.subject, notification.body = text.subject[:200], text.body
    if notification.channel == NotificationChannel.SMS:
        notification.to_phone = link.caregiver.phone
    else:
        notification.to_email = link.caregiver.email
    Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENDING).update(
        subject=notification.subject,
        body=notification.body,
        to_phone=notification.to_phone,
        to_email=notification.to_email,
    )
    return ""
