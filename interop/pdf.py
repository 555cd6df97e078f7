"""The transfer-of-care summary as a PDF (WeasyPrint), from the same sections as the FHIR document."""

from __future__ import annotations

from pumps.pdf import render_pdf

from .document import summary_sections
from .selectors import TransferSummary


def transfer_summary_pdf(summary: TransferSummary) -> bytes:
    context = {"summary": summary, "patient": summary.patient, "sections": summary_sections(summary)}
    return render_pdf("interop/pdf/transfer_summary.html", context)
