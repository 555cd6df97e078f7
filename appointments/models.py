"""Appointments (an audited clinical record), staff calendar feeds and reminder links (spec section 7).

``starts_at`` is stored as an aware datetime and read in the clinic's time zone
(``settings.TIME_ZONE``): the day an appointment falls on, the day the refill window and
the alarm date are compared with, is its clinic-local day.

``staff`` (one or two people, spec) is stored as two columns, ``lead_staff`` and
``second_staff``: simple-history then audits who was booked like any other field (it does
not follow many-to-many changes), and "one or two" needs no counting. The API and the
pages show them as the one list ``staff``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import TruncDate
from django.urls import reverse

from patients.models import Patient
from pumps.models import Pump
from spasticity.models import ClinicalRecord, ClinicalRecordQuerySet
from spasticity.params import EARLIEST_DATE, LATEST_DATE
from spasticity.roles import PERMS

MIN_DURATION_MINUTES = 5
MAX_DURATION_MINUTES = 12 * 60


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_date(moment: dt.datetime) -> dt.date:
    """The clinic-local day of an aware datetime."""
    return moment.astimezone(clinic_zone()).date()


def local_start_of_day(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in the clinic, as an aware datetime."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=clinic_zone())


def local_date_sql(field: str = "starts_at") -> TruncDate:
    """SQL twin of ``local_date``: the clinic-local day of a datetime column."""
    return TruncDate(field, tzinfo=clinic_zone())


class AppointmentKind(models.TextChoices):
    REFILL = "refill", "Refill"
    TITRATION = "titration", "Titration visit"
    TRIAL = "trial", "Intrathecal trial"
    SURGERY = "surgery", "Surgery"
    REVIEW = "review", "Review"


# The kinds that are about one pump: the pump must be named.
PUMP_KINDS = (AppointmentKind.REFILL, AppointmentKind.TITRATION)


class AppointmentPlace(models.TextChoices):
    CLINIC = "clinic", "Clinic"
    HOME = "home", "Home visit"
    PHONE = "phone", "Phone call"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    ATTENDED = "attended", "Attended"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "Did not attend"


class AppointmentQuerySet(ClinicalRecordQuerySet):
    def booked(self) -> AppointmentQuerySet:
        return self.filter(voided_at__isnull=True, status=AppointmentStatus.BOOKED)

    def for_staff(self, user_id: int) -> AppointmentQuerySet:
        return self.filter(Q(lead_staff_id=user_id) | Q(second_staff_id=user_id))

    def starting_between(self, first_day: dt.date, last_day: dt.date) -> AppointmentQuerySet:
        """Appointments whose clinic-local day is ``first_day`` to ``last_day`` (inclusive)."""
        return self.filter(
            starts_at__gte=local_start_of_day(first_day),
            starts_at__lt=local_start_of_day(last_day + dt.timedelta(days=1)),
        )


class Appointment(ClinicalRecord):
    Kind = AppointmentKind
    Place = AppointmentPlace
    Status = AppointmentStatus

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    pump = models.ForeignKey(Pump, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments")
    kind = models.CharField(max_length=20, choices=AppointmentKind.choices)
    starts_at = models.DateTimeField(db_index=True, help_text="Clinic local time")
    duration_minutes = models.PositiveSmallIntegerField(
        default=30,
        validators=[
            MinValueValidator(MIN_DURATION_MINUTES, f"An appointment lasts at least {MIN_DURATION_MINUTES} minutes."),
            MaxValueValidator(MAX_DURATION_MINUTES, f"An appointment lasts at most {MAX_DURATION_MINUTES} minutes."),
        ],
    )
    place = models.CharField(max_length=10, choices=AppointmentPlace.choices, default=AppointmentPlace.CLINIC)
    lead_staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments_led", verbose_name="Staff"
    )
    second_staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appointments_seconded",
        verbose_name="Second staff member",
    )
    status = models.CharField(
        max_length=10, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED, db_index=True
    )
    notes = models.TextField(blank=True)
    cancel_reason = models.TextField(blank=True)
    confirmation_reason = models.TextField(
        blank=True, help_text="Needed for a refill booked after the pump's refill-due date"
    )

    WRITE_PERMISSION = PERMS.BOOK_APPOINTMENT

    objects = AppointmentQuerySet.as_manager()  # type: ignore[assignment,misc]

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            # One booked refill per pump, so that "the pump's booked refill" is one appointment and
            # two people booking at the same moment cannot both land (spasticity.integrity names it).
            models.UniqueConstraint(
                fields=["pump"],
                condition=Q(kind=AppointmentKind.REFILL, status=AppointmentStatus.BOOKED, voided_at__isnull=True),
                name="one_booked_refill_per_pump",
                violation_error_message="This pump already has a refill booked: change or cancel that one.",
            ),
        ]
        indexes = [
            models.Index(fields=["lead_staff", "starts_at"], name="appointment_lead_staff_idx"),
            models.Index(fields=["second_staff", "starts_at"], name="appointment_second_staff_idx"),
        ]

    def __str__(self) -> str:
        when = f"{self.starts_at.astimezone(clinic_zone()):%Y-%m-%d %H:%M}" if self.starts_at else "unscheduled"
        return f"{self.get_kind_display()} on {when}"

    def get_absolute_url(self) -> str:
        return reverse("appointments:detail", args=[self.pk])

    @property
    def staff(self) -> list[Any]:
        return [user for user in (self.lead_staff, self.second_staff) if user is not None]

    @property
    def local_starts_at(self) -> dt.datetime:
        return self.starts_at.astimezone(clinic_zone())

    @property
    def starts_on(self) -> dt.date:
        return local_date(self.starts_at)

    @property
    def ends_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.duration_minutes)

    @property
    def is_booked(self) -> bool:
        return self.status == AppointmentStatus.BOOKED and not self.is_voided

    def clean(self) -> None:
        """What any appointment must be, whoever saves it; the booking rules are in ``appointments.services``."""
        errors: dict[str, Any] = {}
        if self.starts_at is not None and not EARLIEST_DATE <= local_date(self.starts_at) <= LATEST_DATE:
            errors["starts_at"] = f"Give a start between {EARLIEST_DATE:%Y} and {LATEST_DATE:%Y}."
        if self.kind in PUMP_KINDS and self.pump_id is None:
            errors["pump"] = f"A {self.get_kind_display().lower()} is about a pump: choose the pump."
        elif self.pump is not None and self.patient_id is not None and self.pump.patient_id != self.patient_id:
            errors["pump"] = "This pump is another patient's."
        if self.second_staff_id is not None and self.second_staff_id == self.lead_staff_id:
            errors["staff"] = "Name two different people, or one."
        if self.status == AppointmentStatus.CANCELLED and not self.cancel_reason.strip():
            errors["cancel_reason"] = "Say why the appointment is cancelled."
        if errors:
            raise ValidationError(errors)


class CalendarFeed(models.Model):
    """A staff member's private calendar feed (``GET /calendar/<token>.ics``).

    Only the SHA-256 of the token is stored: the address is shown once, when it is made, and a
    copy of the database gives nobody a working feed. Making a new one revokes the old one;
    revoking clears it. The token is 32 random bytes, so a fast hash is enough.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token_sha256 = models.CharField(max_length=64, unique=True, null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user}"

    @property
    def is_active(self) -> bool:
        return self.token_sha256 is not None


class AppointmentReminder(models.Model):
    """Which appointment and caregiver an outbox row (``alerts.Notification``, kind ``reminder``) is for.

    Bookkeeping, not a clinical record: the outbox row holds the message and its delivery; this
    row lets the sender check, just before sending, that the appointment is still booked on that
    day and that the caregiver still wants reminders that way.
    """

    notification = models.OneToOneField(
        "alerts.Notification", on_delete=models.PROTECT, related_name="appointment_reminder"
    )
    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="reminders")
    caregiver = models.ForeignKey("patients.Caregiver", on_delete=models.PROTECT, related_name="reminders")
    appointment_on = models.DateField(help_text="The appointment's day when the reminder was queued")
    days_before = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"Reminder {self.days_before} day(s) before appointment {self.appointment_id}"
