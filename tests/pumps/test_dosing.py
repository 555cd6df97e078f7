"""Tests for the dosing safety core (pumps/dosing.py).

Pure tests: no Django, no database. Worked examples use exact values from
spec.md ("Dosing, refills and the reservoir") and domain.md section 2; the
property tests cross-check the projection against an independent day-by-day
simulation.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pumps.dosing import (
    DeliveryCheck,
    DoseSegment,
    DosingSettings,
    Fill,
    FlexStep,
    FlexStepError,
    Projection,
    add_calendar_months,
    alarm_date,
    battery_end_of_service_on,
    daily_volume_ml,
    delivery_check,
    dose_change_check,
    empty_on,
    flex_daily_dose_mcg,
    flex_step_errors,
    parse_flex_steps,
    project_fill,
    projected_volume_ml,
    refill_due_on,
    suggested_starting_daily_dose_mcg,
)

D = Decimal
day = datetime.date
SETTINGS = DosingSettings()
FILLED_ON = day(2024, 1, 15)


def make_fill(
    refilled_on: datetime.date = FILLED_ON,
    added_ml: str = "40",
    concentration: str = "2000",
    alarm_ml: str = "2",
) -> Fill:
    return Fill(
        refilled_on=refilled_on,
        volume_added_ml=D(added_ml),
        concentration_mcg_per_ml=D(concentration),
        low_reservoir_alarm_ml=D(alarm_ml),
    )


def dose(effective_on: datetime.date, mcg: str) -> DoseSegment:
    return DoseSegment(effective_on=effective_on, daily_dose_mcg=D(mcg))


def flex(*steps: tuple[str, str]) -> list[FlexStep]:
    return parse_flex_steps([{"start_time": t, "rate_mcg_per_hour": r} for t, r in steps])


# --------------------------------------------------------------------------
# Worked examples
# --------------------------------------------------------------------------


def test_it_uses_a_quarter_ml_a_day_at_500_mcg_per_day_and_2000_mcg_per_ml() -> None:
    assert daily_volume_ml(D("500"), D("2000")) == D("0.2500")


def test_it_puts_the_alarm_152_days_after_a_40_ml_fill_at_500_mcg_per_day() -> None:
    projection = project_fill(make_fill(), [dose(FILLED_ON, "500")], SETTINGS)

    assert projection == Projection(
        alarm_date=day(2024, 6, 15),
        refill_due_on=day(2024, 6, 8),
        days_to_alarm=D("152.00"),
        empty_on=day(2024, 6, 23),
    )


def test_it_moves_the_alarm_to_may_11_when_the_dose_goes_up_to_800_on_march_15() -> None:
    doses = [dose(FILLED_ON, "500"), dose(day(2024, 3, 15), "800")]

    projection = project_fill(make_fill(), doses, SETTINGS)

    # 60 days x 0.25 mL = 15 mL used, 25 mL left, (25 - 2) / 0.4 = 57.5 days more.
    assert projected_volume_ml(make_fill(), doses, day(2024, 3, 15)) == D("25.00")
    assert projection.days_to_alarm == D("117.50")
    assert projection.alarm_date == day(2024, 5, 11)
    assert projection.refill_due_on == day(2024, 5, 4)
    # 25 / 0.4 = 62.5 days after March 15, 122.5 days in all.
    assert projection.empty_on == day(2024, 5, 16)


def test_it_caps_the_refill_due_date_at_180_days_for_a_slow_pump() -> None:
    fill = make_fill(added_ml="20")

    projection = project_fill(fill, [dose(FILLED_ON, "100")], SETTINGS)

    # 0.05 mL/day: (20 - 2) / 0.05 = 360 days, far past the stability limit.
    assert projection.alarm_date == day(2025, 1, 9)
    assert projection.refill_due_on == day(2024, 7, 13)
    assert projection.refill_due_on == FILLED_ON + datetime.timedelta(days=180)


def test_it_adds_up_a_three_step_flex_program_to_360_mcg_a_day() -> None:
    steps = flex(("00:00", "10"), ("08:00", "20"), ("20:00", "10"))

    assert flex_daily_dose_mcg(steps) == D("360.00")


# --------------------------------------------------------------------------
# Dose changes and the projection
# --------------------------------------------------------------------------


def test_a_dose_change_on_the_refill_day_is_in_force_from_the_start_of_the_fill() -> None:
    doses = [dose(day(2024, 1, 1), "500"), dose(FILLED_ON, "800")]

    # 0.4 mL/day from day 0: 38 / 0.4 = 95 days.
    assert alarm_date(make_fill(), doses) == day(2024, 4, 19)


def test_the_latest_dose_change_before_the_refill_is_the_one_in_force() -> None:
    doses = [dose(day(2023, 12, 1), "800"), dose(day(2024, 1, 10), "500")]

    assert alarm_date(make_fill(), doses) == day(2024, 6, 15)


def test_a_dose_change_after_the_alarm_date_does_not_move_the_alarm() -> None:
    doses = [dose(FILLED_ON, "500"), dose(day(2024, 7, 1), "800")]

    projection = project_fill(make_fill(), doses, SETTINGS)

    assert projection.alarm_date == day(2024, 6, 15)
    assert projection.empty_on == day(2024, 6, 23)


def test_it_sorts_dose_segments_given_out_of_order() -> None:
    doses = [dose(day(2024, 3, 15), "800"), dose(FILLED_ON, "500")]

    assert alarm_date(make_fill(), doses) == day(2024, 5, 11)


def test_of_two_segments_on_the_same_day_the_later_one_given_wins() -> None:
    doses = [dose(FILLED_ON, "800"), dose(FILLED_ON, "500")]

    assert alarm_date(make_fill(), doses) == day(2024, 6, 15)


def test_it_uses_no_drug_until_a_program_that_starts_after_the_fill() -> None:
    doses = [dose(day(2024, 1, 25), "500")]

    assert projected_volume_ml(make_fill(), doses, day(2024, 1, 25)) == D("40.00")
    assert alarm_date(make_fill(), doses) == day(2024, 6, 25)


def test_it_has_no_alarm_date_but_still_a_stability_due_date_without_any_dose() -> None:
    projection = project_fill(make_fill(), [], SETTINGS)

    assert alarm_date(make_fill(), []) is None
    assert empty_on(make_fill(), []) is None
    assert projection == Projection(
        alarm_date=None,
        refill_due_on=day(2024, 7, 13),
        days_to_alarm=None,
        empty_on=None,
    )


def test_the_projected_volume_is_what_is_left_at_the_start_of_the_day() -> None:
    doses = [dose(FILLED_ON, "500")]

    assert projected_volume_ml(make_fill(), doses, FILLED_ON) == D("40.00")
    assert projected_volume_ml(make_fill(), doses, day(2024, 1, 16)) == D("39.75")
    assert projected_volume_ml(make_fill(), doses, day(2024, 6, 15)) == D("2.00")


def test_the_projected_volume_never_goes_below_zero() -> None:
    assert projected_volume_ml(make_fill(), [dose(FILLED_ON, "500")], day(2025, 1, 1)) == D("0.00")


def test_the_projected_volume_is_rounded_down_so_it_never_shows_drug_that_is_not_there() -> None:
    # 1 day at 1 mcg/day of 3 mcg/mL uses 1/3 mL: 39.666... is shown as 39.66.
    fill = make_fill(concentration="3")

    assert projected_volume_ml(fill, [dose(FILLED_ON, "1")], day(2024, 1, 16)) == D("39.66")


def test_it_refuses_a_projection_for_a_day_before_the_fill() -> None:
    with pytest.raises(ValueError):
        projected_volume_ml(make_fill(), [dose(FILLED_ON, "500")], day(2024, 1, 14))


def test_it_counts_exact_whole_days_where_floating_point_would_lose_one() -> None:
    # 1.07 mL / 0.214 mL/day is exactly 5 days; in floats it is 4.999999999999999.
    fill = make_fill(added_ml="3.07", concentration="1000")

    projection = project_fill(fill, [dose(FILLED_ON, "214")], SETTINGS)

    assert projection.days_to_alarm == D("5.00")
    assert projection.alarm_date == day(2024, 1, 20)


def test_days_to_alarm_is_rounded_down_so_it_agrees_with_the_floored_alarm_date() -> None:
    # 7.63 mL at 212/500 mL/day is 17.9953 days: half-up would say 18.00, yet
    # the alarm is on day 17.
    fill = make_fill(added_ml="9.63", concentration="500")

    projection = project_fill(fill, [dose(FILLED_ON, "212")], SETTINGS)

    assert projection.days_to_alarm == D("17.99")
    assert projection.alarm_date == FILLED_ON + datetime.timedelta(days=17)


def test_the_alarm_day_is_the_fill_day_when_the_fill_is_already_at_the_alarm_volume() -> None:
    fill = make_fill(added_ml="2")

    assert project_fill(fill, [dose(FILLED_ON, "500")], SETTINGS).days_to_alarm == D("0.00")
    assert alarm_date(fill, [dose(FILLED_ON, "500")]) == FILLED_ON


def test_it_crosses_february_29_in_a_leap_year() -> None:
    fill = make_fill(refilled_on=day(2024, 2, 28), added_ml="4", concentration="1000")

    # 1 mL/day, 2 mL above the alarm: 2 days after Feb 28 is Mar 1 in 2024.
    assert alarm_date(fill, [dose(day(2024, 2, 28), "1000")]) == day(2024, 3, 1)


def test_it_crosses_the_end_of_february_in_a_common_year() -> None:
    fill = make_fill(refilled_on=day(2023, 2, 28), added_ml="4", concentration="1000")

    assert alarm_date(fill, [dose(day(2023, 2, 28), "1000")]) == day(2023, 3, 2)


def test_the_152_day_example_spans_february_29() -> None:
    # Jan 15 -> Jun 15 is 152 days only because 2024 has Feb 29; 2023 would be Jun 16.
    fill_2023 = make_fill(refilled_on=day(2023, 1, 15))

    assert alarm_date(fill_2023, [dose(day(2023, 1, 15), "500")]) == day(2023, 6, 16)


def test_refill_due_is_the_alarm_minus_the_lead_days_when_that_is_sooner() -> None:
    lead_3 = DosingSettings(refill_lead_days=3)

    assert refill_due_on(FILLED_ON, day(2024, 6, 15), lead_3) == day(2024, 6, 12)


def test_refill_due_uses_the_configured_maximum_interval() -> None:
    short_cap = DosingSettings(max_refill_interval_days=90)

    assert refill_due_on(FILLED_ON, day(2024, 6, 15), short_cap) == day(2024, 4, 14)
    assert refill_due_on(FILLED_ON, None, short_cap) == day(2024, 4, 14)


# --------------------------------------------------------------------------
# Bad input to the projection
# --------------------------------------------------------------------------


@pytest.mark.parametrize("mcg", ["0", "-5"])
def test_it_refuses_a_dose_that_is_not_positive(mcg: str) -> None:
    with pytest.raises(ValueError):
        DoseSegment(effective_on=FILLED_ON, daily_dose_mcg=D(mcg))


def test_it_refuses_a_zero_concentration() -> None:
    with pytest.raises(ValueError):
        make_fill(concentration="0")


def test_it_refuses_a_negative_volume() -> None:
    with pytest.raises(ValueError):
        make_fill(added_ml="-1")


def test_it_refuses_floats_because_they_are_not_exact() -> None:
    with pytest.raises(TypeError):
        DoseSegment(effective_on=FILLED_ON, daily_dose_mcg=500.0)  # type: ignore[arg-type]


def test_it_refuses_not_a_number() -> None:
    with pytest.raises(ValueError):
        DoseSegment(effective_on=FILLED_ON, daily_dose_mcg=D("NaN"))


def test_it_refuses_settings_that_would_switch_a_check_off() -> None:
    with pytest.raises(ValueError):
        DosingSettings(max_refill_interval_days=0)
    with pytest.raises(ValueError):
        DosingSettings(refill_lead_days=-1)


def test_a_pathologically_slow_pump_gets_the_last_representable_alarm_date() -> None:
    fill = make_fill(concentration="2000")

    projection = project_fill(fill, [dose(FILLED_ON, "0.000001")], SETTINGS)

    assert projection.alarm_date == datetime.date.max
    assert projection.refill_due_on == day(2024, 7, 13)


# --------------------------------------------------------------------------
# Delivery check
# --------------------------------------------------------------------------


def check_after_120_days(aspirated_ml: str) -> DeliveryCheck:
    # 120 days at 0.25 mL/day: 30 mL expected from a 40 mL fill.
    return delivery_check(
        make_fill(),
        [dose(FILLED_ON, "500")],
        day(2024, 5, 14),
        D(aspirated_ml),
        SETTINGS,
    )


def test_it_flags_over_delivery_when_35_ml_went_where_30_ml_was_expected() -> None:
    assert check_after_120_days("5") == DeliveryCheck(
        expected_delivered_ml=D("30.00"),
        actual_delivered_ml=D("35.00"),
        expected_residual_ml=D("10.00"),
        delivery_deviation_percent=D("16.7"),
        delivery_flag="over_delivery",
    )


def test_it_does_not_flag_34_ml_delivered_where_30_ml_was_expected() -> None:
    check = check_after_120_days("6")

    assert check.delivery_deviation_percent == D("13.3")
    assert check.delivery_flag == "none"


def test_it_flags_under_delivery_when_25_ml_went_where_30_ml_was_expected() -> None:
    check = check_after_120_days("15")

    assert check.actual_delivered_ml == D("25.00")
    assert check.delivery_deviation_percent == D("-16.7")
    assert check.delivery_flag == "under_delivery"


def test_a_deviation_exactly_at_the_threshold_is_not_flagged() -> None:
    # 30 x 1.145 = 34.35 mL delivered: exactly +14.5%.
    check = check_after_120_days("5.65")

    assert check.delivery_deviation_percent == D("14.5")
    assert check.delivery_flag == "none"


def test_a_deviation_just_over_the_threshold_is_flagged_even_though_it_shows_as_14_5() -> None:
    # 34.362 mL delivered: +14.54%, displayed as 14.5 but over the line.
    check = check_after_120_days("5.638")

    assert check.delivery_deviation_percent == D("14.5")
    assert check.delivery_flag == "over_delivery"


def test_the_delivery_threshold_is_a_setting() -> None:
    strict = DosingSettings(delivery_deviation_threshold_percent=D("10"))

    check = delivery_check(make_fill(), [dose(FILLED_ON, "500")], day(2024, 5, 14), D("6"), strict)

    assert check.delivery_flag == "over_delivery"


def test_expected_delivery_follows_dose_changes_between_refills() -> None:
    doses = [dose(FILLED_ON, "500"), dose(day(2024, 3, 15), "800")]

    # 60 days x 0.25 + 20 days x 0.4 = 23 mL by April 4.
    check = delivery_check(make_fill(), doses, day(2024, 4, 4), D("17"), SETTINGS)

    assert check.expected_delivered_ml == D("23.00")
    assert check.expected_residual_ml == D("17.00")
    assert check.delivery_deviation_percent == D("0.0")
    assert check.delivery_flag == "none"


def test_a_dose_change_on_the_new_refill_day_does_not_count_towards_the_last_fill() -> None:
    doses = [dose(FILLED_ON, "500"), dose(day(2024, 5, 14), "800")]

    check = delivery_check(make_fill(), doses, day(2024, 5, 14), D("10"), SETTINGS)

    assert check.expected_delivered_ml == D("30.00")


def test_a_pump_found_empty_after_its_projected_empty_day_may_have_run_dry_and_is_not_assessable() -> None:
    # 40 mL at 0.25 mL/day is empty after 160 days (2024-06-23); found empty 200 days on.
    # Expected delivery is capped at what the pump held, but a 0 mL residual after the
    # empty day says nothing about delivery: never a reassuring 0.0%.
    check = delivery_check(make_fill(), [dose(FILLED_ON, "500")], day(2024, 8, 2), D("0"), SETTINGS)

    assert check.expected_delivered_ml == D("40.00")
    assert check.expected_residual_ml == D("0.00")
    assert check.delivery_deviation_percent is None
    assert check.delivery_flag == "not_assessable"
    assert check.may_have_run_dry is True


def test_a_refill_on_the_projected_empty_day_is_still_assessed() -> None:
    check = delivery_check(make_fill(), [dose(FILLED_ON, "500")], day(2024, 6, 23), D("0"), SETTINGS)

    assert check.delivery_flag == "none"
    assert check.delivery_deviation_percent == D("0.0")
    assert check.may_have_run_dry is False


def test_a_refill_the_day_after_the_projected_empty_day_is_not_assessable() -> None:
    check = delivery_check(make_fill(), [dose(FILLED_ON, "500")], day(2024, 6, 24), D("0"), SETTINGS)

    assert check.delivery_flag == "not_assessable"


@settings(max_examples=200, deadline=None)
@given(
    days_after_fill=st.integers(min_value=0, max_value=400),
    aspirated_tenths_ml=st.integers(min_value=0, max_value=400),
    dose_mcg=st.integers(min_value=50, max_value=1500),
)
def test_a_delivery_deviation_is_reported_only_up_to_the_projected_empty_day(
    days_after_fill: int, aspirated_tenths_ml: int, dose_mcg: int
) -> None:
    fill = make_fill()
    doses = [dose(FILLED_ON, str(dose_mcg))]
    refilled_on = FILLED_ON + datetime.timedelta(days=days_after_fill)

    check = delivery_check(fill, doses, refilled_on, D(aspirated_tenths_ml) / 10, SETTINGS)

    ran_dry = refilled_on > empty_on(fill, doses)
    assert (check.delivery_flag == "not_assessable") == ran_dry
    if ran_dry:
        assert check.delivery_deviation_percent is None


def test_there_is_no_deviation_when_nothing_was_expected_to_be_delivered() -> None:
    check = delivery_check(make_fill(), [dose(FILLED_ON, "500")], FILLED_ON, D("39"), SETTINGS)

    assert check.expected_delivered_ml == D("0.00")
    assert check.actual_delivered_ml == D("1.00")
    assert check.delivery_deviation_percent is None
    assert check.delivery_flag == "none"


def test_there_is_no_deviation_without_a_dose_program() -> None:
    check = delivery_check(make_fill(), [], day(2024, 5, 14), D("10"), SETTINGS)

    assert check.delivery_deviation_percent is None
    assert check.delivery_flag == "none"


def test_it_refuses_a_refill_dated_before_the_previous_fill() -> None:
    with pytest.raises(ValueError):
        delivery_check(make_fill(), [dose(FILLED_ON, "500")], day(2024, 1, 1), D("1"), SETTINGS)


def test_it_refuses_a_negative_aspirated_volume() -> None:
    with pytest.raises(ValueError):
        check_after_120_days("-1")


# --------------------------------------------------------------------------
# Dose safety checks
# --------------------------------------------------------------------------


def test_it_suggests_twice_the_positive_trial_bolus_as_the_starting_daily_dose() -> None:
    assert suggested_starting_daily_dose_mcg(D("50"), SETTINGS) == D("100.00")
    assert suggested_starting_daily_dose_mcg(D("75"), SETTINGS) == D("150.00")


def test_the_starting_dose_multiplier_is_a_setting() -> None:
    once = DosingSettings(starting_dose_bolus_multiplier=D("1"))

    assert suggested_starting_daily_dose_mcg(D("100"), once) == D("100.00")


def test_it_refuses_a_zero_trial_bolus() -> None:
    with pytest.raises(ValueError):
        suggested_starting_daily_dose_mcg(D("0"), SETTINGS)


def test_a_50_percent_increase_needs_confirmation_and_says_why() -> None:
    check = dose_change_check(D("400"), D("600"), SETTINGS)

    assert check.change_percent == D("50.0")
    assert check.needs_confirmation is True
    assert len(check.reasons) == 1
    assert "600" in check.reasons[0]
    assert "400" in check.reasons[0]
    assert "50% increase" in check.reasons[0]
    assert "20%" in check.reasons[0]


def test_a_30_percent_decrease_needs_confirmation() -> None:
    check = dose_change_check(D("500"), D("350"), SETTINGS)

    assert check.change_percent == D("-30.0")
    assert check.needs_confirmation is True
    assert "30% decrease" in check.reasons[0]


def test_a_change_of_exactly_20_percent_does_not_need_confirmation() -> None:
    check = dose_change_check(D("500"), D("600"), SETTINGS)

    assert check.change_percent == D("20.0")
    assert check.needs_confirmation is False
    assert check.reasons == ()


def test_a_change_just_over_20_percent_needs_confirmation_though_it_shows_as_20() -> None:
    check = dose_change_check(D("500"), D("600.2"), SETTINGS)

    assert check.change_percent == D("20.0")
    assert check.needs_confirmation is True


def test_a_daily_dose_above_1000_mcg_needs_confirmation_even_as_a_small_change() -> None:
    check = dose_change_check(D("1000"), D("1050"), SETTINGS)

    assert check.change_percent == D("5.0")
    assert check.needs_confirmation is True
    assert check.reasons == (("The new daily dose of 1050 mcg/day is above 1000 mcg/day, which needs confirmation."),)


def test_a_daily_dose_of_exactly_1000_mcg_does_not_need_confirmation() -> None:
    assert dose_change_check(D("900"), D("1000"), SETTINGS).needs_confirmation is False


def test_a_big_jump_to_a_high_dose_gives_both_reasons() -> None:
    check = dose_change_check(D("500"), D("1200"), SETTINGS)

    assert check.needs_confirmation is True
    assert len(check.reasons) == 2


def test_the_first_program_has_no_change_percent() -> None:
    assert dose_change_check(None, D("100"), SETTINGS).change_percent is None
    assert dose_change_check(None, D("100"), SETTINGS).needs_confirmation is False
    assert dose_change_check(None, D("1200"), SETTINGS).needs_confirmation is True


def test_the_dose_change_thresholds_are_settings() -> None:
    cautious = DosingSettings(dose_change_confirm_percent=D("10"), dose_confirm_above_mcg=D("500"))

    assert dose_change_check(D("400"), D("450"), cautious).needs_confirmation is True
    assert dose_change_check(D("480"), D("520"), cautious).needs_confirmation is True


def test_two_same_day_changes_of_20_percent_each_need_confirmation_the_second_time() -> None:
    # 100 -> 120 (+20%, allowed) then 120 -> 144 the same day: +20% on the latest dose,
    # but +44% on the dose in effect before the day's first change.
    check = dose_change_check(D("120"), D("144"), SETTINGS, day_start_daily_dose_mcg=D("100"))

    assert check.change_percent == D("20.0")
    assert check.needs_confirmation is True
    assert check.reasons == (
        "The new daily dose of 144 mcg is a 44% increase from the dose at the start of the day of 100 mcg/day, "
        "more than the 20% that can be changed without confirmation.",
    )


def test_a_same_day_change_back_towards_the_day_start_dose_needs_no_confirmation() -> None:
    check = dose_change_check(D("120"), D("110"), SETTINGS, day_start_daily_dose_mcg=D("100"))

    assert check.needs_confirmation is False


def test_the_first_program_is_checked_against_the_suggested_starting_dose() -> None:
    # Positive trial at 50 mcg: the suggestion is 100 mcg/day; 300 is +200%.
    check = dose_change_check(None, D("300"), SETTINGS, suggested_starting_dose_mcg=D("100"))

    assert check.change_percent == D("200.0")
    assert check.needs_confirmation is True
    assert "from the suggested starting dose of 100 mcg/day" in check.reasons[0]


def test_a_first_program_at_the_suggested_starting_dose_needs_no_confirmation() -> None:
    check = dose_change_check(None, D("100"), SETTINGS, suggested_starting_dose_mcg=D("100"))

    assert check.change_percent == D("0.0")
    assert check.needs_confirmation is False


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(min_value=10, max_value=900),
    steps=st.lists(st.integers(min_value=-20, max_value=20), min_size=1, max_size=6),
)
def test_no_sequence_of_same_day_changes_moves_the_dose_past_the_threshold_unconfirmed(
    start: int, steps: list[int]
) -> None:
    # Each step is within ±20% of the latest dose; whatever the sequence, a dose more
    # than 20% away from the day's starting dose is always asked about.
    current = D(start)
    for percent in steps:
        new = (current * (100 + percent) / 100).quantize(D("0.01"))
        if new <= 0:
            return
        check = dose_change_check(current, new, SETTINGS, day_start_daily_dose_mcg=D(start))
        if abs(Fraction(new) - start) * 100 > 20 * start:
            assert check.needs_confirmation
        current = new


# --------------------------------------------------------------------------
# Flex dosing
# --------------------------------------------------------------------------


def test_it_parses_flex_steps_from_strings_and_numbers() -> None:
    steps = parse_flex_steps(
        [
            {"start_time": "00:00", "rate_mcg_per_hour": "10"},
            {"start_time": "08:30", "rate_mcg_per_hour": 12.5},
            {"start_time": "23:59", "rate_mcg_per_hour": 7},
        ]
    )

    assert steps == [
        FlexStep(datetime.time(0, 0), D("10")),
        FlexStep(datetime.time(8, 30), D("12.5")),
        FlexStep(datetime.time(23, 59), D("7")),
    ]


def test_it_reports_every_badly_formatted_step_by_number() -> None:
    with pytest.raises(FlexStepError) as raised:
        parse_flex_steps(
            [
                {"start_time": "8:00", "rate_mcg_per_hour": "10"},
                {"start_time": "24:00", "rate_mcg_per_hour": "ten"},
                {"start_time": "12:00"},
                "not a step",
            ]
        )

    messages = raised.value.messages
    assert len(messages) == 5
    assert messages[0].startswith("Step 1: start_time must be a 24-hour time HH:MM")
    assert messages[1].startswith("Step 2: start_time")
    assert messages[2].startswith("Step 2: rate_mcg_per_hour must be a number")
    assert messages[3] == "Step 3: rate_mcg_per_hour is required."
    assert messages[4].startswith("Step 4:")


def test_it_refuses_flex_steps_that_are_not_a_list() -> None:
    with pytest.raises(FlexStepError):
        parse_flex_steps({"start_time": "00:00", "rate_mcg_per_hour": "10"})


@pytest.mark.parametrize("rate", ["NaN", "Infinity", True, None])
def test_it_refuses_a_rate_that_is_not_a_finite_number(rate: object) -> None:
    with pytest.raises(FlexStepError):
        parse_flex_steps([{"start_time": "00:00", "rate_mcg_per_hour": rate}])


def test_a_valid_flex_program_has_no_errors() -> None:
    assert flex_step_errors(flex(("00:00", "10"), ("08:00", "20"))) == []


def test_a_flex_program_needs_at_least_one_step() -> None:
    assert flex_step_errors([]) != []
    with pytest.raises(FlexStepError):
        flex_daily_dose_mcg([])


def test_a_flex_program_that_starts_after_midnight_leaves_a_gap() -> None:
    errors = flex_step_errors(flex(("06:00", "10"), ("20:00", "5")))

    assert len(errors) == 1
    assert "gap" in errors[0]
    assert "06:00" in errors[0]


def test_two_flex_steps_at_the_same_time_overlap() -> None:
    errors = flex_step_errors(flex(("00:00", "10"), ("08:00", "20"), ("08:00", "5")))

    assert errors == ["Steps 2 and 3 both start at 08:00: they overlap."]


def test_flex_steps_out_of_time_order_are_refused() -> None:
    errors = flex_step_errors(flex(("00:00", "10"), ("20:00", "20"), ("08:00", "5")))

    assert len(errors) == 1
    assert "not in time order" in errors[0]


@pytest.mark.parametrize("rate", ["0", "-1"])
def test_a_flex_step_rate_must_be_positive(rate: str) -> None:
    errors = flex_step_errors(flex(("00:00", "10"), ("12:00", rate)))

    assert errors == [f"Step 2: rate must be greater than 0 mcg/h, got {rate}."]


def test_a_flex_step_must_start_on_a_whole_minute() -> None:
    steps = [
        FlexStep(datetime.time(0, 0), D("10")),
        FlexStep(datetime.time(8, 0, 30), D("5")),
    ]

    assert any("HH:MM" in error for error in flex_step_errors(steps))


def test_a_flex_program_whose_daily_dose_rounds_to_zero_is_refused() -> None:
    errors = flex_step_errors(flex(("00:00", "0.0001")))

    assert errors == ["The total daily dose of the flex program must be greater than 0 mcg."]


def test_the_daily_dose_of_an_invalid_flex_program_is_never_computed() -> None:
    with pytest.raises(FlexStepError) as raised:
        flex_daily_dose_mcg(flex(("06:00", "10")))

    assert "gap" in raised.value.messages[0]


def test_a_single_flex_step_runs_all_day() -> None:
    assert flex_daily_dose_mcg(flex(("00:00", "12.5"))) == D("300.00")


def test_the_last_flex_step_runs_to_midnight() -> None:
    # 23:59 -> 24:00 is one minute at 60 mcg/h: 1 mcg.
    assert flex_daily_dose_mcg(flex(("00:00", "1"), ("23:59", "60"))) == D("24.98")


# --------------------------------------------------------------------------
# Calendar and battery
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (day(2024, 1, 31), 1, day(2024, 2, 29)),
        (day(2023, 1, 31), 1, day(2023, 2, 28)),
        (day(2024, 2, 29), 12, day(2025, 2, 28)),
        (day(2024, 2, 29), 48, day(2028, 2, 29)),
        (day(2024, 3, 31), -1, day(2024, 2, 29)),
        (day(2024, 8, 31), 1, day(2024, 9, 30)),
        (day(2024, 11, 15), 2, day(2025, 1, 15)),
        (day(2020, 1, 31), 84, day(2027, 1, 31)),
        (day(2024, 5, 10), 0, day(2024, 5, 10)),
    ],
)
def test_it_adds_calendar_months_clamping_to_the_end_of_short_months(
    start: datetime.date, months: int, expected: datetime.date
) -> None:
    assert add_calendar_months(start, months) == expected


def test_battery_end_of_service_is_90_days_after_the_replacement_indicator() -> None:
    assert battery_end_of_service_on(
        implanted_on=day(2020, 1, 31),
        nominal_battery_life_months=84,
        eri_on=day(2026, 6, 1),
        days_eri_to_eos=90,
    ) == day(2026, 8, 30)


def test_battery_end_of_service_is_the_nominal_life_without_a_replacement_indicator() -> None:
    assert battery_end_of_service_on(
        implanted_on=day(2020, 1, 31),
        nominal_battery_life_months=84,
        eri_on=None,
        days_eri_to_eos=90,
    ) == day(2027, 1, 31)


def test_battery_end_of_service_clamps_a_leap_day_implant() -> None:
    assert battery_end_of_service_on(
        implanted_on=day(2024, 2, 29),
        nominal_battery_life_months=120,
        eri_on=None,
        days_eri_to_eos=None,
    ) == day(2034, 2, 28)


def test_a_replacement_indicator_without_a_known_interval_means_end_of_service_now() -> None:
    # Falling back to implant + 120 months would hide a pump already asking to be replaced.
    assert battery_end_of_service_on(
        implanted_on=day(2020, 1, 31),
        nominal_battery_life_months=120,
        eri_on=day(2026, 6, 1),
        days_eri_to_eos=None,
    ) == day(2026, 6, 1)


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)

fill_dates = st.dates(min_value=day(2020, 1, 1), max_value=day(2030, 12, 31))
# 100-1500 mcg/day at 500-2000 mcg/mL keeps a 40 mL fill under ~800 days,
# so the brute-force simulation stays fast.
daily_doses_mcg = st.decimals(min_value=D("100"), max_value=D("1500"), places=2)
concentrations = st.sampled_from([D("500"), D("1000"), D("2000")]) | st.decimals(
    min_value=D("500"), max_value=D("2000"), places=1
)
alarm_volumes_ml = st.sampled_from([D("2"), D("2.5"), D("4")]) | st.decimals(
    min_value=D("0.5"), max_value=D("5"), places=2
)


@st.composite
def fills(draw: st.DrawFn) -> Fill:
    alarm_ml = draw(alarm_volumes_ml)
    added_ml = draw(st.decimals(min_value=alarm_ml + D("0.5"), max_value=D("40"), places=2))
    return Fill(
        refilled_on=draw(fill_dates),
        volume_added_ml=added_ml,
        concentration_mcg_per_ml=draw(concentrations),
        low_reservoir_alarm_ml=alarm_ml,
    )


@st.composite
def dose_histories(draw: st.DrawFn, fill: Fill) -> list[DoseSegment]:
    """1-4 segments from 60 days before to 300 days after the fill, unsorted."""
    offsets_days = draw(st.lists(st.integers(-60, 300), min_size=1, max_size=4))
    return [
        DoseSegment(
            effective_on=fill.refilled_on + datetime.timedelta(days=offset),
            daily_dose_mcg=draw(daily_doses_mcg),
        )
        for offset in offsets_days
    ]


@st.composite
def fills_with_doses(draw: st.DrawFn) -> tuple[Fill, list[DoseSegment]]:
    fill = draw(fills())
    return fill, draw(dose_histories(fill))


def simulated_start_of_day_volumes_ml(fill: Fill, doses: Sequence[DoseSegment], days: int) -> list[Fraction]:
    """Independent oracle: subtract each day's dose, one day at a time.

    The dose for a day is the last-given segment among those with the latest
    effective_on <= that day; before any segment nothing is used.
    """
    volumes = [Fraction(fill.volume_added_ml)]
    for offset in range(days):
        today = fill.refilled_on + datetime.timedelta(days=offset)
        in_force = [s for s in doses if s.effective_on <= today]
        dose_mcg = Fraction(0)
        if in_force:
            latest_on = max(s.effective_on for s in in_force)
            dose_mcg = Fraction([s for s in in_force if s.effective_on == latest_on][-1].daily_dose_mcg)
        volumes.append(volumes[-1] - dose_mcg / Fraction(fill.concentration_mcg_per_ml))
    return volumes


def floor_to_hundredths_ml(volume_ml: Fraction) -> Decimal:
    return Decimal((max(volume_ml, Fraction(0)) * 100).__floor__()).scaleb(-2)


@PROPERTY_SETTINGS
@given(case=fills_with_doses(), data=st.data())
def test_a_higher_dose_never_gives_a_later_alarm_date(
    case: tuple[Fill, list[DoseSegment]], data: st.DataObject
) -> None:
    fill, doses = case
    index = data.draw(st.integers(0, len(doses) - 1))
    extra_mcg = data.draw(st.decimals(min_value=D("0.01"), max_value=D("1000"), places=2))
    raised = list(doses)
    raised[index] = DoseSegment(doses[index].effective_on, doses[index].daily_dose_mcg + extra_mcg)

    assert alarm_date(fill, raised) <= alarm_date(fill, doses)  # type: ignore[operator]


@PROPERTY_SETTINGS
@given(
    case=fills_with_doses(),
    extra_ml=st.decimals(min_value=D("0.01"), max_value=D("20"), places=2),
)
def test_more_volume_added_never_gives_an_earlier_alarm_date(
    case: tuple[Fill, list[DoseSegment]], extra_ml: Decimal
) -> None:
    fill, doses = case
    fuller = Fill(
        fill.refilled_on,
        fill.volume_added_ml + extra_ml,
        fill.concentration_mcg_per_ml,
        fill.low_reservoir_alarm_ml,
    )

    assert alarm_date(fuller, doses) >= alarm_date(fill, doses)  # type: ignore[operator]


@PROPERTY_SETTINGS
@given(
    case=fills_with_doses(),
    extra=st.decimals(min_value=D("0.1"), max_value=D("2000"), places=1),
)
def test_a_higher_concentration_never_gives_an_earlier_alarm_date(
    case: tuple[Fill, list[DoseSegment]], extra: Decimal
) -> None:
    fill, doses = case
    stronger = Fill(
        fill.refilled_on,
        fill.volume_added_ml,
        fill.concentration_mcg_per_ml + extra,
        fill.low_reservoir_alarm_ml,
    )

    assert alarm_date(stronger, doses) >= alarm_date(fill, doses)  # type: ignore[operator]


@PROPERTY_SETTINGS
@given(case=fills_with_doses())
def test_the_projected_volume_falls_steadily_day_by_day_across_dose_changes(
    case: tuple[Fill, list[DoseSegment]],
) -> None:
    fill, doses = case
    max_daily_ml = max(Fraction(s.daily_dose_mcg) for s in doses) / Fraction(fill.concentration_mcg_per_ml)
    empty_day = empty_on(fill, doses)
    assert empty_day is not None
    last_offset = (empty_day - fill.refilled_on).days + 2
    volumes = [
        projected_volume_ml(fill, doses, fill.refilled_on + datetime.timedelta(days=offset))
        for offset in range(last_offset + 1)
    ]

    assert volumes[0] == fill.volume_added_ml.quantize(D("0.01"))
    assert volumes[-1] == D("0.00")
    for before, after in itertools.pairwise(volumes):
        assert after <= before
        # Rounding down to 0.01 can add at most 0.01 to one day's apparent use.
        assert Fraction(before - after) <= max_daily_ml + Fraction(1, 100)


@PROPERTY_SETTINGS
@given(case=fills_with_doses())
def test_the_alarm_date_matches_a_day_by_day_simulation(
    case: tuple[Fill, list[DoseSegment]],
) -> None:
    fill, doses = case
    alarm_on = alarm_date(fill, doses)
    assert alarm_on is not None
    alarm_offset = (alarm_on - fill.refilled_on).days
    simulated = simulated_start_of_day_volumes_ml(fill, doses, alarm_offset + 2)
    alarm_ml = Fraction(fill.low_reservoir_alarm_ml)

    # The alarm day is the last day that starts at or above the alarm volume:
    # the volume reaches the alarm during that day (floor of the exact days).
    assert simulated[alarm_offset] >= alarm_ml
    assert simulated[alarm_offset + 1] < alarm_ml
    # When the alarm volume is reached exactly at midnight, the alarm day is
    # also the first day that starts at or below the alarm volume.
    if simulated[alarm_offset] == alarm_ml:
        assert all(volume > alarm_ml for volume in simulated[:alarm_offset])
    # The public start-of-day projection agrees with the simulation every day.
    for offset, volume_ml in enumerate(simulated):
        on = fill.refilled_on + datetime.timedelta(days=offset)
        assert projected_volume_ml(fill, doses, on) == floor_to_hundredths_ml(volume_ml)


@PROPERTY_SETTINGS
@given(
    case=fills_with_doses(),
    lead_days=st.integers(0, 30),
    max_interval_days=st.integers(30, 365),
)
def test_the_refill_due_date_is_never_after_the_cap_or_the_alarm_minus_the_lead(
    case: tuple[Fill, list[DoseSegment]], lead_days: int, max_interval_days: int
) -> None:
    fill, doses = case
    clinic = DosingSettings(refill_lead_days=lead_days, max_refill_interval_days=max_interval_days)
    projection = project_fill(fill, doses, clinic)
    assert projection.alarm_date is not None
    assert projection.refill_due_on is not None
    cap_on = fill.refilled_on + datetime.timedelta(days=max_interval_days)
    lead_on = projection.alarm_date - datetime.timedelta(days=lead_days)

    assert projection.refill_due_on <= cap_on
    assert projection.refill_due_on <= lead_on
    assert projection.refill_due_on in (cap_on, lead_on)
    assert projection.empty_on is not None
    assert projection.empty_on >= projection.alarm_date


@PROPERTY_SETTINGS
@given(case=fills_with_doses())
def test_days_to_alarm_floors_to_the_alarm_date(
    case: tuple[Fill, list[DoseSegment]],
) -> None:
    fill, doses = case
    projection = project_fill(fill, doses, SETTINGS)
    assert projection.days_to_alarm is not None
    assert projection.alarm_date is not None

    whole_days = int(projection.days_to_alarm)
    assert projection.alarm_date == fill.refilled_on + datetime.timedelta(days=whole_days)


@st.composite
def flex_programs(draw: st.DrawFn) -> list[FlexStep]:
    later_starts = draw(st.lists(st.integers(1, 1439), max_size=8, unique=True))
    minutes = [0, *sorted(later_starts)]
    rates = draw(
        st.lists(
            st.decimals(min_value=D("0.01"), max_value=D("100"), places=2),
            min_size=len(minutes),
            max_size=len(minutes),
        )
    )
    return [FlexStep(datetime.time(minute // 60, minute % 60), rate) for minute, rate in zip(minutes, rates)]


@PROPERTY_SETTINGS
@given(steps=flex_programs())
def test_the_flex_daily_dose_is_the_sum_of_1440_minute_rates_over_60(
    steps: list[FlexStep],
) -> None:
    starts = [step.start_time.hour * 60 + step.start_time.minute for step in steps]
    per_minute_rates = [
        steps[max(i for i, start in enumerate(starts) if start <= minute)].rate_mcg_per_hour for minute in range(1440)
    ]
    expected = (sum(per_minute_rates, D(0)) / 60).quantize(D("0.01"), rounding=ROUND_HALF_UP)

    assert flex_step_errors(steps) == []
    assert flex_daily_dose_mcg(steps) == expected


@PROPERTY_SETTINGS
@given(steps=flex_programs())
def test_flex_steps_survive_a_round_trip_through_their_json_form(
    steps: list[FlexStep],
) -> None:
    raw = [
        {
            "start_time": f"{s.start_time:%H:%M}",
            "rate_mcg_per_hour": str(s.rate_mcg_per_hour),
        }
        for s in steps
    ]

    assert parse_flex_steps(raw) == steps
