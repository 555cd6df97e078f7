"""Forms for handling alerts and choosing what a report shows."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms

from alerts import reports
from alerts.services import alert_kinds
from patients.models import Diagnosis
from spasticity.access import staff_with_role
from spasticity.forms import DateInput, StaffChoiceField
from spasticity.roles import Role


class AcknowledgeForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    note = forms.CharField(label="Note (optional)", required=False, max_length=100)


class SnoozeForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    snoozed_until = forms.DateField(
        label="Snooze until", widget=DateInput(), help_text="The alert comes back the day after this date."
    )
    snooze_reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=500,
        help_text="e.g. refill booked for that date; family away, local hospital refilling",
    )

    def __init__(self, *args: Any, latest: datetime.date | None = None, **kwargs: Any) -> None:
        """``latest``: the last day the service allows (``alerts.services.alert_snooze_latest``), offered as ``max``."""
        super().__init__(*args, **kwargs)
        self.fields["snoozed_until"].widget.attrs["class"] = "form-control"
        self.fields["snooze_reason"].widget.attrs["class"] = "form-control"
        if latest is not None:
            self.fields["snoozed_until"].widget.attrs["max"] = latest.isoformat()
            self.fields[
                "snoozed_until"
            ].help_text = f"The alert comes back the day after this date ({latest:%Y-%m-%d} at the latest)."


class AlertFilterForm(forms.Form):
    STATUS_CHOICES = [
        ("actionable", "To act on (open or acknowledged)"),
        ("unresolved", "Not resolved (incl. snoozed)"),
        ("open", "Open"),
        ("acknowledged", "Acknowledged"),
        ("snoozed", "Snoozed"),
        ("resolved", "Resolved"),
        ("", "All"),
    ]
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    kind = forms.ChoiceField(choices=[("", "Any kind")], required=False)
    nurse = StaffChoiceField(required=False, empty_label="Any nurse")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "Any kind"), *alert_kinds()]  # type: ignore[attr-defined]
        self.fields["nurse"].queryset = staff_with_role(Role.PUMP_NURSE)  # type: ignore[attr-defined]
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select"


class OverdueRefillsForm(forms.Form):
    as_of = forms.DateField(label="As of", widget=DateInput(), required=False)
    nurse = StaffChoiceField(required=False, empty_label="Any nurse")
    diagnosis = forms.ChoiceField(choices=[("", "Any diagnosis"), *Diagnosis.choices], required=False)
    status = forms.ChoiceField(choices=[("", "Any status"), *reports.OVERDUE_STATUSES], required=False)
    booked = forms.ChoiceField(
        label="Refill booked", choices=[("", "Booked or not"), *reports.BOOKED_CHOICES], required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["nurse"].queryset = staff_with_role(Role.PUMP_NURSE)  # type: ignore[attr-defined]
        self.fields["as_of"].widget.attrs["class"] = "form-control"
        for name in ("nurse", "diagnosis", "status", "booked"):
            self.fields[name].widget.attrs["class"] = "form-select"

    def filters(self, *, today: datetime.date) -> dict[str, Any]:
        """The selector's arguments; an invalid or empty form shows today's report unfiltered."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        nurse = data.get("nurse")
        return {
            "as_of": data.get("as_of") or today,
            "nurse_id": nurse.pk if nurse else None,
            "diagnosis": data.get("diagnosis") or "",
            "status": data.get("status") or "",
            "booked": data.get("booked") or "",
        }

    def applied_filters(self) -> list[tuple[str, str]]:
        """The filters in use as people read them, e.g. ("Status", "Past alarm date"), for the printout."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        applied = []
        if nurse := data.get("nurse"):
            applied.append(("Pump nurse", str(nurse.get_full_name() or nurse.username)))
        for name, label in (("diagnosis", "Diagnosis"), ("status", "Status"), ("booked", "Refill booked")):
            if value := data.get(name):
                choices = dict(self.fields[name].choices)  # type: ignore[attr-defined]
                applied.append((label, str(choices.get(value, value))))
        return applied


class BatteryReportForm(forms.Form):
    as_of = forms.DateField(label="As of", widget=DateInput(), required=False)
    within_days = forms.IntegerField(label="Within (days)", min_value=0, max_value=3650, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control"

    def filters(self, *, today: datetime.date, default_days: int) -> dict[str, Any]:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        within_days = data.get("within_days")
        return {
            "as_of": data.get("as_of") or today,
            "within_days": default_days if within_days is None else within_days,
        }
