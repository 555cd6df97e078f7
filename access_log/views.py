"""Per patient, for administrators: who has looked at this record (page and CSV).

Reading the log is not itself logged: it shows who looked, not the clinical record.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from access_log import selectors
from access_log.rules import access_log_readable_by
from alerts.reports import csv_text
from patients.models import Patient

ROWS_PER_PAGE = 50


def _require_reader(request: HttpRequest) -> None:
    if not access_log_readable_by(request.user):
        raise PermissionDenied("Only clinic administrators see who has looked at a record.")


@require_GET
def patient_access_log(request: HttpRequest, patient_pk: int) -> HttpResponse:
    _require_reader(request)
    patient = get_object_or_404(Patient, pk=patient_pk)
    page = Paginator(selectors.patient_access_log(patient.pk), ROWS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "access_log/patient_access_log.html", {"patient": patient, "page": page})


@require_GET
def patient_access_log_csv(request: HttpRequest, patient_pk: int) -> HttpResponse:
    _require_reader(request)
    patient = get_object_or_404(Patient, pk=patient_pk)
    rows = list(selectors.access_rows(selectors.patient_access_log(patient.pk)))
    response = HttpResponse(csv_text(rows, selectors.EXPORT_COLUMNS), content_type="text/csv; charset=utf-8")
    # The record's id, not its MRN: a file name lands in download folders and browser history.
    response["Content-Disposition"] = f'attachment; filename="access-log-patient-{patient.pk}.csv"'
    return response
