from __future__ import annotations

from typing import Any

from django import forms

from patients.models import Caregiver, Diagnosis, OralMedicine, PathwayStage, Patient, PreferredContact, Referral
from spasticity.access import staff_with_role
from spasticity.forms import AuditedModelForm, DateInput, StaffChoiceField
from spasticity.roles import Role


class PatientForm(AuditedModelForm):
    class Meta:
        model = Patient
        fields = [
            "mrn",
            "given_name",
            "family_name",
            "birth_date",
            "sex",
            "diagnosis",
            "gmfcs_level",
            "weight_kg",
            "height_cm",
            "assigned_doctor",
            "assigned_nurse",
            "reliable_transport",
            "travel_burden",
            "plans_to_move",
        ]
        widgets = {"birth_date": DateInput(), "travel_burden": forms.Textarea(attrs={"rows": 2})}
        field_classes = {"assigned_doctor": StaffChoiceField, "assigned_nurse": StaffChoiceField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assigned_doctor"].queryset = staff_with_role(Role.REHAB_DOCTOR)  # type: ignore[attr-defined]
        self.fields["assigned_nurse"].queryset = staff_with_role(Role.PUMP_NURSE)  # type: ignore[attr-defined]
        self.fields["gmfcs_level"].widget.attrs.update(min=1, max=5)


class CaregiverForm(AuditedModelForm):
    # Opt-in: left unanswered, the family gets no reminders.
    preferred_contact = forms.ChoiceField(
        label="Appointment reminders by",
        choices=PreferredContact.choices,
        required=False,
        initial=PreferredContact.NONE,
    )

    class Meta:
        model = Caregiver
        fields = ["name", "relationship", "phone", "email", "preferred_contact", "is_legal_guardian", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2}), "phone": forms.TextInput(attrs={"type": "tel"})}

    def clean_preferred_contact(self) -> str:
        return self.cleaned_data.get("preferred_contact") or PreferredContact.NONE


class OralMedicineForm(AuditedModelForm):
    class Meta:
        model = OralMedicine
        fields = ["drug", "drug_other", "dose_description", "wean_plan", "stopped_on"]
        widgets = {"stopped_on": DateInput(), "wean_plan": forms.Textarea(attrs={"rows": 2})}


class ReferralForm(AuditedModelForm):
    class Meta:
        model = Referral
        fields = ["received_on", "referring_clinician", "referring_service", "reason"]
        widgets = {"received_on": DateInput(), "reason": forms.Textarea(attrs={"rows": 3})}


class ReferralDecisionForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(Referral.Status.ACCEPTED, "Accept"), (Referral.Status.DECLINED, "Decline")], widget=forms.RadioSelect
    )
    decline_reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    version = forms.IntegerField(widget=forms.HiddenInput)


class PatientFilterForm(forms.Form):
    q = forms.CharField(label="MRN or name", required=False)
    stage = forms.ChoiceField(choices=[("", "Any stage"), *PathwayStage.choices], required=False)
    diagnosis = forms.ChoiceField(choices=[("", "Any diagnosis"), *Diagnosis.choices], required=False)
    nurse = StaffChoiceField(required=False, empty_label="Any nurse")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["nurse"].queryset = staff_with_role(Role.PUMP_NURSE)  # type: ignore[attr-defined]
