"""Every write with rules for patients and referrals."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from patients.models import Caregiver, OralMedicine, PathwayStage, Patient, Referral
from patients.pathway import derive_stage, pathway_facts
from spasticity.access import holds_role, require_permission
from spasticity.audit import audited_save, record_save
from spasticity.clinic import stage_rules
from spasticity.models import ClinicalRecord
from spasticity.roles import PERMS, Role
from spasticity.timeutil import clinic_today


def _care_team_errors(patient: Patient) -> dict[str, list[str]]:
    """The care team names people in their role: urgent pump emails go to the pump nurse."""
    errors: dict[str, list[str]] = {}
    if patient.assigned_nurse_id and not holds_role(patient.assigned_nurse, Role.PUMP_NURSE):
        errors["assigned_nurse"] = [f"{patient.assigned_nurse} is not an active pump nurse."]
    if patient.assigned_doctor_id and not holds_role(patient.assigned_doctor, Role.REHAB_DOCTOR):
        errors["assigned_doctor"] = [f"{patient.assigned_doctor} is not an active rehabilitation doctor."]
    return errors


@transaction.atomic
def patient_save(patient: Patient, *, by: Any, expected_version: int | None = None, reason: str = "") -> Patient:
    """Create or update a patient (demographics, care team, readiness)."""
    require_permission(by, PERMS.EDIT_PATIENT)
    errors = _care_team_errors(patient)
    if errors:
        raise ValidationError(errors)
    record_save(patient, by=by, expected_version=expected_version, reason=reason)
    patient_refresh_stage(patient, by=by)
    return patient


def after_referral_voided(record: ClinicalRecord, by: Any) -> None:
    """Hook for voiding a referral: the pathway stage it fed is derived again."""
    assert isinstance(record, Referral)
    patient_refresh_stage(record.patient, by=by)


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
