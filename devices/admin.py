from django.contrib import admin

from devices.models import MriScan, SafetyNotice, SafetyNoticePump
from spasticity.admin import ClinicalRecordAdmin


@admin.register(MriScan)
class MriScanAdmin(ClinicalRecordAdmin):
    list_display = ["scanned_on", "pump", "patient", "procedure", "follow_up_recorded_at", "voided_at"]


@admin.register(SafetyNotice)
class SafetyNoticeAdmin(ClinicalRecordAdmin):
    list_display = ["issued_on", "title", "pump_model", "closed_on", "voided_at"]


@admin.register(SafetyNoticePump)
class SafetyNoticePumpAdmin(ClinicalRecordAdmin):
    list_display = ["notice", "pump", "patient_informed_on", "acknowledged_by", "voided_at"]
