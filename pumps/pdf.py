"""Printouts (WeasyPrint): the after-visit summary and the wallet-size emergency card.

The dates of an after-visit summary are the pump's projection after every record of
that visit (``selectors.projection_after_visit``), so a refill and a dose change at
one visit print the same dates, and the same ones as their pages. The emergency card
prints the pump's current stored values.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string

from appointments.selectors import booked_refill
from pumps.models import DoseChange, Pump, Refill
from pumps.selectors import previous_fill, projection_after_visit


def render_pdf(template_name: str, context: dict[str, Any]) -> bytes:
    # Imported here: WeasyPrint is slow to import and logs as it loads its stylesheets.
    from weasyprint import HTML

    html = render_to_string(template_name, {**context, "clinic": settings.CLINIC})
    return bytes(HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf())


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _previous_program(change: DoseChange) -> DoseChange | None:
    return (
        DoseChange.objects.active()
        .filter(pump=change.pump)
        .exclude(pk=change.pk)
        .filter(changed_on__lte=change.changed_on, pk__lt=change.pk)
        .order_by("-changed_on", "-pk")
        .first()
    )


def dose_change_summary(change: DoseChange) -> bytes:
    """After a titration visit: the dose change, the alarm and refill-due dates after the visit, the next visit."""
    pump = change.pump
    visit = projection_after_visit(pump, visit_on=change.changed_on)
    context = {
        "kind": "titration",
        "pump": pump,
        "patient": pump.patient,
        "visit_on": change.changed_on,
        "change": change,
        "record": change,
        "previous": _previous_program(change),
        "alarm_date": visit.alarm_date,
        "refill_due_on": visit.refill_due_on,
        "next_visit_on": visit.next_visit_on,
        "next_refill_on": visit.next_refill_appointment_on,
        "booked_refill": booked_refill(pump),
        "daily_dose_mcg": change.daily_dose_mcg,
    }
    return render_pdf("pumps/pdf/after_visit_summary.html", context)


def refill_summary(refill: Refill) -> bytes:
    """After a refill: what went in, the alarm and refill-due dates after the visit, the next appointment."""
    pump = refill.pump
    visit = projection_after_visit(pump, visit_on=refill.refilled_on)
    context = {
        "kind": "refill",
        "pump": pump,
        "patient": pump.patient,
        "visit_on": refill.refilled_on,
        "refill": refill,
        "record": refill,
        "previous_fill": previous_fill(refill),
        "alarm_date": visit.alarm_date,
        "refill_due_on": visit.refill_due_on,
        "next_refill_on": visit.next_refill_appointment_on,
        "booked_refill": booked_refill(pump),  # the booking the family leaves with (day, time, place)
        "next_visit_on": visit.next_visit_on,
        "daily_dose_mcg": visit.program.daily_dose_mcg if visit.program else None,
        "dose_changed_at_visit": visit.dose_changed_at_visit,
    }
    return render_pdf("pumps/pdf/after_visit_summary.html", context)


def emergency_card(pump: Pump) -> bytes:
    """A wallet-size card (85.6 × 54 mm, front and back) from the pump's current stored values."""
    return render_pdf("pumps/pdf/emergency_card.html", {"pump": pump, "patient": pump.patient})
