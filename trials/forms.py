"""Forms for trials and goals. Thin: the rules live in the models' clean() and the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from spasticity.forms import AuditedModelForm, DateInput
from trials.escalation import BolusSuggestion
from trials.models import (
    LEVEL_KEYS,
    AdverseEventKind,
    GasLevel,
    Goal,
    GoalReview,
    MuscleGroup,
    Route,
    Side,
    Trial,
    TrialOutcome,
)
from trials.services import TrialObservations


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", **kwargs)


class ClinicalModelForm(AuditedModelForm):
    """Model validation errors on fields this form does not show land on the form itself.

    (Django raises ValueError for a model error keyed to a field missing from the form.)
    """

    def _update_errors(self, errors: ValidationError) -> None:
        if hasattr(errors, "error_dict"):
            remapped: dict[str, list[Any]] = {}
            for field, messages in errors.error_dict.items():
                key = field if field in self.fields or field == NON_FIELD_ERRORS else NON_FIELD_ERRORS
                remapped.setdefault(key, []).extend(messages)
            errors = ValidationError(remapped)
        super()._update_errors(errors)  # type: ignore[misc]


class TrialPlanForm(ClinicalModelForm):
    submit_label = "Save the plan"

    class Meta:
        model = Trial
        fields = [
            "performed_on",
            "planned_start_time",
            "bolus_dose_mcg",
            "bolus_confirmation_reason",
            "route",
            "team_present",
        ]
        widgets = {
            "performed_on": DateInput(),
            "planned_start_time": TimeInput(),
            "bolus_confirmation_reason": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, suggestion: BolusSuggestion | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["bolus_dose_mcg"].widget.attrs.update(min="0", step="0.5")
        if suggestion is not None:
            self.fields["bolus_dose_mcg"].help_text = f"Suggested: {_dose(suggestion)}. {suggestion.explanation}"
            if suggestion.dose_mcg is not None and not self.is_bound and self.instance.pk is None:
                self.initial["bolus_dose_mcg"] = suggestion.dose_mcg


def _dose(suggestion: BolusSuggestion) -> str:
    return f"{suggestion.dose_mcg.normalize():f} mcg" if suggestion.dose_mcg is not None else "none"


class AdverseEventFieldsMixin(forms.Form):
    """Adverse events as checkboxes plus the text for "other"; builds the JSON list."""

    adverse_event_kinds = forms.MultipleChoiceField(
        label="Adverse events",
        choices=AdverseEventKind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    adverse_event_other = forms.CharField(label="Other adverse event", required=False, max_length=200)

    def initial_adverse_events(self, events: list[dict[str, str]]) -> None:
        self.initial.setdefault("adverse_event_kinds", [e.get("kind") for e in events])
        other = next((e.get("other", "") for e in events if e.get("kind") == AdverseEventKind.OTHER), "")
        self.initial.setdefault("adverse_event_other", other)

    def adverse_events_value(self) -> list[dict[str, str]]:
        kinds = self.cleaned_data.get("adverse_event_kinds") or []
        other = (self.cleaned_data.get("adverse_event_other") or "").strip()
        if AdverseEventKind.OTHER in kinds and not other:
            self.add_error("adverse_event_other", "Describe the other adverse event.")
        return [
            {"kind": kind, "other": other if kind == AdverseEventKind.OTHER else ""}
            for kind in AdverseEventKind.values
            if kind in kinds
        ]


class TrialObservationsForm(AdverseEventFieldsMixin, ClinicalModelForm):
    submit_label = "Save observations"

    class Meta:
        model = Trial
        fields = ["fluoroscopy_used", "video_recorded"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial_adverse_events(self.instance.adverse_events or [])
        self.order_fields(["fluoroscopy_used", "video_recorded", "adverse_event_kinds", "adverse_event_other"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.instance.adverse_events = self.adverse_events_value()
        return cleaned

    def observations(self) -> TrialObservations:
        """The observations as entered (after ``is_valid()``), for a sign-off that saves them."""
        return TrialObservations(
            fluoroscopy_used=self.cleaned_data["fluoroscopy_used"],
            video_recorded=self.cleaned_data["video_recorded"],
            adverse_events=self.instance.adverse_events,
        )


class SignOffForm(forms.Form):
    outcome = forms.ChoiceField(choices=TrialOutcome.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="What the team saw and why this outcome."
    )
    version = forms.IntegerField(widget=forms.HiddenInput)
    # On the trial page the Sign button submits the observations form (HTML ``form``
    # attribute), whose hidden ``with_observations`` says its fields came along to be saved.
    with_observations = forms.BooleanField(required=False, widget=forms.HiddenInput)


class ToneCellForm(forms.Form):
    """One grid cell posted by htmx; the grade itself is checked by the service."""

    muscle_group = forms.ChoiceField(choices=MuscleGroup.choices)
    side = forms.ChoiceField(choices=Side.choices)
    minutes_after_bolus = forms.IntegerField()
    mas = forms.CharField(required=False, max_length=10)
    version = forms.IntegerField(required=False)

    def clean_mas(self) -> str:
        # "1 +" and " 2 " are what a quick typist means; anything else is checked as given.
        return "".join(str(self.cleaned_data.get("mas") or "").split())


class SpasmCellForm(forms.Form):
    minutes_after_bolus = forms.IntegerField()
    frequency = forms.CharField(required=False, max_length=10)
    version = forms.IntegerField(required=False)


class AddTimepointForm(forms.Form):
    add = forms.IntegerField(
        label="Add a timepoint (minutes after the bolus)",
        min_value=0,
        max_value=48 * 60,
        error_messages={"min_value": "Minutes after the bolus cannot be negative (0 is the baseline)."},
    )


def cell_field_name(muscle_group: str, side: str, minutes: int) -> str:
    return f"cell__{muscle_group}__{side}__{minutes}"


class TrialAmendForm(AdverseEventFieldsMixin, forms.Form):
    """A doctor's correction of a signed trial: a reason, the fields, and the grid's grades."""

    reason = forms.CharField(
        label="Reason for the amendment", widget=forms.Textarea(attrs={"rows": 2}), help_text="Recorded in the audit."
    )
    outcome = forms.ChoiceField(choices=TrialOutcome.choices)
    outcome_note = forms.CharField(label="Outcome note", widget=forms.Textarea(attrs={"rows": 2}), required=False)
    performed_on = forms.DateField(label="Trial date", widget=DateInput())
    bolus_dose_mcg = forms.DecimalField(label="Bolus dose (mcg)", max_digits=5, decimal_places=1)
    bolus_confirmation_reason = forms.CharField(label="Reason for a bolus above 200 mcg", required=False)
    route = forms.ChoiceField(choices=Route.choices)
    fluoroscopy_used = forms.BooleanField(required=False)
    video_recorded = forms.BooleanField(required=False)
    version = forms.IntegerField(widget=forms.HiddenInput)

    FIELD_NAMES = (
        "outcome",
        "outcome_note",
        "performed_on",
        "bolus_dose_mcg",
        "bolus_confirmation_reason",
        "route",
        "fluoroscopy_used",
        "video_recorded",
    )

    def __init__(self, *args: Any, trial: Trial, timepoints: tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trial = trial
        for name in self.FIELD_NAMES:
            self.initial.setdefault(name, getattr(trial, name))
        self.initial.setdefault("version", trial.version)
        self.initial_adverse_events(trial.adverse_events or [])
        scores = {(s.muscle_group, s.side, s.minutes_after_bolus): s.mas for s in trial.active_assessments}
        self.cell_keys: list[tuple[str, str, int]] = []
        for muscle in MuscleGroup.values:
            for side in Side.values:
                for minutes in timepoints:
                    name = cell_field_name(muscle, side, minutes)
                    self.fields[name] = forms.CharField(required=False, max_length=10)
                    self.initial.setdefault(name, scores.get((muscle, side, minutes), ""))
                    self.cell_keys.append((muscle, side, minutes))

    def changes(self) -> dict[str, Any]:
        changes = {name: self.cleaned_data[name] for name in self.FIELD_NAMES}
        changes["outcome_note"] = changes["outcome_note"].strip()
        changes["adverse_events"] = self.adverse_events_value()
        return changes

    def changed_cells(self) -> list[tuple[str, str, int, str]]:
        """(muscle, side, minutes, grade) for every cell whose grade differs from the record."""
        scores = {(s.muscle_group, s.side, s.minutes_after_bolus): s.mas for s in self.trial.active_assessments}
        changed = []
        for muscle, side, minutes in self.cell_keys:
            value = "".join(str(self.cleaned_data.get(cell_field_name(muscle, side, minutes)) or "").split())
            if value != scores.get((muscle, side, minutes), ""):
                changed.append((muscle, side, minutes, value))
        return changed


class GoalForm(ClinicalModelForm):
    level_minus_2 = forms.CharField(label="−2 much less than expected", required=False)
    level_minus_1 = forms.CharField(label="−1 somewhat less than expected", required=False)
    level_0 = forms.CharField(label="0 expected outcome (the goal)", help_text="Required: what counts as success.")
    level_plus_1 = forms.CharField(label="+1 somewhat more than expected", required=False)
    level_plus_2 = forms.CharField(label="+2 much more than expected", required=False)

    LEVEL_FIELDS = dict(
        zip(LEVEL_KEYS, ["level_minus_2", "level_minus_1", "level_0", "level_plus_1", "level_plus_2"], strict=True)
    )

    class Meta:
        model = Goal
        fields = ["domain", "description", "set_on", "importance", "difficulty", "baseline_level"]
        widgets = {"set_on": DateInput(), "description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, name in self.LEVEL_FIELDS.items():
            self.initial.setdefault(name, (self.instance.level_descriptions or {}).get(key, ""))
        for name in ("importance", "difficulty"):
            self.fields[name].widget.attrs.update(min=0, max=3)
        order = ["domain", "description", "set_on", *self.LEVEL_FIELDS.values(), "importance", "difficulty"]
        self.order_fields([*order, "baseline_level", "change_reason"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.instance.level_descriptions = {
            key: str(cleaned.get(name) or "").strip()
            for key, name in self.LEVEL_FIELDS.items()
            if str(cleaned.get(name) or "").strip()
        }
        return cleaned


class GoalReviewForm(ClinicalModelForm):
    level = forms.TypedChoiceField(label="Level reached", choices=GasLevel.choices, coerce=int)
    submit_label = "Record the review"

    class Meta:
        model = GoalReview
        fields = ["reviewed_on", "level", "note"]
        widgets = {"reviewed_on": DateInput(), "note": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The goal's own five level descriptions are the choices, with none preselected:
        # a default would be recorded whenever the reviewer did not look.
        goal = self.instance.goal if self.instance.goal_id else None
        choices: list[tuple[Any, str]] = [("", "Choose the level reached")]
        for value, label in GasLevel.choices:
            description = goal.level_description(value) if goal else ""
            choices.append((value, f"{label}: {description}" if description else label))
        self.fields["level"].choices = choices  # type: ignore[attr-defined]
        self.initial.pop("level", None)


class GoalAttainmentDateForm(forms.Form):
    on = forms.DateField(label="T-score on", widget=DateInput(), required=False)
