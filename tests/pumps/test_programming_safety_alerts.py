"""The second-check alert kinds decided from plain values (``pumps.second_check_alerts``): boundary days."""

from __future__ import annotations

import datetime as dt

import pytest

from alerts.sources import row_sources
from pumps.second_check_alerts import SOURCE, second_check_alerts

RECORDED_ON = dt.date(2024, 3, 15)


@pytest.mark.parametrize(
    ("hours", "first_day_missing"),
    [(24, dt.date(2024, 3, 17)), (12, dt.date(2024, 3, 17)), (48, dt.date(2024, 3, 18)), (25, dt.date(2024, 3, 18))],
)
def test_a_check_is_missing_from_the_first_day_after_the_window_never_before_the_hours_pass(hours, first_day_missing):
    day_before = first_day_missing - dt.timedelta(days=1)
    waiting = {"waiting_since": RECORDED_ON, "disagreed_on": None, "window_hours": hours}
    assert second_check_alerts(as_of=day_before, **waiting) == {}
    assert second_check_alerts(as_of=first_day_missing, **waiting) == {"second_check_missing": RECORDED_ON}


def test_a_disagreement_alerts_at_once_and_nothing_waiting_alerts_nothing():
    assert second_check_alerts(as_of=RECORDED_ON, waiting_since=None, disagreed_on=RECORDED_ON, window_hours=24) == {
        "second_check_disagreed": RECORDED_ON
    }
    assert second_check_alerts(as_of=dt.date(2030, 1, 1), waiting_since=None, disagreed_on=None, window_hours=24) == {}


def test_the_source_is_registered_with_the_scan():
    assert SOURCE in row_sources()
    assert set(SOURCE.kinds) == {"second_check_missing", "second_check_disagreed"}
