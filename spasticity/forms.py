"""Base form for audited records: carries the consistency token and the change reason."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from spasticity.models import ClinicalRecord
from spasticity.roles import staff_label


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class StaffChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """Every drop-down of people: "Full Name (Role)", never a username alone.

    Whatever queryset it is given (in the constructor or assigned later) has its groups
    prefetched, so the roles of the whole list cost one query, not one per person.
    """

    def __init__(self, queryset: QuerySet[User] | None = None, **kwargs: Any) -> None:
        super().__init__(queryset=User.objects.none() if queryset is None else queryset, **kwargs)

    def _set_queryset(self, queryset: QuerySet[User] | None) -> None:
        super()._set_queryset(None if queryset is None else queryset.prefetch_related("groups"))  # type: ignore[misc]

    queryset = property(forms.ModelChoiceField._get_queryset, _set_queryset)  # type: ignore[assignment,attr-defined]

    def label_from_instance(self, obj: Any) -> str:
        return staff_label(obj)


class AuditedModelForm(forms.ModelForm):
    """A ModelForm for a ClinicalRecord.

    * ``version`` (hidden) is the record's version when the form was opened; a save
      from a stale copy is refused by the service.
    * ``change_reason`` is asked for on edits and goes into the history row.
    """

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    change_reason = forms.CharField(
        label="Reason for change",
        required=False,
        max_length=200,
        help_text="Optional: recorded in the audit history.",
    )
    submit_label = "Save"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance: ClinicalRecord = self.instance
        if instance.pk is None:
            del self.fields["change_reason"]
            del self.fields["version"]
        elif not self.is_bound:
            self.initial["version"] = instance.version
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", self.submit_label))

    @property
    def expected_version(self) -> int | None:
        if "version" not in self.fields:
            return None
        value = self.cleaned_data.get("version")
        # An edit without a version is treated as stale rather than trusted blindly.
        return int(value) if value is not None else -1

    @property
    def change_reason_text(self) -> str:
        return str(self.cleaned_data.get("change_reason") or "")

    def add_service_error(self, error: ValidationError) -> None:
        """Attach a service's ValidationError to the matching fields (or the form)."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.error_dict.items():
            target = field if field in self.fields and field != "version" else None
            for item in errors:
                self.add_error(target, item)
