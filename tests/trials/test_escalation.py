"""The next bolus of an escalation (trials/escalation.py). Pure: no database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trials.escalation import ESCALATION_MCG, PreviousTrial, is_very_small_child, next_bolus

D = Decimal
DAY = dt.date(2026, 5, 4)


def previous(dose: str, outcome: str = "") -> PreviousTrial:
    return PreviousTrial(DAY, D(dose), outcome)


def test_a_first_trial_starts_at_50_mcg_and_at_25_for_a_very_small_child():
    assert next_bolus(None, very_small_child=False).dose_mcg == D("50")
    assert next_bolus(None, very_small_child=True).dose_mcg == D("25")


@pytest.mark.parametrize(
    ("last", "outcome", "expected"),
    [
        ("50", "negative", "75"),
        ("75", "negative", "100"),
        ("50", "", "75"),  # unsigned: the next day's step is still the escalation
        ("75", "inconclusive", "100"),
        ("25", "negative", "50"),
        ("60", "negative", "75"),
    ],
)
def test_the_next_step_follows_50_75_100(last, outcome, expected):
    suggestion = next_bolus(previous(last, outcome), very_small_child=False)
    assert suggestion.dose_mcg == D(expected)
    assert f"{last} mcg on 2026-05-04" in suggestion.explanation


def test_nothing_is_suggested_after_100_mcg_or_after_a_positive_trial():
    top = next_bolus(previous("100", "negative"), very_small_child=False)
    assert top.dose_mcg is None and "top of the usual escalation" in top.explanation
    positive = next_bolus(previous("75", "positive"), very_small_child=False)
    assert positive.dose_mcg is None and "signed positive" in positive.explanation


def test_very_small_means_under_10_kg_or_under_4_years():
    on = dt.date(2026, 6, 1)
    assert is_very_small_child(weight_kg=D("9.5"), birth_date=dt.date(2018, 1, 1), on=on)
    assert is_very_small_child(weight_kg=D("14"), birth_date=dt.date(2022, 6, 2), on=on)  # 3 years 364 days
    assert not is_very_small_child(weight_kg=D("14"), birth_date=dt.date(2022, 6, 1), on=on)  # 4 today
    assert not is_very_small_child(weight_kg=None, birth_date=dt.date(2010, 1, 1), on=on)


@given(st.sampled_from(ESCALATION_MCG), st.sampled_from(["", "negative", "inconclusive"]), st.booleans())
def test_property_the_suggestion_always_climbs_and_never_passes_100(dose, outcome, small):
    suggestion = next_bolus(PreviousTrial(DAY, dose, outcome), very_small_child=small)
    if dose >= D("100"):
        assert suggestion.dose_mcg is None
    else:
        assert suggestion.dose_mcg is not None
        assert dose < suggestion.dose_mcg <= D("100")
