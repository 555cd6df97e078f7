"""Every write with rules for pumps: surgery, dose programs, refills and the projection.

Each service is one transaction. It locks the pump row first, so that two writes to
the same pump are serialised and each one projects from the other's result; checks
everything (collecting every field message) before it saves anything; then saves
the records, recomputes the pump's stored projection with ``pump_recompute_projection``
and refreshes the patient's pathway stage.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from alerts.services import alerts_refresh_for_pump
from appointments.models import AppointmentKind
from appointments.selectors import booked_visit_id
from appointments.services import appointment_mark_attended_for, appointments_cancel_for_explant
from patients.models import Patient
from patients.services import patient_refresh_stage
from pumps import dosing
from pumps.models import CheckStatus, DoseChange, Pump, PumpModel, Refill, Surgery
from pumps.projection import (
    EMPTIED_ON,
    STORED_FIELDS,
    active_dose_changes,
    active_refills,
    dose_segments,
    emptied_since,
    emptying_annotations,
    fill_of,
    pump_state,
    stored_state,
)
from pumps.selectors import suggested_starting_dose_mcg
from spasticity.access import holds_role, require_permission
from spasticity.audit import audited_save, check_version, record_save, validate_record
from spasticity.clinic import dosing_settings
from spasticity.models import ClinicalRecord
from spasticity.roles import PERMS, Role

PORT_ACCESS_REQUIRED = (
    "Confirm that the needle was in the central reservoir fill port (never the catheter access port) "
    "and that aspiration confirmed placement."
)

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
    # What the clinician programmer showed after the session (spec "Programming safety").
    programmer_alarm_date: datetime.date | None = None
    programmer_reservoir_volume_ml: Decimal | None = None
    programmer_daily_dose_mcg: Decimal | None = None


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
    # At the pump (not asked for the first fill in theatre): see ``_refill_visit_errors``.
    concentration_reprogrammed_confirmed: bool = False
    pump_running_confirmed: bool = False
    observation_minutes: int | None = None
    observation_signs: Sequence[str] = ()
    programmer_alarm_date: datetime.date | None = None
    programmer_reservoir_volume_ml: Decimal | None = None
    programmer_daily_dose_mcg: Decimal | None = None


@dataclass(frozen=True)
class SurgeryDetails:
    performed_on: datetime.date
    surgeon: Any = None
    complications: Sequence[str] = ()
    complications_other: str = ""
    notes: str = ""


@dataclass(frozen=True)
class DoseReference:
    """What a new daily dose is measured against (see ``dosing.dose_change_check``)."""

    current_daily_dose_mcg: Decimal | None = None
    day_start_daily_dose_mcg: Decimal | None = None
    suggested_starting_dose_mcg: Decimal | None = None


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


def _validate(record: ClinicalRecord, exclude: Sequence[str] = (), *, validate_constraints: bool = True) -> Errors:
    try:
        validate_record(record, exclude=exclude, validate_constraints=validate_constraints)
    except ValidationError as error:
        return _merge({}, error)
    return {}


def _raise_if(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


def _lock(pump: Pump, **annotations: Any) -> Pump:
    """Lock the pump row for the rest of the transaction, with its catalogue entry and patient
    (and ``annotations``: values read beside the row, e.g. the booked visit a refill answers)."""
    # of=("self",): lock the pump row only, not its catalogue entry or patient.
    pumps = Pump.objects.select_for_update(of=("self",)).select_related("model", "patient")
    # The latest MRI emptying rides on the same row (``pumps.projection.emptying_annotations``).
    return pumps.annotate(**emptying_annotations(), **annotations).get(pk=pump.pk)


def _as_the_save_reads(pump: Pump) -> Pump:
    """The pump with what ``_lock`` reads beside it (its latest MRI emptying), for a preview.

    A preview must show what the save will store: without the emptying, a refill after an
    MRI showed a delivery check the save does not make, and a dose change moved an alarm
    the emptied reservoir has already reached. One query, unless the caller read it so.
    """
    if hasattr(pump, EMPTIED_ON):
        return pump
    return Pump.objects.select_related("model", "patient").annotate(**emptying_annotations()).get(pk=pump.pk)


def _answer_booking(locked: Pump, *, kind: str, on_date: datetime.date, by: Any) -> None:
    """The visit answers its booking: the pump's booked ``kind`` appointment on or before the day is
    attended (read with the pump row by ``_lock(..., booked_visit_id=...)``: no booking, no statement)."""
    booked_id = getattr(locked, "booked_visit_id", None)
    appointment_mark_attended_for(pump=locked, kind=kind, on_date=on_date, by=by, booked_id=booked_id)


def _records(pump: Pump) -> tuple[list[Refill], list[DoseChange]]:
    return list(pump.refills.all()), list(pump.dose_changes.all())


class LockedPump(NamedTuple):
    """A pump row this transaction holds locked, with every record it has after this transaction's writes.

    A refill or dose change has already read all of these to check the new record; handing
    them on spares the recompute reading the same rows again.
    """

    pump: Pump
    refills: list[Refill]
    dose_changes: list[DoseChange]


def _not_explanted(pump: Pump, field_name: str) -> Errors:
    if pump.explanted_on or pump.is_voided:
        when = f" on {pump.explanted_on:%Y-%m-%d}" if pump.explanted_on else ""
        return {field_name: [f"This pump was explanted{when}: nothing more can be recorded on it."]}
    return {}


def _latest_record_on(refills: Sequence[Refill], dose_changes: Sequence[DoseChange]) -> datetime.date | None:
    dates = [r.refilled_on for r in active_refills(refills)] + [d.changed_on for d in active_dose_changes(dose_changes)]
    return max(dates) if dates else None


def _rederive(
    pump: Pump, *, by: Any, reason: str, today: datetime.date | None = None, held: LockedPump | None = None
) -> None:
    """Everything a pump's records feed, recomputed from the records that remain.

    The same three functions run after every write and every void: the stored
    projection, the pump's alerts (so a change that puts a pump past its alarm
    date alerts now, not at tomorrow's 06:00 scan) and the patient's pathway stage.
    ``held``: the pump and its records as the caller holds them (see ``LockedPump``).
    """
    locked = pump_recompute_projection(pump, by=by, reason=reason, held=held)
    alerts_refresh_for_pump(locked, as_of=today, by=by)
    patient_refresh_stage(locked.patient, by=by, today=today)


# --------------------------------------------------------------------------
# The stored projection
# --------------------------------------------------------------------------


def pump_recompute_projection(pump: Pump, *, by: Any, reason: str = "", held: LockedPump | None = None) -> Pump:
    """Recompute the pump's stored projection and current values from its records.

    The one writer of ``alarm_date``, ``refill_due_on``, ``battery_end_of_service_on``
    and the cached current program, drug and booked dates. Runs inside the caller's
    transaction, locks the row (or takes the row and records the caller holds locked),
    and saves (with a history row) only when something moved, and then only those columns.
    """
    if held is None:
        locked = _lock(pump)
        held = LockedPump(locked, *_records(locked))
    locked = held.pump
    fresh = pump_state(locked, held.refills, held.dose_changes, dosing_settings())
    if stored_state(locked) != fresh:
        for name, value in fresh.as_dict().items():
            setattr(locked, name, value)
        audited_save(
            locked,
            by=by,
            reason=reason or "Reservoir projection recomputed",
            bump_version=False,
            update_fields=STORED_FIELDS,
        )
    for name in (*STORED_FIELDS, "version", "updated_at"):
        setattr(pump, name, getattr(locked, name))
    return locked


# --------------------------------------------------------------------------
# Programming safety: the programmer's numbers, confirmation reasons, second checks
# --------------------------------------------------------------------------

SECOND_CHECK_ON_CHANGE, SECOND_CHECK_ALWAYS, SECOND_CHECK_OFF = "on_change", "always", "off"
# dosing.programmer_mismatches' keys → the record's fields.
PROGRAMMER_FIELDS = {
    "alarm_date": "programmer_alarm_date",
    "reservoir_volume_ml": "programmer_reservoir_volume_ml",
    "daily_dose_mcg": "programmer_daily_dose_mcg",
}
PROGRAMMER_REQUIRED = {
    "programmer_alarm_date": "Enter the alarm date the programmer shows after the session.",
    "programmer_reservoir_volume_ml": "Enter the reservoir volume the programmer shows after the session.",
    "programmer_daily_dose_mcg": "Enter the daily dose the programmer shows after the session.",
}
PUMP_RUNNING_REQUIRED = (
    "Confirm on the programmer that the pump is running: no stopped state and no pending program "
    "(pumps left stopped after a session were found days later, with withdrawal)."
)
OBSERVATION_MINUTES_REQUIRED = "Enter how many minutes the patient was observed after the refill (usually 15 to 30)."
OBSERVATION_SIGNS_REQUIRED = 'Tick the signs of overdose or withdrawal seen while observing, or "None observed".'


def second_check_mode() -> str:
    """``CLINIC["SECOND_CHECK"]``; a misspelt value must not silently switch the check off."""
    mode = str(django_settings.CLINIC.get("SECOND_CHECK", SECOND_CHECK_ON_CHANGE))
    if mode not in (SECOND_CHECK_ON_CHANGE, SECOND_CHECK_ALWAYS, SECOND_CHECK_OFF):
        raise ValueError(f'CLINIC["SECOND_CHECK"] must be on_change, always or off, not {mode!r}')
    return mode


def _check_status(changes_enough: bool) -> str:
    """The second check a new record needs: ``always``, ``off``, or (``on_change``) when it changes enough."""
    mode = second_check_mode()
    if mode == SECOND_CHECK_ALWAYS or (mode == SECOND_CHECK_ON_CHANGE and changes_enough):
        return CheckStatus.AWAITING_SECOND_CHECK
    return CheckStatus.NOT_REQUIRED


def _programmer_missing(details: ProgramDetails | FillDetails, *, required: bool) -> Errors:
    """The programmer's numbers not given, when the clinic requires them (``REQUIRE_PROGRAMMER_CHECK``).

    Checked whether or not the draft projects, so a preview can list them as still needed."""
    if not (required and django_settings.CLINIC.get("REQUIRE_PROGRAMMER_CHECK", False)):
        return {}
    return {name: [message] for name, message in PROGRAMMER_REQUIRED.items() if getattr(details, name) is None}


def _programmer_mismatches(
    details: ProgramDetails | FillDetails,
    *,
    alarm_date: datetime.date | None,
    reservoir_volume_ml: Decimal | None,
    daily_dose_mcg: Decimal | None,
) -> Errors:
    """The programmer's numbers, when given, within tolerance of ours."""
    errors: Errors = {}
    reading = dosing.ProgrammerReading(
        alarm_date=details.programmer_alarm_date,
        reservoir_volume_ml=details.programmer_reservoir_volume_ml,
        daily_dose_mcg=details.programmer_daily_dose_mcg,
    )
    mismatches = dosing.programmer_mismatches(
        reading, alarm_date=alarm_date, reservoir_volume_ml=reservoir_volume_ml, daily_dose_mcg=daily_dose_mcg
    )
    for name, message in mismatches.items():
        errors[PROGRAMMER_FIELDS[name]] = [message]
    return errors


