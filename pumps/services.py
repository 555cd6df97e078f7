"""Every write with rules for pumps: surgery, dose programs, refills and the projection.

Each service is one transaction. It locks the pump row first, so that two writes to
the same pump are serialised and each one projects from the other's result; checks
everything (collecting every field message) before it saves anything; then saves
the records, recomputes the pump's stored projection with ``pump_recompute_projection``
and refreshes the patient's pathway stage.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from alerts.services import alerts_refresh_for_pump
from patients.services import patient_refresh_stage
from pumps import dosing
from pumps.models import DoseChange, Pump, PumpModel, Refill, Surgery
from pumps.projection import (
    STORED_FIELDS,
    active_dose_changes,
    active_refills,
    dose_segments,
    fill_of,
    pump_state,
    stored_state,
)
from spasticity.audit import audited_save, record_save
from spasticity.clinic import dosing_settings
from spasticity.models import ClinicalRecord

Errors = dict[str, list[str]]


@dataclass(frozen=True)
class ProgramDetails:
    """A dose program as entered at a titration visit (or at implant)."""

    mode: str = DoseChange.Mode.SIMPLE_CONTINUOUS
    daily_dose_mcg: Decimal | None = None
    flex_steps: Any = field(default_factory=list)
    reason: str = ""
    confirmation_reason: str = ""
    side_effects: str = ""
    tone_notes: str = ""
    next_visit_on: datetime.date | None = None


@dataclass(frozen=True)
class FillDetails:
    """What was put in the reservoir (and taken out of it) at a refill."""

    volume_added_ml: Decimal
    drug: str
    concentration_mcg_per_ml: Decimal
    lot_number: str = ""
    dilution_note: str = ""
    aspirated_volume_ml: Decimal | None = None
    reservoir_port_access_confirmed: bool = False
    next_refill_appointment_on: datetime.date | None = None


@dataclass(frozen=True)
class SurgeryDetails:
    performed_on: datetime.date
    surgeon: Any = None
    complications: Sequence[str] = ()
    complications_other: str = ""
    notes: str = ""


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _merge(errors: Errors, error: ValidationError | Errors) -> Errors:
    items = error.message_dict.items() if isinstance(error, ValidationError) else error.items()
    for name, messages in items:
        for message in messages:
            if message not in errors.setdefault(name, []):
                errors[name].append(message)
    return errors


def _validate(record: ClinicalRecord, exclude: Sequence[str] = ()) -> Errors:
    try:
        record.full_clean(exclude=list(exclude))
    except ValidationError as error:
        return _merge({}, error)
    return {}


def _raise_if(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


def _lock(pump: Pump) -> Pump:
    """Lock the pump row for the rest of the transaction, with its records."""
    # of=("self",): lock the pump row only, not its catalogue entry or patient.
    return Pump.objects.select_for_update(of=("self",)).select_related("model", "patient").get(pk=pump.pk)


def _records(pump: Pump) -> tuple[list[Refill], list[DoseChange]]:
    return list(pump.refills.all()), list(pump.dose_changes.all())


def _not_explanted(pump: Pump, field_name: str) -> Errors:
    if pump.explanted_on or pump.is_voided:
        when = f" on {pump.explanted_on:%Y-%m-%d}" if pump.explanted_on else ""
        return {field_name: [f"This pump was explanted{when}: nothing more can be recorded on it."]}
    return {}


def _latest_record_on(refills: Sequence[Refill], dose_changes: Sequence[DoseChange]) -> datetime.date | None:
    dates = [r.refilled_on for r in active_refills(refills)] + [d.changed_on for d in active_dose_changes(dose_changes)]
    return max(dates) if dates else None


# --------------------------------------------------------------------------
# The stored projection
# --------------------------------------------------------------------------


def pump_recompute_projection(pump: Pump, *, by: Any, reason: str = "") -> Pump:
    """Recompute the pump's stored projection and current values from its records.

    The one writer of ``alarm_date``, ``refill_due_on``, ``battery_end_of_service_on``
    and the cached current program, drug and booked dates. Runs inside the caller's
    transaction, locks the row, saves (with a history row) only when something moved.
    """
    locked = _lock(pump)
    refills, dose_changes = _records(locked)
    fresh = pump_state(locked, refills, dose_changes, dosing_settings())
    if stored_state(locked) != fresh:
        for name, value in fresh.as_dict().items():
            setattr(locked, name, value)
        audited_save(locked, by=by, reason=reason or "Reservoir projection recomputed", bump_version=False)
    for name in (*STORED_FIELDS, "version", "updated_at"):
        setattr(pump, name, getattr(locked, name))
    return locked


# --------------------------------------------------------------------------
# Dose programs
# --------------------------------------------------------------------------


@dataclass
class DoseChangeDraft:
    """A dose change checked against the pump, with what it would mean, not saved."""

    dose_change: DoseChange
    current_daily_dose_mcg: Decimal | None
    check: dosing.DoseChangeCheck | None
    errors: Errors


def _dose_change_draft(
    pump: Pump,
    refills: Sequence[Refill],
    dose_changes: Sequence[DoseChange],
    *,
    changed_on: datetime.date,
    program: ProgramDetails,
    current_daily_dose_mcg: Decimal | None,
    require_confirmation: bool = True,
    project: bool = True,
) -> DoseChangeDraft:
    """Build, check and project a dose change.

    1. Field rules (model ``clean``: dose > 0, flex steps tile the day, dates).
    2. Order: not before the pump's latest dose change or refill, so that earlier
       printouts and delivery checks stay true.
    3. Safety: above the change or high-dose threshold, a confirmation reason.
    4. The new alarm and refill-due dates of the current fill with this program.
    """
    fields: dict[str, Any] = {
        **asdict(program),
        "flex_steps": program.flex_steps if program.mode == DoseChange.Mode.FLEX else [],
    }
    dose_change = DoseChange(pump=pump, changed_on=changed_on, **fields)
    errors = _validate(dose_change, exclude=["pump"] if pump.pk is None else [])
    latest_on = _latest_record_on(refills, dose_changes)
    if changed_on and latest_on and changed_on < latest_on:
        _merge(errors, {"changed_on": [_backdated_message("dose change", latest_on)]})
    if errors or dose_change.daily_dose_mcg is None:
        return DoseChangeDraft(dose_change, current_daily_dose_mcg, None, errors)
    settings = dosing_settings()
    check = dosing.dose_change_check(current_daily_dose_mcg, dose_change.daily_dose_mcg, settings)
    dose_change.change_percent = check.change_percent
    if require_confirmation and check.needs_confirmation and not program.confirmation_reason.strip():
        _merge(errors, {"confirmation_reason": [*check.reasons, "Give a confirmation reason to go ahead."]})
    if project:
        state = pump_state(pump, refills, [*dose_changes, dose_change], settings)
        dose_change.alarm_date, dose_change.refill_due_on = state.alarm_date, state.refill_due_on
    return DoseChangeDraft(dose_change, current_daily_dose_mcg, check, errors)


def _backdated_message(what: str, latest_on: datetime.date) -> str:
    return (
        f"This pump already has a refill or dose change recorded on {latest_on:%Y-%m-%d}; "
        f"a {what} cannot be dated before it (void the later record first if it was wrong)."
    )


def _current_daily_dose(dose_changes: Sequence[DoseChange]) -> Decimal | None:
    programs = active_dose_changes(dose_changes)
    return programs[-1].daily_dose_mcg if programs else None


def dose_change_preview(*, pump: Pump, changed_on: datetime.date, program: ProgramDetails) -> DoseChangeDraft:
    """What a dose change would do (daily dose, change %, new dates, problems); saves nothing."""
    refills, dose_changes = _records(pump)
    if explanted := _not_explanted(pump, "changed_on"):
        return DoseChangeDraft(DoseChange(pump=pump), _current_daily_dose(dose_changes), None, explanted)
    return _dose_change_draft(
        pump,
        refills,
        dose_changes,
        changed_on=changed_on,
        program=program,
        current_daily_dose_mcg=_current_daily_dose(dose_changes),
        # The preview shows the confirmation need as a warning, not as an error.
        require_confirmation=False,
    )


@transaction.atomic
def dose_change_record(
    *,
    pump: Pump,
    by: Any,
    changed_on: datetime.date,
    mode: str = DoseChange.Mode.SIMPLE_CONTINUOUS,
    daily_dose_mcg: Decimal | None = None,
    flex_steps: Any = None,
    reason: str = "",
    confirmation_reason: str = "",
    side_effects: str = "",
    tone_notes: str = "",
    next_visit_on: datetime.date | None = None,
    today: datetime.date | None = None,
) -> DoseChange:
    """Record a new dose program (a titration visit or any dose change) and re-project the pump."""
    locked = _lock(pump)
    _raise_if(_not_explanted(locked, "changed_on"))
    refills, dose_changes = _records(locked)
    program = ProgramDetails(
        mode=mode,
        daily_dose_mcg=daily_dose_mcg,
        flex_steps=flex_steps or [],
        reason=reason,
        confirmation_reason=confirmation_reason,
        side_effects=side_effects,
        tone_notes=tone_notes,
        next_visit_on=next_visit_on,
    )
    draft = _dose_change_draft(
        locked,
        refills,
        dose_changes,
        changed_on=changed_on,
        program=program,
        current_daily_dose_mcg=_current_daily_dose(dose_changes),
    )
    _raise_if(draft.errors)
    audited_save(draft.dose_change, by=by, reason="Dose program changed")
    pump_recompute_projection(pump, by=by, reason=f"Dose changed to {draft.dose_change}")
    alerts_refresh_for_pump(locked, as_of=today, by=by)
    patient_refresh_stage(locked.patient, by=by, today=today)
    return draft.dose_change


# --------------------------------------------------------------------------
# Refills
# --------------------------------------------------------------------------


@dataclass
class RefillDraft:
    refill: Refill
    previous_fill: Refill | None
    delivery: dosing.DeliveryCheck | None
    errors: Errors


def _refill_draft(
    pump: Pump,
    refills: Sequence[Refill],
    dose_changes: Sequence[DoseChange],
    *,
    refilled_on: datetime.date,
    fill: FillDetails,
    project: bool = True,
) -> RefillDraft:
    """Build, check and project a refill.

    1. Field rules (model ``clean``: volume ≤ reservoir and > alarm volume,
       concentration > 0 with a dilution note when not standard, dates).
    2. Order: not before the pump's latest refill.
    3. Delivery check against the previous fill (the aspirated residual is
       required for every refill but the first fill).
    4. The new alarm and refill-due dates.
    """
    refill = Refill(
        pump=pump,
        refilled_on=refilled_on,
        aspirated_volume_ml=fill.aspirated_volume_ml,
        volume_added_ml=fill.volume_added_ml,
        drug=fill.drug,
        concentration_mcg_per_ml=fill.concentration_mcg_per_ml,
        dilution_note=fill.dilution_note,
        lot_number=fill.lot_number,
        reservoir_port_access_confirmed=fill.reservoir_port_access_confirmed,
        next_refill_appointment_on=fill.next_refill_appointment_on,
    )
    errors = _validate(refill, exclude=["pump"] if pump.pk is None else [])
    fills = active_refills(refills)
    previous = fills[-1] if fills else None
    refill.is_first_fill = previous is None
    if previous and refilled_on and refilled_on < previous.refilled_on:
        _merge(errors, {"refilled_on": [_backdated_message("refill", previous.refilled_on)]})
    if previous and fill.aspirated_volume_ml is None:
        _merge(errors, {"aspirated_volume_ml": ["Enter the volume aspirated from the reservoir (0 if it was empty)."]})
    if errors or not project:
        return RefillDraft(refill, previous, None, errors)
    settings = dosing_settings()
    delivery = None
    if previous is not None and fill.aspirated_volume_ml is not None:
        delivery = dosing.delivery_check(
            fill_of(previous, pump), dose_segments(dose_changes), refilled_on, fill.aspirated_volume_ml, settings
        )
        refill.expected_delivered_ml = delivery.expected_delivered_ml
        refill.actual_delivered_ml = delivery.actual_delivered_ml
        refill.expected_residual_ml = delivery.expected_residual_ml
        refill.delivery_deviation_percent = delivery.delivery_deviation_percent
        refill.delivery_flag = delivery.delivery_flag
    state = pump_state(pump, [*refills, refill], dose_changes, settings)
    refill.alarm_date, refill.refill_due_on = state.alarm_date, state.refill_due_on
    return RefillDraft(refill, previous, delivery, errors)


def refill_preview(*, pump: Pump, refilled_on: datetime.date, fill: FillDetails) -> RefillDraft:
    """The delivery check and new dates a refill would give; saves nothing."""
    refills, dose_changes = _records(pump)
    if explanted := _not_explanted(pump, "refilled_on"):
        return RefillDraft(Refill(pump=pump), None, None, explanted)
    return _refill_draft(pump, refills, dose_changes, refilled_on=refilled_on, fill=fill)


@transaction.atomic
def refill_record(
    *,
    pump: Pump,
    by: Any,
    refilled_on: datetime.date,
    volume_added_ml: Decimal,
    drug: str,
    concentration_mcg_per_ml: Decimal,
    lot_number: str = "",
    dilution_note: str = "",
    aspirated_volume_ml: Decimal | None = None,
    reservoir_port_access_confirmed: bool = False,
    next_refill_appointment_on: datetime.date | None = None,
    today: datetime.date | None = None,
) -> Refill:
    """Record a refill, with its delivery check, and re-project the pump."""
    locked = _lock(pump)
    _raise_if(_not_explanted(locked, "refilled_on"))
    refills, dose_changes = _records(locked)
    fill = FillDetails(
        volume_added_ml=volume_added_ml,
        drug=drug,
        concentration_mcg_per_ml=concentration_mcg_per_ml,
        lot_number=lot_number,
        dilution_note=dilution_note,
        aspirated_volume_ml=aspirated_volume_ml,
        reservoir_port_access_confirmed=reservoir_port_access_confirmed,
        next_refill_appointment_on=next_refill_appointment_on,
    )
    draft = _refill_draft(locked, refills, dose_changes, refilled_on=refilled_on, fill=fill)
    _raise_if(draft.errors)
    audited_save(draft.refill, by=by, reason="Refill recorded")
    pump_recompute_projection(pump, by=by, reason=f"Refilled on {refilled_on:%Y-%m-%d}")
    alerts_refresh_for_pump(locked, as_of=today, by=by)
    patient_refresh_stage(locked.patient, by=by, today=today)
    return draft.refill


# --------------------------------------------------------------------------
# Surgery
# --------------------------------------------------------------------------


def _surgery(pump: Pump, kind: str, details: SurgeryDetails, **extra: Any) -> Surgery:
    return Surgery(
        patient=pump.patient,
        pump=pump,
        kind=kind,
        performed_on=details.performed_on,
        surgeon=details.surgeon,
        complications=list(details.complications),
        complications_other=details.complications_other,
        notes=details.notes,
        **extra,
    )


def _new_pump_errors(
    pump: Pump,
    surgery: Surgery,
    *,
    program: ProgramDetails | None,
    fill: FillDetails | None,
    current_daily_dose_mcg: Decimal | None,
) -> tuple[Errors, DoseChange | None, Refill | None]:
    """Check a new pump, its surgery, first program and first fill together, saving nothing.

    The surgery, program and fill are all dated on the implant day, so a bad date is
    reported once, on ``implanted_on``.
    """
    errors = _validate(pump)
    surgery_errors = _validate(surgery, exclude=["pump", "replaced_pump"])
    surgery_errors.pop("performed_on", None)
    _merge(errors, surgery_errors)
    if "implanted_on" in errors or pump.implanted_on is None:
        return errors, None, None
    # Project only a pump whose own fields are sound (the volumes feed the projection).
    project = not errors
    dose_change = refill = None
    if program is not None:
        draft = _dose_change_draft(
            pump,
            [],
            [],
            changed_on=pump.implanted_on,
            program=program,
            current_daily_dose_mcg=current_daily_dose_mcg,
            project=project,
        )
        draft.errors.pop("changed_on", None)
        _merge(errors, draft.errors)
        dose_change = draft.dose_change
    if fill is not None:
        programs = [dose_change] if dose_change is not None and not errors else []
        refill_draft = _refill_draft(
            pump, [], programs, refilled_on=pump.implanted_on, fill=fill, project=project and not errors
        )
        refill_draft.errors.pop("refilled_on", None)
        _merge(errors, refill_draft.errors)
        refill = refill_draft.refill
    return errors, dose_change, refill


def _save_new_pump(
    pump: Pump, surgery: Surgery, dose_change: DoseChange | None, refill: Refill | None, *, by: Any
) -> None:
    record_save(pump, by=by, reason=f"{surgery.get_kind_display()} recorded")
    surgery.pump = pump
    audited_save(surgery, by=by, reason=f"{surgery.get_kind_display()} recorded")
    for record, why in ((dose_change, "Starting dose program"), (refill, "First fill")):
        if record is not None:
            record.pump = pump
            audited_save(record, by=by, reason=why)
    pump_recompute_projection(pump, by=by, reason=f"{surgery.get_kind_display()} recorded")


@transaction.atomic
def pump_implant(
    pump: Pump,
    *,
    by: Any,
    surgery: SurgeryDetails | None = None,
    first_program: ProgramDetails | None = None,
    first_fill: FillDetails | None = None,
    today: datetime.date | None = None,
) -> Pump:
    """Implant: the pump, its implant surgery, its first program and its first fill, all or nothing.

    ``pump`` is an unsaved Pump with its patient, model, serial number, volumes,
    implant date and catheter. The program and fill are dated on the implant day.
    """
    details = replace(surgery or SurgeryDetails(performed_on=pump.implanted_on), performed_on=pump.implanted_on)
    implant = _surgery(pump, Surgery.Kind.IMPLANT, details)
    errors, dose_change, refill = _new_pump_errors(
        pump, implant, program=first_program, fill=first_fill, current_daily_dose_mcg=None
    )
    _raise_if(errors)
    _save_new_pump(pump, implant, dose_change, refill, by=by)
    # A pump entered with an old fill (a patient joining the clinic) may already be due.
    alerts_refresh_for_pump(pump, as_of=today, by=by)
    patient_refresh_stage(pump.patient, by=by, today=today)
    return pump


def _carried_over_program(dose_changes: Sequence[DoseChange], old_pump: Pump) -> ProgramDetails | None:
    programs = active_dose_changes(dose_changes)
    if not programs:
        return None
    current = programs[-1]
    return ProgramDetails(
        mode=current.mode,
        daily_dose_mcg=current.daily_dose_mcg,
        flex_steps=current.flex_steps,
        reason=f"Program carried over unchanged from the replaced pump {old_pump.serial_number}.",
        confirmation_reason=f"Same program as the replaced pump {old_pump.serial_number}.",
    )


def _explant_date_errors(pump: Pump, performed_on: datetime.date | None, field_name: str) -> Errors:
    errors = _not_explanted(pump, field_name)
    if errors or performed_on is None:
        return errors
    if performed_on < pump.implanted_on:
        return {field_name: [f"The pump was implanted on {pump.implanted_on:%Y-%m-%d}: surgery cannot be before that."]}
    refills, dose_changes = _records(pump)
    latest_on = _latest_record_on(refills, dose_changes)
    if latest_on and performed_on < latest_on:
        return {
            field_name: [f"A refill or dose change is recorded on {latest_on:%Y-%m-%d}: the pump was still in then."]
        }
    return {}


@transaction.atomic
def pump_replace(
    old_pump: Pump,
    *,
    new_pump: Pump,
    by: Any,
    surgery: SurgeryDetails,
    catheter_revised: bool = False,
    first_program: ProgramDetails | None = None,
    first_fill: FillDetails | None = None,
    today: datetime.date | None = None,
) -> Pump:
    """Replace a pump: the old one is explanted and a new one implanted the same day.

    The catheter stays (its model and tip level carry over) unless a revision is
    recorded with the replacement. Without a new program, the old pump's current
    program carries over unchanged.
    """
    locked = _lock(old_pump)
    _raise_if(_explant_date_errors(locked, surgery.performed_on, "performed_on"))
    _, dose_changes = _records(locked)
    new_pump.patient = locked.patient
    new_pump.implanted_on = surgery.performed_on
    if not catheter_revised:
        new_pump.catheter_model, new_pump.catheter_tip_level = locked.catheter_model, locked.catheter_tip_level
    program = first_program or _carried_over_program(dose_changes, locked)
    replacement = _surgery(
        new_pump, Surgery.Kind.PUMP_REPLACEMENT, surgery, replaced_pump=locked, catheter_revised=catheter_revised
    )
    errors, dose_change, refill = _new_pump_errors(
        new_pump,
        replacement,
        program=program,
        fill=first_fill,
        current_daily_dose_mcg=_current_daily_dose(dose_changes),
    )
    _raise_if(errors)
    locked.explanted_on = surgery.performed_on
    record_save(locked, by=by, reason=f"Replaced by pump {new_pump.serial_number}")
    pump_recompute_projection(locked, by=by, reason="Explanted at replacement")
    _save_new_pump(new_pump, replacement, dose_change, refill, by=by)
    old_pump.explanted_on = locked.explanted_on
    alerts_refresh_for_pump(locked, as_of=today, by=by)
    alerts_refresh_for_pump(new_pump, as_of=today, by=by)
    patient_refresh_stage(locked.patient, by=by, today=today)
    return new_pump


@transaction.atomic
def catheter_revision(
    pump: Pump,
    *,
    by: Any,
    surgery: SurgeryDetails,
    catheter_model: str = "",
    catheter_tip_level: str = "",
    today: datetime.date | None = None,
) -> Surgery:
    """A catheter revision: the pump stays; the catheter model and tip level are updated when given."""
    locked = _lock(pump)
    errors = _explant_date_errors(locked, surgery.performed_on, "performed_on")
    revision = _surgery(locked, Surgery.Kind.CATHETER_REVISION, surgery, catheter_revised=True)
    _merge(errors, _validate(revision))
    _raise_if(errors)
    locked.catheter_model = catheter_model or locked.catheter_model
    locked.catheter_tip_level = catheter_tip_level or locked.catheter_tip_level
    record_save(locked, by=by, reason="Catheter revised")
    audited_save(revision, by=by, reason="Catheter revision recorded")
    pump_recompute_projection(locked, by=by)
    patient_refresh_stage(locked.patient, by=by, today=today)
    return revision


@transaction.atomic
def pump_explant(pump: Pump, *, by: Any, surgery: SurgeryDetails, today: datetime.date | None = None) -> Surgery:
    """Explant a pump without a replacement: it no longer needs refills or a battery watch."""
    locked = _lock(pump)
    errors = _explant_date_errors(locked, surgery.performed_on, "performed_on")
    explant = _surgery(locked, Surgery.Kind.EXPLANT, surgery)
    _merge(errors, _validate(explant))
    _raise_if(errors)
    locked.explanted_on = surgery.performed_on
    record_save(locked, by=by, reason="Explanted")
    audited_save(explant, by=by, reason="Explant recorded")
    pump_recompute_projection(pump, by=by, reason="Explanted")
    pump.explanted_on = locked.explanted_on
    alerts_refresh_for_pump(locked, as_of=today, by=by)
    patient_refresh_stage(locked.patient, by=by, today=today)
    return explant


# --------------------------------------------------------------------------
# Pump details and the catalogue
# --------------------------------------------------------------------------


@transaction.atomic
def pump_update(
    pump: Pump,
    *,
    by: Any,
    expected_version: int | None = None,
    reason: str = "",
    today: datetime.date | None = None,
) -> Pump:
    """Save edited pump details (ERI date, cards, alarm volume, site…) and re-project.

    The implant date cannot move past the pump's first refill or dose change, and
    the pump must still be able to hold its current fill.
    """
    refills, dose_changes = _records(pump)
    errors: Errors = {}
    dates = [r.refilled_on for r in active_refills(refills)] + [d.changed_on for d in active_dose_changes(dose_changes)]
    if pump.implanted_on and dates and pump.implanted_on > min(dates):
        _merge(
            errors, {"implanted_on": [f"A refill or dose change is recorded on {min(dates):%Y-%m-%d}, before this."]}
        )
    fills = active_refills(refills)
    if fills and pump.low_reservoir_alarm_ml is not None and pump.low_reservoir_alarm_ml >= fills[-1].volume_added_ml:
        _merge(
            errors,
            {"low_reservoir_alarm_ml": ["The alarm volume must be less than the volume put in at the last fill."]},
        )
    _raise_if(errors)
    record_save(pump, by=by, expected_version=expected_version, reason=reason)
    pump_recompute_projection(pump, by=by, reason=reason or "Pump details edited")
    # An ERI date or a new alarm volume moves the battery and alarm dates: alert at once.
    alerts_refresh_for_pump(pump, as_of=today, by=by)
    patient_refresh_stage(pump.patient, by=by, today=today)
    return pump


@transaction.atomic
def pump_model_save(
    pump_model: PumpModel, *, by: Any, expected_version: int | None = None, reason: str = ""
) -> PumpModel:
    """Save a catalogue entry; pumps of this model get their battery date recomputed at once."""
    record_save(pump_model, by=by, expected_version=expected_version, reason=reason)
    for pump in Pump.objects.implanted().filter(model=pump_model):
        pump_recompute_projection(pump, by=by, reason=f"Catalogue entry {pump_model} changed")
    return pump_model


# --------------------------------------------------------------------------
# Voiding
# --------------------------------------------------------------------------


def after_pump_record_voided(record: ClinicalRecord, by: Any) -> None:
    """Hook for ``spasticity.audit.void_record``: re-project in the same transaction.

    A voided refill or dose change no longer counts, so the pump's alarm and
    refill-due dates, and its alerts, move at once; a voided pump leaves the lists.
    """
    pump = record if isinstance(record, Pump) else record.pump  # type: ignore[attr-defined]
    pump_recompute_projection(pump, by=by, reason=f"Recomputed after voiding {record}")
    # Voiding a mistaken refill can put the pump back past its alarm date: alert now,
    # not at tomorrow's 06:00 scan.
    alerts_refresh_for_pump(pump, by=by)
    patient_refresh_stage(pump.patient, by=by)
