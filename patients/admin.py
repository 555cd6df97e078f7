"""Patients in the admin: read-only, with history (``spasticity.admin``)."""

from django.contrib import admin

from patients.models import Caregiver, OralMedicine, Patient, Referral
from spasticity.admin import ClinicalRecordAdmin


@admin.register(Patient)
class PatientAdmin(ClinicalRecordAdmin):
    list_display = ["mrn", "family_name", "given_name", "diagnosis", "pathway_stage", "voided_at"]
    search_fields = ["mrn", "family_name", "given_name"]


@admin.register(Caregiver)
class CaregiverAdmin(ClinicalRecordAdmin):
    list_display = ["patient", "name", "relationship", "is_legal_guardian", "voided_at"]
    list_select_related = ["patient"]
    search_fields = ["patient__mrn", "name"]


@admin.register(OralMedicine)
class OralMedicineAdmin(ClinicalRecordAdmin):
    list_display = ["patient", "drug", "voided_at"]
    list_select_related = ["patient"]
    search_fields = ["patient__mrn"]


@admin.register(Referral)
class ReferralAdmin(ClinicalRecordAdmin):
    list_display = ["patient", "received_on", "status", "voided_at"]
    list_select_related = ["patient"]