def _confirmation_reason_errors(confirmation_reason: str) -> Errors:
    """A typed confirmation reason must say why ("ok" let 130 → 1500 mcg/day through)."""
    typed = confirmation_reason.strip()
    minimum = int(django_settings.CLINIC.get("CONFIRMATION_REASON_MIN_CHARS", 10))
    if not typed or len(typed) >= minimum:
        return {}
    return {
        "confirmation_reason": [
            f'"{typed}" is too short to confirm a dose: say why it is right in at least {minimum} characters.'
        ]
    }


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
    # The concentration in the pump now, for the doses in mL/day the programmer delivers.
    concentration_mcg_per_ml: Decimal | None = None
    # Above CLINIC["DOSE_CHANGE_HARD_PERCENT"]: the page makes the user retype the new dose.
    hard_stop: bool = False
    # A preview's list of what saving would still ask for (e.g. a confirmation reason),
    # by field: told to the user as missing, not as errors, while the program is typed.
    still_needed: Errors = field(default_factory=dict)

    @property
    def current_daily_volume_ml(self) -> Decimal | None:
        return _daily_volume_ml(self.current_daily_dose_mcg, self.concentration_mcg_per_ml)

    @property
    def new_daily_volume_ml(self) -> Decimal | None:
        return _daily_volume_ml(self.dose_change.daily_dose_mcg, self.concentration_mcg_per_ml)


def _daily_volume_ml(daily_dose_mcg: Decimal | None, concentration_mcg_per_ml: Decimal | None) -> Decimal | None:
    if not daily_dose_mcg or not concentration_mcg_per_ml or daily_dose_mcg <= 0 or concentration_mcg_per_ml <= 0:
        return None
    return dosing.daily_volume_ml(daily_dose_mcg, concentration_mcg_per_ml)


def dose_change_hard_percent() -> Decimal:
    return Decimal(str(django_settings.CLINIC.get("DOSE_CHANGE_HARD_PERCENT", "50")))


RETYPE_DOSE_MESSAGE = (
    "This changes the daily dose by more than {percent}%: retype the new dose ({dose} mcg/day) to confirm it."
)


def _dose_reference(patient_id: int, dose_changes: Sequence[DoseChange], changed_on: datetime.date) -> DoseReference:
    """The doses a new program on ``changed_on`` is checked against.

    1. The current dose: the latest program.
    2. The dose in effect before the first change of that calendar day: the latest
       program dated before it (two same-day steps are measured together).
    3. For a pump's first program, the suggested starting dose from the patient's
       signed positive trial, when there is one.
    """
    programs = active_dose_changes(dose_changes)
    if not programs:
        return DoseReference(suggested_starting_dose_mcg=suggested_starting_dose_mcg(patient_id)[1])
    before_that_day = [p for p in programs if changed_on is not None and p.changed_on < changed_on]
    return DoseReference(
        current_daily_dose_mcg=programs[-1].daily_dose_mcg,
        day_start_daily_dose_mcg=before_that_day[-1].daily_dose_mcg if before_that_day else None,
    )


