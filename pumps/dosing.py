"""Dose, reservoir and refill arithmetic for intrathecal baclofen pumps.

This is the clinic's safety core. It is a pure module: plain ``date``, ``Decimal``
and frozen dataclasses go in, frozen results come out, and nothing here touches
Django, the database or the clock. Views, the API, the alert scan, the reports
and ``verify_projections`` all call these functions so that every screen shows
the same alarm date.

Arithmetic is exact. Inputs are turned into ``fractions.Fraction`` at the
boundary and results are turned back into ``Decimal`` only when returned, so a
reservoir that runs for exactly 152 days is never floored to 151 because of a
binary or decimal rounding error on the way.

Rounding policy (every returned number is quantized exactly once):

* Volumes left in the reservoir (``projected_volume_ml``) and day counts
  (``days_to_alarm``) are rounded DOWN to 0.01. Rounding down never shows more
  drug, or more time, than the pump has, and it keeps the day count consistent
  with the floored alarm date.
* Delivered/residual volumes (``DeliveryCheck``) and doses are rounded
  ROUND_HALF_UP to 0.01; percentages ROUND_HALF_UP to 0.1.
* Safety decisions (delivery flags, dose-change confirmation) compare the exact,
  unrounded value with the threshold, so rounding can never hide a breach.

Units are in every name: ``_mcg``, ``_ml``, ``_days``, ``_on`` for dates.
"""

from __future__ import annotations

import calendar
import datetime
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Final, Literal

__all__ = [
    "DELIVERY_FLAG_NONE",
    "DELIVERY_FLAG_NOT_ASSESSABLE",
    "DELIVERY_FLAG_OVER",
    "DELIVERY_FLAG_UNDER",
    "DeliveryCheck",
    "DeliveryFlag",
    "DoseChangeCheck",
    "DoseSegment",
    "DosingSettings",
    "Fill",
    "FlexStep",
    "FlexStepError",
    "ProgrammerReading",
    "Projection",
    "add_calendar_months",
    "alarm_date",
    "battery_end_of_service_on",
    "daily_volume_ml",
    "delivery_check",
    "dose_change_above_percent",
    "dose_change_check",
    "emptied_fill",
    "empty_on",
    "flex_daily_dose_mcg",
    "flex_step_errors",
    "parse_flex_steps",
    "programmer_mismatches",
    "project_fill",
    "projected_volume_ml",
    "refill_due_on",
    "suggested_starting_daily_dose_mcg",
]

# Decimal places of each returned quantity (see the module docstring).
_ML_PLACES: Final = 2
_MCG_PLACES: Final = 2
_DAYS_PLACES: Final = 2
_PERCENT_PLACES: Final = 1
# 0.01 mL/day would show 25 mcg/day at 2000 mcg/mL (0.0125 mL/day) as 0.01.
_DAILY_VOLUME_PLACES: Final = 4

_MINUTES_PER_DAY: Final = 24 * 60
_HH_MM: Final = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")

DeliveryFlag = Literal["none", "over_delivery", "under_delivery", "not_assessable"]
DELIVERY_FLAG_NONE: Final[DeliveryFlag] = "none"
DELIVERY_FLAG_OVER: Final[DeliveryFlag] = "over_delivery"
DELIVERY_FLAG_UNDER: Final[DeliveryFlag] = "under_delivery"
# The refill came after the projected empty day: the pump may have run dry, so the
# residual says nothing about how the pump delivered (a 0 mL residual would read 0.0%).
DELIVERY_FLAG_NOT_ASSESSABLE: Final[DeliveryFlag] = "not_assessable"


# --------------------------------------------------------------------------
# Exact-arithmetic boundary helpers
# --------------------------------------------------------------------------


def _exact(value: Decimal | int, name: str) -> Fraction:
    """Turn a Decimal (or int) into an exact Fraction; refuse floats and NaN.

    Floats are refused because 0.1 mL is not representable in binary and the
    whole point of this module is that 152 days stays 152 days.
    """
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"{name} must be a finite number, got {value}")
    return Fraction(value)


def _positive(value: Decimal | int, name: str) -> Fraction:
    exact = _exact(value, name)
    if exact <= 0:
        raise ValueError(f"{name} must be greater than 0, got {value}")
    return exact


def _non_negative(value: Decimal | int, name: str) -> Fraction:
    exact = _exact(value, name)
    if exact < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return exact


def _round_down(value: Fraction, places: int) -> Decimal:
    """Quantize towards minus infinity, exactly (no intermediate Decimal context)."""
    scaled = math.floor(value * 10**places)
    return Decimal(scaled).scaleb(-places)


def _round_half_up(value: Fraction, places: int) -> Decimal:
    """Quantize with ROUND_HALF_UP (halves away from zero, as Decimal does)."""
    sign = -1 if value < 0 else 1
    scaled = math.floor(abs(value) * 10**places + Fraction(1, 2))
    return Decimal(sign * scaled).scaleb(-places)


def _fmt(value: Decimal) -> str:
    """Human form of a number for messages: 500, 12.5 (no exponent, no 500.00)."""
    return format(value.normalize(), "f")


