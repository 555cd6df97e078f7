"""Alerts on pumps and the notification outbox (spec "Alerts and jobs").

An alert is explicit state on a row, as in healthchecks: the scan opens it when a
pump's stored dates call for it and resolves it when they no longer do; people
acknowledge or snooze it in between. A database constraint keeps at most one
not-yet-resolved alert per pump and kind, so two scans racing cannot double it.

The outbox (``Notification``) is not a clinical record: it is delivery bookkeeping,
and its rows are claimed with a compare-and-swap ``UPDATE`` so that each email goes
out once even with two workers or a retried task.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from alerts import rules
from patients.models import Patient
from pumps.models import Pump, Refill
from spasticity.models import ClinicalRecord, ClinicalRecordQuerySet
from spasticity.roles import PERMS


class AlertKind(models.TextChoices):
    PAST_ALARM_DATE = rules.PAST_ALARM_DATE, "Past alarm date"
    PROJECTION_MISSING = rules.PROJECTION_MISSING, "No projection (program or fill missing)"
    REFILL_OVERDUE = rules.REFILL_OVERDUE, "Refill overdue"
    BATTERY_END_OF_LIFE = rules.BATTERY_END_OF_LIFE, "Battery end of life"
    DELIVERY_DEVIATION = rules.DELIVERY_DEVIATION, "Delivery deviation"
    REFILL_DUE_SOON = rules.REFILL_DUE_SOON, "Refill due soon"
    MRI_FOLLOW_UP_MISSING = rules.MRI_FOLLOW_UP_MISSING, "MRI follow-up missing"
    SECOND_CHECK_DISAGREED = rules.SECOND_CHECK_DISAGREED, "Second check disagreed"
    APPOINTMENT_MISSED = rules.APPOINTMENT_MISSED, "Appointment missed"
    SECOND_CHECK_MISSING = rules.SECOND_CHECK_MISSING, "Second check missing"
    BOOKING_AFTER_ALARM = rules.BOOKING_AFTER_ALARM, "Booking after alarm date"
    REFILL_NOT_BOOKED = rules.REFILL_NOT_BOOKED, "Refill not booked"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    SNOOZED = "snoozed", "Snoozed"
    RESOLVED = "resolved", "Resolved"


# Acknowledged alerts still need action (someone has taken them on, the pump is not yet
# refilled): they stay on the worklist and in the digest until the scan resolves them.
ACTIONABLE_STATUSES = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
UNRESOLVED_STATUSES = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.SNOOZED)


class AlertQuerySet(ClinicalRecordQuerySet):
    def unresolved(self) -> AlertQuerySet:
        return self.filter(voided_at__isnull=True).exclude(status=AlertStatus.RESOLVED)

    def actionable(self) -> AlertQuerySet:
        return self.filter(voided_at__isnull=True, status__in=ACTIONABLE_STATUSES)

    def on_watched_pumps(self) -> AlertQuerySet:
        """Alerts on the pumps the clinic is watching (``Pump.objects.watched()``)."""
        return self.filter(pump__in=Pump.objects.watched())

    def by_urgency(self) -> AlertQuerySet:
        return self.order_by("urgency", "due_on", "pk")


class Alert(ClinicalRecord):
    """One reason to act on one pump, open until answered.

    ``due_on`` is the date the alert is about: the refill-due date (``refill_due_soon``,
    ``refill_overdue``), the alarm date (``past_alarm_date``), the battery's end of
    service (``battery_end_of_life``) or the flagged refill's date (``delivery_deviation``).
    ``projection_missing`` is dated with the pump's implant.
    ``urgency`` is the kind's rank from ``alerts.rules.URGENCY`` (lowest = most urgent).
    """

    Kind = AlertKind
    Status = AlertStatus

    kind = models.CharField(max_length=30, choices=AlertKind.choices)
    pump = models.ForeignKey(Pump, on_delete=models.PROTECT, related_name="alerts")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="pump_alerts")
    status = models.CharField(max_length=20, choices=AlertStatus.choices, default=AlertStatus.OPEN, db_index=True)
    urgency = models.PositiveSmallIntegerField(editable=False)
    due_on = models.DateField()
    raised_on = models.DateField(help_text="The scan date on which the alert was raised")
    refill = models.ForeignKey(
        Refill,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="alerts",
        help_text="For a delivery deviation: the flagged refill",
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    snoozed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    snoozed_until = models.DateField(null=True, blank=True, help_text="The alert reopens the day after this date")
    snooze_reason = models.TextField(blank=True)
    resolved_on = models.DateField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=200, blank=True)

    WRITE_PERMISSION = PERMS.HANDLE_ALERT

    objects = AlertQuerySet.as_manager()  # type: ignore[assignment,misc]

    class Meta:
        ordering = ["urgency", "due_on", "pk"]
        constraints = [
            # Spec: at most one open alert per pump and kind. Acknowledged and snoozed
            # alerts are not answered yet, so they count as open here.
            models.UniqueConstraint(
                fields=["pump", "kind"],
                condition=~Q(status=AlertStatus.RESOLVED) & Q(voided_at__isnull=True),
                name="one_unresolved_alert_per_pump_and_kind",
            ),
        ]
        indexes = [models.Index(fields=["status", "urgency", "due_on"], name="alert_worklist_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.due_on:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        return reverse("alerts:detail", args=[self.pk])

    @property
    def is_resolved(self) -> bool:
        return self.status == AlertStatus.RESOLVED

    @property
    def is_actionable(self) -> bool:
        return self.status in ACTIONABLE_STATUSES and not self.is_voided

    def clean(self) -> None:
        # The urgency always follows the kind (it is stored so that lists sort in SQL).
        if self.kind in rules.URGENCY and self.urgency != rules.URGENCY[self.kind]:
            raise ValidationError({"urgency": f"A {self.kind} alert has urgency {rules.URGENCY[self.kind]}."})


class NotificationKind(models.TextChoices):
    DIGEST = "digest", "Daily digest"
    IMMEDIATE = "immediate", "Immediate"
    # To a family, about a booked appointment (appointments.reminders; its link says which).
    REMINDER = "reminder", "Appointment reminder"


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # Final, never sent: its alerts were answered before it went out, or it was queued by the demo seed.
    SKIPPED = "skipped", "Skipped"


class Notification(models.Model):
    """An email or text message in the outbox: written once (unique ``dedupe_key``), claimed, sent, marked.

    ``dedupe_key`` names the one message this row stands for:
    ``digest:<nurse id>:<YYYY-MM-DD>``, ``immediate:<alert id>:<recipient id>`` or
    ``reminder:<appointment id>:<caregiver id>:<channel>:<YYYY-MM-DD>:<days before>``.
    Inserting it twice finds the first row; claiming it is a compare-and-swap on
    ``status`` so that only one worker sends it.
    """

    Kind = NotificationKind
    Status = NotificationStatus
    Channel = NotificationChannel

    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    channel = models.CharField(max_length=10, choices=NotificationChannel.choices, default=NotificationChannel.EMAIL)
    dedupe_key = models.CharField(max_length=100, unique=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="alert_notifications"
    )
    to_email = models.EmailField(blank=True)
    to_phone = models.CharField(max_length=32, blank=True)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    alerts = models.ManyToManyField(Alert, related_name="notifications", blank=True)
    for_date = models.DateField()
    status = models.CharField(
        max_length=20, choices=NotificationStatus.choices, default=NotificationStatus.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.address or self.recipient_id} ({self.get_status_display()})"

    @property
    def address(self) -> str:
        """Where the message goes: the phone number for a text message, else the email address."""
        return self.to_phone if self.channel == NotificationChannel.SMS else self.to_email


class JobRun(models.Model):
    """One run of a daily job that works in chunks (the alert scan, the projections refresh).

    An operations log, not a clinical record: when the run started and finished, how
    many chunks it had and which are done, and what it changed. A run whose chunks
    never all finish never gets ``finished_at``, and the dashboard says so.
    """

    job = models.CharField(max_length=40)
    as_of = models.DateField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.JSONField(default=list, help_text="The numbers of the chunks finished")
    counts = models.JSONField(default=dict, help_text="What the run changed, summed over its chunks")

    class Meta:
        indexes = [models.Index(fields=["job", "-started_at"], name="jobrun_latest_idx")]

    def __str__(self) -> str:
        return f"{self.job} as of {self.as_of:%Y-%m-%d}"

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None