def _dose_change_draft(
    pump: Pump,
    refills: Sequence[Refill],
    dose_changes: Sequence[DoseChange],
    *,
    changed_on: datetime.date,
    program: ProgramDetails,
    reference: DoseReference,
    require_confirmation: bool = True,
    project: bool = True,
    require_programmer: bool = False,
) -> DoseChangeDraft:
    """Build, check and project a dose change.

    1. Field rules (model ``clean``: dose > 0, flex steps tile the day, dates).
    2. Order: not before the pump's latest dose change or refill, so that earlier
       printouts and delivery checks stay true.
    3. Safety: above the change or high-dose threshold (against each reference
       dose), a confirmation reason of at least a sentence; the same thresholds
       ask for an independent second check (``CLINIC["SECOND_CHECK"]``).
    4. The new alarm and refill-due dates of the current fill with this program.
    5. The programmer's numbers, when given (or required), against those dates,
       the volume left on the day and the new dose.
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
    current = reference.current_daily_dose_mcg
    fills = active_refills(refills)
    concentration = fills[-1].concentration_mcg_per_ml if fills else None
    programmer_missing = _programmer_missing(program, required=require_programmer)
    if errors or dose_change.daily_dose_mcg is None:
        _merge(errors, programmer_missing)
        return DoseChangeDraft(dose_change, current, None, errors, concentration)
    _merge(errors, programmer_missing)
    settings = dosing_settings()
    check = dosing.dose_change_check(
        current,
        dose_change.daily_dose_mcg,
        settings,
        day_start_daily_dose_mcg=reference.day_start_daily_dose_mcg,
        suggested_starting_dose_mcg=reference.suggested_starting_dose_mcg,
    )
    dose_change.change_percent = check.change_percent
    if require_confirmation and check.needs_confirmation and not program.confirmation_reason.strip():
        _merge(errors, {"confirmation_reason": [*check.reasons, "Give a confirmation reason to go ahead."]})
    _merge(errors, _confirmation_reason_errors(program.confirmation_reason))
    if project:
        state = pump_state(pump, refills, [*dose_changes, dose_change], settings)
        dose_change.alarm_date, dose_change.refill_due_on = state.alarm_date, state.refill_due_on
        programmer = _programmer_mismatches(
            program,
            alarm_date=state.alarm_date,
            reservoir_volume_ml=_volume_left_ml(pump, refills, [*dose_changes, dose_change], changed_on),
            daily_dose_mcg=dose_change.daily_dose_mcg,
        )
        _merge(errors, programmer)
    hard_stop = dosing.dose_change_above_percent(current, dose_change.daily_dose_mcg, dose_change_hard_percent())
    return DoseChangeDraft(dose_change, current, check, errors, concentration, hard_stop)


def _volume_left_ml(
    pump: Pump, refills: Sequence[Refill], dose_changes: Sequence[DoseChange], on: datetime.date
) -> Decimal | None:
    """What the reservoir holds at the start of ``on`` (what the programmer shows at a titration visit)."""
    fills = active_refills(refills)
    if not fills or on < fills[-1].refilled_on:
        return None
    return dosing.projected_volume_ml(fill_of(fills[-1], pump), dose_segments(dose_changes), on)


def _backdated_message(what: str, latest_on: datetime.date) -> str:
    return (
        f"This pump already has a refill or dose change recorded on {latest_on:%Y-%m-%d}; "
        f"a {what} cannot be dated before it (void the later record first if it was wrong)."
    )


def _current_daily_dose(dose_changes: Sequence[DoseChange]) -> Decimal | None:
    programs = active_dose_changes(dose_changes)
    return programs[-1].daily_dose_mcg if programs else None


def dose_change_preview(
    *,
    pump: Pump,
    changed_on: datetime.date,
    program: ProgramDetails,
    retyped_daily_dose_mcg: Decimal | None = None,
    require_retyped_dose: bool = False,
) -> DoseChangeDraft:
    """What a dose change would do (daily dose, change %, new dates, problems); saves nothing.

    ``require_retyped_dose`` as for ``dose_change_record`` (the page's hard stop): the
    retyped dose is then among what the save still needs until it matches.
    """
    pump = _as_the_save_reads(pump)
    refills, dose_changes = _records(pump)
    if explanted := _not_explanted(pump, "changed_on"):
        return DoseChangeDraft(DoseChange(pump=pump), _current_daily_dose(dose_changes), None, explanted)
    draft_with = functools.partial(
        _dose_change_draft,
        pump,
        refills,
        dose_changes,
        changed_on=changed_on,
        program=program,
        reference=_dose_reference(pump.patient_id, dose_changes, changed_on),
    )
    # The preview shows the confirmation need as a warning, not as an error.
    draft = draft_with(require_confirmation=False)
    # The same checks as the page's save (at the pump), without the projection: what they add is
    # still needed. Listed even while another field is wrong, so nothing comes as a surprise at Save.
    at_save = draft_with(project=False, require_programmer=True)
    if require_retyped_dose:  # the hard stop is known from the projected draft
        _merge(at_save.errors, _retyped_dose_errors(draft, retyped_daily_dose_mcg))
    draft.still_needed = _added_errors(at_save.errors, draft.errors)
    return draft


def _retyped_dose_errors(draft: DoseChangeDraft, retyped_daily_dose_mcg: Decimal | None) -> Errors:
    """The page's hard stop: a change above ``CLINIC["DOSE_CHANGE_HARD_PERCENT"]`` needs the new dose typed twice."""
    dose = draft.dose_change.daily_dose_mcg
    if not draft.hard_stop or dose is None or retyped_daily_dose_mcg == dose:
        return {}
    message = RETYPE_DOSE_MESSAGE.format(percent=f"{dose_change_hard_percent():f}", dose=f"{dose.normalize():f}")
    return {"retyped_daily_dose_mcg": [message]}


def _added_errors(strict: Errors, lenient: Errors) -> Errors:
    """The fields a stricter check complains about that a lenient one let pass."""
    return {name: problems for name, problems in strict.items() if name not in lenient}


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
    programmer_alarm_date: datetime.date | None = None,
    programmer_reservoir_volume_ml: Decimal | None = None,
    programmer_daily_dose_mcg: Decimal | None = None,
    retyped_daily_dose_mcg: Decimal | None = None,
    require_retyped_dose: bool = False,
    at_the_pump: bool = True,
    today: datetime.date | None = None,
) -> DoseChange:
    """Record a new dose program (a titration visit or any dose change) and re-project the pump.

    It lands ``awaiting_second_check`` when it changes enough (``_check_status``).
    ``require_retyped_dose``: the page's hard stop: a change above
    ``CLINIC["DOSE_CHANGE_HARD_PERCENT"]`` is saved only with the new dose typed a second
    time (the API's equivalent is the confirmation reason).
    ``at_the_pump=False``: a program copied from another system's record (the caseload
    import): no programming session happened here, so no programmer numbers are required
    and no second check is asked for.
    """
    require_permission(by, PERMS.CHANGE_DOSE, "Only a rehabilitation doctor or a pump nurse changes a dose.")
    locked = _lock(pump, booked_visit_id=booked_visit_id(kind=AppointmentKind.TITRATION, on_or_before=changed_on))
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
        programmer_alarm_date=programmer_alarm_date,
        programmer_reservoir_volume_ml=programmer_reservoir_volume_ml,
        programmer_daily_dose_mcg=programmer_daily_dose_mcg,
    )
    draft = _dose_change_draft(
        locked,
        refills,
        dose_changes,
        changed_on=changed_on,
        program=program,
        reference=_dose_reference(locked.patient_id, dose_changes, changed_on),
        require_programmer=at_the_pump,
    )
    if require_retyped_dose:
        _merge(draft.errors, _retyped_dose_errors(draft, retyped_daily_dose_mcg))
    _raise_if(draft.errors)
    if at_the_pump and draft.check is not None:
        # The thresholds that ask for a confirmation reason ask for a colleague's check too.
        draft.dose_change.check_status = _check_status(draft.check.needs_confirmation)
    audited_save(draft.dose_change, by=by, reason="Dose program changed")
    _answer_booking(locked, kind=AppointmentKind.TITRATION, on_date=changed_on, by=by)
    held = LockedPump(locked, refills, [*dose_changes, draft.dose_change])
    _rederive(pump, by=by, reason=f"Dose changed to {draft.dose_change}", today=today, held=held)
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
    current_daily_dose_mcg: Decimal | None = None
    # A preview's list of what saving would still ask for (the port-access tick, the running
    # check, the observation), by field: told to the user as missing, not as errors.
    still_needed: Errors = field(default_factory=dict)

    @property
    def concentration_changed(self) -> bool:
        return concentration_changed(self.previous_fill, self.refill.concentration_mcg_per_ml)

    @property
    def previous_daily_volume_ml(self) -> Decimal | None:
        """mL/day at the old concentration (what the pump delivers if it is not reprogrammed)."""
        previous = self.previous_fill.concentration_mcg_per_ml if self.previous_fill else None
        return _daily_volume_ml(self.current_daily_dose_mcg, previous)

    @property
    def new_daily_volume_ml(self) -> Decimal | None:
        return _daily_volume_ml(self.current_daily_dose_mcg, self.refill.concentration_mcg_per_ml)