def _date_plus_days(start_on: datetime.date, days: Fraction) -> datetime.date:
    """``start_on`` + floor(days), clamped to ``date.max`` for absurdly slow pumps.

    A clamp (rather than an OverflowError) keeps a pathological 0.001 mcg/day
    record from crashing a nightly scan; the 180-day stability cap still sets
    the refill-due date for such a pump.
    """
    whole_days = math.floor(days)
    if whole_days > (datetime.date.max - start_on).days:
        return datetime.date.max
    return start_on + datetime.timedelta(days=whole_days)


# --------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DosingSettings:
    """Clinic-configurable thresholds (spec: "thresholds are settings")."""

    refill_lead_days: int = 7
    max_refill_interval_days: int = 180
    delivery_deviation_threshold_percent: Decimal = Decimal("14.5")
    dose_change_confirm_percent: Decimal = Decimal(20)
    dose_confirm_above_mcg: Decimal = Decimal(1000)
    starting_dose_bolus_multiplier: Decimal = Decimal(2)

    def __post_init__(self) -> None:
        # Bad settings would silently disable a safety check, so refuse them.
        if self.refill_lead_days < 0:
            raise ValueError("refill_lead_days must not be negative")
        if self.max_refill_interval_days <= 0:
            raise ValueError("max_refill_interval_days must be greater than 0")
        _non_negative(
            self.delivery_deviation_threshold_percent,
            "delivery_deviation_threshold_percent",
        )
        _non_negative(self.dose_change_confirm_percent, "dose_change_confirm_percent")
        _positive(self.dose_confirm_above_mcg, "dose_confirm_above_mcg")
        _positive(self.starting_dose_bolus_multiplier, "starting_dose_bolus_multiplier")


# --------------------------------------------------------------------------
# Flex dosing (rates by time of day)
# --------------------------------------------------------------------------


class FlexStepError(ValueError):
    """Flex steps that cannot be used; ``messages`` holds one line per problem."""

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages: list[str] = list(messages)
        super().__init__("; ".join(self.messages))


@dataclass(frozen=True)
class FlexStep:
    """From ``start_time`` until the next step's start, infuse ``rate_mcg_per_hour``."""

    start_time: datetime.time
    rate_mcg_per_hour: Decimal


def _parse_start_time(value: object, label: str) -> tuple[datetime.time | None, str | None]:
    """Return (time, None) for "HH:MM" (or a time object), else (None, message)."""
    if isinstance(value, datetime.time):
        return value, None
    match = _HH_MM.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None, f"{label}: start_time must be a 24-hour time HH:MM, got {value!r}."
    return datetime.time(int(match.group(1)), int(match.group(2))), None


def _parse_rate(value: object, label: str) -> tuple[Decimal | None, str | None]:
    """Return (rate, None) for a finite number or numeric string, else (None, message)."""
    rate: Decimal | None = None
    if isinstance(value, Decimal):
        rate = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        # str() first: Decimal(0.1) would carry the float's binary error.
        rate = Decimal(str(value))
    elif isinstance(value, str):
        try:
            rate = Decimal(value.strip())
        except InvalidOperation:
            rate = None
    if rate is None or not rate.is_finite():
        return None, f"{label}: rate_mcg_per_hour must be a number, got {value!r}."
    return rate, None


def _parse_one_step(raw_step: object, label: str) -> tuple[FlexStep | None, list[str]]:
    if not isinstance(raw_step, Mapping):
        return None, [f"{label}: must be an object with start_time and rate_mcg_per_hour."]
    errors: list[str] = []
    for key in ("start_time", "rate_mcg_per_hour"):
        if raw_step.get(key) in (None, ""):
            errors.append(f"{label}: {key} is required.")
    if errors:
        return None, errors
    start_time, time_error = _parse_start_time(raw_step["start_time"], label)
    rate, rate_error = _parse_rate(raw_step["rate_mcg_per_hour"], label)
    errors = [error for error in (time_error, rate_error) if error is not None]
    if start_time is None or rate is None:
        return None, errors
    return FlexStep(start_time=start_time, rate_mcg_per_hour=rate), errors


def parse_flex_steps(raw: object) -> list[FlexStep]:
    """Parse ``[{"start_time": "HH:MM", "rate_mcg_per_hour": "10"}, ...]``.

    1. Require a list (JSON array) of objects.
    2. Parse each step's ``start_time`` (strict ``HH:MM``, 24-hour) and
       ``rate_mcg_per_hour`` (number or numeric string), collecting every
       problem with its step number rather than stopping at the first.
    3. Raise ``FlexStepError`` with all messages if any step is malformed.

    This checks format only; call ``flex_step_errors`` for gaps, overlaps,
    order and rates (``flex_daily_dose_mcg`` does so itself).
    """
    if not isinstance(raw, (list, tuple)):
        raise FlexStepError(["Flex steps must be a list of {start_time, rate_mcg_per_hour}."])
    steps: list[FlexStep] = []
    errors: list[str] = []
    for number, raw_step in enumerate(raw, start=1):
        step, step_errors = _parse_one_step(raw_step, f"Step {number}")
        errors.extend(step_errors)
        if step is not None:
            steps.append(step)
    if errors:
        raise FlexStepError(errors)
    return steps


