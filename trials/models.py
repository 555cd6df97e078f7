"""Intrathecal trials, their tone scores, and goals with Goal Attainment Scaling (spec section 2)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from patients.models import Patient, not_in_future
from spasticity.models import ClinicalRecord
from spasticity.roles import PERMS
from trials.response import TrialResponse, trial_response

# A bolus above this needs a written confirmation: the usual escalation tops out at 100 mcg.
BOLUS_CONFIRM_ABOVE_MCG = Decimal("200")
# A signed negative trial at or above this dose means the patient is not a pump candidate.
TOP_ESCALATION_DOSE_MCG = Decimal("100")
DEFAULT_TIMEPOINTS = (0, 60, 120, 240, 360, 480)
MAX_MINUTES_AFTER_BOLUS = 48 * 60
NEGATIVE_MINUTES_MESSAGE = "Minutes after the bolus cannot be negative (0 is the baseline)."


def mas_grade_values() -> dict[str, str]:
    """The clinic's Modified Ashworth grade → number mapping (``settings.CLINIC``)."""
    return {str(grade): str(value) for grade, value in settings.CLINIC["MAS_GRADE_VALUES"].items()}


def mas_grade_message() -> str:
    grades = list(mas_grade_values())
    return f"Not a Modified Ashworth grade: use {', '.join(grades[:-1])} or {grades[-1]}."


def response_of(scores: Any) -> TrialResponse:
    """The trial response rule with the clinic's settings."""
    return trial_response(
        scores,
        grade_values=mas_grade_values(),
        positive_threshold=str(settings.CLINIC["TRIAL_POSITIVE_THRESHOLD"]),
        negative_after_minutes=int(settings.CLINIC["TRIAL_NEGATIVE_AFTER_MINUTES"]),
    )


minutes_validators = [
    MinValueValidator(0, NEGATIVE_MINUTES_MESSAGE),
    MaxValueValidator(MAX_MINUTES_AFTER_BOLUS, "A timepoint more than 48 hours after the bolus is not a trial score."),
]


class Route(models.TextChoices):
    LUMBAR_PUNCTURE = "lumbar_puncture", "Lumbar puncture"
    LUMBAR_CATHETER = "lumbar_catheter", "Lumbar catheter"


class AdverseEventKind(models.TextChoices):
    HEADACHE = "headache", "Headache"
    NAUSEA_VOMITING = "nausea_vomiting", "Nausea or vomiting"
    SLEEPINESS = "sleepiness", "Sleepiness"
    HYPOTONIA = "hypotonia", "Excess hypotonia"
    HYPOTENSION = "hypotension", "Hypotension"
    BLEEDING = "bleeding", "Bleeding"
    INFECTION = "infection", "Infection"
    OTHER = "other", "Other"