def _same_day_refill_errors(fills: Sequence[Refill], refilled_on: datetime.date | None) -> Errors:
    """One refill per pump per day: a second one would hide the first's delivery check."""
    same_day = [fill for fill in fills if refilled_on is not None and fill.refilled_on == refilled_on]
    if not same_day:
        return {}
    first = same_day[0]
    return {
        "refilled_on": [
            f"This pump already has a refill recorded on {refilled_on:%Y-%m-%d} "
            f"({first.volume_added_ml.normalize():f} mL at {first.concentration_mcg_per_ml.normalize():f} mcg/mL, "
            f"lot {first.lot_number or 'not recorded'}). To correct it, void that refill and record it again."
        ]
    }


def _refill_draft(
    pump: Pump,
    refills: Sequence[Refill],
    dose_changes: Sequence[DoseChange],
    *,
    refilled_on: datetime.date,
    fill: FillDetails,
    project: bool = True,
    require_port_access: bool = True,
    require_programmer: bool = False,
    at_the_pump: bool = True,
) -> RefillDraft:
    """Build, check and project a refill.

    1. Field rules (model ``clean``: volume ≤ reservoir and > alarm volume,
       concentration > 0 with a dilution note when not standard, dates).
    2. The pocket-fill safeguard: central reservoir port access confirmed (not
       asked for the first fill at implant, filled in theatre).
    3. Order: not before the pump's latest refill, and one refill a day.
    4. Delivery check against the previous fill (the aspirated residual is
       required for every refill but the first fill); after the projected empty
       day it is ``not_assessable``: the pump may have run dry.
    5. The new alarm and refill-due dates.
    6. At the pump (not the first fill in theatre): a new concentration confirmed
       as reprogrammed, the pump confirmed running, and the observation recorded
       (``_refill_visit_errors``); a concentration change, or a dose above the
       high-dose threshold, asks for an independent second check.
    7. The programmer's numbers, when given (or required), against the new alarm
       date, the volume put in and the current dose.
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
        concentration_reprogrammed_confirmed=fill.concentration_reprogrammed_confirmed,
        pump_running_confirmed=fill.pump_running_confirmed,
        observation_minutes=fill.observation_minutes,
        observation_signs=list(fill.observation_signs),
        programmer_alarm_date=fill.programmer_alarm_date,
        programmer_reservoir_volume_ml=fill.programmer_reservoir_volume_ml,
        programmer_daily_dose_mcg=fill.programmer_daily_dose_mcg,
    )
    errors = _validate(refill, exclude=["pump"] if pump.pk is None else [])
    if require_port_access and not fill.reservoir_port_access_confirmed:
        _merge(errors, {"reservoir_port_access_confirmed": [PORT_ACCESS_REQUIRED]})
    fills = active_refills(refills)
    previous = fills[-1] if fills else None
    current_dose_mcg = _current_daily_dose(dose_changes)
    if require_port_access and at_the_pump:
        _merge(errors, _refill_visit_errors(fill, previous, current_dose_mcg))
    refill.is_first_fill = previous is None
    _merge(errors, _same_day_refill_errors(fills, refilled_on))
    if previous and refilled_on and refilled_on < previous.refilled_on:
        _merge(errors, {"refilled_on": [_backdated_message("refill", previous.refilled_on)]})
    if previous and fill.aspirated_volume_ml is None:
        _merge(errors, {"aspirated_volume_ml": ["Enter the volume aspirated from the reservoir (0 if it was empty)."]})
    programmer_missing = _programmer_missing(fill, required=require_programmer)
    if errors or not project:
        _merge(errors, programmer_missing)
        return RefillDraft(refill, previous, None, errors, current_dose_mcg)
    _merge(errors, programmer_missing)
    settings = dosing_settings()
    delivery = None
    # Emptied since the previous fill (for an MRI): its residual says nothing about delivery.
    if previous is not None and fill.aspirated_volume_ml is not None and not emptied_since(pump, previous):
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
    programmer = _programmer_mismatches(
        fill,
        alarm_date=state.alarm_date,
        reservoir_volume_ml=fill.volume_added_ml,
        daily_dose_mcg=current_dose_mcg,
    )
    _merge(errors, programmer)
    return RefillDraft(refill, previous, delivery, errors, current_dose_mcg)


def _refill_check_status(draft: RefillDraft) -> str:
    """A refill asks for a colleague's check when it changes the concentration, or when the pump
    runs above the high-dose threshold (the mL/day reprogrammed at a refill matters most there)."""
    dose = draft.current_daily_dose_mcg
    high_dose = dose is not None and dose > dosing_settings().dose_confirm_above_mcg
    return _check_status(draft.concentration_changed or high_dose)


def concentration_changed(previous: Refill | None, concentration_mcg_per_ml: Decimal | None) -> bool:
    """A fill at another concentration than the previous one (the first fill changes nothing)."""
    return (
        previous is not None
        and concentration_mcg_per_ml is not None
        and previous.concentration_mcg_per_ml != concentration_mcg_per_ml
    )


def _refill_visit_errors(fill: FillDetails, previous: Refill | None, current_dose_mcg: Decimal | None) -> Errors:
    """What a refill at the pump must confirm before the visit ends (spec "Programming safety").

    1. A new concentration was set on the programmer: if not, the pump keeps delivering
       the old mL/day of the new solution (2000 → 500 mcg/mL: a quarter of the dose).
    2. The pump is running (no stopped state, no pending program).
    3. The patient was observed, with the signs seen (or none).
    """
    errors: Errors = {}
    if concentration_changed(previous, fill.concentration_mcg_per_ml) and not fill.concentration_reprogrammed_confirmed:
        assert previous is not None
        message = _concentration_change_message(previous, fill, current_dose_mcg)
        errors["concentration_reprogrammed_confirmed"] = [message]
    if not fill.pump_running_confirmed:
        errors["pump_running_confirmed"] = [PUMP_RUNNING_REQUIRED]
    if fill.observation_minutes is None or fill.observation_minutes < 1:
        errors["observation_minutes"] = [OBSERVATION_MINUTES_REQUIRED]
    if not fill.observation_signs:
        errors["observation_signs"] = [OBSERVATION_SIGNS_REQUIRED]
    return errors


def _concentration_change_message(previous: Refill, fill: FillDetails, current_dose_mcg: Decimal | None) -> str:
    old, new = previous.concentration_mcg_per_ml, fill.concentration_mcg_per_ml
    message = f"The concentration changes from {old.normalize():f} to {new.normalize():f} mcg/mL"
    if current_dose_mcg is not None and old > 0 and new > 0:
        old_ml = dosing.daily_volume_ml(current_dose_mcg, old)
        new_ml = dosing.daily_volume_ml(current_dose_mcg, new)
        message += (
            f": at {current_dose_mcg.normalize():f} mcg/day the pump must now deliver {new_ml.normalize():f} mL/day "
            f"instead of {old_ml.normalize():f} mL/day"
        )
    return message + ". Confirm that the programmer was set to the new concentration."


def refill_preview(*, pump: Pump, refilled_on: datetime.date, fill: FillDetails) -> RefillDraft:
    """The delivery check and new dates a refill would give; saves nothing.

    The port-access confirmation, the checks at the pump and the lot number are not
    asked for here: they come last, and the preview must show the dates while the
    nurse is still typing. What the save would still ask for is in ``still_needed``.
    """
    pump = _as_the_save_reads(pump)
    refills, dose_changes = _records(pump)
    if explanted := _not_explanted(pump, "refilled_on"):
        return RefillDraft(Refill(pump=pump), None, None, explanted, _current_daily_dose(dose_changes))
    # The lot number is copied from the vial last: the dates do not wait for it.
    typing = replace(fill, lot_number=fill.lot_number or "not yet entered")
    draft = _refill_draft(pump, refills, dose_changes, refilled_on=refilled_on, fill=typing, require_port_access=False)
    # The same checks as the page's save (at the pump), without the projection: what they add is still needed.
    at_save = _refill_draft(
        pump, refills, dose_changes, refilled_on=refilled_on, fill=fill, project=False, require_programmer=True
    )
    draft.still_needed = _added_errors(at_save.errors, draft.errors)
    return draft


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
    concentration_reprogrammed_confirmed: bool = False,
    pump_running_confirmed: bool = False,
    # The clinic's default observation; the page shows it to change.
    observation_minutes: int | None = 15,
    observation_signs: Sequence[str] = (),
    programmer_alarm_date: datetime.date | None = None,
    programmer_reservoir_volume_ml: Decimal | None = None,
    programmer_daily_dose_mcg: Decimal | None = None,
    at_the_pump: bool = True,
    today: datetime.date | None = None,
) -> Refill:
    """Record a refill, with its delivery check, and re-project the pump.

    It lands ``awaiting_second_check`` when the concentration changes (``_check_status``).
    ``at_the_pump=False``: a refill copied from another system's record (the caseload
    import), whose reprogramming, running check and observation were made under that
    record's own procedure: they are left unrecorded here rather than attested.
    """
    require_permission(by, PERMS.RECORD_REFILL, "Only a rehabilitation doctor or a pump nurse records a refill.")
    locked = _lock(pump, booked_visit_id=booked_visit_id(kind=AppointmentKind.REFILL, on_or_before=refilled_on))
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
        concentration_reprogrammed_confirmed=concentration_reprogrammed_confirmed,
        pump_running_confirmed=pump_running_confirmed,
        observation_minutes=observation_minutes,
        observation_signs=tuple(observation_signs or ()),
        programmer_alarm_date=programmer_alarm_date,
        programmer_reservoir_volume_ml=programmer_reservoir_volume_ml,
        programmer_daily_dose_mcg=programmer_daily_dose_mcg,
    )
    draft = _refill_draft(
        locked,
        refills,
        dose_changes,
        refilled_on=refilled_on,
        fill=fill,
        require_programmer=at_the_pump,
        at_the_pump=at_the_pump,
    )
    _raise_if(draft.errors)
    if at_the_pump:
        draft.refill.check_status = _refill_check_status(draft)
    audited_save(draft.refill, by=by, reason="Refill recorded")
    _answer_booking(locked, kind=AppointmentKind.REFILL, on_date=refilled_on, by=by)
    held = LockedPump(locked, [*refills, draft.refill], dose_changes)
    _rederive(pump, by=by, reason=f"Refilled on {refilled_on:%Y-%m-%d}", today=today, held=held)
    return draft.refill


# --------------------------------------------------------------------------
# The independent second check
# --------------------------------------------------------------------------

CHECKED_RECORD_WHAT = {Refill: "refill", DoseChange: "dose change"}


def record_author_id(record: Refill | DoseChange) -> int | None:
    """Who recorded it: the user on its creation history row (the audit is the one record of authorship)."""
    created = record.history.filter(history_type="+").order_by("history_date").values("history_user_id").first()
    return created["history_user_id"] if created else None


def _second_check_errors(record: Refill | DoseChange, *, agrees: bool, note: str) -> Errors:
    if record.is_voided:
        return {"__all__": ["This record was voided: there is nothing to check."]}
    if record.check_status != CheckStatus.AWAITING_SECOND_CHECK:
        return {"__all__": [f"This record does not await a second check: it is {record.get_check_status_display()}."]}
    if not agrees and not note.strip():
        return {"note": ["Say what does not match, so that the author can correct the program."]}
    return {}


@transaction.atomic
def second_check_record(
    record: Refill | DoseChange,
    *,
    by: Any,
    agrees: bool,
    note: str = "",
    expected_version: int | None = None,
    today: datetime.date | None = None,
) -> Refill | DoseChange:
    """A colleague's independent check of a refill or dose change that awaits one.

    1. A nurse or doctor (the record's write permission), never its author: the
       check may be remote (a home visit checked from the clinic).
    2. Only a record awaiting the check, not voided; a disagreement says why.
    3. ``checked`` or ``disagreed``, with who, when and the note (audited, with the
       version checked so that two checkers cannot both land).
    4. The pump's alerts in the same transaction: the check answers
       ``second_check_missing``; a disagreement raises ``second_check_disagreed``,
       answered by voiding the disputed record or by a later record on the pump
       that a colleague checked (``pumps.second_check_alerts``).
    """
    what = CHECKED_RECORD_WHAT[type(record)]
    require_permission(by, record.WRITE_PERMISSION, f"Only a rehabilitation doctor or a pump nurse checks a {what}.")
    locked_pump = _lock(record.pump)
    locked = type(record).objects.select_for_update().get(pk=record.pk)
    check_version(locked, expected_version)
    if by is not None and record_author_id(locked) == by.pk:
        raise PermissionDenied(f"You recorded this {what}: a colleague must make the second check.")
    _raise_if(_second_check_errors(locked, agrees=agrees, note=note))
    locked.check_status = CheckStatus.CHECKED if agrees else CheckStatus.DISAGREED
    locked.second_checked_by = by
    locked.second_checked_at = timezone.now()
    locked.second_check_note = note.strip()
    verdict = "agrees" if agrees else f"disagrees: {note.strip()}"
    record_save(locked, by=by, expected_version=expected_version, reason=f"Second check: {verdict}")
    alerts_refresh_for_pump(locked_pump, as_of=today, by=by)
    return locked


# --------------------------------------------------------------------------
# Surgery
# --------------------------------------------------------------------------

SURGEON_ROLES = (Role.NEUROSURGEON, Role.REHAB_DOCTOR)


def _with_default_surgeon(details: SurgeryDetails, by: Any) -> SurgeryDetails:
    """Without a named surgeon, the acting neurosurgeon or doctor operated."""
    if details.surgeon is None and holds_role(by, *SURGEON_ROLES):
        return replace(details, surgeon=by)
    return details


def _surgeon_errors(surgeon: Any) -> Errors:
    if surgeon is not None and not holds_role(surgeon, *SURGEON_ROLES):
        return {"surgeon": [f"{surgeon} is not an active neurosurgeon or rehabilitation doctor."]}
    return {}


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


def _pump_identity_errors(pump: Pump, *, replacing: Pump | None = None) -> Errors:
    """A new or edited pump: its serial is free, its patient is live and has no other implanted pump.

    ``replacing``: the pump coming out at the same operation, which does not count.
    """
    errors: Errors = {}
    others = Pump.objects.active().exclude(pk__in=[p.pk for p in (pump, replacing) if p is not None and p.pk])
    if pump.serial_number and others.filter(serial_number=pump.serial_number).exists():
        errors["serial_number"] = [f"A pump with the serial number {pump.serial_number} is already recorded."]
    patient: Patient | None = getattr(pump, "patient", None) if pump.patient_id else None
    if patient is not None and patient.is_voided:
        errors["patient"] = ["This patient record was voided: nothing can be recorded on it."]
    elif patient is not None and pump.explanted_on is None and not pump.is_voided:
        implanted = others.filter(patient=patient, explanted_on__isnull=True).order_by("pk").first()
        if implanted is not None:
            errors["patient"] = [
                f"{patient} already has an implanted pump ({implanted.serial_number}, since "
                f"{implanted.implanted_on:%Y-%m-%d}): record its replacement or explant instead."
            ]
    return errors


def _new_pump_errors(
    pump: Pump,
    surgery: Surgery,
    *,
    program: ProgramDetails | None,
    fill: FillDetails | None,
    reference: DoseReference,
    replacing: Pump | None = None,
) -> tuple[Errors, DoseChange | None, Refill | None]:
    """Check a new pump, its surgery, first program and first fill together, saving nothing.

    The surgery, program and fill are all dated on the implant day, so a bad date is
    reported once, on ``implanted_on``. The database constraints (serial, one pump
    per patient) are checked by ``_pump_identity_errors`` with field messages.
    """
    errors = _validate(pump, validate_constraints=False)
    _merge(errors, _pump_identity_errors(pump, replacing=replacing))
    _merge(errors, {name: [message] for name, message in pump.reservoir_size_errors().items()})
    _merge(errors, labelled_age_errors(pump))
    surgery_errors = _validate(surgery, exclude=["pump", "replaced_pump"])
    surgery_errors.pop("performed_on", None)
    _merge(errors, surgery_errors)
    _merge(errors, _surgeon_errors(surgery.surgeon))
    if "implanted_on" in errors or pump.implanted_on is None:
        return errors, None, None
    # Project only a pump whose own fields are sound (the volumes feed the projection).
    project = not errors
    dose_change = refill = None
    if program is not None:
        draft = _dose_change_draft(
            pump, [], [], changed_on=pump.implanted_on, program=program, reference=reference, project=project
        )
        draft.errors.pop("changed_on", None)
        _merge(errors, draft.errors)
        dose_change = draft.dose_change
    if fill is not None:
        programs = [dose_change] if dose_change is not None and not errors else []
        refill_draft = _refill_draft(
            pump,
            [],
            programs,
            refilled_on=pump.implanted_on,
            fill=fill,
            project=project and not errors,
            # The first fill is put in by the surgical team in theatre, not through the skin.
            require_port_access=False,
        )
        refill_draft.errors.pop("refilled_on", None)
        _merge(errors, refill_draft.errors)
        refill = refill_draft.refill
    return errors, dose_change, refill


def _age_in_years(birth_date: datetime.date, on: datetime.date) -> int:
    """Whole years completed on ``on`` (a birthday counts from its day)."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def labelled_age_errors(pump: Pump) -> Errors:
    """A model labelled from an age (Prometra II: 22) in a younger patient needs an off-label reason.

    Checked on the implant day, for an implant and for a replacement by such a model alike.
    """
    pump_model = pump.model if pump.model_id else None
    patient = pump.patient if pump.patient_id else None
    min_age = pump_model.labelled_min_age_years if pump_model else None
    if min_age is None or patient is None or pump.implanted_on is None or pump.off_label_reason.strip():
        return {}
    age = _age_in_years(patient.birth_date, pump.implanted_on)
    if age >= min_age:
        return {}
    return {
        "off_label_reason": [
            f"The patient is {age} on {pump.implanted_on:%Y-%m-%d}; the {pump_model} is labelled for patients "
            f"{min_age} and over. Give the off-label reason to implant it."
        ]
    }


def default_alarm_volume_ml(pump_model: PumpModel | None) -> Decimal:
    """The catalogue's default low-reservoir alarm volume of ``pump_model``, or the field's 2 mL."""
    default = pump_model.default_low_reservoir_alarm_ml if pump_model is not None else None
    field_default = Pump._meta.get_field("low_reservoir_alarm_ml").get_default()
    return Decimal(str(default if default is not None else field_default))


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
    Without a program or a fill the pump has no projection yet: it is saved, and
    the scan raises ``projection_missing`` until both are recorded.
    """
    require_permission(by, PERMS.RECORD_SURGERY, "Only a neurosurgeon or a rehabilitation doctor records an implant.")
    if pump.low_reservoir_alarm_ml is None:  # not given: the model's default (Prometra II 3.0 mL)
        pump.low_reservoir_alarm_ml = default_alarm_volume_ml(pump.model if pump.model_id else None)
    details = replace(surgery or SurgeryDetails(performed_on=pump.implanted_on), performed_on=pump.implanted_on)
    implant = _surgery(pump, Surgery.Kind.IMPLANT, _with_default_surgeon(details, by))
    if pump.patient_id:
        Patient.objects.select_for_update().filter(pk=pump.patient_id).first()  # implants of one patient take turns
    reference = DoseReference(suggested_starting_dose_mcg=_suggested_dose(pump))
    errors, dose_change, refill = _new_pump_errors(
        pump, implant, program=first_program, fill=first_fill, reference=reference
    )
    _raise_if(errors)
    _save_new_pump(pump, implant, dose_change, refill, by=by)
    # A pump entered with an old fill (a patient joining the clinic) may already be due.
    _rederive(pump, by=by, reason=f"{implant.get_kind_display()} recorded", today=today)
    return pump


def _suggested_dose(pump: Pump) -> Decimal | None:
    return suggested_starting_dose_mcg(pump.patient_id)[1] if pump.patient_id else None


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


def replacement_alarm_volume_ml(old_pump: Pump, new_model: PumpModel | None) -> Decimal:
    """The new pump's low-reservoir alarm volume when the surgeon gives none.

    A pump of the same model keeps the old pump's alarm volume (it was set for this
    child); a different model takes its catalogue default, or the field's 2 mL.
    """
    if new_model is None or new_model.pk == old_pump.model_id:
        return old_pump.low_reservoir_alarm_ml
    return default_alarm_volume_ml(new_model)


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
    program carries over unchanged. ``new_pump.low_reservoir_alarm_ml`` left as None
    means "not given" (see ``replacement_alarm_volume_ml``).
    """
    require_permission(by, PERMS.RECORD_SURGERY, "Only a neurosurgeon or a rehabilitation doctor replaces a pump.")
    locked = _lock(old_pump)
    _raise_if(_explant_date_errors(locked, surgery.performed_on, "performed_on"))
    _, dose_changes = _records(locked)
    new_pump.patient = locked.patient
    new_pump.implanted_on = surgery.performed_on
    if new_pump.low_reservoir_alarm_ml is None:
        new_pump.low_reservoir_alarm_ml = replacement_alarm_volume_ml(locked, getattr(new_pump, "model", None))
    if not catheter_revised:
        new_pump.catheter_model, new_pump.catheter_tip_level = locked.catheter_model, locked.catheter_tip_level
    program = first_program or _carried_over_program(dose_changes, locked)
    replacement = _surgery(
        new_pump,
        Surgery.Kind.PUMP_REPLACEMENT,
        _with_default_surgeon(surgery, by),
        replaced_pump=locked,
        catheter_revised=catheter_revised,
    )
    # The program carries over, so it is measured against the old pump's doses.
    reference = _dose_reference(locked.patient_id, dose_changes, surgery.performed_on)
    errors, dose_change, refill = _new_pump_errors(
        new_pump, replacement, program=program, fill=first_fill, reference=reference, replacing=locked
    )
    _raise_if(errors)
    # The old pump comes out first: the database allows one implanted pump per patient.
    locked.explanted_on = surgery.performed_on
    record_save(locked, by=by, reason=f"Replaced by pump {new_pump.serial_number}")
    _save_new_pump(new_pump, replacement, dose_change, refill, by=by)
    # The old pump's explant date is derived from the replacement just saved.
    pump_refresh_explant(locked, by=by, today=today)
    old_pump.explanted_on = locked.explanted_on
    # Its bookings from the replacement on are cancelled; the nurse books the new pump's refill.
    appointments_cancel_for_explant(locked, explanted_on=surgery.performed_on, by=by)
    _rederive(locked, by=by, reason="Explanted at replacement", today=today)
    _rederive(new_pump, by=by, reason="Replacement recorded", today=today)
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
    """A catheter revision: the pump stays; the catheter model and tip level are updated when given.

    The revision keeps the catheter as it was before, so that voiding it puts it back.
    """
    require_permission(by, PERMS.RECORD_SURGERY, "Only a neurosurgeon or a rehabilitation doctor revises a catheter.")
    locked = _lock(pump)
    errors = _explant_date_errors(locked, surgery.performed_on, "performed_on")
    revision = _surgery(
        locked,
        Surgery.Kind.CATHETER_REVISION,
        _with_default_surgeon(surgery, by),
        catheter_revised=True,
        catheter_model_before=locked.catheter_model,
        catheter_tip_level_before=locked.catheter_tip_level,
    )
    _merge(errors, _validate(revision))
    _merge(errors, _surgeon_errors(revision.surgeon))
    _raise_if(errors)
    locked.catheter_model = catheter_model or locked.catheter_model
    locked.catheter_tip_level = catheter_tip_level or locked.catheter_tip_level
    record_save(locked, by=by, reason="Catheter revised")
    audited_save(revision, by=by, reason="Catheter revision recorded")
    _rederive(locked, by=by, reason="Catheter revised", today=today)
    return revision


