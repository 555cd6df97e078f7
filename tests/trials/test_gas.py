"""Goal Attainment Scaling (trials/gas.py): the spec's worked T-scores and properties. Pure."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trials.gas import GoalSnapshot, goal_weight, t_score, t_score_on

D = Decimal


@pytest.mark.parametrize(
    ("levels", "weights", "expected"),
    [
        ((0, 1, -1), (1, 1, 1), "50.00"),
        ((1, 1, 0), (1, 1, 1), "59.13"),
        ((-1, -1, -1), (1, 1, 1), "36.31"),
        ((2, 1, 0), (3, 2, 1), "67.63"),
        ((-2, 0, -1, 2, 0, 1), (3, 5, 1, 4, 2, 6), "55.00"),
    ],
)
def test_the_worked_t_scores_are_exact_to_two_decimals(levels, weights, expected):
    assert t_score(zip(levels, weights, strict=True)) == D(expected)


def test_the_weight_is_importance_times_difficulty_or_one_when_either_is_unset():
    assert goal_weight(3, 2) == 6
    assert goal_weight(0, 3) == 0
    assert goal_weight(None, 3) == 1
    assert goal_weight(2, None) == 1
    assert goal_weight(None, None) == 1


def test_no_goals_or_only_zero_weights_give_no_t_score():
    assert t_score([]) is None
    assert t_score([(1, 0), (2, 0)]) is None


SET_ON = dt.date(2026, 3, 1)


def test_each_goal_uses_its_latest_review_on_or_before_the_date_and_its_baseline_before_that():
    seating = GoalSnapshot(SET_ON, -1, None, None, reviews=((dt.date(2026, 4, 1), 0), (dt.date(2026, 6, 1), 1)))
    sleep = GoalSnapshot(SET_ON, -2, None, None, reviews=((dt.date(2026, 5, 1), 1),))
    assert seating.level_on(dt.date(2026, 3, 31)) == -1
    assert seating.level_on(dt.date(2026, 4, 1)) == 0
    assert seating.level_on(dt.date(2026, 7, 1)) == 1
    assert sleep.level_on(dt.date(2026, 4, 30)) == -2
    # On 2026-05-15: seating 0, sleep +1 → (0+1)/sqrt(0.7·2+0.3·4) = 0.620 → 56.20
    assert t_score_on([seating, sleep], dt.date(2026, 5, 15)) == D("56.20")


def test_goals_set_after_the_date_are_left_out():
    early = GoalSnapshot(SET_ON, -1, None, None)
    later = GoalSnapshot(dt.date(2026, 6, 1), -1, None, None, reviews=((dt.date(2026, 7, 1), 2),))
    assert t_score_on([early, later], dt.date(2026, 5, 1)) == t_score([(-1, 1)])
    assert t_score_on([early, later], dt.date(2026, 2, 1)) is None


levels = st.integers(min_value=-2, max_value=2)
weights = st.integers(min_value=1, max_value=9)


@given(st.lists(st.tuples(levels, weights), min_size=1, max_size=12))
def test_property_all_goals_at_the_expected_level_score_exactly_50(pairs):
    assert t_score([(0, w) for _, w in pairs]) == D("50.00")


@given(st.lists(st.tuples(levels, weights), min_size=1, max_size=12))
def test_property_mirrored_levels_mirror_around_50(pairs):
    up = t_score(pairs)
    down = t_score([(-level, w) for level, w in pairs])
    assert up is not None and down is not None
    assert abs((up - 50) + (down - 50)) <= D("0.01")


@given(st.lists(st.tuples(levels, weights), min_size=1, max_size=12), st.integers(min_value=0, max_value=11))
def test_property_raising_one_goal_never_lowers_the_score(pairs, index):
    index %= len(pairs)
    level, weight = pairs[index]
    if level == 2:
        return
    raised = list(pairs)
    raised[index] = (level + 1, weight)
    assert t_score(raised) >= t_score(pairs)


@given(st.lists(st.tuples(levels, weights), min_size=1, max_size=12), st.integers(min_value=2, max_value=5))
def test_property_scaling_every_weight_changes_nothing(pairs, factor):
    assert t_score([(x, w * factor) for x, w in pairs]) == t_score(pairs)


@given(st.lists(levels, min_size=1, max_size=12))
def test_property_unweighted_scores_stay_within_the_scale(level_list):
    # With n goals all at ±2 the score tends to 50 ± 20/sqrt(0.3) as n grows.
    score = t_score([(x, 1) for x in level_list])
    bound = 20 / D("0.3").sqrt()
    assert 50 - bound <= score <= 50 + bound
