"""Trials and goals API (spec section 5). Thin: saves go through the services.

* ``trials``: nested ``assessments``, ``spasm_scores`` and ``adverse_events``; read-only
  ``peak_mas_reduction``, ``peak_minutes``, ``suggested_outcome`` and the signed outcome.
  A nested list, when sent, is the whole set: listed scores are created or changed and
  unlisted ones voided. ``POST trials/{id}/sign-off/`` (rehab doctors) and
  ``POST trials/{id}/amend/`` (rehab doctors, signed trials, with a reason).
* ``goals``: nested ``reviews`` (the whole set when sent).
* ``GET patients/{id}/goal-attainment/?on=YYYY-MM-DD`` → ``{"t_score", "goals"}``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import routers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from access_log.recording import AccessLoggedMixin
from patients.models import Patient
from spasticity.api_base import AuditedSerializer, AuditedViewSet
from spasticity.audit import STALE_EDIT_MESSAGE, StaleEditError, check_version
from spasticity.params import BoundedDateField
from spasticity.roles import PERMS
from spasticity.timeutil import clinic_today
from trials import selectors, services
from trials.models import (
    MAX_MINUTES_AFTER_BOLUS,
    NEGATIVE_MINUTES_MESSAGE,
    AdverseEventKind,
    GasLevel,
    Goal,
    MuscleGroup,
    PennSpasmScore,
    Route,
    Side,
    Trial,
    TrialOutcome,
    level_description_errors,
    mas_grade_message,
    mas_grade_values,
)
from trials.services import ReviewInput, ToneCell, TrialObservations

PLAN_FIELDS = frozenset(
    {
        "patient",
        "performed_on",
        "planned_start_time",
        "bolus_dose_mcg",
        "bolus_confirmation_reason",
        "route",
        "team_present",
    }
)


def minutes_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=0, max_value=MAX_MINUTES_AFTER_BOLUS, error_messages={"min_value": NEGATIVE_MINUTES_MESSAGE}
    )


class ToneAssessmentSerializer(serializers.Serializer):  # type: ignore[type-arg]
    muscle_group = serializers.ChoiceField(choices=MuscleGroup.choices)
    side = serializers.ChoiceField(choices=Side.choices)
    minutes_after_bolus = minutes_field()
    mas = serializers.CharField(help_text="Modified Ashworth grade as given: 0, 1, 1+, 2, 3 or 4")

    def validate_mas(self, value: str) -> str:
        if value not in mas_grade_values():
            raise serializers.ValidationError(mas_grade_message())
        return value


class SpasmScoreSerializer(serializers.Serializer):  # type: ignore[type-arg]
    minutes_after_bolus = minutes_field()
    frequency = serializers.ChoiceField(choices=PennSpasmScore.Frequency.choices)


class AdverseEventSerializer(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.ChoiceField(choices=AdverseEventKind.choices)
    other = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["kind"] == AdverseEventKind.OTHER and not attrs.get("other", "").strip():
            raise serializers.ValidationError({"other": ["Describe the other adverse event."]})
        return attrs


def _cells(assessments: list[dict[str, Any]]) -> list[ToneCell]:
    return [ToneCell(a["muscle_group"], a["side"], a["minutes_after_bolus"], a["mas"]) for a in assessments]


class TrialSerializer(AuditedSerializer):
    assessments = ToneAssessmentSerializer(many=True, required=False, source="active_assessments")
    spasm_scores = SpasmScoreSerializer(many=True, required=False, source="active_spasm_scores")
    adverse_events = AdverseEventSerializer(many=True, required=False)
    peak_mas_reduction = serializers.DecimalField(
        max_digits=4, decimal_places=2, read_only=True, allow_null=True, source="response.peak_mas_reduction"
    )
    peak_minutes = serializers.IntegerField(read_only=True, allow_null=True, source="response.peak_minutes")
    suggested_outcome = serializers.ChoiceField(
        choices=["positive", "negative", "incomplete"], read_only=True, source="response.suggested_outcome"
    )
    signed_by = serializers.SlugRelatedField(  # type: ignore[var-annotated]
        slug_field="username", read_only=True, allow_null=True, help_text="Null until a rehab doctor signs"
    )
    # Blank until signed: declared so that the schema's enum includes "".
    outcome = serializers.ChoiceField(choices=TrialOutcome.choices, read_only=True, allow_blank=True)

    class Meta:
        model = Trial
        fields = [
            "id",
            "patient",
            "performed_on",
            "planned_start_time",
            "bolus_dose_mcg",
            "bolus_confirmation_reason",
            "route",
            "team_present",
            "fluoroscopy_used",
            "video_recorded",
            "adverse_events",
            "assessments",
            "spasm_scores",
            "peak_mas_reduction",
            "peak_minutes",
            "suggested_outcome",
            "outcome",
            "outcome_note",
            "signed_by",
            "signed_at",
            "effective_bolus_mcg",
            "version",
            "change_reason",
            "voided",
        ]
        read_only_fields = ["outcome_note", "signed_at", "effective_bolus_mcg"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if self.instance is not None and "patient" in attrs and attrs["patient"] != self.instance.patient:
            raise serializers.ValidationError({"patient": ["A trial cannot move to another patient; void it instead."]})
        if "adverse_events" in attrs:
            attrs["adverse_events"] = [dict(event) for event in attrs["adverse_events"]]
        return attrs


class SignOffSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The outcome, and optionally the observations to save with it (what is not sent is kept)."""

    outcome = serializers.ChoiceField(choices=TrialOutcome.choices)
    note = serializers.CharField(allow_blank=True, required=False, default="")
    version = serializers.IntegerField(required=False, help_text="The trial's version you read (optional)")
    # default=None: an absent flag keeps what is recorded, in JSON and in form posts alike.
    fluoroscopy_used = serializers.BooleanField(required=False, allow_null=True, default=None)
    video_recorded = serializers.BooleanField(required=False, allow_null=True, default=None)
    adverse_events = AdverseEventSerializer(
        many=True, required=False, help_text="The whole list, saved before the signature; [] clears it"
    )
    change_reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200, help_text="Why the observations changed"
    )

    def observations(self) -> TrialObservations:
        data = self.validated_data
        events = data.get("adverse_events")
        return TrialObservations(
            fluoroscopy_used=data["fluoroscopy_used"],
            video_recorded=data["video_recorded"],
            adverse_events=None if events is None else [dict(event) for event in events],
        )


class AmendSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = serializers.CharField()
    version = serializers.IntegerField(required=False)
    outcome = serializers.ChoiceField(choices=TrialOutcome.choices, required=False)
    outcome_note = serializers.CharField(required=False, allow_blank=True)
    performed_on = serializers.DateField(required=False)
    planned_start_time = serializers.TimeField(required=False)
    bolus_dose_mcg = serializers.DecimalField(max_digits=5, decimal_places=1, required=False)
    bolus_confirmation_reason = serializers.CharField(required=False, allow_blank=True)
    route = serializers.ChoiceField(choices=Route.choices, required=False)
    team_present = serializers.CharField(required=False, allow_blank=True, max_length=300)
    fluoroscopy_used = serializers.BooleanField(required=False)
    video_recorded = serializers.BooleanField(required=False)
    adverse_events = AdverseEventSerializer(many=True, required=False)
    assessments = ToneAssessmentSerializer(many=True, required=False, help_text="The whole corrected grid")


class TrialViewSet(AccessLoggedMixin, AuditedViewSet):
    """Trials. Anyone who records tone may add scores and observations; changing the plan
    needs the planning permission; only rehab doctors sign off and amend."""

    serializer_class = TrialSerializer
    write_permission = PERMS.RECORD_TONE
    action_permissions = {
        "create": PERMS.PLAN_TRIAL,
        "sign_off": PERMS.SIGN_TRIAL,
        "amend": PERMS.SIGN_TRIAL,
        "void": PERMS.VOID_TRIAL,
    }
    filterset_fields = ["patient", "performed_on", "outcome"]

    def get_queryset(self) -> Any:
        return selectors.trial_api_queryset()

    def _save(self, serializer: Any, *, expected_version: int | None) -> None:
        data = dict(serializer.validated_data)
        reason = data.pop("change_reason", "")
        data.pop("version", None)
        assessments = data.pop("active_assessments", None)
        spasm_scores = data.pop("active_spasm_scores", None)
        trial: Trial = serializer.instance or Trial()
        by = self.request.user
        changed = {field for field, value in data.items() if trial.pk is None or getattr(trial, field) != value}
        if trial.pk and changed & PLAN_FIELDS and not by.has_perm(PERMS.PLAN_TRIAL):
            raise PermissionDenied("Changing the trial's plan (date, dose, route, team) needs the planning role.")
        for field, value in data.items():
            setattr(trial, field, value)
        with transaction.atomic():
            if trial.pk is None or changed & PLAN_FIELDS:
                services.trial_plan(trial, by=by, expected_version=expected_version, reason=reason)
            elif changed:
                services.trial_observations_save(trial, by=by, expected_version=expected_version, reason=reason)
            else:
                check_version(trial, expected_version)
            if assessments is not None:
                services.trial_scores_replace(trial, by=by, cells=_cells(assessments), reason=reason)
            for spasm in spasm_scores or []:
                services.trial_spasm_score_set(
                    trial, by=by, minutes_after_bolus=spasm["minutes_after_bolus"], frequency=spasm["frequency"]
                )
        serializer.instance = selectors.trial_api_queryset().get(pk=trial.pk)

    @extend_schema(request=SignOffSerializer, responses=TrialSerializer)
    @action(detail=True, methods=["post"], url_path="sign-off")
    def sign_off(self, request: Request, pk: str | None = None) -> Response:
        """A rehab doctor signs the outcome (positive, negative, inconclusive) with a note.

        Observations sent with it (``fluoroscopy_used``, ``video_recorded``, ``adverse_events``)
        are saved first, in the same transaction, as the trial page's Sign button does."""
        trial = self.get_object()
        body = SignOffSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.trial_sign_off(
                trial,
                by=request.user,
                outcome=body.validated_data["outcome"],
                note=body.validated_data["note"],
                observations=body.observations(),
                observations_reason=body.validated_data["change_reason"],
                expected_version=body.validated_data.get("version"),
            )
        except StaleEditError:
            return Response({"version": [STALE_EDIT_MESSAGE]}, status=status.HTTP_409_CONFLICT)
        return Response(TrialSerializer(self.get_queryset().get(pk=trial.pk)).data)

    @extend_schema(request=AmendSerializer, responses=TrialSerializer)
    @action(detail=True, methods=["post"])
    def amend(self, request: Request, pk: str | None = None) -> Response:
        """A rehab doctor corrects a signed trial, with a reason; ``assessments`` is the whole grid."""
        trial = self.get_object()
        body = AmendSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        reason, version = data.pop("reason"), data.pop("version", None)
        cells = None
        if "assessments" in data:
            cells = _cells(data.pop("assessments"))
            listed = {cell.key for cell in cells}
            cells += [
                ToneCell(s.muscle_group, s.side, s.minutes_after_bolus, "")
                for s in trial.active_assessments
                if (s.muscle_group, s.side, s.minutes_after_bolus) not in listed
            ]
        if "adverse_events" in data:
            data["adverse_events"] = [dict(event) for event in data["adverse_events"]]
        try:
            services.trial_amend(
                trial, by=request.user, reason=reason, changes=data, cells=cells or (), expected_version=version
            )
        except StaleEditError:
            return Response({"version": [STALE_EDIT_MESSAGE]}, status=status.HTTP_409_CONFLICT)
        return Response(TrialSerializer(self.get_queryset().get(pk=trial.pk)).data)


class GoalReviewSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reviewed_on = serializers.DateField()
    level = serializers.ChoiceField(choices=GasLevel.choices, help_text="The GAS level reached, -2 to 2")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class GoalSerializer(AuditedSerializer):
    reviews = GoalReviewSerializer(many=True, required=False, source="active_reviews")
    weight = serializers.IntegerField(read_only=True)

    class Meta:
        model = Goal
        fields = [
            "id",
            "patient",
            "domain",
            "description",
            "set_on",
            "level_descriptions",
            "importance",
            "difficulty",
            "weight",
            "baseline_level",
            "reviews",
            "version",
            "change_reason",
            "voided",
        ]

    def validate_level_descriptions(self, value: Any) -> Any:
        problems = level_description_errors(value)
        if problems:
            raise serializers.ValidationError(problems)
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        set_on = attrs.get("set_on") or getattr(self.instance, "set_on", None)
        reviews = attrs.get("active_reviews")
        if set_on and reviews:
            # Keyed by position, like DRF's own errors for nested lists.
            message = f"A review cannot be dated before the goal was set ({set_on:%Y-%m-%d})."
            errors = {str(i): {"reviewed_on": [message]} for i, r in enumerate(reviews) if r["reviewed_on"] < set_on}
            if errors:
                raise serializers.ValidationError({"reviews": errors})
        return attrs


