"""Every read with rules for patients and referrals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import QuerySet

from patients.models import Patient, Referral
from patients.search import patient_search


def patient_list(
    *, q: str = "", stage: str = "", diagnosis: str = "", nurse_id: int | None = None
) -> QuerySet[Patient]:
    """Active patients matching the search; one query whatever the page size."""
    patients = Patient.objects.active().select_related("assigned_nurse", "assigned_doctor")
    if q.strip():
        patients = patient_search(patients, q)
    if stage:
        patients = patients.filter(pathway_stage=stage)
    if diagnosis:
        patients = patients.filter(diagnosis=diagnosis)
    if nurse_id:
        patients = patients.filter(assigned_nurse_id=nurse_id)
    return patients.order_by("family_name", "given_name", "mrn")


def referral_inbox(*, status: str = "new") -> QuerySet[Referral]:
    referrals = Referral.objects.active().select_related("patient", "decided_by")
    if status:
        referrals = referrals.filter(status=status)
    return referrals.order_by("received_on", "pk") if status == "new" else referrals.order_by("-received_on", "-pk")


@dataclass(frozen=True)
class TimelineEvent:
    on: date
    kind: str
    title: str
    detail: str = ""
    url: str = ""
    voided: bool = False


TimelineSource = Callable[[Patient], list[TimelineEvent]]
TIMELINE_SOURCES: list[TimelineSource] = []


def register_timeline_source(source: TimelineSource) -> TimelineSource:
    """Apps call this from ``AppConfig.ready`` to put their events on the patient timeline."""
    if source not in TIMELINE_SOURCES:
        TIMELINE_SOURCES.append(source)
    return source


def referral_events(patient: Patient) -> list[TimelineEvent]:
    events = []
    for referral in patient.referrals.all():
        events.append(
            TimelineEvent(
                on=referral.received_on,
                kind="referral",
                title=f"Referred by {referral.referring_clinician} ({referral.referring_service})",
                detail=referral.reason,
                url=referral.get_absolute_url(),
                voided=referral.is_voided,
            )
        )
        if referral.decided_on:
            title = f"Referral {referral.get_status_display().lower()}"
            events.append(
                TimelineEvent(on=referral.decided_on, kind="referral", title=title, detail=referral.decline_reason)
            )
    return events


def patient_timeline(patient: Patient) -> list[TimelineEvent]:
    """Everything that happened to the patient, newest first."""
    events: list[TimelineEvent] = referral_events(patient)
    for source in TIMELINE_SOURCES:
        events.extend(source(patient))
    return sorted(events, key=lambda e: e.on, reverse=True)


def patient_detail(pk: int) -> Any:
    return (
        Patient.objects.select_related("assigned_nurse", "assigned_doctor")
        .prefetch_related("caregivers", "oral_medicines", "referrals")
        .get(pk=pk)
    )
