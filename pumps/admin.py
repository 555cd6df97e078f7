"""Pumps in the admin: read-only, with history (``spasticity.admin``).

Writes with rules go through the pages and the API (``pumps.services``), which keep the
stored projection right; the admin is for looking.
"""

from django.contrib import admin

from pumps.models import DoseChange, Pump, PumpModel, Refill, Surgery
from spasticity.admin import ClinicalRecordAdmin


@admin.register(PumpModel)
class PumpModelAdmin(ClinicalRecordAdmin):
    list_display = ["manufacturer", "model", "nominal_battery_life_months", "days_eri_to_eos"]


@admin.register(Pump)
class PumpAdmin(ClinicalRecordAdmin):
    list_display = ["serial_number", "patient", "model", "implanted_on", "explanted_on", "alarm_date", "refill_due_on"]
    list_select_related = ["patient", "model"]
    search_fields = ["serial_number", "patient__mrn", "patient__family_name"]


@admin.register(Surgery)
class SurgeryAdmin(ClinicalRecordAdmin):
    list_display = ["patient", "kind", "performed_on", "pump", "voided_at"]
    list_select_related = ["patient", "pump"]


@admin.register(DoseChange)
class DoseChangeAdmin(ClinicalRecordAdmin):
    list_display = ["pump", "changed_on", "mode", "daily_dose_mcg", "alarm_date", "voided_at"]
    list_select_related = ["pump"]


@admin.register(Refill)
class RefillAdmin(ClinicalRecordAdmin):
    list_display = ["pump", "refilled_on", "volume_added_ml", "concentration_mcg_per_ml", "delivery_flag", "alarm_date"]
    list_select_related = ["pump"]
