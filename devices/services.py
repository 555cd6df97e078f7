"""Every write with rules for MRI scans and safety notices.

Each service is one transaction that checks its role, collects every field message before
saving, saves with a history row (who, why) and, for an MRI, recomputes the pump's
projection (a Prometra emptied for the scan is empty from that day) and refreshes the
pump's alerts in the same transaction.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from alerts.services import alerts_refresh_for_pump
from devices.models import PROMETRA_FIELD_STRENGTH_TESLA, MriScan, SafetyNotice, SafetyNoticePump
from devices.selectors import notice_affected_pumps, serial_range_errors
from pumps.models import MriProcedure, Pump
from pumps.services import after_pump_record_voided, pump_recompute_projection
from spasticity.access import require_permission
from spasticity.audit import audited_save, check_version, validate_record
from spasticity.models import ClinicalRecord
from spasticity.roles import PERMS

Errors = dict[str, list[str]]

MRI_ROLE_MESSAGE = "Only a rehabilitation doctor or a pump nurse records an MRI scan and its follow-up."
NOTICE_ROLE_MESSAGE = "Only a rehabilitation doctor or a pump nurse records safety notices."


def _errors_of(record: ClinicalRecord, exclude: tuple[str, ...] = ()) -> Errors:
    try:
        validate_record(record, exclude=exclude)
    except ValidationError as error:
        return {name: list(messages) for name, messages in error.message_dict.items()}
    return {}


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _raise_if(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


def _lock_pump(pump: Pump) -> Pump:
    return Pump.objects.select_for_update(of=("self",)).select_related("model", "patient").get(pk=pump.pk)


# --------------------------------------------------------------------------
# MRI scans
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class MriChecklist:
    """What was done around the scan; which items count depends on the pump model's procedure."""

    field_strength_tesla: Decimal | None
    emptied_before_scan: bool = False
    volume_removed_ml: Decimal | None = None
    field_strength_confirmed: bool = False
    interrogated_after_scan: bool = False
    motor_restart_confirmed: bool = False
    notes: str = ""


def _prometra_errors(pump: Pump, checklist: MriChecklist) -> Errors:
    """Prometra: emptied before the scan (with the volume removed), and scanned at 1.5 T only."""
    errors: Errors = {}
    if not checklist.emptied_before_scan:
        _add(errors, "emptied_before_scan", f"A {pump.model} must be emptied before an MRI: confirm it was emptied.")
    removed = checklist.volume_removed_ml
    if removed is None:
        _add(errors, "volume_removed_ml", "Enter the volume removed from the reservoir (mL).")
    elif removed > pump.reservoir_volume_ml:
        _add(
            errors, "volume_removed_ml", f"More than the reservoir holds ({pump.reservoir_volume_ml.normalize():f} mL)."
        )
    strength = checklist.field_strength_tesla
    if strength is not None and strength != PROMETRA_FIELD_STRENGTH_TESLA:
        _add(
            errors,
            "field_strength_tesla",
            f"A {pump.model} may be scanned at 1.5 T only, not {strength.normalize():f} T.",
        )
    if not checklist.field_strength_confirmed:
        _add(errors, "field_strength_confirmed", "Confirm with the radiology team that the scanner is 1.5 T.")
    return errors


def _mri_checklist_errors(pump: Pump, procedure: str, checklist: MriChecklist) -> Errors:
    if procedure == MriProcedure.EMPTY_BEFORE_REFILL_AFTER:
        return _prometra_errors(pump, checklist)
    errors: Errors = {}
    if checklist.emptied_before_scan or checklist.volume_removed_ml is not None:
        # Only an emptying the procedure asks for moves the projection: the refill answers it.
        _add(errors, "emptied_before_scan", f"A {pump.model} is not emptied for an MRI; leave this unticked.")
    if checklist.motor_restart_confirmed and not checklist.interrogated_after_scan:
        _add(errors, "interrogated_after_scan", "The motor restart is confirmed by interrogating the pump.")
    return errors


def _pump_errors(pump: Pump, scanned_on: datetime.date | None) -> Errors:
    if pump.is_voided or pump.explanted_on is not None:
        return {"pump": ["This pump is not implanted: record the MRI on the patient's current pump."]}
    if scanned_on is not None and scanned_on < pump.implanted_on:
        return {"scanned_on": [f"The pump was implanted on {pump.implanted_on:%Y-%m-%d}: the scan cannot be before."]}
    return {}