class GoalViewSet(AuditedViewSet):
    serializer_class = GoalSerializer
    write_permission = PERMS.MANAGE_GOAL
    filterset_fields = ["patient", "domain"]

    def get_queryset(self) -> Any:
        return Goal.objects.prefetch_related("reviews").order_by("patient_id", "set_on", "pk")

    def _save(self, serializer: Any, *, expected_version: int | None) -> None:
        data = dict(serializer.validated_data)
        reason = data.pop("change_reason", "")
        data.pop("version", None)
        reviews = data.pop("active_reviews", None)
        goal: Goal = serializer.instance or Goal()
        for field, value in data.items():
            setattr(goal, field, value)
        with transaction.atomic():
            services.goal_save(goal, by=self.request.user, expected_version=expected_version, reason=reason)
            if reviews is not None:
                wanted = [ReviewInput(r["reviewed_on"], r["level"], r.get("note", "")) for r in reviews]
                services.goal_reviews_replace(goal, by=self.request.user, reviews=wanted, reason=reason)
        serializer.instance = self.get_queryset().get(pk=goal.pk)


class GoalLevelSerializer(serializers.Serializer):  # type: ignore[type-arg]
    goal = serializers.IntegerField(source="goal.pk")
    domain = serializers.CharField(source="goal.domain")
    description = serializers.CharField(source="goal.description")
    level = serializers.IntegerField()
    weight = serializers.IntegerField()
    reviewed_on = serializers.DateField(allow_null=True, help_text="The review the level comes from; null: baseline")


class GoalAttainmentSerializer(serializers.Serializer):  # type: ignore[type-arg]
    on = serializers.DateField()
    t_score = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    goals = GoalLevelSerializer(many=True)


class OnDateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    on = BoundedDateField(required=False, help_text="YYYY-MM-DD; today when absent")


class GoalAttainmentViewSet(AccessLoggedMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """``GET patients/{id}/goal-attainment/?on=`` beside the patients resource (read-only)."""

    queryset = Patient.objects.all()
    serializer_class = GoalAttainmentSerializer

    @extend_schema(
        parameters=[OnDateSerializer],
        responses=GoalAttainmentSerializer,
    )
    @action(detail=True, methods=["get"], url_path="goal-attainment")
    def goal_attainment(self, request: Request, pk: str | None = None) -> Response:
        """The patient's GAS T-score on a date, and each goal's level then."""
        patient = self.get_object()
        query = OnDateSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        on = query.validated_data.get("on") or clinic_today()
        attainment = selectors.goal_attainment(selectors.patient_goals(patient.pk), on=on)
        return Response(GoalAttainmentSerializer(attainment).data)


def register(router: routers.DefaultRouter) -> None:
    router.register("trials", TrialViewSet, basename="trial")
    router.register("goals", GoalViewSet, basename="goal")
    router.register("patients", GoalAttainmentViewSet, basename="patient-goal-attainment")
