"""MRI scans of pumps and device safety notices (spec "Pump-model rules", "Safety notices").

An MRI scan is a clinical record on a pump: its checklist depends on the pump model's MRI
procedure, copied onto the record when it is made (a later catalogue edit does not change
what was asked then). A Prometra emptied for the scan ends the pump's active fill: the
projection (``pumps.projection``) reads the latest emptying and puts the reservoir at 0 mL
from that day, so the alarm and refill alerts follow until the next refill.

A safety notice names a pump model and, optionally, serial numbers (a list or a range) and
drug lots; the pumps it affects are computed (``devices.selectors.notice_affected_pumps``),
and each affected pump gets an acknowledgement: the patient informed and the action taken.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from patients.models import Patient, not_in_future
from pumps.models import MriProcedure, Pump, PumpModel
from spasticity.models import ClinicalRecord
from spasticity.roles import PERMS

# The follow-up of an MRI is due within 24 hours; records are dated, so it is due the day after.
MRI_FOLLOW_UP_DAYS = 1
PROMETRA_FIELD_STRENGTH_TESLA = Decimal("1.5")


class MriScan(ClinicalRecord):
    """An MRI scan of a patient with an implanted pump, with the model's checklist."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="mri_scans")
    pump = models.ForeignKey(Pump, on_delete=models.PROTECT, related_name="mri_scans")
    scanned_on = models.DateField("Scan date")
    field_strength_tesla = models.DecimalField(
        "Field strength (T)",
        max_digits=3,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.1"), "The field strength must be more than 0 T.")],
    )
    procedure = models.CharField(
        "MRI procedure", max_length=30, choices=MriProcedure.choices, editable=False, default=MriProcedure.NONE
    )
    # Prometra: emptied before the scan, at 1.5 T only.
    emptied_before_scan = models.BooleanField("Pump emptied before the scan", default=False)
    volume_removed_ml = models.DecimalField(
        "Volume removed (mL)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0), "The volume cannot be negative.")],
    )
    field_strength_confirmed = models.BooleanField("Scanner confirmed 1.5 T only", default=False)
    # SynchroMed: interrogated after the scan, the motor restarted.
    interrogated_after_scan = models.BooleanField("Pump interrogated after the scan", default=False)
    motor_restart_confirmed = models.BooleanField("Motor restart confirmed", default=False)
    notes = models.TextField(blank=True)
    follow_up_recorded_at = models.DateTimeField(null=True, blank=True, editable=False)
    follow_up_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.PROTECT, related_name="+"
    )
    follow_up_note = models.TextField(blank=True)

    WRITE_PERMISSION = PERMS.RECORD_MRI

    class Meta:
        ordering = ["-scanned_on", "-pk"]
        verbose_name = "MRI scan"

    def __str__(self) -> str:
        return f"MRI on {self.scanned_on:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        return reverse("devices:mri_detail", args=[self.pk])

    @property
    def needs_follow_up(self) -> bool:
        return self.procedure != MriProcedure.NONE

    @property
    def follow_up_due_on(self) -> datetime.date:
        return self.scanned_on + datetime.timedelta(days=MRI_FOLLOW_UP_DAYS)

    def clean(self) -> None:
        errors: dict[str, Any] = not_in_future(self.scanned_on, "scanned_on", "The scan date")
        if errors:
            raise ValidationError(errors)


class SafetyNotice(ClinicalRecord):
    """A manufacturer's or regulator's notice about a pump model (a field safety notice, a recall)."""

    # What writing a notice may set, on the page and through the API alike.
    EDITABLE_FIELDS = (
        "title",
        "issued_on",
        "pump_model",
        "serial_numbers",
        "serial_from",
        "serial_to",
        "lot_numbers",
        "action_required",
        "link",
        "closed_on",
    )

    title = models.CharField(max_length=200)
    issued_on = models.DateField("Issued on")
    pump_model = models.ForeignKey(PumpModel, on_delete=models.PROTECT, related_name="safety_notices")
    serial_numbers = models.JSONField(
        "Serial numbers", default=list, blank=True, help_text="Only these serials are affected (empty: see the range)"
    )
    serial_from = models.CharField("Serial range from", max_length=50, blank=True)
    serial_to = models.CharField("Serial range to", max_length=50, blank=True)
    lot_numbers = models.JSONField(
        "Drug lot numbers", default=list, blank=True, help_text="Only pumps filled from these lots are affected"
    )
    action_required = models.TextField("Action required")
    link = models.URLField(max_length=500, blank=True)
    closed_on = models.DateField(null=True, blank=True, help_text="When the clinic finished acting on it")

    WRITE_PERMISSION = PERMS.MANAGE_SAFETY_NOTICE

    class Meta:
        ordering = ["-issued_on", "-pk"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("devices:notice_detail", args=[self.pk])

    def clean(self) -> None:
        errors: dict[str, Any] = not_in_future(self.issued_on, "issued_on", "The issue date")
        if errors:
            raise ValidationError(errors)


class SafetyNoticePump(ClinicalRecord):
    """One affected pump's acknowledgement: the patient informed and the action taken."""

    notice = models.ForeignKey(SafetyNotice, on_delete=models.PROTECT, related_name="acknowledgements")
    pump = models.ForeignKey(Pump, on_delete=models.PROTECT, related_name="safety_notice_acknowledgements")
    patient_informed_on = models.DateField("Patient informed on")
    action_taken = models.TextField("Action taken")
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    acknowledged_at = models.DateTimeField(editable=False)

    WRITE_PERMISSION = PERMS.MANAGE_SAFETY_NOTICE

    class Meta:
        ordering = ["notice", "pump"]
        constraints = [
            models.UniqueConstraint(
                fields=["notice", "pump"],
                condition=Q(voided_at__isnull=True),
                name="one_acknowledgement_per_notice_pump",
                violation_error_message="This pump's acknowledgement of the notice is already recorded.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.notice} · {self.pump}"

    def clean(self) -> None:
        errors: dict[str, Any] = not_in_future(self.patient_informed_on, "patient_informed_on", "The date")
        if errors:
            raise ValidationError(errors)
