"""The overdue-refill report's ``booked_on`` column and its booked / not booked filter (issue 12 point 6),
in the HTML page, the CSV and the API, and the SQL floor that the benchmark compares it with."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.urls import reverse

from alerts import reports
from alerts.report_floors import OVERDUE_FLOOR_COLUMNS, overdue_refills_floor_sql
from appointments.models import Appointment, AppointmentStatus
from appointments.services import appointment_book
from tests.alerts.conftest import bulk_pumps
from tests.alerts.test_reports import AS_OF, csv_rows, overdue_caseload, page_table  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
BOOKED_DAY = dt.date(2024, 6, 22)  # Davies: due 06-18, alarm 06-25; after the due date, so with a reason
BOOKED_COLUMN = 8  # "Refill booked", between "Days overdue" and "Status"


@pytest.fixture
def davies_booked(overdue_caseload, nurse):  # noqa: F811 (the fixture imported above)
    pumps, _nolan = overdue_caseload
    pump = pumps["Davies"]
    just_after_midnight = dt.datetime.combine(BOOKED_DAY, dt.time(0, 30), tzinfo=LONDON)  # 23:30 UTC the day before
    appointment = Appointment(
        patient=pump.patient, pump=pump, kind="refill", starts_at=just_after_midnight, confirmation_reason="Family away"
    )
    appointment_book(appointment, staff=[nurse], by=nurse)
    return pumps


def test_the_api_gives_each_pump_its_booked_refill_day_or_null(davies_booked, api_as, doctor):
    results = api_as(doctor).get("/api/v1/reports/overdue-refills/", {"as_of": "2024-06-20"}).json()["results"]
    assert [(row["mrn"], row["booked_on"]) for row in results] == [
        ("MRN-Adeyemi", None),
        ("MRN-Brown", None),
        ("MRN-Chen", None),
        ("MRN-Davies", "2024-06-22"),  # the clinic-local day, not the UTC one
    ]


@pytest.mark.parametrize(
    ("booked", "mrns"),
    [("yes", ["MRN-Davies"]), ("no", ["MRN-Adeyemi", "MRN-Brown", "MRN-Chen"]), ("", None)],
)
def test_the_booked_filter_keeps_the_pumps_with_or_without_a_booked_refill_in_every_format(
    davies_booked, client_as, api_as, doctor, booked, mrns
):
    query = {"as_of": "2024-06-20", "booked": booked}
    everyone = ["MRN-Adeyemi", "MRN-Brown", "MRN-Chen", "MRN-Davies"]
    client = client_as(doctor)
    page = page_table(client.get(reverse("reports:overdue_refills"), query).content.decode())
    download = csv_rows(client.get(reverse("reports:overdue_refills_csv"), query).getvalue().decode("utf-8-sig"))
    api = api_as(doctor).get("/api/v1/reports/overdue-refills/", query).json()["results"]
    api_csv = csv_rows(
        api_as(doctor).get("/api/v1/reports/overdue-refills/", {**query, "format": "csv"}).getvalue().decode()
    )

    assert [row["mrn"] for row in api] == (mrns or everyone)
    assert page[0][BOOKED_COLUMN] == download[0][BOOKED_COLUMN] == "Refill booked"
    assert download[1:] == api_csv[1:]
    # The page shows the CSV's status_label where the CSV has the code, and not the phones.
    assert page[1:] == [[*row[:-3], row[-2]] for row in download[1:]]
    assert [row[1] for row in download[1:]] == (mrns or everyone)
    assert {row[1]: row[BOOKED_COLUMN] for row in download[1:]}.get("MRN-Davies", "2024-06-22") == "2024-06-22"
    assert all(row[BOOKED_COLUMN] == "" for row in download[1:] if row[1] != "MRN-Davies")


def test_a_cancelled_booking_no_longer_counts(davies_booked, api_as, doctor):
    booking = Appointment.objects.get(pump=davies_booked["Davies"])
    Appointment.objects.filter(pk=booking.pk).update(status=AppointmentStatus.CANCELLED)  # test data, as bulk_pumps
    results = api_as(doctor).get("/api/v1/reports/overdue-refills/", {"as_of": "2024-06-20", "booked": "yes"}).json()
    assert results["results"] == []


def test_a_bad_booked_value_is_a_400_on_the_api_and_ignored_on_the_page(overdue_caseload, api_as, client_as, doctor):  # noqa: F811
    bad = api_as(doctor).get("/api/v1/reports/overdue-refills/", {"booked": "maybe"})
    assert bad.status_code == 400 and "booked" in bad.json()
    page = client_as(doctor).get(reverse("reports:overdue_refills"), {"as_of": "2024-06-20", "booked": "maybe"})
    assert page.status_code == 200 and "booked" in page.context["form"].errors


def test_the_floor_gives_the_same_booked_on_as_the_app(nurse):
    """The benchmark's floor reads the same booked day: booked refills only, not cancelled, not voided."""
    pumps = bulk_pumps(6, nurse=nurse)  # overdue on 2024-06-10 (due 06-08, alarm 06-15)
    as_of = dt.date(2024, 6, 10)
    at_ten = dt.time(10)
    cases = [
        (pumps[0], "refill", AppointmentStatus.BOOKED, None),
        (pumps[1], "refill", AppointmentStatus.CANCELLED, None),
        (pumps[2], "titration", AppointmentStatus.BOOKED, None),
        (pumps[3], "refill", AppointmentStatus.BOOKED, dt.datetime(2024, 6, 9, tzinfo=dt.UTC)),  # voided
    ]
    for day, (pump, kind, status, voided_at) in enumerate(cases, start=11):
        Appointment.objects.create(  # test data written directly, as bulk_pumps writes the stored columns
            patient=pump.patient,
            pump=pump,
            kind=kind,
            status=status,
            voided_at=voided_at,
            lead_staff=nurse,
            starts_at=dt.datetime.combine(dt.date(2024, 6, day), at_ten, tzinfo=LONDON),
        )
    app = reports.overdue_refills(as_of=as_of, today=as_of)
    sql, params = overdue_refills_floor_sql(as_of)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        floor = [tuple(row[: len(OVERDUE_FLOOR_COLUMNS)]) for row in cursor.fetchall()]

    assert [row["booked_on"] for row in app].count(dt.date(2024, 6, 11)) == 1
    assert [row["booked_on"] for row in app].count(None) == 5
    assert floor == [tuple(row[column] for column in OVERDUE_FLOOR_COLUMNS) for row in app]


def test_the_booked_column_costs_no_query(davies_booked, django_assert_num_queries):
    with django_assert_num_queries(2):  # the rows (booking included), then the caregivers' phones
        rows = reports.overdue_refills(as_of=AS_OF, booked="yes", today=AS_OF)
    assert [row["booked_on"] for row in rows] == [BOOKED_DAY]