def _minute_of_day(moment: datetime.time) -> int:
    return moment.hour * 60 + moment.minute


def _step_format_errors(number: int, step: FlexStep) -> list[str]:
    errors: list[str] = []
    start = step.start_time
    if start.second or start.microsecond or start.tzinfo is not None:
        errors.append(f"Step {number}: start_time must be HH:MM (whole minutes, no time zone).")
    rate = step.rate_mcg_per_hour
    if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
        errors.append(f"Step {number}: rate must be greater than 0 mcg/h, got {rate}.")
    return errors


def _step_order_errors(steps: Sequence[FlexStep]) -> list[str]:
    errors: list[str] = []
    first_start = steps[0].start_time
    if _minute_of_day(first_start) != 0:
        errors.append(
            f"The first step starts at {first_start:%H:%M}, leaving a gap from 00:00 to "
            f"{first_start:%H:%M}: the first step must start at 00:00."
        )
    for number, (before, after) in enumerate(itertools.pairwise(steps), start=2):
        before_minute = _minute_of_day(before.start_time)
        after_minute = _minute_of_day(after.start_time)
        if after_minute == before_minute:
            errors.append(f"Steps {number - 1} and {number} both start at {after.start_time:%H:%M}: they overlap.")
        elif after_minute < before_minute:
            errors.append(
                f"Step {number} ({after.start_time:%H:%M}) starts before step {number - 1} "
                f"({before.start_time:%H:%M}): steps are not in time order."
            )
    return errors


def _flex_daily_dose_exact_mcg(steps: Sequence[FlexStep]) -> Fraction:
    """Σ rate × hours until the next step; the last step runs to 24:00.

    Assumes the steps already passed the order checks (first at 00:00,
    strictly increasing), so the steps tile the day exactly once.
    """
    starts = [_minute_of_day(step.start_time) for step in steps]
    ends = [*starts[1:], _MINUTES_PER_DAY]
    total_mcg = Fraction(0)
    for step, start, end in zip(steps, starts, ends, strict=True):
        total_mcg += Fraction(step.rate_mcg_per_hour) * Fraction(end - start, 60)
    return total_mcg


def flex_step_errors(steps: Sequence[FlexStep]) -> list[str]:
    """Return human-readable problems with a flex program; empty means valid.

    1. There must be at least one step.
    2. Each step: start time in whole minutes, rate > 0 mcg/h.
    3. The first step starts at 00:00 (otherwise the night is a gap with no
       drug, which is a withdrawal risk), and start times strictly increase
       (equal = overlap, decreasing = not in time order).
    4. Only when 1-3 pass is the daily dose defined: it must be > 0 after
       rounding to 0.01 mcg, because 0.00 mcg/day would be stored as a dose.
    """
    if not steps:
        return ["Add at least one flex step: the program must cover the whole day."]
    errors: list[str] = []
    for number, step in enumerate(steps, start=1):
        errors.extend(_step_format_errors(number, step))
    errors.extend(_step_order_errors(steps))
    if errors:
        return errors
    if _round_half_up(_flex_daily_dose_exact_mcg(steps), _MCG_PLACES) <= 0:
        errors.append("The total daily dose of the flex program must be greater than 0 mcg.")
    return errors


def flex_daily_dose_mcg(steps: Sequence[FlexStep]) -> Decimal:
    """Daily dose of a flex program, in mcg/day, ROUND_HALF_UP to 0.01 mcg.

    1. Validate with ``flex_step_errors``; raise ``FlexStepError`` if invalid
       (a dose must never be computed from a program with gaps or overlaps).
    2. Sum rate × hours until the next step; the last step runs to 24:00.
    3. Quantize once, at the end.
    """
    errors = flex_step_errors(steps)
    if errors:
        raise FlexStepError(errors)
    return _round_half_up(_flex_daily_dose_exact_mcg(steps), _MCG_PLACES)


# --------------------------------------------------------------------------
# Dose programs, fills and the reservoir projection
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DoseSegment:
    """A dose program in force from the start of ``effective_on``."""

    effective_on: datetime.date
    daily_dose_mcg: Decimal

    def __post_init__(self) -> None:
        _positive(self.daily_dose_mcg, "daily_dose_mcg")


@dataclass(frozen=True)
class Fill:
    """What went into the reservoir at a refill (or the first fill at implant)."""

    refilled_on: datetime.date
    volume_added_ml: Decimal
    concentration_mcg_per_ml: Decimal
    low_reservoir_alarm_ml: Decimal

    def __post_init__(self) -> None:
        _non_negative(self.volume_added_ml, "volume_added_ml")
        _positive(self.concentration_mcg_per_ml, "concentration_mcg_per_ml")
        _non_negative(self.low_reservoir_alarm_ml, "low_reservoir_alarm_ml")


@dataclass(frozen=True)
class _RatePiece:
    """From ``start_day`` (days after the fill) the pump uses ``ml_per_day``."""

    start_day: int
    ml_per_day: Fraction


