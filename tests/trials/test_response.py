"""The trial response rule (trials/response.py): worked examples and properties. Pure: no database."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trials.response import ToneScore, UnknownGradeError, trial_response

D = Decimal
GRADES = {"0": "0", "1": "1", "1+": "1.5", "2": "2", "3": "3", "4": "4"}
MUSCLES = ["hip_adductors", "hip_flexors", "hamstrings", "quadriceps", "gastrocsoleus"]


def respond(scores, threshold="1.0", negative_after=240):
    return trial_response(
        scores, grade_values=GRADES, positive_threshold=threshold, negative_after_minutes=negative_after
    )


def grid(minutes: int, **grades: tuple[str, str]) -> list[ToneScore]:
    """``grid(0, hip_adductors=("3", "3"))``: left and right grades of muscle groups at one time."""
    scores = []
    for muscle, (left, right) in grades.items():
        if left:
            scores.append(ToneScore(muscle, "left", minutes, left))
        if right:
            scores.append(ToneScore(muscle, "right", minutes, right))
    return scores


ISSUE_BASELINE = grid(0, hip_adductors=("3", "3"), hamstrings=("2", "2"), gastrocsoleus=("1+", "1+"))
ISSUE_AT_240 = grid(240, hip_adductors=("2", "1"), hamstrings=("1", "1"), gastrocsoleus=("1", "1"))


def test_the_issue_example_reduces_by_exactly_one_point_at_240_minutes_and_is_positive():
    response = respond(ISSUE_BASELINE + ISSUE_AT_240)
    # (1 + 2 + 1 + 1 + 0.5 + 0.5) / 6 = 1.0
    assert response.reductions_by_minutes == {240: D("1.00")}
    assert response.peak_mas_reduction == D("1.00")
    assert response.peak_minutes == 240
    assert response.suggested_outcome == "positive"


def test_the_issue_example_charts_mean_mas_overall_and_per_muscle_group():
    response = respond(ISSUE_BASELINE + ISSUE_AT_240)
    assert response.mean_mas_by_minutes == {0: D("2.17"), 240: D("1.17")}  # 13/6 and 7/6
    assert response.mean_mas_by_muscle_group == {
        "hip_adductors": {0: D("3.00"), 240: D("1.50")},
        "hamstrings": {0: D("2.00"), 240: D("1.00")},
        "gastrocsoleus": {0: D("1.50"), 240: D("1.00")},
    }


def test_paired_means_ignore_pairs_not_scored_at_both_times():
    baseline = grid(0, hip_adductors=("3", "3"), hamstrings=("2", ""))
    # Hamstrings right is scored at 60 but had no baseline; hip adductors right has no 60 score.
    at_60 = grid(60, hip_adductors=("2", ""), hamstrings=("2", "0"))
    response = respond(baseline + at_60)
    # pairs at 60: hip adductors left 3→2 (1), hamstrings left 2→2 (0): mean 0.5
    assert response.reductions_by_minutes == {60: D("0.50")}
    assert response.suggested_outcome == "incomplete"


def test_the_peak_is_the_largest_reduction_and_its_timepoint():
    scores = grid(0, hamstrings=("3", "3"))
    scores += grid(60, hamstrings=("2", "3"))  # 0.5
    scores += grid(120, hamstrings=("1+", "1+"))  # 1.5
    scores += grid(240, hamstrings=("2", "2"))  # 1.0
    response = respond(scores)
    assert response.reductions_by_minutes == {60: D("0.50"), 120: D("1.50"), 240: D("1.00")}
    assert (response.peak_mas_reduction, response.peak_minutes) == (D("1.50"), 120)
    assert response.suggested_outcome == "positive"


def test_when_two_timepoints_tie_the_earlier_is_the_peak():
    scores = grid(0, hamstrings=("3", "3")) + grid(120, hamstrings=("2", "2")) + grid(240, hamstrings=("2", "2"))
    assert respond(scores).peak_minutes == 120


def test_below_the_threshold_stays_incomplete_until_a_timepoint_at_240_minutes_is_scored():
    baseline = grid(0, hip_adductors=("3", "3"))
    early = grid(120, hip_adductors=("2", "3"))  # 0.5
    assert respond(baseline + early).suggested_outcome == "incomplete"
    late = grid(240, hip_adductors=("3", "2"))  # 0.5
    response = respond(baseline + early + late)
    assert response.suggested_outcome == "negative"
    assert response.peak_mas_reduction == D("0.50")


def test_a_reduction_just_under_the_threshold_is_not_positive():
    # 3 pairs with reductions 1, 1, 0.5: mean 2.5/3 = 0.8333…, shown 0.83
    scores = grid(0, hamstrings=("3", "3"), hip_adductors=("2", "")) + grid(
        240, hamstrings=("2", "2"), hip_adductors=("1+", "")
    )
    response = respond(scores)
    assert response.peak_mas_reduction == D("0.83")
    assert response.suggested_outcome == "negative"


def test_the_threshold_and_the_mapping_are_settings():
    scores = ISSUE_BASELINE + ISSUE_AT_240
    assert respond(scores, threshold="1.5").suggested_outcome == "negative"
    research_coding = {"0": "0", "1": "1", "1+": "2", "2": "3", "3": "4", "4": "5"}
    response = trial_response(
        scores, grade_values=research_coding, positive_threshold="1.0", negative_after_minutes=240
    )
    # recoded 0,1,2,3,4,5: hip adductors 4→3, 4→1; hamstrings 3→1, 3→1; gastrocsoleus 2→1, 2→1
    assert response.peak_mas_reduction == D("1.67")  # (1+3+2+2+1+1)/6


def test_no_scores_means_an_incomplete_response_with_nothing_to_show():
    response = respond([])
    assert response.peak_mas_reduction is None
    assert response.peak_minutes is None
    assert response.suggested_outcome == "incomplete"
    assert response.reductions_by_minutes == {}


def test_a_timepoint_after_240_without_baseline_pairs_does_not_make_it_negative():
    scores = grid(0, hamstrings=("3", "")) + grid(360, hip_adductors=("2", "2"))
    assert respond(scores).suggested_outcome == "incomplete"


@pytest.mark.parametrize("grade", ["5", "2+", "", "one"])
def test_a_grade_outside_the_mapping_is_refused(grade):
    with pytest.raises(UnknownGradeError):
        respond([ToneScore("hamstrings", "left", 0, grade)])


# --- Properties --------------------------------------------------------------------------

grades = st.sampled_from(list(GRADES))
cells = st.tuples(st.sampled_from(MUSCLES), st.sampled_from(["left", "right"]))
timepoints = st.sampled_from([0, 60, 120, 240, 360, 480])
score_sets = st.dictionaries(st.tuples(cells, timepoints), grades, max_size=40).map(
    lambda d: [ToneScore(m, s, t, g) for ((m, s), t), g in d.items()]
)


def exact_reduction(scores, minutes):
    baseline = {(s.muscle_group, s.side): Fraction(GRADES[s.mas]) for s in scores if s.minutes_after_bolus == 0}
    diffs = [
        baseline[(s.muscle_group, s.side)] - Fraction(GRADES[s.mas])
        for s in scores
        if s.minutes_after_bolus == minutes and (s.muscle_group, s.side) in baseline
    ]
    return sum(diffs, Fraction(0)) / len(diffs) if diffs else None


@given(score_sets)
def test_property_each_reduction_is_the_paired_mean_and_the_peak_is_their_maximum(scores):
    response = respond(scores)
    for minutes, shown in response.reductions_by_minutes.items():
        exact = exact_reduction(scores, minutes)
        assert exact is not None
        assert abs(Fraction(str(shown)) - exact) <= Fraction(1, 200)
    if response.reductions_by_minutes:
        assert response.peak_mas_reduction == max(response.reductions_by_minutes.values())
        assert response.reductions_by_minutes[response.peak_minutes] == response.peak_mas_reduction
    else:
        assert response.peak_mas_reduction is None


@given(score_sets)
def test_property_the_suggestion_follows_the_rule(scores):
    response = respond(scores)
    exact = [exact_reduction(scores, t) for t in (60, 120, 240, 360, 480)]
    exact_peak = max((r for r in exact if r is not None), default=None)
    if exact_peak is not None and exact_peak >= 1:
        assert response.suggested_outcome == "positive"
    elif any(exact_reduction(scores, t) is not None for t in (240, 360, 480)):
        assert response.suggested_outcome == "negative"
    else:
        assert response.suggested_outcome == "incomplete"


@given(score_sets, st.randoms())
def test_property_the_order_of_the_scores_does_not_matter(scores, rng):
    shuffled = list(scores)
    rng.shuffle(shuffled)
    assert respond(shuffled) == respond(scores)


@given(score_sets)
def test_property_scores_without_a_baseline_pair_change_no_reduction(scores):
    unpaired = [ToneScore("other", "left", 240, "4"), ToneScore("other", "right", 60, "0")]
    with_unpaired = respond(scores + unpaired)
    assert with_unpaired.reductions_by_minutes == respond(scores).reductions_by_minutes


@given(st.lists(st.tuples(cells, grades), min_size=1, max_size=10, unique_by=lambda x: x[0]))
def test_property_unchanged_tone_is_never_positive(pairs):
    scores = [ToneScore(m, s, t, g) for (m, s), g in pairs for t in (0, 240)]
    response = respond(scores)
    assert response.peak_mas_reduction == D("0.00")
    assert response.suggested_outcome == "negative"
