"""``spasticity.range_query``: one compiled query, run for many id ranges, gives what ``.values()`` gives."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pumps.models import Pump
from spasticity.range_query import RangeQuery
from tests.alerts.conftest import bulk_pumps


def _values(lower: int, upper: int) -> list[dict]:
    return list(
        Pump.objects.filter(pk__gte=lower, pk__lt=upper)
        .order_by("pk")
        .values("pk", "patient_id", "alarm_date", "refill_due_on", "battery_end_of_service_on")
    )


@pytest.mark.django_db
def test_each_range_gets_the_rows_values_would_give_converted_and_by_name():
    bulk_pumps(12)
    ids = sorted(Pump.objects.values_list("pk", flat=True))
    query = RangeQuery.compile(
        Pump.objects.order_by("pk").values(
            "pk", "patient_id", "alarm_date", "refill_due_on", "battery_end_of_service_on"
        ),
        field="pk",
    )
    for lower, upper in [(ids[0], ids[5]), (ids[5], ids[-1] + 1), (0, ids[0]), (ids[3], ids[4])]:
        rows = list(query.rows(lower, upper))
        assert rows == _values(lower, upper)
    first = next(query.rows(ids[0], ids[0] + 1))
    assert first["alarm_date"] == Pump.objects.get(pk=ids[0]).alarm_date  # a date, not a string


@pytest.mark.django_db
def test_a_range_is_one_query_and_compiling_sends_none():
    bulk_pumps(3)
    with CaptureQueriesContext(connection) as compiling:
        query = RangeQuery.compile(Pump.objects.values_list("pk", "patient_id"), field="pk")
    assert len(compiling) == 0
    with CaptureQueriesContext(connection) as running:
        rows = list(query.tuples(0, 2**63 - 1))
    assert len(running) == 1
    assert sorted(rows) == sorted(Pump.objects.values_list("pk", "patient_id"))


@pytest.mark.django_db
def test_a_query_that_already_holds_a_sentinel_value_is_refused():
    from spasticity import range_query

    with pytest.raises(ValueError, match="sentinel"):
        RangeQuery.compile(Pump.objects.filter(pk=range_query._LOWER_SENTINEL).values("pk"), field="pk")


@pytest.mark.django_db
def test_the_scans_reads_are_for_the_day_they_were_compiled_for():
    import datetime as dt

    from alerts.services import alerts_wanted, scan_queries

    queries = scan_queries(dt.date(2024, 6, 10))
    with pytest.raises(ValueError, match="compiled for 2024-06-10"):
        alerts_wanted(as_of=dt.date(2024, 6, 11), queries=queries)
    assert alerts_wanted(as_of=dt.date(2024, 6, 10), queries=queries) == {}


@pytest.mark.django_db
def test_the_scans_reads_are_for_the_thresholds_they_were_compiled_with(settings):
    import datetime as dt

    from alerts.services import alerts_wanted, scan_queries

    queries = scan_queries(dt.date(2024, 6, 10))
    settings.CLINIC = {**settings.CLINIC, "REFILL_DUE_SOON_DAYS": 30}
    with pytest.raises(ValueError, match="thresholds"):
        alerts_wanted(as_of=dt.date(2024, 6, 10), queries=queries)


@pytest.mark.django_db
def test_a_query_that_sorts_on_a_column_it_does_not_read_is_refused():
    with pytest.raises(ValueError, match="order only by selected columns"):
        RangeQuery.compile(Pump.objects.distinct().order_by("serial_number").values("pk"), field="pk")
