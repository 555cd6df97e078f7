"""Each staff member's private calendar feed: ``GET /calendar/<token>.ics`` (spec section 7).

A clinician subscribes to the address in Outlook or on their phone. The token is the only
key, so it is long and random, stored only as its SHA-256, shown once when made, and
revoked by making a new one or by revoking it. A deactivated account, or one with no clinic
role left, has no feed.

Each appointment is a VEVENT in the clinic's time zone (``DTSTART;TZID=Europe/London`` with
its VTIMEZONE), with a UID that never changes (the appointment's id), a SEQUENCE that grows
with each change (the record's version), and ``STATUS:CANCELLED`` for a cancelled or voided
one, so that subscribed calendars remove it. Like the alert emails, an event names the
patient by MRN and initials only: the link opens the clinic system, where the rest is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from urllib.parse import urlsplit

import icalendar
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from appointments.models import Appointment, AppointmentStatus, CalendarFeed, clinic_zone
from appointments.selectors import appointments_for_calendar
from spasticity.roles import roles_of

TOKEN_BYTES = 32
# The feed shows this much of the past (a clinician looking back at last month's visits).
FEED_PAST_DAYS = 90
# Written at most this often: calendar apps poll every few minutes.
LAST_FETCHED_EVERY = dt.timedelta(hours=1)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def calendar_feed_issue(user: User, *, now: dt.datetime) -> str:
    """Make a new feed token for ``user`` (revoking any earlier one); returns the token, to show once."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    feed, _ = CalendarFeed.objects.select_for_update().get_or_create(user=user)
    feed.token_sha256 = token_sha256(token)
    feed.issued_at, feed.revoked_at, feed.last_fetched_at = now, None, None
    feed.save()
    return token


@transaction.atomic
def calendar_feed_revoke(user: User, *, now: dt.datetime) -> bool:
    """Revoke ``user``'s feed: its address answers 404 from now on. True if there was one."""
    revoked = CalendarFeed.objects.filter(user=user, token_sha256__isnull=False).update(
        token_sha256=None, revoked_at=now
    )
    return revoked == 1


def calendar_feed_user(token: str, *, now: dt.datetime) -> User | None:
    """The active clinic staff member whose feed ``token`` opens, or None."""
    if not token or len(token) > 200:
        return None
    feed = CalendarFeed.objects.select_related("user").filter(token_sha256=token_sha256(token)).first()
    if feed is None or not feed.user.is_active or not roles_of(feed.user):
        return None
    if feed.last_fetched_at is None or now - feed.last_fetched_at > LAST_FETCHED_EVERY:
        CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=now)
    return feed.user


# --------------------------------------------------------------------------
# The ICS
# --------------------------------------------------------------------------


def _uid_domain() -> str:
    """The clinic's own domain (from its FHIR base URI): UIDs are unique across clinics and never change."""
    return urlsplit(settings.FHIR["SYSTEM_BASE"]).hostname or "itb-clinic.local"


def _site_url(path: str) -> str:
    return f"{getattr(settings, 'CLINIC_SITE_URL', '').rstrip('/')}{path}"


def _summary(appointment: Appointment) -> str:
    patient = appointment.patient
    initials = f"{patient.given_name[:1]}.{patient.family_name[:1]}."
    return f"{appointment.get_kind_display()}: {patient.mrn} ({initials})"


def _description(appointment: Appointment) -> str:
    lines = [f"{appointment.get_place_display()} · {appointment.get_status_display()}"]
    if appointment.pump is not None:
        alarm = f"{appointment.pump.alarm_date:%Y-%m-%d}" if appointment.pump.alarm_date else "—"
        lines.append(f"Pump {appointment.pump.serial_number}, alarm date {alarm}")
    lines.append("With " + " and ".join(user.get_full_name() or user.username for user in appointment.staff))
    if appointment.status == AppointmentStatus.CANCELLED:
        lines.append(f"Cancelled: {appointment.cancel_reason}")
    lines.append(_site_url(reverse("appointments:detail", args=[appointment.pk])))
    return "\n".join(lines)


def _ical_time(moment: dt.datetime) -> dt.datetime:
    """``moment`` in the clinic's zone; in UTC when its local wall time is ambiguous.

    When the clocks go back, 01:30 happens twice, and a TZID time names the first one
    (RFC 5545): an appointment ending at the second 01:30 would end before it started.
    """
    local = moment.astimezone(clinic_zone())
    if local.replace(fold=0).astimezone(dt.UTC) != moment.astimezone(dt.UTC):
        return moment.astimezone(dt.UTC)
    return local


def _event(appointment: Appointment, *, now: dt.datetime) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", f"appointment-{appointment.pk}@{_uid_domain()}")
    event.add("dtstamp", now)
    event.add("last-modified", appointment.updated_at)
    event.add("sequence", appointment.version)
    event.add("dtstart", _ical_time(appointment.starts_at))
    event.add("dtend", _ical_time(appointment.ends_at))
    event.add("summary", _summary(appointment))
    event.add("location", appointment.get_place_display())
    event.add("description", _description(appointment))
    cancelled = appointment.is_voided or appointment.status == AppointmentStatus.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    return event


def calendar_ics(user: User, *, now: dt.datetime) -> bytes:
    """``user``'s feed: their appointments from ``FEED_PAST_DAYS`` ago on, as iCalendar."""
    appointments = appointments_for_calendar(user_id=user.pk, since=now - dt.timedelta(days=FEED_PAST_DAYS))
    calendar = icalendar.Calendar()
    calendar.add("prodid", f"-//{settings.CLINIC['NAME']}//Appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"{settings.CLINIC['NAME']}: {user.get_full_name() or user.username}")
    calendar.add("x-wr-timezone", settings.TIME_ZONE)
    for appointment in appointments:
        calendar.add_component(_event(appointment, now=now))
    # The VTIMEZONE covers the feed's dates only (the library's default spans 1970 to 2038).
    days = [appointment.starts_on for appointment in appointments] or [timezone.localdate(now)]
    calendar.add_missing_timezones(
        first_date=min(days) - dt.timedelta(days=366), last_date=max(days) + dt.timedelta(days=366)
    )
    return bytes(calendar.to_ical())
