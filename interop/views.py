"""The transfer summary page download. Thin: the content comes from ``interop.selectors`` and ``interop.document``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.text import get_valid_filename

from access_log.models import AccessChannel
from access_log.recording import record_access_to
from patients.models import Patient
from pumps.pdf import pdf_response
from spasticity.timeutil import clinic_today

from .pdf import transfer_summary_pdf
from .selectors import patient_records, transfer_summary


def transfer_summary_download(request: HttpRequest, patient_pk: int) -> HttpResponse:
    """Every role reads every patient (spec section 1); the download is logged before it is built."""
    patient = get_object_or_404(
        Patient.objects.active().select_related("assigned_doctor", "assigned_nurse"), pk=patient_pk
    )
    record_access_to(request, patient, channel=AccessChannel.PDF)
    summary = transfer_summary(patient_records(patient), prepared_on=clinic_today())
    return pdf_response(transfer_summary_pdf(summary), get_valid_filename(f"transfer-summary-{patient.mrn}.pdf"))