@transaction.atomic
def pump_explant(pump: Pump, *, by: Any, surgery: SurgeryDetails, today: datetime.date | None = None) -> Surgery:
    """Explant a pump without a replacement: it no longer needs refills or a battery watch."""
    require_permission(by, PERMS.RECORD_SURGERY, "Only a neurosurgeon or a rehabilitation doctor records an explant.")
    locked = _lock(pump)
    errors = _explant_date_errors(locked, surgery.performed_on, "performed_on")
    explant = _surgery(locked, Surgery.Kind.EXPLANT, _with_default_surgeon(surgery, by))
    _merge(errors, _validate(explant))
    _merge(errors, _surgeon_errors(explant.surgeon))
    _raise_if(errors)
    audited_save(explant, by=by, reason="Explant recorded")
    pump_refresh_explant(locked, by=by, today=today)
    pump.explanted_on = locked.explanted_on
    appointments_cancel_for_explant(locked, explanted_on=surgery.performed_on, by=by)
    _rederive(locked, by=by, reason="Explanted", today=today)
    return explant


# --------------------------------------------------------------------------
# Explant dates, derived from the surgeries
# --------------------------------------------------------------------------


def derived_explanted_on(pump: Pump) -> datetime.date | None:
    """When the pump came out, from the surgeries that are not voided.

    1. An explant of this pump.
    2. A replacement that took this pump out, unless its new pump was voided
       (a replacement entered in error is undone by voiding the new pump).
    The earliest of these; None while the pump is in.
    """
    dates = list(
        Surgery.objects.active().filter(pump=pump, kind=Surgery.Kind.EXPLANT).values_list("performed_on", flat=True)
    )
    dates += list(
        Surgery.objects.active()
        .filter(replaced_pump=pump, kind=Surgery.Kind.PUMP_REPLACEMENT, pump__voided_at__isnull=True)
        .values_list("performed_on", flat=True)
    )
    return min(dates) if dates else None