def _refresh_pump(pump: Pump, *, by: Any, reason: str, today: datetime.date | None) -> None:
    """The projection (an emptying moves it) and the pump's alerts, in this transaction."""
    locked = pump_recompute_projection(pump, by=by, reason=reason)
    alerts_refresh_for_pump(locked, as_of=today, by=by)


@transaction.atomic
def mri_record(
    *,
    pump: Pump,
    by: Any,
    scanned_on: datetime.date,
    checklist: MriChecklist,
    today: datetime.date | None = None,
) -> MriScan:
    """Record an MRI scan with its model's checklist.

    1. The pump is locked (a refill recorded at the same time waits) and must be implanted.
    2. The checklist of the model's procedure (``PumpModel.mri_procedure``, copied onto the scan).
    3. A SynchroMed interrogated with its motor restarted is followed up at once.
    4. The projection is recomputed (a Prometra emptied is empty from the scan day) and the
       pump's alerts refreshed (``mri_follow_up_missing``, ``past_alarm_date``).
    """
    require_permission(by, PERMS.RECORD_MRI, MRI_ROLE_MESSAGE)
    locked = _lock_pump(pump)
    procedure = locked.model.mri_procedure
    scan = MriScan(
        pump=locked,
        patient=locked.patient,
        scanned_on=scanned_on,
        procedure=procedure,
        field_strength_tesla=checklist.field_strength_tesla,  # type: ignore[misc]  # None: the field says so
        emptied_before_scan=checklist.emptied_before_scan,
        volume_removed_ml=checklist.volume_removed_ml,
        field_strength_confirmed=checklist.field_strength_confirmed,
        interrogated_after_scan=checklist.interrogated_after_scan,
        motor_restart_confirmed=checklist.motor_restart_confirmed,
        notes=checklist.notes,
    )
    errors = _errors_of(scan)
    for name, messages in (
        _pump_errors(locked, scanned_on) | _mri_checklist_errors(locked, procedure, checklist)
    ).items():
        errors.setdefault(name, []).extend(messages)
    _raise_if(errors)
    if procedure == MriProcedure.INTERROGATE_AFTER and checklist.motor_restart_confirmed:
        scan.follow_up_recorded_at, scan.follow_up_recorded_by = timezone.now(), by
    audited_save(scan, by=by, reason="MRI scan recorded")
    _refresh_pump(locked, by=by, reason=f"MRI on {scanned_on:%Y-%m-%d}", today=today)
    return scan


@transaction.atomic
def mri_record_follow_up(
    scan: MriScan,
    *,
    by: Any,
    interrogated_after_scan: bool,
    motor_restart_confirmed: bool,
    note: str = "",
    expected_version: int | None = None,
    today: datetime.date | None = None,
) -> MriScan:
    """The follow-up of a SynchroMed scan: interrogated after it, the motor restarted.

    A Prometra's follow-up is its refill (recording the refill answers it); a scan already
    followed up, or voided, is refused.
    """
    require_permission(by, PERMS.RECORD_MRI, MRI_ROLE_MESSAGE)
    check_version(scan, expected_version)
    scan = MriScan.objects.select_for_update().get(pk=scan.pk)
    errors: Errors = {}
    if scan.is_voided:
        _add(errors, "non_field_errors", "This MRI record was voided.")
    elif scan.follow_up_recorded_at is not None:
        _add(errors, "non_field_errors", "The follow-up of this MRI is already recorded.")
    elif scan.procedure == MriProcedure.EMPTY_BEFORE_REFILL_AFTER:
        _add(errors, "non_field_errors", "A pump emptied for an MRI is followed up by its refill: record the refill.")
    elif scan.procedure == MriProcedure.NONE:
        _add(errors, "non_field_errors", "This pump model needs no MRI follow-up.")
    else:
        if not interrogated_after_scan:
            _add(errors, "interrogated_after_scan", "Interrogate the pump after the MRI.")
        if not motor_restart_confirmed:
            _add(
                errors,
                "motor_restart_confirmed",
                "Confirm that the motor restarted. If it did not, the pump is not delivering: "
                "treat it as a pump failure (withdrawal risk) and call the surgical team.",
            )
    _raise_if(errors)
    scan.interrogated_after_scan, scan.motor_restart_confirmed = True, True
    scan.follow_up_recorded_at, scan.follow_up_recorded_by, scan.follow_up_note = timezone.now(), by, note
    audited_save(scan, by=by, reason="MRI follow-up: interrogated, motor restarted")
    _refresh_pump(scan.pump, by=by, reason="MRI follow-up recorded", today=today)
    return scan


