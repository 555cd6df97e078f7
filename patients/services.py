"""Every write with rules for patients and referrals."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from patients.models import Caregiver, OralMedicine, PathwayStage, Patient, Referral
from patients.pathway import derive_stage, pathway_facts
from spasticity.audit import audited_save, record_save
from spasticity.clinic import stage_rules
from spasticity.timeutil import clinic_today


@transaction.atomic
def patient_save(patient: Patient, *, by: Any, expected_version: int | None = None, reason: str = "") -> Patient:
    """Create or update a patient (demographics, care team, readiness)."""
    record_save(patient, by=by, expected_version=expected_version, reason=reason)
    patient_refresh_stage(patient, by=by)
    return patient


def patient_refresh_stage(patient: Patient, *, by: Any, today: date | None = None) -> Patient:
    """Recompute the stored pathway stage from the records; saves only when it changed."""
    stage = derive_stage(pathway_facts(patient.pk), today=today or clinic_today(), rules=stage_rules())
    if patient.pathway_stage != stage:
        patient.pathway_stage = stage
        audited_save(patient, by=by, reason=f"Pathway stage is now {stage.label}", bump_version=False)
    return patient


def patients_refresh_time_dependent_stages(*, today: date, by: Any) -> int:
    """Re-derive the stage of every patient stored in titration; returns how many moved.

    Titration ends by time passing (no dose change for the clinic's window), and no
    write marks that moment, so without this daily job the stored stage that lists,
    filters and the dashboard read would stay "titration" for ever. Only titration
    depends on the date; every other stage changes with a record.
    """
    moved = 0
    for patient in Patient.objects.active().filter(pathway_stage=PathwayStage.TITRATION):
        with transaction.atomic():
            patient_refresh_stage(patient, by=by, today=today)
        moved += patient.pathway_stage != PathwayStage.TITRATION
    return moved


@transaction.atomic
def caregiver_save(caregiver: Caregiver, *, by: Any, expected_version: int | None = None, reason: str = "") -> None:
    record_save(caregiver, by=by, expected_version=expected_version, reason=reason)


@transaction.atomic
def oral_medicine_save(
    medicine: OralMedicine, *, by: Any, expected_version: int | None = None, reason: str = ""
) -> None:
    if medicine.drug == OralMedicine.Drug.OTHER and not medicine.drug_other.strip():
        raise ValidationError({"drug_other": ["Name the drug."]})
    record_save(medicine, by=by, expected_version=expected_version, reason=reason)


@transaction.atomic
def referral_save(referral: Referral, *, by: Any, expected_version: int | None = None, reason: str = "") -> Referral:
    record_save(referral, by=by, expected_version=expected_version, reason=reason)
    patient_refresh_stage(referral.patient, by=by)
    return referral


@transaction.atomic
def referral_decide(
    referral: Referral,
    *,
    by: Any,
    status: str,
    decline_reason: str = "",
    expected_version: int | None = None,
    today: date | None = None,
) -> Referral:
    """Accept or decline a new referral; a decline needs a reason."""
    if referral.status != Referral.Status.NEW:
        raise ValidationError({"status": [f"This referral was already {referral.get_status_display().lower()}."]})
    if status not in (Referral.Status.ACCEPTED, Referral.Status.DECLINED):
        raise ValidationError({"status": ["Choose accepted or declined."]})
    if status == Referral.Status.DECLINED and not decline_reason.strip():
        raise ValidationError({"decline_reason": ["Say why the referral is declined."]})
    referral.status = status
    referral.decline_reason = decline_reason.strip()
    referral.decided_on = today or clinic_today()
    referral.decided_by = by
    return referral_save(referral, by=by, expected_version=expected_version, reason=f"Referral {status}")
