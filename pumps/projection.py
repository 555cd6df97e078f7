"""From pump records to the dosing module's inputs, and the pump's fresh projection.

No arithmetic lives here: this module only picks the records that count (not voided,
in date order) and hands them to ``pumps.dosing``. ``pump_state`` is the one
definition of what a pump's stored columns should hold; the recompute service writes
it and ``verify_projections`` compares the columns with it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from typing import TYPE_CHECKING

from pumps import dosing

if TYPE_CHECKING:
    from pumps.models import DoseChange, Pump, Refill


@dataclass(frozen=True)
class PumpState:
    """The values a pump row stores so that lists never replay its history."""

    alarm_date: datetime.date | None
    refill_due_on: datetime.date | None
    battery_end_of_service_on: datetime.date | None
    current_mode: str
    current_daily_dose_mcg: Decimal | None
    current_drug: str
    current_concentration_mcg_per_ml: Decimal | None
    last_refill_on: datetime.date | None
    last_dose_change_on: datetime.date | None
    next_visit_on: datetime.date | None
    next_refill_appointment_on: datetime.date | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


STORED_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(PumpState))


def active_refills(refills: Iterable[Refill]) -> list[Refill]:
    """Not voided, oldest first; on the same day the later-recorded (or unsaved) one comes last."""
    return sorted((r for r in refills if not r.is_voided), key=lambda r: (r.refilled_on, r.pk is None, r.pk or 0))


def active_dose_changes(dose_changes: Iterable[DoseChange]) -> list[DoseChange]:
    """Not voided, oldest first; on the same day the later-recorded one comes last (and wins)."""
    return sorted((d for d in dose_changes if not d.is_voided), key=lambda d: (d.changed_on, d.pk is None, d.pk or 0))


def fill_of(refill: Refill, pump: Pump) -> dosing.Fill:
    return dosing.Fill(
        refilled_on=refill.refilled_on,
        volume_added_ml=refill.volume_added_ml,
        concentration_mcg_per_ml=refill.concentration_mcg_per_ml,
        low_reservoir_alarm_ml=pump.low_reservoir_alarm_ml,
    )


def dose_segments(dose_changes: Sequence[DoseChange]) -> list[dosing.DoseSegment]:
    """Dose segments in (date, record) order, as ``dosing`` expects for same-day changes."""
    return [dosing.DoseSegment(d.changed_on, d.daily_dose_mcg) for d in active_dose_changes(dose_changes)]


def battery_end_of_service(pump: Pump) -> datetime.date:
    return dosing.battery_end_of_service_on(
        implanted_on=pump.implanted_on,
        nominal_battery_life_months=pump.model.nominal_battery_life_months,
        eri_on=pump.eri_on,
        days_eri_to_eos=pump.model.days_eri_to_eos,
    )


def current_projection(
    pump: Pump, refills: Sequence[Refill], dose_changes: Sequence[DoseChange], settings: dosing.DosingSettings
) -> dosing.Projection | None:
    """The projection of the pump's latest fill across all its dose programs; None without a fill."""
    fills = active_refills(refills)
    if not fills:
        return None
    return dosing.project_fill(fill_of(fills[-1], pump), dose_segments(dose_changes), settings)


MISSING_PROGRAM = "program"
MISSING_FILL = "fill"


def missing_for_projection(
    pump: Pump, refills: Sequence[Refill], dose_changes: Sequence[DoseChange]
) -> tuple[str, ...]:
    """What an implanted pump lacks before it can be projected: its program, its fill, or both.

    The same condition as ``pump_state``'s empty alarm date (and so the scan's
    ``projection_missing`` alert), broken down so the page can say what to record.
    An explanted or voided pump needs nothing: it is not projected at all.
    """
    if not pump.is_implanted:
        return ()
    missing = []
    if not active_dose_changes(dose_changes):
        missing.append(MISSING_PROGRAM)
    if not active_refills(refills):
        missing.append(MISSING_FILL)
    return tuple(missing)


def pump_state(
    pump: Pump, refills: Sequence[Refill], dose_changes: Sequence[DoseChange], settings: dosing.DosingSettings
) -> PumpState:
    """What the pump row should store, from its records alone.

    1. Only records that are not voided count, in date order.
    2. The current program and drug are the latest dose change and the latest fill.
    3. A pump in the patient: its latest fill projected across every dose program
       (alarm, refill due) and its battery end of service. A pump that is
       explanted (or voided) needs no refill and has no battery to watch, so
       those dates are empty, as are its booked visits.
    """
    fills = active_refills(refills)
    programs = active_dose_changes(dose_changes)
    last_fill = fills[-1] if fills else None
    last_program = programs[-1] if programs else None
    implanted = pump.explanted_on is None and not pump.is_voided
    projection = current_projection(pump, fills, programs, settings) if implanted else None
    return PumpState(
        alarm_date=projection.alarm_date if projection else None,
        refill_due_on=projection.refill_due_on if projection else None,
        battery_end_of_service_on=battery_end_of_service(pump) if implanted else None,
        current_mode=last_program.mode if last_program else "",
        current_daily_dose_mcg=last_program.daily_dose_mcg if last_program else None,
        current_drug=last_fill.drug if last_fill else "",
        current_concentration_mcg_per_ml=last_fill.concentration_mcg_per_ml if last_fill else None,
        last_refill_on=last_fill.refilled_on if last_fill else None,
        last_dose_change_on=last_program.changed_on if last_program else None,
        next_visit_on=last_program.next_visit_on if (implanted and last_program) else None,
        next_refill_appointment_on=last_fill.next_refill_appointment_on if (implanted and last_fill) else None,
    )


def stored_state(pump: Pump) -> PumpState:
    """What the pump row stores now."""
    return PumpState(**{name: getattr(pump, name) for name in STORED_FIELDS})


def state_drift(stored: PumpState, fresh: PumpState) -> dict[str, tuple[object, object]]:
    """Fields whose stored value differs from the fresh one: {field: (stored, fresh)}."""
    drift: dict[str, tuple[object, object]] = {}
    for name in STORED_FIELDS:
        old, new = getattr(stored, name), getattr(fresh, name)
        if old != new:
            drift[name] = (old, new)
    return drift
