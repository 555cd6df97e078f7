"""The access log in the Django admin: read-only, like the record it is about."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from access_log.models import RecordAccess


@admin.register(RecordAccess)
class RecordAccessAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["accessed_at", "user", "kind", "object_id", "patient_id", "channel", "remote_addr", "path"]
    list_filter = ["channel", "kind"]
    list_select_related = ["user"]
    search_fields = ["user__username", "path"]
    date_hierarchy = "accessed_at"
    ordering = ["-accessed_at"]
    # No admin widget reads every patient for a dropdown.
    raw_id_fields = ["user", "patient"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
