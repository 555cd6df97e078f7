"""Goal Attainment Scaling (spec "Goals", domain.md section 5). Pure: no Django import.

The Kiresuk–Sherman T-score over a patient's goals:

    T = 50 + 10·Σ(wᵢxᵢ) / sqrt(0.7·Σwᵢ² + 0.3·(Σwᵢ)²)

where xᵢ is goal i's level (−2 … +2) and wᵢ its weight: importance × difficulty (each
0–3), or 1 when either is unset. T = 50 means the goals were met as expected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

RHO = Decimal("0.3")
GAS_LEVELS = (-2, -1, 0, 1, 2)
BASELINE_LEVELS = (-1, -2)
TWO_PLACES = Decimal("0.01")


def goal_weight(importance: int | None, difficulty: int | None) -> int:
    """Importance × difficulty, or 1 (unweighted) when either rating is unset."""
    if importance is None or difficulty is None:
        return 1
    return importance * difficulty


def t_score(goals_levels_weights: Iterable[tuple[int, int | Decimal]]) -> Decimal | None:
    """The T-score of (level, weight) pairs, rounded half-up to 2 decimal places.

    None when there is nothing to score: no goals, or every weight is 0 (a goal rated
    0 for importance or difficulty counts for nothing).
    """
    pairs = [(Decimal(level), Decimal(weight)) for level, weight in goals_levels_weights]
    weighted_sum = sum((w * x for x, w in pairs), Decimal(0))
    sum_of_squares = sum((w * w for _, w in pairs), Decimal(0))
    total_weight = sum((w for _, w in pairs), Decimal(0))
    if total_weight == 0:
        return None
    with localcontext() as context:
        context.prec = 40
        denominator = ((1 - RHO) * sum_of_squares + RHO * total_weight * total_weight).sqrt()
        score = 50 + 10 * weighted_sum / denominator
    return score.quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class GoalSnapshot:
    """What the T-score needs of one goal: when it was set, its baseline, weights and reviews."""

    set_on: date
    baseline_level: int
    importance: int | None
    difficulty: int | None
    # (reviewed_on, level) pairs, in any order
    reviews: tuple[tuple[date, int], ...] = ()

    @property
    def weight(self) -> int:
        return goal_weight(self.importance, self.difficulty)

    def level_on(self, on: date) -> int:
        """The level of the latest review on or before ``on``; the baseline when none."""
        earlier = [(reviewed_on, level) for reviewed_on, level in self.reviews if reviewed_on <= on]
        return max(earlier)[1] if earlier else self.baseline_level


def t_score_on(goals: Iterable[GoalSnapshot], on: date) -> Decimal | None:
    """The T-score on a date over the goals already set by then."""
    return t_score((goal.level_on(on), goal.weight) for goal in goals if goal.set_on <= on)