def daily_volume_ml(daily_dose_mcg: Decimal, concentration_mcg_per_ml: Decimal) -> Decimal:
    """mL used per day = dose / concentration, ROUND_HALF_UP to 0.0001 mL (display only).

    The projection itself uses the exact ratio, never this rounded value.
    """
    ratio = _positive(daily_dose_mcg, "daily_dose_mcg") / _positive(
        concentration_mcg_per_ml, "concentration_mcg_per_ml"
    )
    return _round_half_up(ratio, _DAILY_VOLUME_PLACES)


def _latest_dose_per_day(doses: Sequence[DoseSegment]) -> list[DoseSegment]:
    """Sort by date; when two segments share a date the later one in the input wins."""
    by_day: dict[datetime.date, DoseSegment] = {}
    for segment in sorted(doses, key=lambda segment: segment.effective_on):
        _positive(segment.daily_dose_mcg, "daily_dose_mcg")
        by_day[segment.effective_on] = segment
    return list(by_day.values())


def _rate_pieces(fill: Fill, doses: Sequence[DoseSegment]) -> list[_RatePiece]:
    """The fill's piecewise-constant usage schedule, starting at day 0.

    1. Sort the segments (callers may pass them in any order).
    2. Day 0 uses the latest segment effective on or before the fill day; if
       every segment starts later, nothing is used until the first one starts.
    3. Each later segment changes the rate from the start of its day.
    Returns [] when there are no segments at all (nothing can be projected).
    """
    segments = _latest_dose_per_day(doses)
    concentration = Fraction(fill.concentration_mcg_per_ml)
    pieces = [_RatePiece(0, Fraction(0))]
    for segment in segments:
        start_day = max(0, (segment.effective_on - fill.refilled_on).days)
        piece = _RatePiece(start_day, Fraction(segment.daily_dose_mcg) / concentration)
        # A segment on or before the fill day replaces whatever was in force at day 0.
        if pieces[-1].start_day == start_day:
            pieces[-1] = piece
        else:
            pieces.append(piece)
    return pieces if segments else []


def emptied_fill(fill: Fill, emptied_on: datetime.date) -> Fill:
    """The reservoir emptied on purpose (a Prometra before an MRI), as a fill of 0 mL from that day.

    Nothing new is computed: projected like any fill, it is at its alarm volume and empty on
    ``emptied_on`` itself, so ``alarm_date`` = ``empty_on`` = ``emptied_on`` and the refill is due
    (``refill_due_on`` falls the lead days before, as for any fill too small to last).
    """
    if emptied_on < fill.refilled_on:
        raise ValueError(f"emptied on {emptied_on}, before the fill on {fill.refilled_on}")
    return Fill(
        refilled_on=emptied_on,
        volume_added_ml=Decimal(0),
        concentration_mcg_per_ml=fill.concentration_mcg_per_ml,
        low_reservoir_alarm_ml=fill.low_reservoir_alarm_ml,
    )


def _piece_end_days(pieces: Sequence[_RatePiece]) -> list[int | None]:
    """Each piece ends where the next starts; the last runs for ever (None)."""
    ends: list[int | None] = [piece.start_day for piece in pieces[1:]]
    return [*ends, None] if pieces else []


def _used_ml(pieces: Sequence[_RatePiece], days: Fraction) -> Fraction:
    """Volume used in the first ``days`` days after the fill (not capped)."""
    used_ml = Fraction(0)
    for piece, end_day in zip(pieces, _piece_end_days(pieces), strict=True):
        stop_day = days if end_day is None else min(days, Fraction(end_day))
        if stop_day <= piece.start_day:
            break
        used_ml += piece.ml_per_day * (stop_day - piece.start_day)
    return used_ml


def _days_until_used(pieces: Sequence[_RatePiece], target_ml: Fraction) -> Fraction:
    """Exact (fractional) days after the fill until ``target_ml`` has been used.

    Walks the pieces, using up each one whole while the target is not reached;
    the target then falls inside the current piece (the last runs for ever and
    always has a positive rate because doses are > 0).
    """
    if target_ml <= 0:
        return Fraction(0)
    used_ml = Fraction(0)
    for piece, end_day in zip(pieces, _piece_end_days(pieces), strict=True):
        if end_day is not None:
            piece_ml = piece.ml_per_day * (end_day - piece.start_day)
            if used_ml + piece_ml < target_ml:
                used_ml += piece_ml
                continue
        return piece.start_day + (target_ml - used_ml) / piece.ml_per_day
    raise AssertionError("unreachable: the last rate piece runs for ever")


def _days_to_alarm(fill: Fill, pieces: Sequence[_RatePiece]) -> Fraction:
    return _days_until_used(pieces, Fraction(fill.volume_added_ml) - Fraction(fill.low_reservoir_alarm_ml))


