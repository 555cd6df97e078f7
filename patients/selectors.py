"""Every read with rules for patients and referrals."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from patients.models import Caregiver, Patient, Referral
from patients.search import patient_search
from spasticity.id_lists import ids_in
from spasticity.lists import GROUP_PAGE_SIZE, GroupPage, queryset_page
from trials.escalation import age_in_years


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


@dataclass(frozen=True)
class BannerPump:
    """The implanted pump's stored projection columns, as the banner shows them."""

    pk: int
    drug_label: str
    concentration_mcg_per_ml: Decimal | None
    daily_dose_mcg: Decimal | None
    alarm_date: date | None


@dataclass(frozen=True)
class PatientBanner:
    """Who the page is about, at a glance: the header of every patient-scoped page."""

    pk: int
    full_name: str
    mrn: str
    birth_date: date
    age_label: str
    weight_kg: Decimal | None
    weight_recorded_on: date | None
    diagnosis_label: str
    gmfcs_level: int | None
    stage_label: str
    is_voided: bool
    pump: BannerPump | None


# The parents through which a record belongs to a patient (a refill through its pump, a
# goal review through its goal), tried in this order.
_PATIENT_PARENTS = ("pump", "trial", "goal")


def patient_id_of(record: Any) -> int | None:
    """The patient a record belongs to (itself for a patient); None for a record about no
    patient (a pump model, a safety notice) or a patient not saved yet. No query when the
    parent is already loaded, else one per level."""
    if isinstance(record, Patient):
        return record.pk
    patient_id = getattr(record, "patient_id", None)
    if patient_id is not None:
        return int(patient_id)
    for parent in _PATIENT_PARENTS:
        if getattr(record, f"{parent}_id", None) is not None:
            return patient_id_of(getattr(record, parent))
    return None


# Under two, a child's age reads in months ("14 mo"), as paediatric notes write it.
AGE_IN_MONTHS_UNDER_YEARS = 2


def age_label(birth_date: date, *, today: date) -> str:
    """Whole years ("8 y"), or whole months under two ("14 mo"); a birthday counts from its day."""
    years = age_in_years(birth_date, today)
    if years >= AGE_IN_MONTHS_UNDER_YEARS:
        return f"{years} y"
    months = (today.year - birth_date.year) * 12 + today.month - birth_date.month - int(today.day < birth_date.day)
    return f"{months} mo"


def _weight_recorded_at() -> Subquery:
    """When the patient's current weight was entered: the first history row holding it
    after the last row holding another weight (edits of other fields keep the date)."""
    history = Patient.history.model  # type: ignore[attr-defined]
    last_other_weight_at = (
        history.objects.filter(id=OuterRef(OuterRef("pk")))
        .exclude(weight_kg=OuterRef(OuterRef("weight_kg")))
        .order_by("-history_date")
        .values("history_date")[:1]
    )
    since = Coalesce(Subquery(last_other_weight_at), Value(datetime.min.replace(tzinfo=UTC)))
    return Subquery(
        history.objects.filter(id=OuterRef("pk"), history_date__gt=since)
        .order_by("history_date")
        .values("history_date")[:1]
    )


def _implanted_pump_column(column: str) -> Subquery:
    from pumps.models import Pump  # pumps depends on patients, not the other way round

    pumps = Pump.objects.implanted().filter(patient_id=OuterRef("pk")).order_by("-implanted_on", "-pk")
    return Subquery(pumps.values(column)[:1])


_PUMP_COLUMNS = ("pk", "current_drug", "current_concentration_mcg_per_ml", "current_daily_dose_mcg", "alarm_date")


def patient_banner(patient_id: int, *, today: date) -> PatientBanner:
    """The banner of one patient in one query, however many records they have.

    The implanted (not voided, not explanted) pump's stored projection columns and the
    date of the current weight come as correlated subqueries of the patient row.
    """
    row: Any = (
        Patient.objects.filter(pk=patient_id)
        .annotate(weight_recorded_at=_weight_recorded_at())
        .annotate(**{f"pump_{column}": _implanted_pump_column(column) for column in _PUMP_COLUMNS})
        .get()
    )
    recorded_at = row.weight_recorded_at
    return PatientBanner(
        pk=row.pk,
        full_name=row.full_name,
        mrn=row.mrn,
        birth_date=row.birth_date,
        age_label=age_label(row.birth_date, today=today),
        weight_kg=row.weight_kg,
        weight_recorded_on=timezone.localdate(recorded_at) if row.weight_kg is not None and recorded_at else None,
        diagnosis_label=row.get_diagnosis_display(),
        gmfcs_level=row.gmfcs_level,
        stage_label=row.get_pathway_stage_display(),
        is_voided=row.is_voided,
        pump=_banner_pump(row),
    )


def _banner_pump(row: Any) -> BannerPump | None:
    from pumps.models import Drug

    if row.pump_pk is None:
        return None
    return BannerPump(
        pk=row.pump_pk,
        drug_label=Drug(row.pump_current_drug).label if row.pump_current_drug else "",
        concentration_mcg_per_ml=row.pump_current_concentration_mcg_per_ml,
        daily_dose_mcg=row.pump_current_daily_dose_mcg,
        alarm_date=row.pump_alarm_date,
    )


# --- Role homes (spasticity.home_views) --------------------------------------------------------


def patients_at_stage(
    stage: str, *, key: str, label: str, page: int = 1, page_size: int = GROUP_PAGE_SIZE
) -> GroupPage[Patient]:
    """One page of the active patients at one pathway stage (the stored ``pathway_stage``,
    ``patients.pathway.derive_stage``'s result), by name: two queries."""
    patients = Patient.objects.active().filter(pathway_stage=stage).select_related("assigned_doctor")
    patients = patients.order_by("family_name", "given_name", "pk")
    return queryset_page(patients, key=key, label=label, page=page, size=page_size)


def referrals_waiting(*, page: int = 1, page_size: int = GROUP_PAGE_SIZE) -> GroupPage[Referral]:
    """One page of the referrals not yet decided (``referral_inbox``'s ``new``), oldest first: two queries."""
    return queryset_page(
        referral_inbox(status=Referral.Status.NEW),
        key="referrals",
        label="Referrals waiting",
        page=page,
        size=page_size,
    )


def caregivers_with_phones(patient_ids: Iterable[int]) -> QuerySet[Caregiver]:
    """The caregivers (not voided) of these patients who gave a phone number, by patient, legal
    guardians first: one definition for the lists' ``tel:`` links and the reports' phone column."""
    return (
        Caregiver.objects.active()
        .filter(patient_id__in=ids_in(patient_ids))
        .exclude(phone="")
        .order_by("patient_id", "-is_legal_guardian", "name", "pk")
    )


def caregivers_by_patient(patient_ids: Iterable[int]) -> dict[int, list[Caregiver]]:
    """``caregivers_with_phones`` by patient: one query for a whole page, so a list can put every
    family's phone number one tap away."""
    by_patient: dict[int, list[Caregiver]] = defaultdict(list)
    ids = set(patient_ids)
    if not ids:
        return {}
    caregivers = caregivers_with_phones(ids)
    for caregiver in caregivers.only("patient_id", "name", "relationship", "phone", "is_legal_guardian"):
        by_patient[caregiver.patient_id].append(caregiver)
    return dict(by_patient)
