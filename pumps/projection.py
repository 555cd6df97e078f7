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
from typing import TYPE_CHECKING, Any

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


@dataclass(frozen=True)
class Emptying:
    """The reservoir emptied on purpose (a Prometra before an MRI, ``devices.MriScan``)."""

    emptied_on: datetime.date
    recorded_at: datetime.datetime | None


# The pump row carries its latest emptying under these names when it is read with
# ``emptying_annotations()`` (the services' pump lock and ``verify_projections`` do):
# two more values on a row already read, so no write takes an extra query.
EMPTIED_ON = "reservoir_emptied_on"
EMPTYING_RECORDED_AT = "reservoir_emptying_recorded_at"


def _emptyings() -> Any:
    """The MRI emptyings that count (not voided), read through the app registry: ``devices``
    builds on ``pumps``, so ``pumps`` does not import it."""
    from django.apps import apps

    return apps.get_model("devices", "MriScan").objects.filter(voided_at__isnull=True, emptied_before_scan=True)


def emptying_annotations(as_of: datetime.date | None = None) -> dict[str, Any]:
    """Subqueries giving a pump row its latest emptying that is not voided (``OuterRef("pk")``);
    ``as_of``: only those dated on or before it (the overdue report as of a past day)."""
    from django.db.models import OuterRef, Subquery

    emptyings = _emptyings().filter(pump=OuterRef("pk")).order_by("-scanned_on", "-created_at")
    if as_of is not None:
        emptyings = emptyings.filter(scanned_on__lte=as_of)
    return {
        EMPTIED_ON: Subquery(emptyings.values("scanned_on")[:1]),
        EMPTYING_RECORDED_AT: Subquery(emptyings.values("created_at")[:1]),
    }


def pumps_emptied_after(as_of: datetime.date) -> Any:
    """The ids of pumps with an emptying dated after ``as_of`` (a subquery's values)."""
    return _emptyings().filter(scanned_on__gt=as_of).values("pump_id")


def emptying_of(pump: Pump) -> Emptying | None:
    """The pump's latest emptying, when the row was read with ``emptying_annotations()``."""
    emptied_on = getattr(pump, EMPTIED_ON, None)
    return Emptying(emptied_on, getattr(pump, EMPTYING_RECORDED_AT, None)) if emptied_on else None


def emptied_after(emptying: Emptying, refill: Refill) -> bool:
    """True when the emptying came after the fill, so the reservoir is empty now.

    A later day; or the same day and recorded later (records are entered in the order they
    happen: an MRI scan and then its refill). A refill not yet saved (a draft) is the latest.
    The SQL twin is ``devices.selectors.refill_answers_emptying``.
    """
    if emptying.emptied_on != refill.refilled_on:
        return emptying.emptied_on > refill.refilled_on
    if refill.created_at is None or emptying.recorded_at is None:
        return False
    return emptying.recorded_at > refill.created_at


def emptied_since(pump: Pump, refill: Refill) -> bool:
    """The pump was emptied after ``refill`` (its delivery cannot be checked at the next refill)."""
    emptying = emptying_of(pump)
    return emptying is not None and emptied_after(emptying, refill)


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
    pump: Pump,
    refills: Sequence[Refill],
    dose_changes: Sequence[DoseChange],
    settings: dosing.DosingSettings,
    emptying: Emptying | None = None,
) -> dosing.Projection | None:
    """The projection of the pump's latest fill across all its dose programs; None without a fill.

    A fill emptied since (``emptying``) is projected as emptied: 0 mL from that day.
    """
    fills = active_refills(refills)
    if not fills:
        return None
    fill = fill_of(fills[-1], pump)
    if emptying is not None and emptied_after(emptying, fills[-1]):
        fill = dosing.emptied_fill(fill, emptying.emptied_on)
    return dosing.project_fill(fill, dose_segments(dose_changes), settings)


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
       (alarm, refill due), or as empty from the day it was emptied since (an MRI
       emptying, ``emptying_of``), and its battery end of service. A pump that is
       explanted (or voided) needs no refill and has no battery to watch, so
       those dates are empty, as are its booked visits.
    """
    fills = active_refills(refills)
    programs = active_dose_changes(dose_changes)
    last_fill = fills[-1] if fills else None
    last_program = programs[-1] if programs else None
    implanted = pump.explanted_on is None and not pump.is_voided
    projection = current_projection(pump, fills, programs, settings, emptying_of(pump)) if implanted else None
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
