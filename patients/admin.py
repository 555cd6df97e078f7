from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from patients.models import Patient, Referral


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):  # type: ignore[type-arg]
    list_display = ["mrn", "family_name", "given_name", "diagnosis", "pathway_stage"]
    search_fields = ["mrn", "family_name", "given_name"]

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Referral)
class ReferralAdmin(SimpleHistoryAdmin):  # type: ignore[type-arg]
    list_display = ["patient", "received_on", "status"]

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
