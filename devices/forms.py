"""Forms for MRI scans and safety notices. Thin: the rules live in ``devices.services``."""

from __future__ import annotations

from typing import Any

from django import forms

from devices.models import MriScan, SafetyNotice, SafetyNoticePump
from devices.services import MriChecklist
from spasticity.forms import AuditedModelForm, DateInput


class MriScanForm(AuditedModelForm):
    submit_label = "Record the MRI scan"

    class Meta:
        model = MriScan
        fields = [
            "scanned_on",
            "field_strength_tesla",
            "emptied_before_scan",
            "volume_removed_ml",
            "field_strength_confirmed",
            "interrogated_after_scan",
            "motor_restart_confirmed",
            "notes",
        ]
        widgets = {"scanned_on": DateInput(), "notes": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, procedure: str = "", **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Only the checklist of the pump model's procedure is asked for (the service checks it).
        prometra = ("emptied_before_scan", "volume_removed_ml", "field_strength_confirmed")
        synchromed = ("interrogated_after_scan", "motor_restart_confirmed")
        hidden = synchromed if procedure == "empty_before_refill_after" else prometra
        for name in hidden:
            del self.fields[name]

    def checklist(self) -> MriChecklist:
        data = self.cleaned_data
        return MriChecklist(
            field_strength_tesla=data.get("field_strength_tesla"),
            emptied_before_scan=bool(data.get("emptied_before_scan")),
            volume_removed_ml=data.get("volume_removed_ml"),
            field_strength_confirmed=bool(data.get("field_strength_confirmed")),
            interrogated_after_scan=bool(data.get("interrogated_after_scan")),
            motor_restart_confirmed=bool(data.get("motor_restart_confirmed")),
            notes=data.get("notes", ""),
        )


class MriFollowUpForm(AuditedModelForm):
    submit_label = "Record the follow-up"

    class Meta:
        model = MriScan
        fields = ["interrogated_after_scan", "motor_restart_confirmed", "follow_up_note"]
        widgets = {"follow_up_note": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields.pop("change_reason", None)


class ListField(forms.CharField):
    """'A1, A2' in the form ↔ ["A1", "A2"] on the record."""

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        return [part.strip() for part in str(text).replace(";", ",").replace("\n", ",").split(",") if part.strip()]


class SafetyNoticeForm(AuditedModelForm):
    serial_numbers = ListField(required=False, help_text="Separated by commas; leave empty for a range or the model")
    lot_numbers = ListField(required=False, help_text="Drug lots, separated by commas; leave empty for any lot")
    link = forms.URLField(required=False, max_length=500, assume_scheme="https")

    class Meta:
        model = SafetyNotice
        fields = list(SafetyNotice.EDITABLE_FIELDS)
        widgets = {
            "issued_on": DateInput(),
            "closed_on": DateInput(),
            "action_required": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "serial_from": "A range keeps the same letters and number of digits, e.g. NGP200100H to NGP200199H",
        }


class AcknowledgeForm(forms.ModelForm):  # type: ignore[type-arg]
    """One affected pump: the patient informed and the action taken."""

    pump = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = SafetyNoticePump
        fields = ["patient_informed_on", "action_taken"]
        widgets = {"patient_informed_on": DateInput(), "action_taken": forms.Textarea(attrs={"rows": 2})}
