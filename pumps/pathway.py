"""What pumps contribute to the patient's pathway stage and timeline."""

from __future__ import annotations

import datetime
from dataclasses import replace
from typing import TYPE_CHECKING

from django.urls import reverse

from patients.pathway import PathwayFacts
from patients.selectors import TimelineEvent

if TYPE_CHECKING:
    from patients.models import Patient


def pump_facts(patient_id: int, facts: PathwayFacts) -> PathwayFacts:
    """Has a pump in, has had one out, and when the dose program last really changed.

    A visit that keeps the same program, or a replacement pump that carries the old
    program over, is not a change: titration ends after a spell with no change.
    """
    from pumps.models import DoseChange, Pump

    explanted = list(Pump.objects.active().filter(patient_id=patient_id).values_list("explanted_on", flat=True))
    programs = (
        DoseChange.objects.active()
        .filter(pump__patient_id=patient_id, pump__voided_at__isnull=True)
        .order_by("changed_on", "pk")
        .values_list("changed_on", "mode", "daily_dose_mcg", "flex_steps")
    )
    last_change_on: datetime.date | None = None
    previous: tuple[object, ...] | None = None
    for changed_on, *program in programs:
        if tuple(program) != previous:
            last_change_on = changed_on
        previous = tuple(program)
    return replace(
        facts,
        has_active_pump=any(on is None for on in explanted),
        has_explanted_pump=any(on is not None for on in explanted),
        last_dose_change_on=last_change_on,
    )


def pump_events(patient: Patient) -> list[TimelineEvent]:
    """Surgeries, dose programs and refills on the patient's timeline."""
    from pumps.models import DoseChange, Refill, Surgery

    events: list[TimelineEvent] = []
    for surgery in Surgery.objects.filter(patient=patient).select_related("pump__model", "replaced_pump"):
        title = f"{surgery.get_kind_display()}: {surgery.pump}"
        if surgery.replaced_pump:
            title += f" (replacing {surgery.replaced_pump.serial_number})"
        detail = ", ".join(surgery.complication_labels)
        url = reverse("pumps:detail", args=[surgery.pump_id])
        events.append(TimelineEvent(surgery.performed_on, "surgery", title, detail, url, surgery.is_voided))
    for change in DoseChange.objects.filter(pump__patient=patient).select_related("pump"):
        title = f"Dose program {change.daily_dose_mcg.normalize():f} mcg/day ({change.get_mode_display().lower()})"
        events.append(
            TimelineEvent(change.changed_on, "dose", title, change.reason, change.get_absolute_url(), change.is_voided)
        )
    for refill in Refill.objects.filter(pump__patient=patient).select_related("pump"):
        volume, concentration = refill.volume_added_ml.normalize(), refill.concentration_mcg_per_ml.normalize()
        title = f"Refill: {volume:f} mL of {concentration:f} mcg/mL"
        detail = f"Alarm date {refill.alarm_date:%Y-%m-%d}" if refill.alarm_date else ""
        events.append(
            TimelineEvent(refill.refilled_on, "refill", title, detail, refill.get_absolute_url(), refill.is_voided)
        )
    return events
