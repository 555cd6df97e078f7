"""Appointment forms: they parse and show; ``appointments.services`` decides.

The one thing a form does that the API does not: it asks before recording a start in the
past (an appointment entered after the fact), which the API simply accepts (spec section 7).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.forms.models import construct_instance

from appointments.models import Appointment
from patients.models import Patient
from pumps.models import Pump
from spasticity.access import staff_with_role
from spasticity.forms import AuditedModelForm, DateInput, StaffChoiceField
from spasticity.roles import Role

PAST_START_MESSAGE = (
    'This start is in the past. To record an appointment after the fact, tick "Record it anyway" below and save again.'
)
# A service's message on ``staff`` (the list) belongs to the first staff field here.
SERVICE_FIELD_FOR = {"staff": "lead_staff"}


def clinic_staff() -> Any:
    return staff_with_role(*Role)


class AppointmentForm(AuditedModelForm):
    starts_at = forms.SplitDateTimeField(
        label="Day and time",
        widget=forms.SplitDateTimeWidget(
            date_attrs={"type": "date", "aria-label": "Day"},
            time_attrs={"type": "time", "aria-label": "Time"},
            date_format="%Y-%m-%d",
            time_format="%H:%M",
        ),
        help_text="Clinic local time",
    )
    past_start_confirmed = forms.BooleanField(
        label="Record it anyway: this appointment has already happened", required=False, widget=forms.HiddenInput
    )
    submit_label = "Book"

    class Meta:
        field_classes = {"lead_staff": StaffChoiceField, "second_staff": StaffChoiceField}
        model = Appointment
        fields = [
            "kind",
            "pump",
            "starts_at",
            "duration_minutes",
            "place",
            "lead_staff",
            "second_staff",
            "notes",
            "confirmation_reason",
        ]
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 2}),
            "confirmation_reason": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"duration_minutes": "Duration (minutes)"}

    def __init__(self, *args: Any, patient: Patient, now: dt.datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patient, self.now = patient, now
        if self.instance.pk is not None:
            self.submit_label = "Save"
            self.helper.inputs[0].value = "Save"
        pumps = Pump.objects.active().filter(patient=patient)
        current_pump = self.instance.pump_id if self.instance.pk else None
        self.fields["pump"].queryset = pumps.filter(explanted_on__isnull=True) | pumps.filter(pk=current_pump)  # type: ignore[attr-defined]
        self.fields["pump"].required = False
        staff = clinic_staff()
        for name in ("lead_staff", "second_staff"):
            self.fields[name].queryset = staff  # type: ignore[attr-defined]
        self.fields["lead_staff"].label = "Staff"
        self.fields["lead_staff"].required = False  # the service says what is missing
        self.fields["duration_minutes"].widget.attrs.update(min=5, max=720, step=5)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts_at = data.get("starts_at")
        if starts_at is not None and self._is_new_past_start(starts_at) and not data.get("past_start_confirmed"):
            self.fields["past_start_confirmed"].widget = forms.CheckboxInput()
            self.add_error("starts_at", PAST_START_MESSAGE)
        return data

    def _is_new_past_start(self, starts_at: dt.datetime) -> bool:
        """A start in the past that this form sets (a past appointment's notes edit asks nothing)."""
        return starts_at < self.now and (self.instance.pk is None or starts_at != self._stored_starts_at())

    def _stored_starts_at(self) -> dt.datetime | None:
        return Appointment.objects.filter(pk=self.instance.pk).values_list("starts_at", flat=True).first()

    def _post_clean(self) -> None:
        # Only build the appointment: the service checks it (``Appointment.clean`` included),
        # and its messages come back on the fields through ``add_service_error``.
        self.instance.patient = self.patient
        self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)

    def staff(self) -> list[User]:
        return [user for user in (self.cleaned_data.get("lead_staff"), self.cleaned_data.get("second_staff")) if user]

    def add_service_error(self, error: ValidationError) -> None:
        if hasattr(error, "error_dict"):
            error = ValidationError(
                {SERVICE_FIELD_FOR.get(field, field): errors for field, errors in error.error_dict.items()}
            )
        super().add_service_error(error)


class CancelForm(forms.Form):
    cancel_reason = forms.CharField(
        label="Why is it cancelled?", widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class StatusChangeForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class WeekForm(forms.Form):
    """The week or day view's choices: which day (any day of the week) and whose appointments."""

    day = forms.DateField(required=False, widget=DateInput(attrs={"class": "form-control"}), label="Day")
    staff = StaffChoiceField(
        required=False,
        empty_label="All staff",
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = clinic_staff()  # type: ignore[attr-defined]

    def clean_day(self) -> dt.date | None:
        from spasticity.params import EARLIEST_DATE, LATEST_DATE

        day = self.cleaned_data.get("day")
        if day is not None and not EARLIEST_DATE <= day <= LATEST_DATE:
            raise ValidationError(f"Give a day between {EARLIEST_DATE:%Y} and {LATEST_DATE:%Y}.")
        return day