class TrialOutcome(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEGATIVE = "negative", "Negative"
    INCONCLUSIVE = "inconclusive", "Inconclusive"


class MuscleGroup(models.TextChoices):
    HIP_ADDUCTORS = "hip_adductors", "Hip adductors"
    HIP_FLEXORS = "hip_flexors", "Hip flexors"
    HAMSTRINGS = "hamstrings", "Hamstrings"
    QUADRICEPS = "quadriceps", "Quadriceps"
    GASTROCSOLEUS = "gastrocsoleus", "Gastrocsoleus"
    ELBOW_FLEXORS = "elbow_flexors", "Elbow flexors"
    WRIST_FLEXORS = "wrist_flexors", "Wrist flexors"
    OTHER = "other", "Other"


class Side(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"


def adverse_event_errors(events: object) -> list[str]:
    """Problems with an ``adverse_events`` value: ``[{"kind": …, "other": …}, …]``."""
    if not isinstance(events, list):
        return ["Adverse events must be a list."]
    problems: list[str] = []
    seen: set[str] = set()
    for event in events:
        kind = event.get("kind") if isinstance(event, dict) else None
        if kind not in AdverseEventKind.values:
            problems.append(f"Unknown adverse event {kind!r}.")
        elif kind in seen:
            problems.append(f"{AdverseEventKind(kind).label} is listed twice.")
        elif kind == AdverseEventKind.OTHER and not str(event.get("other", "")).strip():
            problems.append("Describe the other adverse event.")
        seen.add(str(kind))
    return problems


class Trial(ClinicalRecord):
    """One bolus day. An escalation (50 → 75 → 100 mcg) is a series of trials."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="trials")
    performed_on = models.DateField("Trial date", db_index=True)
    planned_start_time = models.TimeField(
        "Planned bolus time", default=dt.time(7, 30), help_text="The trial day runs about 7 AM to 3 PM."
    )
    bolus_dose_mcg = models.DecimalField("Bolus dose (mcg)", max_digits=5, decimal_places=1)
    bolus_confirmation_reason = models.TextField(
        "Reason for a bolus above 200 mcg", blank=True, help_text="Needed only for a bolus above 200 mcg."
    )
    route = models.CharField(max_length=20, choices=Route.choices, default=Route.LUMBAR_PUNCTURE)
    # Free text: the team often includes people without a login (anaesthetist, radiographer).
    team_present = models.CharField(
        max_length=300, blank=True, help_text="Names and roles, e.g. Dr Doyle (rehab), N. Nash (nurse)"
    )
    fluoroscopy_used = models.BooleanField(default=False)
    video_recorded = models.BooleanField(default=False)
    # [{"kind": "headache", "other": ""}, {"kind": "other", "other": "dizziness"}]
    adverse_events = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=12, choices=TrialOutcome.choices, blank=True, db_index=True)
    outcome_note = models.TextField(blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    # The bolus that worked, recorded when a positive outcome is signed; the pump's starting
    # daily dose is suggested from it (2 × bolus).
    effective_bolus_mcg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)

    WRITE_PERMISSION = PERMS.PLAN_TRIAL
    VOID_PERMISSION = PERMS.VOID_TRIAL

    class Meta:
        ordering = ["-performed_on", "-pk"]

    def __str__(self) -> str:
        return f"trial of {self.bolus_dose_mcg.normalize():f} mcg on {self.performed_on:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        return reverse("trials:detail", args=[self.pk])

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.bolus_dose_mcg is not None:
            if self.bolus_dose_mcg <= 0:
                errors["bolus_dose_mcg"] = "The bolus must be more than 0 mcg."
            elif self.bolus_dose_mcg > BOLUS_CONFIRM_ABOVE_MCG and not self.bolus_confirmation_reason.strip():
                errors["bolus_dose_mcg"] = (
                    f"{self.bolus_dose_mcg.normalize():f} mcg is above 200 mcg, far beyond the usual 25–100 mcg "
                    "escalation: give a reason to confirm it."
                )
        problems = adverse_event_errors(self.adverse_events)
        if problems:
            errors["adverse_events"] = problems
        if self.patient_id and self.performed_on and self.performed_on < self.patient.birth_date:
            errors["performed_on"] = "The trial date is before the patient's birth date."
        if errors:
            raise ValidationError(errors)

    @property
    def is_signed(self) -> bool:
        return bool(self.outcome)

    @cached_property
    def active_assessments(self) -> list[ToneAssessment]:
        """Non-voided scores; uses the prefetched ``assessments`` when there are any."""
        return [score for score in self.assessments.all() if not score.is_voided]

    @cached_property
    def active_spasm_scores(self) -> list[PennSpasmScore]:
        return [score for score in self.spasm_scores.all() if not score.is_voided]

    @cached_property
    def response(self) -> TrialResponse:
        return response_of(self.active_assessments)

    @property
    def signed_outcome_differs(self) -> bool:
        return self.is_signed and self.outcome != self.response.suggested_outcome

    def adverse_event_labels(self) -> list[str]:
        labels = []
        for event in self.adverse_events or []:
            kind = event.get("kind")
            if kind == AdverseEventKind.OTHER:
                labels.append(f"Other: {event.get('other', '')}")
            elif kind in AdverseEventKind.values:
                labels.append(AdverseEventKind(kind).label)
        return labels


class ToneAssessment(ClinicalRecord):
    """One Modified Ashworth grade: a muscle group and side at minutes after the bolus."""

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="assessments")
    muscle_group = models.CharField(max_length=20, choices=MuscleGroup.choices)
    side = models.CharField(max_length=5, choices=Side.choices)
    minutes_after_bolus = models.IntegerField(validators=minutes_validators, help_text="0 is the baseline")
    # Stored exactly as given ("1+"); the numeric mapping is a clinic setting.
    mas = models.CharField("MAS grade", max_length=3)

    WRITE_PERMISSION = PERMS.RECORD_TONE

    class Meta:
        ordering = ["trial", "minutes_after_bolus", "muscle_group", "side"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "muscle_group", "side", "minutes_after_bolus"],
                condition=models.Q(voided_at__isnull=True),
                name="trials_one_active_score_per_cell",
                violation_error_message="This muscle, side and timepoint already has a score.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_muscle_group_display()} {self.side} at {self.minutes_after_bolus} min: MAS {self.mas}"

    def clean(self) -> None:
        if self.mas not in mas_grade_values():
            raise ValidationError({"mas": mas_grade_message()})


class PennSpasmScore(ClinicalRecord):
    """Penn spasm frequency (0 none … 4 more than 10 an hour) at minutes after the bolus."""

    class Frequency(models.IntegerChoices):
        NONE = 0, "0: none"
        INDUCED = 1, "1: mild, induced by stimulation"
        LESS_THAN_HOURLY = 2, "2: full spasms less than once an hour"
        MORE_THAN_HOURLY = 3, "3: more than once an hour"
        MORE_THAN_10_HOURLY = 4, "4: more than 10 an hour"

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="spasm_scores")
    minutes_after_bolus = models.IntegerField(validators=minutes_validators)
    frequency = models.PositiveSmallIntegerField(choices=Frequency.choices)

    WRITE_PERMISSION = PERMS.RECORD_TONE

    class Meta:
        ordering = ["trial", "minutes_after_bolus"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "minutes_after_bolus"],
                condition=models.Q(voided_at__isnull=True),
                name="trials_one_active_spasm_score_per_timepoint",
                violation_error_message="This timepoint already has a spasm frequency.",
            )
        ]

    def __str__(self) -> str:
        return f"Penn spasm frequency {self.frequency} at {self.minutes_after_bolus} min"


class TrialAmendment(ClinicalRecord):
    """A correction to a signed trial: who, why, and what changed (the rows' histories hold the detail)."""

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="amendments")
    amended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    summary = models.TextField()

    WRITE_PERMISSION = PERMS.SIGN_TRIAL

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Amendment of {self.trial}: {self.reason}"


class GoalDomain(models.TextChoices):
    COMFORT = "comfort", "Comfort"
    EASIER_CARE = "easier_care", "Easier care"
    SELF_CARE = "self_care", "Self-care"
    SEATING = "seating", "Seating"
    POSITIONING = "positioning", "Positioning"
    FLOOR_MOBILITY = "floor_mobility", "Floor mobility"
    TRANSFERS = "transfers", "Transfers"
    POWER_WHEELCHAIR = "power_wheelchair", "Power wheelchair"
    WALKING = "walking", "Walking"
    MOTOR_SKILLS = "motor_skills", "Motor skills"
    SPEECH = "speech", "Speech"
    SLEEP = "sleep", "Sleep"
    OTHER = "other", "Other"


class GasLevel(models.IntegerChoices):
    MUCH_LESS = -2, "−2 much less than expected"
    SOMEWHAT_LESS = -1, "−1 somewhat less than expected"
    EXPECTED = 0, "0 expected outcome"
    SOMEWHAT_MORE = 1, "+1 somewhat more than expected"
    MUCH_MORE = 2, "+2 much more than expected"


class BaselineLevel(models.IntegerChoices):
    SOMEWHAT_LESS = -1, "−1 (usual)"
    MUCH_LESS = -2, "−2 (no worse state is possible)"


LEVEL_KEYS = ("-2", "-1", "0", "1", "2")
rating_validators = [MinValueValidator(0, "Rate from 0 to 3."), MaxValueValidator(3, "Rate from 0 to 3.")]


def level_description_errors(descriptions: object) -> list[str]:
    if not isinstance(descriptions, dict):
        return ['Give the level descriptions as {"-2": …, "-1": …, "0": …, "1": …, "2": …}.']
    problems = [f"{key!r} is not a GAS level (use -2, -1, 0, 1, 2)." for key in descriptions if key not in LEVEL_KEYS]
    problems += [
        f"The description of level {k} must be text." for k, v in descriptions.items() if not isinstance(v, str)
    ]
    if not str(descriptions.get("0") or "").strip():
        problems.append('Describe the expected outcome (level "0").')
    return problems


class Goal(ClinicalRecord):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="goals")
    domain = models.CharField(max_length=20, choices=GoalDomain.choices)
    description = models.TextField()
    set_on = models.DateField("Set on")
    level_descriptions = models.JSONField(default=dict)
    importance = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=rating_validators, help_text="0–3; leave both ratings empty for weight 1"
    )
    difficulty = models.PositiveSmallIntegerField(null=True, blank=True, validators=rating_validators)
    baseline_level = models.SmallIntegerField(choices=BaselineLevel.choices, default=BaselineLevel.SOMEWHAT_LESS)

    WRITE_PERMISSION = PERMS.MANAGE_GOAL

    class Meta:
        ordering = ["set_on", "pk"]

    def __str__(self) -> str:
        return f"{self.get_domain_display()} goal set {self.set_on:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        return reverse("goals:patient_goals", args=[self.patient_id])

    def clean(self) -> None:
        errors: dict[str, Any] = not_in_future(self.set_on, "set_on", "The date the goal was set")
        problems = level_description_errors(self.level_descriptions)
        if problems:
            errors["level_descriptions"] = problems
        if errors:
            raise ValidationError(errors)

    @property
    def weight(self) -> int:
        from trials.gas import goal_weight

        return goal_weight(self.importance, self.difficulty)

    @cached_property
    def active_reviews(self) -> list[GoalReview]:
        """Non-voided reviews, oldest first; uses the prefetched ``reviews`` when there are any."""
        return sorted((r for r in self.reviews.all() if not r.is_voided), key=lambda r: (r.reviewed_on, r.pk))

    def level_description(self, level: int) -> str:
        return str((self.level_descriptions or {}).get(str(level), ""))


