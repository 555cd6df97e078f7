"""The reports' JSON renderer writes the very bytes DRF's own would, only faster."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils.functional import lazy
from rest_framework.renderers import JSONRenderer

from spasticity.api_renderers import FastJSONRenderer

ROW = {
    "patient": 12,
    "patient_name": "CÔTÉ, Siân",
    "refill_due_on": dt.date(2026, 12, 4),
    "alarm_date": None,
    "days_overdue": -3,
    "concentration_mcg_per_ml": Decimal("500.00"),
    "label": lazy(lambda: "Past alarm date", str)(),
    "scanned_at": dt.datetime(2026, 12, 4, 6, 0, 5, 120, tzinfo=ZoneInfo("UTC")),
    "local_at": dt.datetime(2026, 12, 4, 6, 0, tzinfo=ZoneInfo("Europe/London")),
}


def test_the_same_bytes_as_drfs_renderer():
    data = {"as_of": dt.date(2026, 12, 4), "results": [ROW, ROW | {"alarm_date": dt.date(2027, 1, 1)}]}
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_an_indented_body_is_drfs_own():
    data = {"results": [ROW]}
    media_type = "application/json; indent=2"
    fast = FastJSONRenderer().render(data, media_type, {})
    assert fast == JSONRenderer().render(data, media_type, {})
    assert b"\n  " in fast


def test_nothing_renders_empty():
    assert FastJSONRenderer().render(None) == b""


def test_line_separators_non_text_keys_and_huge_integers_are_written_as_drf_writes_them():
    for data in (
        {"note": "first\u2028second\u2029third"},
        {1: "a key that is a number"},
        {"count": 2**70},
    ):
        assert FastJSONRenderer().render(data) == JSONRenderer().render(data), data
