"""Trials and goals in the admin: read-only, with history (``spasticity.admin``).

A signed trial changes only through an amendment (``trials.services``), never here.
"""

from django.contrib import admin

from spasticity.admin import ClinicalRecordAdmin
from trials.models import Goal, GoalReview, PennSpasmScore, ToneAssessment, Trial, TrialAmendment


@admin.register(Trial)
class TrialAdmin(ClinicalRecordAdmin):
    list_display = ["patient", "performed_on", "bolus_dose_mcg", "outcome", "signed_by", "voided_at"]
    list_filter = ["outcome", "performed_on"]
    list_select_related = ["patient", "signed_by"]
    search_fields = ["patient__mrn", "patient__family_name"]


@admin.register(ToneAssessment)
class ToneAssessmentAdmin(ClinicalRecordAdmin):
    list_display = ["trial", "muscle_group", "side", "minutes_after_bolus", "mas", "voided_at"]
    list_select_related = ["trial"]


@admin.register(PennSpasmScore)
class PennSpasmScoreAdmin(ClinicalRecordAdmin):
    list_display = ["trial", "minutes_after_bolus", "frequency", "voided_at"]
    list_select_related = ["trial"]


@admin.register(TrialAmendment)
class TrialAmendmentAdmin(ClinicalRecordAdmin):
    list_display = ["trial", "amended_by", "created_at"]
    list_select_related = ["trial", "amended_by"]


@admin.register(Goal)
class GoalAdmin(ClinicalRecordAdmin):
    list_display = ["patient", "domain", "set_on", "importance", "difficulty", "voided_at"]
    list_select_related = ["patient"]


@admin.register(GoalReview)
class GoalReviewAdmin(ClinicalRecordAdmin):
    list_display = ["goal", "reviewed_on", "level", "voided_at"]
    list_select_related = ["goal"]
