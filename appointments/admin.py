"""Read-only admin views: appointments change through the services only."""

from __future__ import annotations

from django.contrib import admin

from appointments.models import Appointment, AppointmentReminder, CalendarFeed
from spasticity.admin import ClinicalRecordAdmin, ReadOnlyAdmin


@admin.register(Appointment)
class AppointmentAdmin(ClinicalRecordAdmin):
    list_display = ["starts_at", "kind", "status", "place", "patient", "pump", "lead_staff", "second_staff"]
    list_filter = ["kind", "status", "place"]
    list_select_related = ["patient", "pump", "lead_staff", "second_staff"]
    search_fields = ["patient__mrn", "pump__serial_number"]


@admin.register(AppointmentReminder)
class AppointmentReminderAdmin(ReadOnlyAdmin):
    list_display = ["appointment", "caregiver", "appointment_on", "days_before", "notification"]
    list_select_related = ["appointment", "caregiver", "notification"]


@admin.register(CalendarFeed)
class CalendarFeedAdmin(ReadOnlyAdmin):
    # The token itself is never stored; its hash is not worth showing.
    list_display = ["user", "issued_at", "revoked_at", "last_fetched_at"]
    fields = ["user", "issued_at", "revoked_at", "last_fetched_at"]
