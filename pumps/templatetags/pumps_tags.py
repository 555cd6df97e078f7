"""Template helpers for the pump pages and the pumps panel on the patient page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from pumps.selectors import patient_pumps

register = template.Library()


@register.inclusion_tag("pumps/partials/patient_pumps_panel.html", takes_context=True)
def patient_pumps_panel(context: dict[str, Any]) -> dict[str, Any]:
    """The patient's pumps with their stored dates (one query), for the patient page."""
    patient = context["patient"]
    pumps = patient_pumps(patient.pk)
    return {
        "patient": patient,
        "pumps": pumps,
        "has_implanted_pump": any(p.is_implanted for p in pumps),
        "perms": context.get("perms"),
        "today": context.get("today"),
    }


@register.filter
def num(value: Decimal | None) -> str:
    """500.00 → 500, 12.50 → 12.5; a dash for nothing."""
    if value is None:
        return "—"
    return format(Decimal(value).normalize(), "f")


STATUS_BADGES = {
    "past_alarm": ("text-bg-danger", "Past alarm date"),
    "no_projection": ("text-bg-danger", "No alarm date on record"),
    "overdue": ("text-bg-warning", "Refill overdue"),
    "missed": ("text-bg-warning", "Visit missed"),
    "today": ("text-bg-primary", "Today"),
    "this_week": ("text-bg-secondary", "This week"),
}


@register.inclusion_tag("pumps/partials/status_badge.html")
def status_badge(status: str) -> dict[str, str]:
    css, label = STATUS_BADGES.get(status, ("text-bg-light", status))
    return {"css": css, "label": label, "status": status}