class GoalReview(ClinicalRecord):
    goal = models.ForeignKey(Goal, on_delete=models.PROTECT, related_name="reviews")
    reviewed_on = models.DateField("Reviewed on")
    level = models.SmallIntegerField("Level reached", choices=GasLevel.choices)
    note = models.TextField(blank=True)

    WRITE_PERMISSION = PERMS.MANAGE_GOAL

    class Meta:
        ordering = ["reviewed_on", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["goal", "reviewed_on"],
                condition=models.Q(voided_at__isnull=True),
                name="trials_one_active_review_per_goal_per_day",
                violation_error_message="This goal already has a review on that date.",
            )
        ]

    def __str__(self) -> str:
        return f"Review on {self.reviewed_on:%Y-%m-%d}: level {self.level:+d}"

    def get_absolute_url(self) -> str:
        return reverse("goals:patient_goals", args=[self.goal.patient_id])

    def clean(self) -> None:
        errors: dict[str, Any] = not_in_future(self.reviewed_on, "reviewed_on", "The review date")
        if self.goal_id and self.reviewed_on and self.reviewed_on < self.goal.set_on:
            errors["reviewed_on"] = f"A review cannot be dated before the goal was set ({self.goal.set_on:%Y-%m-%d})."
        if errors:
            raise ValidationError(errors)