def after_mri_scan_voided(record: ClinicalRecord, by: Any) -> None:
    """Voiding an MRI re-derives what it fed: an emptying no longer empties, its alert resolves."""
    after_pump_record_voided(record, by)


# --------------------------------------------------------------------------
# Safety notices
# --------------------------------------------------------------------------


def _clean_list(values: Any) -> list[str]:
    if not isinstance(values, list):
        return []
    return [str(value).strip() for value in values if str(value).strip()]


def _notice_errors(notice: SafetyNotice) -> Errors:
    errors = _errors_of(notice)
    if not isinstance(notice.serial_numbers, list):
        _add(errors, "serial_numbers", 'List the serial numbers, e.g. ["NGP200100H"].')
    if not isinstance(notice.lot_numbers, list):
        _add(errors, "lot_numbers", 'List the lot numbers, e.g. ["L1234"].')
    has_from, has_to = bool(notice.serial_from.strip()), bool(notice.serial_to.strip())
    if has_from != has_to:
        _add(errors, "serial_to" if has_from else "serial_from", "Give both ends of the serial range.")
    else:
        for message in serial_range_errors(notice.serial_from, notice.serial_to):
            _add(errors, "serial_from", message)
    return errors


@transaction.atomic
def safety_notice_save(
    notice: SafetyNotice, *, by: Any, expected_version: int | None = None, reason: str = ""
) -> SafetyNotice:
    """Record or edit a safety notice (its affected pumps follow from its model, serials and lots)."""
    require_permission(by, PERMS.MANAGE_SAFETY_NOTICE, NOTICE_ROLE_MESSAGE)
    check_version(notice, expected_version)
    errors = _notice_errors(notice)
    _raise_if(errors)
    notice.serial_numbers = _clean_list(notice.serial_numbers)
    notice.lot_numbers = _clean_list(notice.lot_numbers)
    notice.serial_from, notice.serial_to = notice.serial_from.strip(), notice.serial_to.strip()
    adding = notice.pk is None
    audited_save(notice, by=by, reason=reason or ("Safety notice recorded" if adding else "Safety notice edited"))
    return notice


@transaction.atomic
def safety_notice_acknowledge(
    notice: SafetyNotice,
    *,
    pump: Pump,
    by: Any,
    patient_informed_on: datetime.date | None,
    action_taken: str,
) -> SafetyNoticePump:
    """Record, for one affected pump, that the patient was informed and what was done."""
    require_permission(by, PERMS.MANAGE_SAFETY_NOTICE, NOTICE_ROLE_MESSAGE)
    notice = SafetyNotice.objects.select_for_update().get(pk=notice.pk)
    errors: Errors = {}
    if notice.is_voided:
        _add(errors, "notice", "This safety notice was voided.")
    affected = {row.pump.pk: row for row in notice_affected_pumps(notice)}
    row = affected.get(pump.pk)
    if row is None:
        _add(errors, "pump", f"Pump {pump.serial_number} is not one the notice affects.")
    elif row.addressed:
        _add(errors, "pump", f"Pump {pump.serial_number} is already acknowledged for this notice.")
    if not action_taken.strip():
        _add(errors, "action_taken", "Say what was done for this pump.")
    if patient_informed_on is None:
        _add(errors, "patient_informed_on", "Enter the date the patient (or family) was informed.")
    _raise_if(errors)
    ack = SafetyNoticePump(
        notice=notice,
        pump=pump,
        patient_informed_on=patient_informed_on,  # type: ignore[misc]  # checked above
        action_taken=action_taken.strip(),
        acknowledged_by=by,
        acknowledged_at=timezone.now(),
    )
    audited_save(ack, by=by, reason=f"Safety notice acknowledged for pump {pump.serial_number}")
    return ack
