"""Small template helpers for alert and report pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from alerts import rules

register = template.Library()

KIND_BADGES = {
    rules.PAST_ALARM_DATE: "text-bg-danger",
    rules.REFILL_OVERDUE: "text-bg-warning",
    rules.BATTERY_END_OF_LIFE: "text-bg-warning",
    rules.DELIVERY_DEVIATION: "text-bg-info",
    rules.REFILL_DUE_SOON: "text-bg-secondary",
}
STATUS_BADGES = {
    "past_alarm": "text-bg-danger",
    "overdue": "text-bg-warning",
    "missed": "text-bg-warning",
    "today": "text-bg-primary",
}
WORK_STATUS_LABELS = {
    "past_alarm": "Past alarm date",
    "overdue": "Overdue",
    "missed": "Missed",
    "today": "Today",
    "this_week": "This week",
    "no_projection": "No alarm date",
}


def _pump_url(pump_id: int, patient_id: int) -> str:
    try:
        return reverse("pumps:detail", args=[pump_id])
    except NoReverseMatch:  # pump pages not wired in this build: the patient's page lists the pump
        return reverse("patients:detail", args=[patient_id])


@register.filter
def pump_url(pump: Any) -> str:
    """The pump's page: one click from any list."""
    return _pump_url(pump.pk, pump.patient_id)


@register.filter
def kind_badge(kind: str) -> str:
    return KIND_BADGES.get(kind, "text-bg-secondary")


@register.filter
def overdue_badge(status: str) -> str:
    return STATUS_BADGES.get(status, "text-bg-secondary")


@register.filter
def work_status(status: str) -> str:
    return WORK_STATUS_LABELS.get(status, status)
