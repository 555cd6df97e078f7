"""Read-only admin views: alerts change through the scan and the handling services only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from alerts.models import Alert, Notification


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):  # type: ignore[misc]
    list_display = ["kind", "status", "due_on", "pump", "patient", "raised_on", "resolved_on"]
    list_filter = ["kind", "status"]
    search_fields = ["patient__mrn", "pump__serial_number"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["dedupe_key", "kind", "status", "attempts", "to_email", "created_at", "sent_at"]
    list_filter = ["kind", "status"]
    search_fields = ["dedupe_key", "to_email", "subject"]