def pump_refresh_explant(pump: Pump, *, by: Any, today: datetime.date | None = None) -> Pump:
    """Store the derived explant date; refuse to put a pump back in beside another one,
    or in a patient whose record was voided (it would be implanted but watched by nobody)."""
    locked = _lock(pump)
    explanted_on = derived_explanted_on(locked)
    if locked.explanted_on == explanted_on:
        return locked
    if explanted_on is None and not locked.is_voided and locked.patient.is_voided:
        raise ValidationError(
            {
                "__all__": [
                    f"This would put pump {locked.serial_number} back in, but the patient record was voided: "
                    "a voided patient cannot have an implanted pump."
                ]
            }
        )
    if explanted_on is None and not locked.is_voided:
        other = Pump.objects.implanted().filter(patient_id=locked.patient_id).exclude(pk=locked.pk).first()
        if other is not None:
            raise ValidationError(
                {
                    "__all__": [
                        f"This would put pump {locked.serial_number} back in, but pump {other.serial_number} "
                        f"is implanted since {other.implanted_on:%Y-%m-%d}: explant or void that pump first."
                    ]
                }
            )
    locked.explanted_on = explanted_on
    reason = f"Explanted on {explanted_on:%Y-%m-%d}" if explanted_on else "Back in: the explant was voided"
    audited_save(locked, by=by, reason=reason, bump_version=False)
    pump.explanted_on = explanted_on
    return locked