def projected_volume_ml(fill: Fill, doses: Sequence[DoseSegment], on: datetime.date) -> Decimal:
    """Volume left at the START of day ``on``, rounded DOWN to 0.01 mL, never below 0.

    1. Build the usage schedule from the dose segments.
    2. Volume used = exact integral of the rate over the (on − refilled_on)
       whole days that have passed.
    3. Left = volume added − used, floored at 0 (the pump cannot go negative);
       round down so the screen never shows drug the pump does not have.
    With no dose segment at all the volume stays at ``volume_added_ml``.
    """
    if on < fill.refilled_on:
        raise ValueError(f"{on} is before the fill on {fill.refilled_on}")
    pieces = _rate_pieces(fill, doses)
    left_ml = Fraction(fill.volume_added_ml) - _used_ml(pieces, Fraction((on - fill.refilled_on).days))
    return _round_down(max(left_ml, Fraction(0)), _ML_PLACES)


def alarm_date(fill: Fill, doses: Sequence[DoseSegment]) -> datetime.date | None:
    """Day the low-reservoir alarm is reached: refilled_on + floor(days_to_alarm).

    1. Build the usage schedule (sorted, piecewise across dose changes).
    2. days_to_alarm = exact days until volume_added − used = alarm volume.
    3. Floor it and add to the fill date. Equivalently, the alarm date is
       the last day that starts with at least the alarm volume, i.e. the day
       during which the volume falls to the alarm volume.
    Returns None when there is no dose program at all.
    """
    pieces = _rate_pieces(fill, doses)
    if not pieces:
        return None
    return _date_plus_days(fill.refilled_on, _days_to_alarm(fill, pieces))


def empty_on(fill: Fill, doses: Sequence[DoseSegment]) -> datetime.date | None:
    """Theoretical empty day: refilled_on + floor(days until the volume reaches 0)."""
    return _empty_on_from_pieces(fill, _rate_pieces(fill, doses))


def _empty_on_from_pieces(fill: Fill, pieces: Sequence[_RatePiece]) -> datetime.date | None:
    if not pieces:
        return None
    days = _days_until_used(pieces, Fraction(fill.volume_added_ml))
    return _date_plus_days(fill.refilled_on, days)


def refill_due_on(
    refilled_on: datetime.date, alarm_on: datetime.date | None, settings: DosingSettings
) -> datetime.date:
    """min(alarm date − lead days, refill date + max refill interval).

    1. Stability cap: refilled_on + max_refill_interval_days (180 by default),
       which applies even when no alarm date is known (the drug still ages).
    2. Lead: alarm_on − refill_lead_days, when there is an alarm date.
    3. The earlier of the two. It may fall on or before the refill date for a
       very small fill; that is reported, not hidden.
    """
    stability_due_on = refilled_on + datetime.timedelta(days=settings.max_refill_interval_days)
    if alarm_on is None:
        return stability_due_on
    lead = datetime.timedelta(days=settings.refill_lead_days)
    # alarm_on may be date.max for a pathological record; subtracting is safe.
    return min(alarm_on - lead, stability_due_on)


@dataclass(frozen=True)
class Projection:
    """Everything the pump row, the refill printout and the alerts need."""

    alarm_date: datetime.date | None
    refill_due_on: datetime.date | None
    days_to_alarm: Decimal | None
    empty_on: datetime.date | None


def project_fill(fill: Fill, doses: Sequence[DoseSegment], settings: DosingSettings) -> Projection:
    """Project one fill.

    1. Build the usage schedule; with no dose program only the stability cap
       is known, so alarm, day count and empty day are None.
    2. days_to_alarm exactly; alarm date = fill + floor(days).
    3. Empty day the same way for volume 0.
    4. Refill due = min(alarm − lead, fill + 180 days).
    ``days_to_alarm`` is rounded DOWN to 0.01 so floor(days_to_alarm) always
    matches the alarm date.
    """
    pieces = _rate_pieces(fill, doses)
    if not pieces:
        return Projection(None, refill_due_on(fill.refilled_on, None, settings), None, None)
    days_to_alarm = _days_to_alarm(fill, pieces)
    alarm_on = _date_plus_days(fill.refilled_on, days_to_alarm)
    days_to_empty = _days_until_used(pieces, Fraction(fill.volume_added_ml))
    return Projection(
        alarm_date=alarm_on,
        refill_due_on=refill_due_on(fill.refilled_on, alarm_on, settings),
        days_to_alarm=_round_down(days_to_alarm, _DAYS_PLACES),
        empty_on=_date_plus_days(fill.refilled_on, days_to_empty),
    )


# --------------------------------------------------------------------------
# Delivery (expected vs actual residual) check at a refill
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryCheck:
    """Comparison of what the pump should have delivered with what it did."""

    expected_delivered_ml: Decimal
    actual_delivered_ml: Decimal
    expected_residual_ml: Decimal
    delivery_deviation_percent: Decimal | None
    delivery_flag: DeliveryFlag
    may_have_run_dry: bool = False


def _delivery_flag(deviation_percent: Fraction | None, threshold_percent: Fraction) -> DeliveryFlag:
    if deviation_percent is None:
        return DELIVERY_FLAG_NONE
    if deviation_percent > threshold_percent:
        return DELIVERY_FLAG_OVER
    if deviation_percent < -threshold_percent:
        return DELIVERY_FLAG_UNDER
    return DELIVERY_FLAG_NONE


