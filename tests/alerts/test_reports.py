"""The reports: one selector for the page, the CSV, the print view and the API."""

from __future__ import annotations

import csv
import datetime as dt
import io
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts import reports
from pumps.services import SurgeryDetails, pump_explant
from spasticity.roles import Role
from tests.alerts.conftest import bulk_pumps
from tests.factories import CaregiverFactory, PatientFactory, PumpFactory, UserFactory

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2024, 6, 20)
HEADER = [
    "Patient",
    "MRN",
    "Pump serial",
    "Pump nurse",
    "Last refill",
    "Refill due",
    "Alarm date",
    "Days overdue",
    "Refill booked",
    "Status",
]


class TableCells(HTMLParser):
    """The text of each row of the table with the given data-testid."""

    def __init__(self, testid: str) -> None:
        super().__init__()
        self.testid, self.inside, self.rows, self.cell = testid, False, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("data-testid") == self.testid:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join(self.cell.split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def page_table(html: str, testid: str = "overdue-report") -> list[list[str]]:
    parser = TableCells(testid)
    parser.feed(html)
    return parser.rows


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def overdue_caseload(nurse, surgeon):
    """Four pumps past their refill-due date on 2024-06-20, one not yet due, one explanted."""
    nolan = UserFactory(username="nurse_nolan", first_name="Noor", last_name="Nolan", role=Role.PUMP_NURSE)

    def pump(name: str, implanted_on: dt.date, nurse_user=nurse, diagnosis="cerebral_palsy", serial=""):
        patient = PatientFactory(
            family_name=name, given_name="Kid", mrn=f"MRN-{name}", assigned_nurse=nurse_user, diagnosis=diagnosis
        )
        return PumpFactory(patient=patient, by=surgeon, implanted_on=implanted_on, serial_number=serial or f"SN-{name}")

    pumps = {
        "Adeyemi": pump("Adeyemi", dt.date(2024, 1, 10)),  # due 06-03, alarm 06-10: past alarm, 17 days
        "Brown": pump("Brown", dt.date(2024, 1, 15), diagnosis="stroke"),  # due 06-08, alarm 06-15: past alarm, 12
        "Chen": pump("Chen", dt.date(2024, 1, 20), nurse_user=nolan),  # due 06-13, alarm 06-20: overdue, 7
        "Davies": pump("Davies", dt.date(2024, 1, 25)),  # due 06-18, alarm 06-25: overdue, 2
        "Evans": pump("Evans", dt.date(2024, 2, 1)),  # due 06-25: not overdue
        "Ford": pump("Ford", dt.date(2024, 1, 5)),  # explanted below
    }
    pump_explant(pumps["Ford"], by=surgeon, surgery=SurgeryDetails(performed_on=dt.date(2024, 6, 1)), today=AS_OF)
    return pumps, nolan


EXPECTED_ROWS = [
    [
        "ADEYEMI, Kid",
        "MRN-Adeyemi",
        "SN-Adeyemi",
        "Nia Nash",
        "2024-01-10",
        "2024-06-03",
        "2024-06-10",
        "17",
        "",
        "past_alarm",
    ],
    [
        "BROWN, Kid",
        "MRN-Brown",
        "SN-Brown",
        "Nia Nash",
        "2024-01-15",
        "2024-06-08",
        "2024-06-15",
        "12",
        "",
        "past_alarm",
    ],
    ["CHEN, Kid", "MRN-Chen", "SN-Chen", "Noor Nolan", "2024-01-20", "2024-06-13", "2024-06-20", "7", "", "overdue"],
    [
        "DAVIES, Kid",
        "MRN-Davies",
        "SN-Davies",
        "Nia Nash",
        "2024-01-25",
        "2024-06-18",
        "2024-06-25",
        "2",
        "",
        "overdue",
    ],
]


# The page and the print view read the status's label; the CSV keeps the code for machines,
# then adds the label and the caregivers' phone numbers (none in this caseload).
STATUS_LABEL = {"past_alarm": "Past alarm date", "overdue": "Overdue"}
PAGE_ROWS = [[*row[:-1], STATUS_LABEL[row[-1]]] for row in EXPECTED_ROWS]
CSV_HEADER = [*HEADER, "status_label", "Caregiver phones"]
CSV_ROWS = [[*row, STATUS_LABEL[row[-1]], ""] for row in EXPECTED_ROWS]


def test_overdue_refills_are_sorted_past_alarm_first_then_most_days_overdue(overdue_caseload):
    rows = reports.overdue_refills(as_of=AS_OF)
    assert [(r["mrn"], r["status"], r["days_overdue"]) for r in rows] == [
        ("MRN-Adeyemi", "past_alarm", 17),
        ("MRN-Brown", "past_alarm", 12),
        ("MRN-Chen", "overdue", 7),
        ("MRN-Davies", "overdue", 2),
    ]


def test_the_csv_has_the_same_rows_and_columns_as_the_page(overdue_caseload, client_as, administrator):
    client = client_as(administrator)
    page = client.get(reverse("reports:overdue_refills"), {"as_of": "2024-06-20"})
    download = client.get(reverse("reports:overdue_refills_csv"), {"as_of": "2024-06-20"})

    assert page_table(page.content.decode()) == [HEADER, *PAGE_ROWS]
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"] == 'attachment; filename="overdue-refills-2024-06-20.csv"'
    assert csv_rows(download.getvalue().decode("utf-8-sig")) == [CSV_HEADER, *CSV_ROWS]


@pytest.mark.parametrize(
    ("filters", "mrns"),
    [
        ({"status": "past_alarm"}, ["MRN-Adeyemi", "MRN-Brown"]),
        ({"status": "overdue"}, ["MRN-Chen", "MRN-Davies"]),
        ({"diagnosis": "stroke"}, ["MRN-Brown"]),
        ({"nurse": "nolan"}, ["MRN-Chen"]),
        ({"nurse": "nolan", "status": "past_alarm"}, []),
    ],
)
def test_the_overdue_report_filters_by_nurse_diagnosis_and_status(overdue_caseload, client_as, doctor, filters, mrns):
    _pumps, nolan = overdue_caseload
    query = {"as_of": "2024-06-20", **filters}
    if query.get("nurse") == "nolan":
        query["nurse"] = nolan.pk
    client = client_as(doctor)
    page_rows = page_table(client.get(reverse("reports:overdue_refills"), query).content.decode())[1:]
    csv_body = csv_rows(client.get(reverse("reports:overdue_refills_csv"), query).getvalue().decode("utf-8-sig"))[1:]
    assert [row[1] for row in csv_body] == mrns
    # The page's status cell is the CSV's status_label; the CSV alone has the code and the phones.
    assert page_rows == ([[*row[:-3], row[-2]] for row in csv_body] or [["No pumps match."]])


def test_the_print_view_shows_the_same_rows_without_navigation(overdue_caseload, client_as, therapist):
    html = client_as(therapist).get(reverse("reports:overdue_refills_print"), {"as_of": "2024-06-20"}).content.decode()
    assert page_table(html) == [HEADER, *PAGE_ROWS]
    assert 'data-nav="patients"' not in html and "alerts/print.css" in html and "<script>" not in html


def test_the_csv_starts_with_a_bom_and_gives_the_status_label_and_the_caregivers_phones(
    overdue_caseload, client_as, administrator
):
    pumps, _ = overdue_caseload
    patient = pumps["Adeyemi"].patient
    CaregiverFactory(patient=patient, name="Zoë Adéyèmi", relationship="mother", phone="07700 900001")
    CaregiverFactory(
        patient=patient, name="Ann Adeyemi", relationship="aunt", phone="07700 900002", is_legal_guardian=False
    )
    voided = CaregiverFactory(patient=patient, name="Old Number", relationship="father", phone="07700 900003")
    voided.voided_at = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    voided.save()

    body = client_as(administrator).get(reverse("reports:overdue_refills_csv"), {"as_of": "2024-06-20"}).getvalue()

    assert body.startswith(b"\xef\xbb\xbf")  # the UTF-8 byte order mark Excel looks for
    header, adeyemi, *_ = csv_rows(body.decode("utf-8-sig"))
    row = dict(zip(header, adeyemi, strict=True))
    assert (row["Status"], row["status_label"]) == ("past_alarm", "Past alarm date")
    # Legal guardians first, accents kept, a voided caregiver left out.
    assert row["Caregiver phones"] == "Zoë Adéyèmi (mother): 07700 900001; Ann Adeyemi (aunt): 07700 900002"


def test_the_print_view_states_the_as_of_date_and_the_filters_by_name(overdue_caseload, client_as, doctor):
    _pumps, nolan = overdue_caseload
    client = client_as(doctor)
    query = {"as_of": "2024-06-20", "nurse": nolan.pk, "status": "overdue", "booked": "no"}
    html = client.get(reverse("reports:overdue_refills_print"), query).content.decode()
    unfiltered = client.get(reverse("reports:overdue_refills_print"), {"as_of": "2024-06-20"}).content.decode()

    assert "1 pump as of 2024-06-20" in html
    assert "Filtered by Pump nurse: Noor Nolan; Status: Overdue; Refill booked: Not booked." in html
    assert "Filtered." not in html and "overdue</span>" not in html
    assert "All watched pumps: no filter." in unfiltered and "Filtered by" not in unfiltered
    assert page_table(html)[1][-1] == "Overdue"


def test_the_api_gives_the_overdue_report_as_json_and_as_csv(overdue_caseload, api_as, nurse):
    pumps, _ = overdue_caseload
    client = api_as(nurse)
    body = client.get("/api/v1/reports/overdue-refills/?as_of=2024-06-20").json()
    assert body["as_of"] == "2024-06-20"
    first = body["results"][0]
    assert first == {
        "patient": pumps["Adeyemi"].patient_id,
        "patient_name": "ADEYEMI, Kid",
        "mrn": "MRN-Adeyemi",
        "pump": pumps["Adeyemi"].pk,
        "serial_number": "SN-Adeyemi",
        "pump_nurse": "Nia Nash",
        "last_refill_on": "2024-01-10",
        "refill_due_on": "2024-06-03",
        "alarm_date": "2024-06-10",
        "days_overdue": 17,
        "status": "past_alarm",
        "booked_on": None,
        "status_label": "Past alarm date",
        "caregiver_phones": "",
    }
    assert [r["mrn"] for r in body["results"]] == ["MRN-Adeyemi", "MRN-Brown", "MRN-Chen", "MRN-Davies"]

    as_csv = client.get("/api/v1/reports/overdue-refills/?as_of=2024-06-20&format=csv")
    assert as_csv.status_code == 200 and as_csv["Content-Type"].startswith("text/csv")
    assert csv_rows(as_csv.getvalue().decode()) == [CSV_HEADER, *CSV_ROWS]
    filtered = client.get("/api/v1/reports/overdue-refills/?as_of=2024-06-20&status=overdue").json()
    assert [r["mrn"] for r in filtered["results"]] == ["MRN-Chen", "MRN-Davies"]
    bad = client.get("/api/v1/reports/overdue-refills/?as_of=20-06-2024")
    assert bad.status_code == 400 and "as_of" in bad.json()


def test_the_battery_report_lists_pumps_ending_within_n_days_soonest_first(nurse, surgeon, api_as, client_as):
    soon = PumpFactory(
        patient=PatientFactory(mrn="MRN-SOON", assigned_nurse=nurse), by=surgeon, eri_on=dt.date(2024, 3, 1)
    )
    later = PumpFactory(
        patient=PatientFactory(mrn="MRN-LATER", assigned_nurse=nurse), by=surgeon, eri_on=dt.date(2024, 5, 1)
    )
    PumpFactory(patient=PatientFactory(mrn="MRN-FAR"), by=surgeon)  # ends 2031-01-15
    assert (soon.battery_end_of_service_on, later.battery_end_of_service_on) == (
        dt.date(2024, 5, 30),
        dt.date(2024, 7, 30),
    )

    body = api_as(nurse).get("/api/v1/reports/battery-end-of-life/?as_of=2024-06-01&within_days=180").json()
    assert body["as_of"] == "2024-06-01"
    assert [
        (r["mrn"], r["serial_number"], r["battery_end_of_service_on"], r["days_left"]) for r in body["results"]
    ] == [
        ("MRN-SOON", soon.serial_number, "2024-05-30", -2),
        ("MRN-LATER", later.serial_number, "2024-07-30", 59),
    ]
    narrow = api_as(nurse).get("/api/v1/reports/battery-end-of-life/?as_of=2024-06-01&within_days=30").json()
    assert [r["mrn"] for r in narrow["results"]] == ["MRN-SOON"]
    as_csv = api_as(nurse).get("/api/v1/reports/battery-end-of-life/?as_of=2024-06-01&format=csv").getvalue().decode()
    page = client_as(nurse).get(reverse("reports:battery"), {"as_of": "2024-06-01"}).content.decode()
    assert csv_rows(as_csv) == page_table(page, "battery-report")
    assert csv_rows(as_csv)[1][1] == "MRN-SOON"


def test_the_reports_index_links_the_titration_schedule(client_as, nurse):
    client = client_as(nurse)
    index = client.get(reverse("reports:index")).content.decode()
    assert reverse("reports:titration_schedule") in index
    assert client.get(reverse("reports:titration_schedule"))["Location"] == reverse("pumps:schedule")


def count_queries(client, url: str, params: dict) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


def test_the_report_keeps_a_fixed_number_of_queries_for_10_and_1000_pumps(client_as, administrator, nurse, api_as):
    page, download, api = (
        reverse("reports:overdue_refills"),
        reverse("reports:overdue_refills_csv"),
        "/api/v1/reports/overdue-refills/",
    )
    client, api_client = client_as(administrator), api_as(administrator)
    params = {"as_of": "2024-06-20"}
    bulk_pumps(10, nurse=nurse)
    small = [
        count_queries(client, page, params),
        count_queries(client, download, params),
        count_queries(api_client, api, params),
    ]
    assert len(reports.overdue_refills(as_of=AS_OF)) == 10

    bulk_pumps(990, nurse=nurse)
    large = [
        count_queries(client, page, params),
        count_queries(client, download, params),
        count_queries(api_client, api, params),
    ]
    assert len(reports.overdue_refills(as_of=AS_OF)) == 1000
    # Page: session, user, roles, permissions, nurse choices… and one query for the rows.
    # The CSV and the API each add one INSERT: the download is written to the access log
    # (access_log.recording); the HTML page is not. The API's token lookup is two queries
    # (knox reads the token, then checks its expiry). As of a past date (2024-06-20 is before
    # today), one more query looks for pumps changed since (alerts.reports._changed_since),
    # and the CSV and the API read the caregivers' phone numbers (alerts.reports._add_caregiver_phones):
    # the page does not show them, so it skips that query. The session is saved at most once a
    # minute (spasticity.middleware), so none of these requests writes it.
    assert small == large == [8, 7, 7]
