"""The programmer comparison and the hard-stop percentage in ``pumps.dosing`` (pure):
worked examples at each tolerance's edge, and properties over many values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pumps import dosing
from pumps.dosing import ProgrammerReading, programmer_mismatches

D = Decimal
ALARM_ON = dt.date(2024, 8, 14)  # 40 mL on 2024-03-15, 500 mcg/day at 2000 mcg/mL, alarm at 2 mL


def compare(reading: ProgrammerReading) -> dict[str, str]:
    return programmer_mismatches(reading, alarm_date=ALARM_ON, reservoir_volume_ml=D("40"), daily_dose_mcg=D("500"))


# --- Worked examples ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("programmer_on", "mismatch"),
    [
        (ALARM_ON, False),
        (ALARM_ON - dt.timedelta(days=1), False),
        (ALARM_ON + dt.timedelta(days=1), False),
        (ALARM_ON + dt.timedelta(days=2), True),
        (ALARM_ON + dt.timedelta(days=5), True),
    ],
)
def test_the_alarm_date_may_be_one_day_out(programmer_on, mismatch):
    assert ("alarm_date" in compare(ProgrammerReading(alarm_date=programmer_on))) is mismatch


def test_a_mismatch_names_both_values_and_the_likely_causes():
    message = compare(ProgrammerReading(alarm_date=dt.date(2024, 8, 19)))["alarm_date"]
    assert "2024-08-19" in message and "2024-08-14" in message and "5 days" in message
    assert "wrong concentration" in message and "alarm volume" in message and "not recorded here" in message


@pytest.mark.parametrize(("volume", "mismatch"), [("40", False), ("39.9", False), ("40.1", False), ("39.89", True)])
def test_the_volume_may_be_a_tenth_of_a_millilitre_out(volume, mismatch):
    assert ("reservoir_volume_ml" in compare(ProgrammerReading(reservoir_volume_ml=D(volume)))) is mismatch


@pytest.mark.parametrize(("dose", "mismatch"), [("497.5", False), ("502.5", False), ("502.51", True), ("5000", True)])
def test_the_dose_may_be_half_a_percent_out(dose, mismatch):
    assert ("daily_dose_mcg" in compare(ProgrammerReading(daily_dose_mcg=D(dose)))) is mismatch


def test_nothing_given_is_nothing_compared_and_a_value_without_a_computed_one_cannot_be_confirmed():
    assert compare(ProgrammerReading()) == {}
    assert ProgrammerReading().is_empty
    found = programmer_mismatches(
        ProgrammerReading(alarm_date=ALARM_ON), alarm_date=None, reservoir_volume_ml=None, daily_dose_mcg=None
    )
    assert "cannot be checked" in found["alarm_date"]


@pytest.mark.parametrize(
    ("reference", "new", "above"),
    [
        ("130", "1500", True),
        ("500", "750", False),
        ("500", "750.01", True),
        ("500", "249.99", True),
        (None, "900", False),
    ],
)
def test_the_hard_stop_compares_the_exact_change_with_the_limit(reference, new, above):
    reference_mcg = D(reference) if reference is not None else None
    assert dosing.dose_change_above_percent(reference_mcg, D(new), D(50)) is above


# --- Properties ----------------------------------------------------------------------------

days = st.integers(min_value=-400, max_value=400)
volumes = st.decimals(min_value=D("0.01"), max_value=D("40"), places=2)
doses = st.decimals(min_value=D("1"), max_value=D("2000"), places=2)


@given(offset=days)
def test_an_alarm_date_mismatches_exactly_when_more_than_one_day_apart(offset):
    programmer_on = ALARM_ON + dt.timedelta(days=offset)
    found = compare(ProgrammerReading(alarm_date=programmer_on))
    assert ("alarm_date" in found) is (abs(offset) > 1)


@given(computed=volumes, programmer=volumes)
def test_a_volume_mismatches_exactly_when_more_than_a_tenth_apart_and_the_check_is_symmetric(computed, programmer):
    found = programmer_mismatches(
        ProgrammerReading(reservoir_volume_ml=programmer),
        alarm_date=None,
        reservoir_volume_ml=computed,
        daily_dose_mcg=None,
    )
    swapped = programmer_mismatches(
        ProgrammerReading(reservoir_volume_ml=computed),
        alarm_date=None,
        reservoir_volume_ml=programmer,
        daily_dose_mcg=None,
    )
    assert ("reservoir_volume_ml" in found) is (abs(computed - programmer) > D("0.1"))
    assert ("reservoir_volume_ml" in found) is ("reservoir_volume_ml" in swapped)


@given(computed=doses, programmer=doses)
def test_a_dose_mismatches_exactly_when_more_than_half_a_percent_of_the_computed_dose_apart(computed, programmer):
    found = programmer_mismatches(
        ProgrammerReading(daily_dose_mcg=programmer), alarm_date=None, reservoir_volume_ml=None, daily_dose_mcg=computed
    )
    # 200 × |a − b| > b  ⇔  |a − b| / b > 0.5%, in exact decimal arithmetic.
    assert ("daily_dose_mcg" in found) is (200 * abs(programmer - computed) > computed)


@given(reference=doses, new=doses, limit=st.integers(min_value=0, max_value=200))
def test_the_hard_stop_agrees_with_the_change_percent_shown(reference, new, limit):
    above = dosing.dose_change_above_percent(reference, new, D(limit))
    assert above is (100 * abs(new - reference) > limit * reference)
