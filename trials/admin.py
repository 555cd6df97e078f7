from typing import Any

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from trials.models import Goal, GoalReview, ToneAssessment, Trial


class NoDeleteHistoryAdmin(SimpleHistoryAdmin):  # type: ignore[type-arg]
    """Clinical records are voided with a reason, never deleted."""

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Trial)
class TrialAdmin(NoDeleteHistoryAdmin):
    list_display = ["patient", "performed_on", "bolus_dose_mcg", "outcome", "signed_by"]
    list_filter = ["outcome", "performed_on"]
    search_fields = ["patient__mrn", "patient__family_name"]


@admin.register(ToneAssessment)
class ToneAssessmentAdmin(NoDeleteHistoryAdmin):
    list_display = ["trial", "muscle_group", "side", "minutes_after_bolus", "mas", "voided_at"]


@admin.register(Goal)
class GoalAdmin(NoDeleteHistoryAdmin):
    list_display = ["patient", "domain", "set_on", "importance", "difficulty"]


@admin.register(GoalReview)
class GoalReviewAdmin(NoDeleteHistoryAdmin):
    list_display = ["goal", "reviewed_on", "level"]