def delivery_check(
    previous_fill: Fill,
    doses: Sequence[DoseSegment],
    refilled_on: datetime.date,
    aspirated_volume_ml: Decimal,
    settings: DosingSettings,
) -> DeliveryCheck:
    """Expected vs actual delivery since ``previous_fill``, measured at this refill.

    1. Expected delivered = projected use over the whole days from the
       previous fill to this refill (piecewise across dose changes), capped at
       the previous volume added: a pump cannot deliver more than it held.
    2. Actual delivered = previous volume added − aspirated residual.
    3. Expected residual = previous volume added − expected delivered.
    4. Deviation % = 100 × (actual − expected) / expected; None when nothing
       was expected (no dose program, or a same-day refill).
    5. Flag over/under delivery when the EXACT deviation is beyond ±threshold.
       The exact value is compared (not the 1-decimal display value) so that
       e.g. +14.54% is flagged even though it displays as 14.5%.
    6. A refill after the previous fill's projected empty day is
       ``not_assessable``, with no deviation: the pump may have run dry, and a
       residual of 0 mL would otherwise read as a perfect 0.0%.
    mL outputs are ROUND_HALF_UP to 0.01; the percentage to 0.1.
    """
    if refilled_on < previous_fill.refilled_on:
        raise ValueError(f"refill on {refilled_on} is before the previous fill")
    aspirated_ml = _non_negative(aspirated_volume_ml, "aspirated_volume_ml")
    held_ml = Fraction(previous_fill.volume_added_ml)
    elapsed_days = Fraction((refilled_on - previous_fill.refilled_on).days)
    pieces = _rate_pieces(previous_fill, doses)
    expected_ml = min(_used_ml(pieces, elapsed_days), held_ml)
    actual_ml = held_ml - aspirated_ml
    ran_dry_after = _empty_on_from_pieces(previous_fill, pieces)
    threshold = _non_negative(
        settings.delivery_deviation_threshold_percent,
        "delivery_deviation_threshold_percent",
    )
    if ran_dry_after is not None and refilled_on > ran_dry_after:
        deviation = None
        flag: DeliveryFlag = DELIVERY_FLAG_NOT_ASSESSABLE
    else:
        deviation = None if expected_ml == 0 else 100 * (actual_ml - expected_ml) / expected_ml
        flag = _delivery_flag(deviation, threshold)
    return DeliveryCheck(
        expected_delivered_ml=_round_half_up(expected_ml, _ML_PLACES),
        actual_delivered_ml=_round_half_up(actual_ml, _ML_PLACES),
        expected_residual_ml=_round_half_up(held_ml - expected_ml, _ML_PLACES),
        delivery_deviation_percent=(None if deviation is None else _round_half_up(deviation, _PERCENT_PLACES)),
        delivery_flag=flag,
        may_have_run_dry=flag == DELIVERY_FLAG_NOT_ASSESSABLE,
    )


# --------------------------------------------------------------------------
# Dose safety checks
# --------------------------------------------------------------------------


def suggested_starting_daily_dose_mcg(positive_trial_bolus_mcg: Decimal, settings: DosingSettings) -> Decimal:
    """First program after implant: multiplier (2 by default) × the positive trial bolus.

    Rounded ROUND_HALF_UP to 0.01 mcg/day. It is a suggestion for the
    clinician, who may choose 1 × when the bolus effect lasted more than 8 h.
    """
    bolus_mcg = _positive(positive_trial_bolus_mcg, "positive_trial_bolus_mcg")
    multiplier = Fraction(settings.starting_dose_bolus_multiplier)
    return _round_half_up(bolus_mcg * multiplier, _MCG_PLACES)


@dataclass(frozen=True)
class DoseChangeCheck:
    """Whether a new daily dose needs an explicit confirmation reason, and why."""

    change_percent: Decimal | None
    needs_confirmation: bool
    reasons: tuple[str, ...]


def _change_reason(reference: Decimal, new: Decimal, change_percent: Decimal, limit: Decimal, what: str) -> str:
    direction = "increase" if new > reference else "decrease"
    return (
        f"The new daily dose of {_fmt(new)} mcg is a {_fmt(abs(change_percent))}% {direction} "
        f"from {what} of {_fmt(reference)} mcg/day, more than the {_fmt(limit)}% "
        "that can be changed without confirmation."
    )


def _high_dose_reason(new: Decimal, limit: Decimal) -> str:
    return f"The new daily dose of {_fmt(new)} mcg/day is above {_fmt(limit)} mcg/day, which needs confirmation."


def _exact_change_percent(reference_mcg: Decimal, new_mcg: Fraction, name: str) -> Fraction:
    reference = _positive(reference_mcg, name)
    return 100 * (new_mcg - reference) / reference


