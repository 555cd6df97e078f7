"""The upload form of the caseload import page. It only reads the file; the import decides."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms

from imports.parsing import MAX_FILE_BYTES


class CaseloadUploadForm(forms.Form):
    file = forms.FileField(
        label="Caseload sheet",
        help_text="A .csv (UTF-8) or .xlsx file with the template's header in row 1.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )
    commit = forms.BooleanField(
        label="Save the records",
        required=False,
        help_text="Leave unticked for a dry run: every row is checked and nothing is saved. "
        "A commit with any error saves nothing either.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.attrs = {"enctype": "multipart/form-data"}
        self.helper.add_input(Submit("submit", "Check the sheet"))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_FILE_BYTES // 2**20} MB.")
        return upload
