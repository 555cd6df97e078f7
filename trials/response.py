"""The response to an intrathecal trial bolus, from its tone scores (spec "Intrathecal trial").

Pure: no Django import. Plain strings, ints and Decimals in, a ``TrialResponse`` out, so
the rule can be tested on its own and called by the pages, the API and the pathway alike.

The rule, with the clinic's settings (grade mapping, threshold, negative-after minutes):

1. Each Modified Ashworth grade maps to a number (default ``0, 1, 1+→1.5, 2, 3, 4``).
2. For each post-bolus timepoint t (minutes > 0), ``reduction(t)`` is the mean, over the
   (muscle group, side) pairs scored both at baseline (0 min) and at t, of
   ``baseline − score(t)``. A timepoint with no such pair has no reduction.
3. ``peak_mas_reduction`` is the largest reduction and ``peak_minutes`` its timepoint (the
   earliest one when several tie).
4. ``suggested_outcome`` is ``positive`` when the peak reaches the threshold; otherwise
   ``negative`` once a timepoint at or after ``negative_after_minutes`` has a reduction;
   otherwise ``incomplete``.

Means are computed exactly (fractions) and compared with the threshold exactly; only the
reported values are rounded, to 2 decimal places, so that a mean of 2/3 never tips a
comparison through rounding.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Protocol

BASELINE_MINUTES = 0
POSITIVE = "positive"
NEGATIVE = "negative"
INCOMPLETE = "incomplete"
TWO_PLACES = Decimal("0.01")


class ToneScoreLike(Protocol):
    """Anything with these four attributes: a ``ToneScore`` or a ``ToneAssessment`` row."""

    @property
    def muscle_group(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def minutes_after_bolus(self) -> int: ...
    @property
    def mas(self) -> str: ...


@dataclass(frozen=True)
class ToneScore:
    muscle_group: str
    side: str
    minutes_after_bolus: int
    mas: str


@dataclass(frozen=True)
class TrialResponse:
    peak_mas_reduction: Decimal | None
    peak_minutes: int | None
    suggested_outcome: str
    # minutes → mean reduction from baseline over the pairs scored at both times
    reductions_by_minutes: dict[int, Decimal] = field(default_factory=dict)
    # minutes → mean MAS over every score at that time (the chart's "all muscles" line)
    mean_mas_by_minutes: dict[int, Decimal] = field(default_factory=dict)
    # muscle group → minutes → mean MAS over both sides (the chart's per-muscle lines)
    mean_mas_by_muscle_group: dict[str, dict[int, Decimal]] = field(default_factory=dict)


class UnknownGradeError(ValueError):
    """A score whose grade is not in the clinic's grade mapping."""


def rounded(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def _mean(values: list[Fraction]) -> Fraction:
    return sum(values, Fraction(0)) / len(values)


def _grade_numbers(grade_values: Mapping[str, object]) -> dict[str, Fraction]:
    return {grade: Fraction(str(value)) for grade, value in grade_values.items()}


def trial_response(
    scores: Iterable[ToneScoreLike],
    *,
    grade_values: Mapping[str, object],
    positive_threshold: Decimal | str,
    negative_after_minutes: int,
) -> TrialResponse:
    """The trial's response from its (non-voided) tone scores; see the module docstring."""
    numbers = _grade_numbers(grade_values)
    by_cell: dict[tuple[str, str, int], Fraction] = {}
    for score in scores:
        if score.mas not in numbers:
            raise UnknownGradeError(f"{score.mas!r} is not a grade in the mapping")
        by_cell[(score.muscle_group, score.side, score.minutes_after_bolus)] = numbers[score.mas]

    reductions = _reductions(by_cell)
    threshold = Fraction(str(positive_threshold))
    peak_minutes = min(reductions, key=lambda t: (-reductions[t], t)) if reductions else None
    peak = reductions[peak_minutes] if peak_minutes is not None else None
    if peak is not None and peak >= threshold:
        suggested = POSITIVE
    elif any(t >= negative_after_minutes for t in reductions):
        suggested = NEGATIVE
    else:
        suggested = INCOMPLETE
    return TrialResponse(
        peak_mas_reduction=rounded(peak) if peak is not None else None,
        peak_minutes=peak_minutes,
        suggested_outcome=suggested,
        reductions_by_minutes={t: rounded(r) for t, r in sorted(reductions.items())},
        mean_mas_by_minutes=_mean_by_minutes(by_cell),
        mean_mas_by_muscle_group=_mean_by_muscle_group(by_cell),
    )


def _reductions(by_cell: dict[tuple[str, str, int], Fraction]) -> dict[int, Fraction]:
    baseline = {(m, s): v for (m, s, t), v in by_cell.items() if t == BASELINE_MINUTES}
    differences: dict[int, list[Fraction]] = defaultdict(list)
    for (muscle, side, minutes), value in by_cell.items():
        if minutes > BASELINE_MINUTES and (muscle, side) in baseline:
            differences[minutes].append(baseline[(muscle, side)] - value)
    return {minutes: _mean(values) for minutes, values in differences.items()}


def _mean_by_minutes(by_cell: dict[tuple[str, str, int], Fraction]) -> dict[int, Decimal]:
    values: dict[int, list[Fraction]] = defaultdict(list)
    for (_, _, minutes), value in by_cell.items():
        values[minutes].append(value)
    return {minutes: rounded(_mean(v)) for minutes, v in sorted(values.items())}


def _mean_by_muscle_group(by_cell: dict[tuple[str, str, int], Fraction]) -> dict[str, dict[int, Decimal]]:
    values: dict[str, dict[int, list[Fraction]]] = defaultdict(lambda: defaultdict(list))
    for (muscle, _, minutes), value in by_cell.items():
        values[muscle][minutes].append(value)
    return {
        muscle: {minutes: rounded(_mean(v)) for minutes, v in sorted(by_minutes.items())}
        for muscle, by_minutes in values.items()
    }
