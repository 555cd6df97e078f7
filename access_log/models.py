"""One row per time someone opened a patient's record (a page, an API read, a PDF or a CSV).

Not a clinical record: no history, no version, no voiding. Rows are written once by
``access_log.recording.record_access`` and deleted only by the retention purge.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

PATH_MAX_LENGTH = 500
USER_AGENT_MAX_LENGTH = 300


class AccessKind(models.TextChoices):
    PATIENT = "patient", "Patient"
    PUMP = "pump", "Pump"
    TRIAL = "trial", "Trial"
    REFILL = "refill", "Refill"
    DOSE_CHANGE = "dose_change", "Dose change"
    # A report lists many patients; it is logged once per download, with its query (see recording.py).
    REPORT = "report", "Report"


class AccessChannel(models.TextChoices):
    PAGE = "page", "Page"
    API = "api", "API"
    PDF = "pdf", "PDF"
    CSV = "csv", "CSV"
    # ``manage.py export_fhir``: the whole caseload written to FHIR NDJSON files, one row per patient.
    NDJSON = "ndjson", "NDJSON export"


class RecordAccess(models.Model):
    # Staff accounts are deactivated, never deleted: PROTECT keeps a reader's name on their rows.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    accessed_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Empty only for a report, which lists many patients. Indexed with accessed_at below.
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=16, choices=AccessKind.choices)
    object_id = models.BigIntegerField(null=True, blank=True, help_text="The record opened; empty for a report.")
    channel = models.CharField(max_length=8, choices=AccessChannel.choices)
    path = models.CharField(
        max_length=PATH_MAX_LENGTH,
        help_text="The URL asked for, with its query string (for a bulk export, the command).",
    )
    remote_addr = models.GenericIPAddressField("Address", null=True, blank=True)
    user_agent = models.CharField(max_length=USER_AGENT_MAX_LENGTH, blank=True)

    class Meta:
        verbose_name = "record access"
        verbose_name_plural = "record accesses"
        indexes = [
            # "Who has looked at this record", newest first.
            models.Index(fields=["patient", "-accessed_at"], name="access_patient_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id or ''} by user {self.user_id} via {self.channel} at {self.accessed_at}"