def dose_change_check(
    current_daily_dose_mcg: Decimal | None,
    new_daily_dose_mcg: Decimal,
    settings: DosingSettings,
    *,
    day_start_daily_dose_mcg: Decimal | None = None,
    suggested_starting_dose_mcg: Decimal | None = None,
) -> DoseChangeCheck:
    """Decide whether a dose change needs an explicit confirmation reason.

    The change is measured against up to three references, each of which can ask
    for confirmation on its own:

    1. The current daily dose (the latest program). change % = 100 × (new −
       current) / current, ROUND_HALF_UP to 0.1.
    2. The dose in effect before the first change of the same calendar day
       (``day_start_daily_dose_mcg``), so that two same-day steps of 20% each
       (100 → 120 → 144, +44% in a day) cannot slip under the threshold.
    3. For the first program of a pump (no current dose), the suggested starting
       dose from the positive trial (``suggested_starting_dose_mcg``); change %
       is then measured from it. Without either, change % is None.
    Confirmation is needed when an EXACT |change| is above the change threshold
    (20% by default), so +20.04% (shown as 20.0%) still asks, and whenever the
    new dose is above the high-dose threshold (1000 mcg/day by default). Each
    triggered rule adds a sentence naming the numbers.
    """
    new_mcg = _positive(new_daily_dose_mcg, "new_daily_dose_mcg")
    limit = settings.dose_change_confirm_percent
    references: list[tuple[Decimal, str, str]] = []
    if current_daily_dose_mcg is not None:
        references.append((current_daily_dose_mcg, "the current dose", "current_daily_dose_mcg"))
        if day_start_daily_dose_mcg is not None and day_start_daily_dose_mcg != current_daily_dose_mcg:
            references.append(
                (day_start_daily_dose_mcg, "the dose at the start of the day", "day_start_daily_dose_mcg")
            )
    elif suggested_starting_dose_mcg is not None:
        references.append((suggested_starting_dose_mcg, "the suggested starting dose", "suggested_starting_dose_mcg"))
    reasons: list[str] = []
    change_percent: Decimal | None = None
    for index, (reference_mcg, what, name) in enumerate(references):
        exact_change = _exact_change_percent(reference_mcg, new_mcg, name)
        shown_percent = _round_half_up(exact_change, _PERCENT_PLACES)
        if index == 0:
            change_percent = shown_percent
        if abs(exact_change) > Fraction(limit):
            reasons.append(_change_reason(reference_mcg, new_daily_dose_mcg, shown_percent, limit, what))
    if new_mcg > Fraction(settings.dose_confirm_above_mcg):
        reasons.append(_high_dose_reason(new_daily_dose_mcg, settings.dose_confirm_above_mcg))
    return DoseChangeCheck(change_percent, bool(reasons), tuple(reasons))


def dose_change_above_percent(
    reference_daily_dose_mcg: Decimal | None, new_daily_dose_mcg: Decimal, limit_percent: Decimal
) -> bool:
    """Whether the EXACT |change| from the reference dose is above ``limit_percent``.

    The page's hard stop (``CLINIC["DOSE_CHANGE_HARD_PERCENT"]``): 130 → 1500 mcg/day is
    +1053.8%, far above 50%. Without a reference (a first program) there is no change.
    """
    if reference_daily_dose_mcg is None:
        return False
    new_mcg = _positive(new_daily_dose_mcg, "new_daily_dose_mcg")
    exact = _exact_change_percent(reference_daily_dose_mcg, new_mcg, "reference_daily_dose_mcg")
    return abs(exact) > Fraction(_non_negative(limit_percent, "limit_percent"))


# --------------------------------------------------------------------------
# The clinician programmer's numbers against ours
# --------------------------------------------------------------------------

# How far the programmer may differ from this module before the save is refused
# (spec "Programming safety"): the programmer rounds its own way, so a day on the
# alarm date, 0.1 mL on the volume and 0.5% on the dose are not a disagreement.
PROGRAMMER_ALARM_TOLERANCE_DAYS: Final = 1
PROGRAMMER_VOLUME_TOLERANCE_ML: Final = Decimal("0.1")
PROGRAMMER_DOSE_TOLERANCE_PERCENT: Final = Decimal("0.5")

PROGRAMMER_LIKELY_CAUSES: Final = (
    "Likely causes: a wrong concentration on the programmer or here, a wrong low-reservoir alarm volume, "
    "or a dose change made on the programmer but not recorded here."
)


@dataclass(frozen=True)
class ProgrammerReading:
    """What the clinician programmer showed after the session (each value optional)."""

    alarm_date: datetime.date | None = None
    reservoir_volume_ml: Decimal | None = None
    daily_dose_mcg: Decimal | None = None

    @property
    def is_empty(self) -> bool:
        return self.alarm_date is None and self.reservoir_volume_ml is None and self.daily_dose_mcg is None


def _no_computed_value(what: str) -> str:
    return f"The programmer's {what} cannot be checked: no {what} is computed here (record the program and the fill)."


def _alarm_mismatch(programmer_on: datetime.date, computed_on: datetime.date | None) -> str | None:
    if computed_on is None:
        return _no_computed_value("alarm date")
    days_apart = abs((programmer_on - computed_on).days)
    if days_apart <= PROGRAMMER_ALARM_TOLERANCE_DAYS:
        return None
    return (
        f"The programmer's alarm date {programmer_on:%Y-%m-%d} is {days_apart} days from the computed "
        f"alarm date {computed_on:%Y-%m-%d} (at most {PROGRAMMER_ALARM_TOLERANCE_DAYS} day apart). "
        f"{PROGRAMMER_LIKELY_CAUSES}"
    )