# --------------------------------------------------------------------------
# Pump details and the catalogue
# --------------------------------------------------------------------------


def _pump_edit_errors(pump: Pump) -> Errors:
    """Edited details must still fit the pump's records and identity."""
    refills, dose_changes = _records(pump)
    errors: Errors = _pump_identity_errors(pump)
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
    stored = Pump.objects.filter(pk=pump.pk).values("reservoir_volume_ml", "model_id").first()
    if stored is None or stored != {"reservoir_volume_ml": pump.reservoir_volume_ml, "model_id": pump.model_id}:
        # Only a changed reservoir is checked against today's catalogue (see Pump.reservoir_size_errors).
        _merge(errors, {name: [message] for name, message in pump.reservoir_size_errors().items()})
    return errors


# What the pump team learns at interrogation and follow-up: nurses record these too.
FOLLOW_UP_FIELDS = frozenset(
    {
        "low_reservoir_alarm_ml",
        "eri_on",
        "temporary_card_given_on",
        "permanent_card_received_on",
        "emergency_card_given_on",
    }
)


def _require_pump_edit_permission(pump: Pump, by: Any) -> None:
    """Follow-up findings are the pump team's (refill permission); the rest is surgical."""
    stored = Pump.objects.filter(pk=pump.pk).values(*(f.attname for f in Pump._meta.concrete_fields)).first() or {}
    changed = {name for name, value in stored.items() if getattr(pump, name) != value}
    if changed <= FOLLOW_UP_FIELDS and by is not None and by.has_perm(PERMS.RECORD_REFILL):
        return
    require_permission(
        by, PERMS.RECORD_SURGERY, "Only a neurosurgeon or a rehabilitation doctor edits these pump details."
    )


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

    The implant date cannot move past the pump's first refill or dose change, the
    pump must still be able to hold its current fill, and the serial stays unique.
    """
    _require_pump_edit_permission(pump, by)
    _raise_if(_pump_edit_errors(pump))
    record_save(pump, by=by, expected_version=expected_version, reason=reason)
    # An ERI date or a new alarm volume moves the battery and alarm dates: alert at once.
    _rederive(pump, by=by, reason=reason or "Pump details edited", today=today)
    return pump


def _sizes_in_use_errors(pump_model: PumpModel) -> Errors:
    """A reservoir size cannot leave the catalogue while an implanted pump has it."""
    if pump_model.pk is None:
        return {}
    sizes = set(pump_model.reservoir_sizes())
    # order_by(): the pumps' default ordering would join the DISTINCT and give one row per pump.
    in_use = (
        Pump.objects.implanted()
        .filter(model=pump_model)
        .order_by()
        .values_list("reservoir_volume_ml", flat=True)
        .distinct()
    )
    missing = sorted(size for size in in_use if size not in sizes)
    if not missing:
        return {}
    listed = ", ".join(f"{size.normalize():f} mL" for size in missing)
    return {"reservoir_sizes_ml": [f"Implanted pumps of this model have a {listed} reservoir: keep that size."]}


BATTERY_FIELDS = ("nominal_battery_life_months", "days_eri_to_eos")


@transaction.atomic
def pump_model_save(
    pump_model: PumpModel, *, by: Any, expected_version: int | None = None, reason: str = ""
) -> PumpModel:
    """Save a catalogue entry (the rehab doctor's: it moves every pump's dates).

    A change to the battery life moves end-of-service dates: those pumps are
    recomputed, and their alerts refreshed, by a background job after the commit
    (``pumps.tasks.projections_refresh_task``), not in the request. The daily
    05:55 run of the same job catches any job lost with the broker.
    """
    require_permission(by, PERMS.EDIT_PUMP_CATALOGUE, "Only a rehabilitation doctor edits the pump catalogue.")
    before = PumpModel.objects.filter(pk=pump_model.pk).values(*BATTERY_FIELDS).first() if pump_model.pk else None
    _raise_if(_sizes_in_use_errors(pump_model))
    record_save(pump_model, by=by, expected_version=expected_version, reason=reason)
    if before is not None and any(before[name] != getattr(pump_model, name) for name in BATTERY_FIELDS):
        model_id = pump_model.pk
        transaction.on_commit(lambda: _enqueue_projections_refresh(model_id), robust=True)
    return pump_model


def _enqueue_projections_refresh(model_id: int) -> None:
    from alerts.jobs import task_enqueue
    from pumps.tasks import projections_refresh_task

    task_enqueue(projections_refresh_task, model_id=model_id)


def pumps_refresh_projections(
    *,
    by: Any,
    model_id: int | None = None,
    today: datetime.date | None = None,
    pump_ids: tuple[int, int] | None = None,
) -> int:
    """Recompute the stored projection of every pump (of one model, in one id range) whose columns drifted.

    Each pump is its own transaction; returns how many moved. The background job
    behind a catalogue edit, and a daily safety net (``pumps.tasks`` runs it one chunk
    of pump ids per task).
    """
    from pumps.selectors import projection_drift

    moved = 0
    for drift in projection_drift(model_id=model_id, pump_ids=pump_ids):
        with transaction.atomic():
            _rederive(drift.pump, by=by, reason="Recomputed after a catalogue change", today=today)
        moved += 1
    return moved


# --------------------------------------------------------------------------
# Voiding: corrections re-derive
# --------------------------------------------------------------------------


def after_pump_record_voided(record: ClinicalRecord, by: Any) -> None:
    """Hook for ``spasticity.audit.void_record``: re-derive in the same transaction.

    A voided refill or dose change no longer counts, so the pump's alarm and
    refill-due dates, and its alerts, move at once (voiding a mistaken refill can put
    the pump back past its alarm date: alert now, not at tomorrow's 06:00 scan).
    A voided pump leaves the lists; if it was a replacement's new pump, the pump it
    replaced is back in (refused if another pump is implanted since).
    """
    pump = record if isinstance(record, Pump) else record.pump  # type: ignore[attr-defined]
    if isinstance(record, Pump):
        for replaced in Pump.objects.filter(
            replaced_by_surgeries__pump=record, replaced_by_surgeries__voided_at__isnull=True
        ).distinct():
            pump_refresh_explant(replaced, by=by)
            _rederive(replaced, by=by, reason=f"Back in: its replacement {record.serial_number} was voided")
    _rederive(pump, by=by, reason=f"Recomputed after voiding {record}")


def after_surgery_voided(record: ClinicalRecord, by: Any) -> None:
    """Hook for voiding a surgery: put the pump back as the remaining records say.

    * An explant: the pump's explant date is derived again (the pump is back in,
      unless another pump is implanted since: that is refused).
    * A catheter revision: the catheter it changed is put back; refused while a
      later revision of the same pump stands.
    * An implant or a replacement is the pump record itself: refused, with what to
      void instead.
    """
    assert isinstance(record, Surgery)
    pump = record.pump
    if record.kind == Surgery.Kind.IMPLANT:
        raise ValidationError(
            {"__all__": [f"An implant is undone by voiding the pump record ({pump.serial_number}), not its surgery."]}
        )
    if record.kind == Surgery.Kind.PUMP_REPLACEMENT:
        old = record.replaced_pump
        raise ValidationError(
            {
                "__all__": [
                    f"To undo this replacement, void the new pump {pump.serial_number}: "
                    f"that puts pump {old.serial_number if old else ''} back in."
                ]
            }
        )
    if record.kind == Surgery.Kind.CATHETER_REVISION:
        _restore_catheter(record, by=by)
    pump_refresh_explant(pump, by=by)
    _rederive(pump, by=by, reason=f"Recomputed after voiding {record}")


def _restore_catheter(revision: Surgery, *, by: Any) -> None:
    later = (
        Surgery.objects.active()
        .filter(pump=revision.pump, kind=Surgery.Kind.CATHETER_REVISION)
        .filter(performed_on__gte=revision.performed_on, pk__gt=revision.pk)
        .first()
    )
    if later is not None:
        raise ValidationError(
            {"__all__": [f"A later catheter revision ({later.performed_on:%Y-%m-%d}) stands: void it first."]}
        )
    pump = _lock(revision.pump)
    pump.catheter_model = revision.catheter_model_before
    pump.catheter_tip_level = revision.catheter_tip_level_before
    audited_save(pump, by=by, reason=f"Catheter restored: the revision of {revision.performed_on:%Y-%m-%d} was voided")


def refuse_voiding_patient_with_implanted_pump(record: ClinicalRecord, by: Any) -> None:
    """Hook for voiding a patient: a patient with a pump in cannot leave the safety net."""
    implanted = Pump.objects.implanted().filter(patient_id=record.pk).first()
    if implanted is not None:
        raise ValidationError(
            {
                "__all__": [
                    f"This patient has pump {implanted.serial_number} implanted: record its explant "
                    "(or void the pump if it was entered in error) before voiding the patient."
                ]
            }
        )
