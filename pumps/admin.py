from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from pumps.models import DoseChange, Pump, PumpModel, Refill, Surgery

# Read-mostly: writes with rules go through the pages and the API (pumps.services), which
# keep the stored projection right; the admin is for looking, with history.


class NoDeleteAdmin(SimpleHistoryAdmin):  # type: ignore[type-arg]
    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class ReadOnlyAdmin(NoDeleteAdmin):
    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(PumpModel)
class PumpModelAdmin(ReadOnlyAdmin):
    list_display = ["manufacturer", "model", "nominal_battery_life_months", "days_eri_to_eos"]


@admin.register(Pump)
class PumpAdmin(ReadOnlyAdmin):
    list_display = ["serial_number", "patient", "model", "implanted_on", "explanted_on", "alarm_date", "refill_due_on"]
    search_fields = ["serial_number", "patient__mrn", "patient__family_name"]


@admin.register(Surgery)
class SurgeryAdmin(ReadOnlyAdmin):
    list_display = ["patient", "kind", "performed_on", "pump"]


@admin.register(DoseChange)
class DoseChangeAdmin(ReadOnlyAdmin):
    list_display = ["pump", "changed_on", "mode", "daily_dose_mcg", "alarm_date"]


@admin.register(Refill)
class RefillAdmin(ReadOnlyAdmin):
    list_display = ["pump", "refilled_on", "volume_added_ml", "concentration_mcg_per_ml", "delivery_flag", "alarm_date"]