def _volume_mismatch(programmer_ml: Decimal, computed_ml: Decimal | None) -> str | None:
    if computed_ml is None:
        return _no_computed_value("reservoir volume")
    apart_ml = abs(_non_negative(programmer_ml, "programmer_ml") - _non_negative(computed_ml, "computed_ml"))
    if apart_ml <= Fraction(PROGRAMMER_VOLUME_TOLERANCE_ML):
        return None
    return (
        f"The programmer's reservoir volume {_fmt(programmer_ml)} mL differs from the computed "
        f"{_fmt(computed_ml)} mL by more than {_fmt(PROGRAMMER_VOLUME_TOLERANCE_ML)} mL. {PROGRAMMER_LIKELY_CAUSES}"
    )


def _dose_mismatch(programmer_mcg: Decimal, computed_mcg: Decimal | None) -> str | None:
    if computed_mcg is None:
        return _no_computed_value("daily dose")
    computed = _positive(computed_mcg, "computed_mcg")
    apart_percent = 100 * abs(_exact(programmer_mcg, "programmer_mcg") - computed) / computed
    if apart_percent <= Fraction(PROGRAMMER_DOSE_TOLERANCE_PERCENT):
        return None
    return (
        f"The programmer's daily dose {_fmt(programmer_mcg)} mcg/day differs from the recorded "
        f"{_fmt(computed_mcg)} mcg/day by {_fmt(_round_half_up(apart_percent, _PERCENT_PLACES))}% "
        f"(at most {_fmt(PROGRAMMER_DOSE_TOLERANCE_PERCENT)}%). {PROGRAMMER_LIKELY_CAUSES}"
    )


def programmer_mismatches(
    reading: ProgrammerReading,
    *,
    alarm_date: datetime.date | None,
    reservoir_volume_ml: Decimal | None,
    daily_dose_mcg: Decimal | None,
) -> dict[str, str]:
    """Compare what the programmer showed with what this module computed.

    Keyed by the reading's field (``alarm_date``, ``reservoir_volume_ml``,
    ``daily_dose_mcg``); only the values given are compared, each against its
    tolerance, exactly (never on rounded values):

    1. alarm date: at most ``PROGRAMMER_ALARM_TOLERANCE_DAYS`` apart;
    2. reservoir volume: at most ``PROGRAMMER_VOLUME_TOLERANCE_ML`` apart;
    3. daily dose: at most ``PROGRAMMER_DOSE_TOLERANCE_PERCENT`` of the computed dose apart.
    A value given with nothing computed to compare it with is a mismatch too: it
    cannot be confirmed. Each message names both values and the likely causes.
    """
    found: dict[str, str | None] = {}
    if reading.alarm_date is not None:
        found["alarm_date"] = _alarm_mismatch(reading.alarm_date, alarm_date)
    if reading.reservoir_volume_ml is not None:
        found["reservoir_volume_ml"] = _volume_mismatch(reading.reservoir_volume_ml, reservoir_volume_ml)
    if reading.daily_dose_mcg is not None:
        found["daily_dose_mcg"] = _dose_mismatch(reading.daily_dose_mcg, daily_dose_mcg)
    return {name: message for name, message in found.items() if message is not None}


# --------------------------------------------------------------------------
# Calendar and battery
# --------------------------------------------------------------------------


def add_calendar_months(start: datetime.date, months: int) -> datetime.date:
    """``start`` + ``months`` calendar months, clamped to the end of a short month.

    1. Count months from year 0 and add ``months`` (may be negative).
    2. Keep the day of month, but not past the target month's last day:
       2024-01-31 + 1 month = 2024-02-29; 2023-01-31 + 1 month = 2023-02-28.
    """
    month_index = start.year * 12 + (start.month - 1) + months
    year, month_zero_based = divmod(month_index, 12)
    month = month_zero_based + 1
    last_day = calendar.monthrange(year, month)[1]
    return datetime.date(year, month, min(start.day, last_day))


def battery_end_of_service_on(
    *,
    implanted_on: datetime.date,
    nominal_battery_life_months: int,
    eri_on: datetime.date | None,
    days_eri_to_eos: int | None,
) -> datetime.date:
    """When the pump battery is expected to stop.

    1. With a replacement-indicator date and a known ERI-to-EOS interval:
       eri_on + days_eri_to_eos (e.g. SynchroMed II, 90 days).
    2. With a replacement-indicator date but no known interval: eri_on itself.
       Falling back to the nominal life here could report a date years away
       for a pump that has already signalled "replace now", so the most
       cautious known date is used instead.
    3. Without an ERI date: implanted_on + nominal life in calendar months.
    """
    if eri_on is not None and days_eri_to_eos is not None:
        if days_eri_to_eos < 0:
            raise ValueError("days_eri_to_eos must not be negative")
        return eri_on + datetime.timedelta(days=days_eri_to_eos)
    if eri_on is not None:
        return eri_on
    if nominal_battery_life_months <= 0:
        raise ValueError("nominal_battery_life_months must be greater than 0")
    return add_calendar_months(implanted_on, nominal_battery_life_months)
