"""The reports at scale: a fixed number of queries, a paginated page, a streamed CSV, plain-dict JSON."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts import reports
from alerts.api import BatteryRowSerializer, OverdueRefillRowSerializer
from pumps.models import Refill
from spasticity.timeutil import clinic_today
from tests.alerts.conftest import bulk_pumps

pytestmark = pytest.mark.django_db

PAGE, CSV, API = (
    reverse("reports:overdue_refills"),
    reverse("reports:overdue_refills_csv"),
    "/api/v1/reports/overdue-refills/",
)


def get_all(client, url: str, params: dict) -> bytes:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.getvalue()  # a streamed CSV is read to the end inside the count


@pytest.mark.parametrize("pump_count", [3, 30])
def test_as_of_today_each_report_runs_a_fixed_number_of_queries(
    pump_count, client_as, api_as, administrator, nurse, django_assert_num_queries
):
    bulk_pumps(pump_count, nurse=nurse)  # all past their 2024 alarm date today
    client, api_client = client_as(administrator), api_as(administrator)
    # Page: session, user, roles, permissions, nurse choices… then the report's count and its first
    # page of rows (reports.PagedRows: not every row; the page does not show the caregivers' phones).
    # The session is saved at most once a minute (spasticity.middleware).
    with django_assert_num_queries(8):
        get_all(client, PAGE, {})
    # CSV: the phones' query and one INSERT into the access log; the API's knox token is two queries.
    with django_assert_num_queries(6):
        body = get_all(client, CSV, {})
    assert body.count(b"\n") == 1 + pump_count
    with django_assert_num_queries(6):
        get_all(api_client, API, {})
    with django_assert_num_queries(2):  # the rows, then the caregivers' phone numbers
        assert len(reports.overdue_refills(as_of=dt.date(2026, 1, 1), today=dt.date(2026, 1, 1))) == pump_count


@pytest.mark.parametrize("pump_count", [3, 30])
def test_as_of_a_past_date_the_changed_pumps_cost_three_more_queries_however_many(
    pump_count, nurse, django_assert_num_queries
):
    as_of = dt.date(2024, 6, 20)
    pumps = bulk_pumps(pump_count, nurse=nurse)
    bulk_pumps(pump_count, nurse=nurse)  # unchanged since: the stored columns answer
    # Test data in bulk: every first pump was refilled after as_of.
    Refill.objects.bulk_create(
        Refill(
            pump=pump,
            refilled_on=dt.date(2024, 7, 1),
            volume_added_ml=Decimal(40),
            drug="lioresal",
            concentration_mcg_per_ml=Decimal(2000),
            lot_number="L1",
        )
        for pump in pumps
    )
    # The stored rows, the changed pumps, their refills, their dose programs and the phones.
    with django_assert_num_queries(5):
        rows = reports.overdue_refills(as_of=as_of, today=dt.date(2026, 1, 1))
    assert len(rows) == 2 * pump_count
    # Recomputed from records with no program: no projection, first in the report.
    assert {row["status"] for row in rows[:pump_count]} == {"no_projection"}
    with django_assert_num_queries(2):  # the battery report: stored rows and changed pumps
        reports.battery_end_of_life(as_of=as_of, today=dt.date(2026, 1, 1))


def test_the_page_shows_50_rows_with_the_total_and_keeps_the_filters_in_its_links(client_as, doctor, nurse):
    bulk_pumps(120, nurse=nurse)
    client = client_as(doctor)
    first = client.get(PAGE, {"status": "past_alarm"})
    html = first.content.decode()
    assert len(first.context["table"]) == 50 and first.context["total"] == 120
    assert '<span data-testid="row-count">120</span>' in html
    assert "?status=past_alarm&amp;page=2" in html
    last = client.get(PAGE, {"status": "past_alarm", "page": "3"})
    assert len(last.context["table"]) == 20
    assert [row["pump"] for row, _cells in last.context["table"]] == [
        row["pump"] for row in reports.overdue_refills(as_of=dt.date(2026, 1, 1), status="past_alarm")[100:]
    ]
    # The print view prints every row.
    assert len(client.get(reverse("reports:overdue_refills_print")).context["table"]) == 120


def test_the_csv_streams_on_the_page_and_the_api(client_as, api_as, doctor, nurse):
    bulk_pumps(3, nurse=nurse)
    responses = [
        client_as(doctor).get(CSV),
        client_as(doctor).get(reverse("reports:battery_csv"), {"within_days": "3650"}),
        api_as(doctor).get(API, {"format": "csv"}),
        api_as(doctor).get("/api/v1/reports/battery-end-of-life/", {"format": "csv", "within_days": "3650"}),
    ]
    assert all(isinstance(response, StreamingHttpResponse) for response in responses)
    assert [len(response.getvalue().decode().splitlines()) for response in responses] == [4, 4, 4, 4]


def test_the_api_rows_have_exactly_the_documented_columns(api_as, doctor, nurse):
    bulk_pumps(2, nurse=nurse)
    overdue = api_as(doctor).get(API).json()["results"]
    battery = api_as(doctor).get("/api/v1/reports/battery-end-of-life/", {"within_days": "3650"}).json()["results"]
    assert set(overdue[0]) == set(OverdueRefillRowSerializer().fields)
    assert set(battery[0]) == set(BatteryRowSerializer().fields)
    assert overdue[0]["refill_due_on"] == "2024-06-08" and overdue[0]["status"] == "past_alarm"


@pytest.mark.parametrize(
    ("pages", "whole"),
    [
        (reports.overdue_refills_pages, functools.partial(reports.overdue_refills, caregiver_phones=False)),
        (reports.battery_end_of_life_pages, reports.battery_end_of_life),
    ],
)
def test_as_of_today_a_report_page_reads_its_count_and_its_slice_and_nothing_more(
    pages, whole, nurse, django_assert_num_queries
):
    """The HTML page's rows (``reports.PagedRows``): a count query and one LIMIT query per slice,
    each row the one the whole report has at that place."""
    today = clinic_today()
    # Past their 2024 alarm date, and their battery ends within the report's 180 days.
    bulk_pumps(12, nurse=nurse, battery_end_of_service_on=today + dt.timedelta(days=30))
    expected = whole(as_of=today, today=today)
    assert len(expected) == 12
    rows = pages(as_of=today, today=today)
    with django_assert_num_queries(1):
        assert rows.count() == len(rows) == 12
    with CaptureQueriesContext(connection) as read:
        assert rows[5:9] == expected[5:9]
    assert len(read) == 1 and "LIMIT 4 OFFSET 5" in read[0]["sql"]
    assert rows[11] == expected[11]


def test_as_of_a_past_date_a_report_page_gets_every_row_merged(nurse):
    bulk_pumps(3, nurse=nurse)
    today = clinic_today()
    rows = reports.overdue_refills_pages(as_of=today - dt.timedelta(days=1), today=today)
    assert isinstance(rows, list) and len(rows) == 3


def test_the_battery_csv_cells_are_the_reports_rows_as_of_today_and_a_past_date(nurse, client_as, doctor):
    today = clinic_today()
    bulk_pumps(4, nurse=nurse, battery_end_of_service_on=today + dt.timedelta(days=30))
    bulk_pumps(2, nurse=nurse, battery_end_of_service_on=today - dt.timedelta(days=3))  # already past: days left < 0
    keys = [key for _label, key in reports.BATTERY_COLUMNS]
    for as_of in (today, today - dt.timedelta(days=10)):
        rows = reports.battery_end_of_life(as_of=as_of, today=today)
        cells = [tuple(row[key] for key in keys) for row in rows]
        assert list(reports.battery_csv_values(as_of=as_of, today=today)) == cells
        assert len(cells) == 6 and min(cell[-1] for cell in cells) == (-3 if as_of == today else 7)
    download = client_as(doctor).get(reverse("reports:battery_csv")).getvalue().decode()
    rows = reports.battery_end_of_life(as_of=today, today=today)
    expected = "".join(reports.csv_lines(rows, reports.BATTERY_COLUMNS))
    assert download == expected and download.count("\n") == 7
