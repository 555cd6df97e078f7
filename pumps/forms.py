"""Forms for surgery, titration visits, refills, pump details and the catalogue.

Thin: they collect and type the input. Every rule lives in the models' ``clean`` and in
``pumps.services``; a service's ValidationError lands on these forms' fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth.models import User
from django.db.models import QuerySet

from pumps.models import Complication, DoseChange, ObservationSign, Pump, PumpModel, Refill, Surgery
from pumps.services import FillDetails, ProgramDetails, SurgeryDetails
from spasticity.access import staff_with_role
from spasticity.forms import AuditedModelForm, DateInput, StaffChoiceField
from spasticity.roles import Role


def surgeons() -> QuerySet[User]:
    return staff_with_role(Role.NEUROSURGEON, Role.REHAB_DOCTOR)


class SurgeryFieldsMixin(forms.Form):
    """Who operated and what went wrong (for every kind of surgery)."""

    surgeon = StaffChoiceField(required=False)
    complications = forms.MultipleChoiceField(
        choices=Complication.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    complications_other = forms.CharField(label="Other complication", max_length=200, required=False)

    def init_surgery_fields(self, user: Any) -> None:
        self.fields["surgeon"].queryset = surgeons()  # type: ignore[attr-defined]
        if user is not None and user.groups.filter(name=Role.NEUROSURGEON.value).exists():
            self.fields["surgeon"].initial = user.pk

    def surgery_details(self, performed_on: Any) -> SurgeryDetails:
        data = self.cleaned_data
        return SurgeryDetails(
            performed_on=performed_on,
            surgeon=data.get("surgeon"),
            complications=list(data.get("complications") or []),
            complications_other=data.get("complications_other", ""),
            notes=data.get("surgery_notes", "") or data.get("notes", ""),
        )


class FirstFillFieldsMixin(forms.Form):
    volume_added_ml = forms.DecimalField(label="Volume added (mL)", max_digits=5, decimal_places=2)
    drug = forms.ChoiceField(choices=Refill.Drug.choices)
    concentration_mcg_per_ml = forms.DecimalField(
        label="Concentration (mcg/mL)",
        max_digits=7,
        decimal_places=2,
        initial=Decimal(500),
        help_text="Standard: 50, 500, 1000 or 2000. Best practice starts pump therapy at 500 mcg/mL.",
    )
    dilution_note = forms.CharField(required=False, help_text="Required for a non-standard concentration")
    lot_number = forms.CharField(max_length=50)

    def fill_details(self) -> FillDetails:
        data = self.cleaned_data
        return FillDetails(
            volume_added_ml=data["volume_added_ml"],
            drug=data["drug"],
            concentration_mcg_per_ml=data["concentration_mcg_per_ml"],
            dilution_note=data.get("dilution_note", ""),
            lot_number=data["lot_number"],
        )


class ImplantForm(SurgeryFieldsMixin, FirstFillFieldsMixin, AuditedModelForm):
    """The pump, the implant surgery, the starting program and the first fill on one page."""

    surgery_notes = forms.CharField(label="Operation notes", widget=forms.Textarea(attrs={"rows": 2}), required=False)
    daily_dose_mcg = forms.DecimalField(
        label="Starting daily dose (mcg/day)",
        max_digits=8,
        decimal_places=2,
        help_text="Usually 2 × the positive trial bolus per day; 1 × if the bolus effect lasted more than 8 hours.",
    )
    confirmation_reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Needed above 1000 mcg/day"
    )
    submit_label = "Record implant"

    class Meta:
        model = Pump
        fields = [
            "model",
            "serial_number",
            "reservoir_volume_ml",
            "low_reservoir_alarm_ml",
            "implanted_on",
            "pump_site",
            "catheter_model",
            "catheter_tip_level",
            "off_label_reason",
            "temporary_card_given_on",
        ]
        widgets = {
            "implanted_on": DateInput(),
            "temporary_card_given_on": DateInput(),
            "off_label_reason": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, user: Any = None, suggested_dose_mcg: Decimal | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.init_surgery_fields(user)
        # Left empty, the service takes the model's default alarm volume (Prometra II 3.0 mL).
        self.fields["low_reservoir_alarm_ml"].required = False
        self.fields["low_reservoir_alarm_ml"].initial = None
        self.fields["low_reservoir_alarm_ml"].help_text = "Leave empty for the model's default"
        if suggested_dose_mcg is not None:
            self.fields["daily_dose_mcg"].initial = suggested_dose_mcg

    def program_details(self) -> ProgramDetails:
        return ProgramDetails(
            daily_dose_mcg=self.cleaned_data["daily_dose_mcg"],
            reason="Starting dose after implant",
            confirmation_reason=self.cleaned_data.get("confirmation_reason", ""),
        )


class ReplaceForm(SurgeryFieldsMixin, FirstFillFieldsMixin, AuditedModelForm):
    """The new pump of a replacement; the old pump's program carries over."""

    performed_on = forms.DateField(label="Date of replacement", widget=DateInput())
    surgery_notes = forms.CharField(label="Operation notes", widget=forms.Textarea(attrs={"rows": 2}), required=False)
    catheter_revised = forms.BooleanField(
        label="The catheter was revised too", required=False, help_text="Otherwise the catheter is kept as it is"
    )
    submit_label = "Record replacement"

    class Meta:
        model = Pump
        fields = [
            "model",
            "serial_number",
            "reservoir_volume_ml",
            "low_reservoir_alarm_ml",
            "pump_site",
            "catheter_model",
            "catheter_tip_level",
            "off_label_reason",
        ]
        widgets = {"off_label_reason": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.init_surgery_fields(user)
        # Left empty, the service decides: a same-model pump keeps the old pump's alarm volume.
        self.fields["low_reservoir_alarm_ml"].required = False
        self.fields["catheter_model"].help_text = "Only when the catheter was revised"
        self.fields["catheter_tip_level"].help_text = "Only when the catheter was revised"


class SurgeryForm(SurgeryFieldsMixin, AuditedModelForm):
    """A catheter revision or an explant."""

    class Meta:
        model = Surgery
        fields = ["performed_on", "notes"]
        widgets = {"performed_on": DateInput(), "notes": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.init_surgery_fields(user)


class CatheterRevisionForm(SurgeryForm):
    catheter_model = forms.CharField(max_length=100, required=False, help_text="Leave empty if unchanged")
    catheter_tip_level = forms.CharField(max_length=20, required=False, help_text="Leave empty if unchanged")
    submit_label = "Record catheter revision"


class ExplantForm(SurgeryForm):
    submit_label = "Record explant"


@dataclass(frozen=True)
class PreviewState:
    """What a live preview of a half-typed form says, beside the dates it shows.

    ``problems``: (field label, message) for values typed wrong, to show as errors.
    ``missing``: labels of fields still empty that saving needs (listed, not shown as errors:
    the user has not reached them yet).
    """

    problems: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


class PreviewFormMixin(forms.BaseForm):
    """The one rule for previews: which fields the dates need (``preview_needs``), and that an
    error on an empty field means "still needed" while one on a typed value is a problem."""

    preview_fields: Sequence[str] = ()

    def preview_needs(self) -> Sequence[str]:
        return self.preview_fields

    def preview_ready(self) -> bool:
        """Validates the form; true when every value the preview computes from is valid."""
        self.is_valid()
        data = self.cleaned_data
        return all(
            name not in self.errors and data.get(name) not in self.fields[name].empty_values
            for name in self.preview_needs()
        )

    def preview_state(
        self, errors: Mapping[str, Sequence[Any]] | None = None, still_needed: Mapping[str, Any] | None = None
    ) -> PreviewState:
        """Sorts this form's errors and a service's (``errors``, ``still_needed``) into problems
        and missing fields; the missing ones in the form's order."""
        missing: set[str] = set()
        problems: list[tuple[str, str]] = []
        for name, messages in [*self.errors.items(), *(errors or {}).items()]:
            if name in self.fields and self._is_empty(name):
                missing.add(name)
                continue
            _add_problems(problems, str(self.fields[name].label) if name in self.fields else "", messages)
        # What the dates need is needed to save as well.
        wanted = [*self.preview_needs(), *(still_needed or {})]
        missing.update(name for name in wanted if name in self.fields and self._is_empty(name))
        # What the save would refuse in a field already typed (a retyped dose that differs) is a problem now.
        for name, messages in (still_needed or {}).items():
            if name in self.fields and not self._is_empty(name):
                _add_problems(problems, str(self.fields[name].label), messages)
        labels = [str(field.label) for name, field in self.fields.items() if name in missing]
        return PreviewState(problems=problems, missing=labels)

    def _is_empty(self, name: str) -> bool:
        """Nothing typed (or an unticked box): the user has not got to this field yet."""
        field = self.fields[name]
        value = field.widget.value_from_datadict(self.data, self.files, self.add_prefix(name))
        return value is False or value in field.empty_values


def _add_problems(problems: list[tuple[str, str]], label: str, messages: Sequence[Any]) -> None:
    """Each message once, with its field's label."""
    problems.extend((label, str(message)) for message in messages if (label, str(message)) not in problems)


PROGRAMMER_FIELDS = ["programmer_alarm_date", "programmer_reservoir_volume_ml", "programmer_daily_dose_mcg"]
PROGRAMMER_WIDGETS = {"programmer_alarm_date": DateInput()}


class DoseChangeForm(PreviewFormMixin, AuditedModelForm):
    """A titration visit: the new program (simple or flex), notes and the next visit."""

    submit_label = "Save the new program"
    retyped_daily_dose_mcg = forms.DecimalField(
        label="Type the new dose again (mcg/day)",
        max_digits=8,
        decimal_places=2,
        required=False,
        help_text="Asked when the dose changes by more than the clinic's hard-stop percentage",
    )

    class Meta:
        model = DoseChange
        fields = [
            "changed_on",
            "mode",
            "daily_dose_mcg",
            "flex_steps",
            "reason",
            "side_effects",
            "tone_notes",
            "confirmation_reason",
            "next_visit_on",
            *PROGRAMMER_FIELDS,
        ]
        widgets = {
            **PROGRAMMER_WIDGETS,
            "changed_on": DateInput(),
            "next_visit_on": DateInput(),
            "mode": forms.RadioSelect,
            "flex_steps": forms.Textarea(attrs={"rows": 3, "data-flex-steps": "json"}),
            "reason": forms.Textarea(attrs={"rows": 2}),
            "side_effects": forms.Textarea(attrs={"rows": 2}),
            "tone_notes": forms.Textarea(attrs={"rows": 2}),
            "confirmation_reason": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.helper.form_id = "dose-form"
        self.fields["daily_dose_mcg"].help_text = "For simple continuous mode; flex programs add up their steps."
        self.fields["flex_steps"].required = False
        self.fields["flex_steps"].help_text = "Set with the 24-hour step editor below."

    def preview_needs(self) -> Sequence[str]:
        """The date and the program: a daily dose, or the flex steps in flex mode."""
        program = "flex_steps" if self.cleaned_data.get("mode") == DoseChange.Mode.FLEX else "daily_dose_mcg"
        return ("changed_on", "mode", program)

    def program_details(self) -> ProgramDetails:
        data = self.cleaned_data
        return ProgramDetails(
            mode=data["mode"],
            daily_dose_mcg=data.get("daily_dose_mcg") if data["mode"] != DoseChange.Mode.FLEX else None,
            flex_steps=data.get("flex_steps") or [],
            reason=data.get("reason", ""),
            confirmation_reason=data.get("confirmation_reason", ""),
            side_effects=data.get("side_effects", ""),
            tone_notes=data.get("tone_notes", ""),
            next_visit_on=data.get("next_visit_on"),
            programmer_alarm_date=data.get("programmer_alarm_date"),
            programmer_reservoir_volume_ml=data.get("programmer_reservoir_volume_ml"),
            programmer_daily_dose_mcg=data.get("programmer_daily_dose_mcg"),
        )


class RefillForm(PreviewFormMixin, AuditedModelForm):
    submit_label = "Save the refill"
    # The new dates need these; the lot number and the checks at the pump can come after.
    preview_fields = ("refilled_on", "volume_added_ml", "drug", "concentration_mcg_per_ml")
    observation_signs = forms.MultipleChoiceField(
        label="Signs seen while observing",
        choices=ObservationSign.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text='Overdose (a pocket fill) or withdrawal; tick "None observed" if none',
    )

    class Meta:
        model = Refill
        fields = [
            "refilled_on",
            "aspirated_volume_ml",
            "volume_added_ml",
            "drug",
            "concentration_mcg_per_ml",
            "dilution_note",
            "lot_number",
            "reservoir_port_access_confirmed",
            "concentration_reprogrammed_confirmed",
            "pump_running_confirmed",
            "observation_minutes",
            "observation_signs",
            *PROGRAMMER_FIELDS,
            "next_refill_appointment_on",
        ]
        widgets = {
            **PROGRAMMER_WIDGETS,
            "refilled_on": DateInput(),
            "next_refill_appointment_on": DateInput(),
            "dilution_note": forms.TextInput(),
        }

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.helper.form_id = "refill-form"
        # The pocket-fill safeguard is the service's rule (pumps.services.PORT_ACCESS_REQUIRED):
        # the page and the API both get its message on this field.

    def fill_details(self) -> FillDetails:
        """The refill as typed so far (the fields that failed to parse left out)."""
        data = self.cleaned_data
        typed = {name: data[name] for name in FILL_FIELDS if data.get(name) is not None}
        return FillDetails(
            volume_added_ml=data["volume_added_ml"],
            drug=data["drug"],
            concentration_mcg_per_ml=data["concentration_mcg_per_ml"],
            **typed,
        )


# FillDetails' optional fields, each one a field of the refill form.
FILL_FIELDS = [
    item.name
    for item in fields(FillDetails)
    if item.name not in ("volume_added_ml", "drug", "concentration_mcg_per_ml")
]


class SecondCheckForm(forms.Form):
    """A colleague's second check of a refill or dose change (the rules are the service's)."""

    verdict = forms.ChoiceField(
        choices=[("agree", "I agree: the programmer matches this record"), ("disagree", "I disagree")],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Required to disagree")
    version = forms.IntegerField(widget=forms.HiddenInput)


class PumpEditForm(AuditedModelForm):
    """Pump details, for the surgical team."""

    class Meta:
        model = Pump
        fields = [
            "serial_number",
            "reservoir_volume_ml",
            "low_reservoir_alarm_ml",
            "implanted_on",
            "pump_site",
            "catheter_model",
            "catheter_tip_level",
            "eri_on",
            "temporary_card_given_on",
            "permanent_card_received_on",
            "emergency_card_given_on",
        ]
        widgets = {
            name: DateInput()
            for name in (
                "implanted_on",
                "eri_on",
                "temporary_card_given_on",
                "permanent_card_received_on",
                "emergency_card_given_on",
            )
        }


class PumpFollowUpForm(AuditedModelForm):
    """What the pump team learns at interrogation and follow-up: ERI, alarm volume, cards."""

    class Meta:
        model = Pump
        fields = [
            "low_reservoir_alarm_ml",
            "eri_on",
            "temporary_card_given_on",
            "permanent_card_received_on",
            "emergency_card_given_on",
        ]
        widgets = {
            name: DateInput()
            for name in ("eri_on", "temporary_card_given_on", "permanent_card_received_on", "emergency_card_given_on")
        }


class ReservoirSizesField(forms.CharField):
    """'20, 40' in the form ↔ [20, 40] in the catalogue."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(str(size) for size in value)
        return value

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        sizes: list[int | float] = []
        for part in str(text).replace(";", ",").split(","):
            if not part.strip():
                continue
            try:
                size = Decimal(part.strip())
            except InvalidOperation:
                raise forms.ValidationError(f"{part.strip()!r} is not a volume in mL.") from None
            sizes.append(int(size) if size == size.to_integral_value() else float(size))
        return sizes


class PumpModelForm(AuditedModelForm):
    reservoir_sizes_ml = ReservoirSizesField(label="Reservoir sizes (mL)", help_text="Separated by commas, e.g. 20, 40")

    class Meta:
        model = PumpModel
        fields = list(PumpModel.EDITABLE_FIELDS)


class NurseChoiceForm(forms.Form):
    nurse = StaffChoiceField(
        required=False,
        empty_label="All nurses",
        # Today's list renders the bare select (crispy costs ~10 ms a page); the schedule uses the helper.
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["nurse"].queryset = staff_with_role(Role.PUMP_NURSE)  # type: ignore[attr-defined]
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.add_input(Submit("show", "Show", css_class="btn-sm"))
