"""Read-only admin views: alerts change through the scan and the handling services only."""

from __future__ import annotations

from django.contrib import admin

from alerts.models import Alert, Notification
from spasticity.admin import ClinicalRecordAdmin, ReadOnlyAdmin


@admin.register(Alert)
class AlertAdmin(ClinicalRecordAdmin):
    list_display = ["kind", "status", "due_on", "pump", "patient", "raised_on", "resolved_on"]
    list_filter = ["kind", "status"]
    list_select_related = ["pump", "patient"]
    search_fields = ["patient__mrn", "pump__serial_number"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = [
        "dedupe_key",
        "kind",
        "channel",
        "status",
        "attempts",
        "to_email",
        "to_phone",
        "created_at",
        "sent_at",
    ]
    list_filter = ["kind", "channel", "status"]
    search_fields = ["dedupe_key", "to_email", "to_phone", "subject"]
