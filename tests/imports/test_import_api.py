"""``/api/v1/imports/caseload/``: the template, dry runs, refused and clean commits, and who may import."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from imports.parsing import COLUMNS, read_sheet
from patients.models import Patient
from pumps.models import Pump
from tests.imports.conftest import SAMPLE

pytestmark = pytest.mark.django_db

URL = "/api/v1/imports/caseload/"
TEMPLATE_URL = "/api/v1/imports/caseload/template/"
EMPTY = {"patients": 0, "pumps": 0, "dose_changes": 0, "refills": 0}


def sample_lines(*numbers: int) -> bytes:
    """The header and the given sample rows (the sheet's numbers), as a CSV file."""
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    return b"".join([lines[0], *(lines[number - 1] for number in numbers)])


def upload(content: bytes, name: str = "caseload.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def test_the_template_is_the_header_row_as_csv(api_as, nurse):
    response = api_as(nurse).get(TEMPLATE_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="caseload-template.csv"' in response["Content-Disposition"]
    assert response.content.decode().strip().split(",") == list(COLUMNS)


def test_a_dry_run_is_the_default_answers_200_and_saves_nothing(api_as, sheet_staff, nurse):
    response = api_as(nurse).post(URL, {"file": upload(SAMPLE.read_bytes())}, format="multipart")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"dry_run", "rows", "created", "errors", "reconciliation"}
    assert (body["dry_run"], body["rows"], len(body["errors"]), len(body["reconciliation"])) == (True, 200, 16, 10)
    assert body["errors"][0] == {
        "row": 15,
        "field": "drug",
        "message": "Unknown drug 'baclofen': use one of lioresal, gablofen, compounded.",
    }
    assert body["reconciliation"][2] == {
        "row": 29,
        "mrn": "RX401260",
        "serial_number": "PII512340H",
        "stated_alarm_date": "2026-02-02",
        "computed_alarm_date": "2026-02-03",
        "difference_days": -1,
        "stated_refill_due_on": "2025-11-25",
        "computed_refill_due_on": "2025-11-25",
        "refill_due_difference_days": 0,
    }
    assert not Patient.objects.exists()


def test_a_commit_with_an_error_answers_400_with_the_same_body_and_saves_nothing(api_as, sheet_staff, doctor):
    content = sample_lines(2, 3, 114)  # two good rows and a volume over the reservoir

    dry = api_as(doctor).post(URL, {"file": upload(content), "dry_run": "true"}, format="multipart")
    refused = api_as(doctor).post(URL, {"file": upload(content), "dry_run": "false"}, format="multipart")

    assert (dry.status_code, refused.status_code) == (200, 400)
    assert refused.json() == {**dry.json(), "dry_run": False, "created": EMPTY}
    assert refused.json()["errors"] == [
        {"row": 4, "field": "volume_added_ml", "message": "45 mL is more than the reservoir holds (40 mL)."}
    ]
    assert not Patient.objects.exists()


def test_a_clean_commit_answers_200_and_records_the_rows(api_as, sheet_staff, nurse):
    response = api_as(nurse).post(URL, {"file": upload(sample_lines(2, 3, 4)), "dry_run": False}, format="multipart")

    assert response.status_code == 200
    assert response.json()["created"] == {"patients": 3, "pumps": 3, "dose_changes": 3, "refills": 3}
    assert Pump.objects.implanted().count() == 3


def test_a_clean_commit_larger_than_a_request_holds_answers_413_and_saves_nothing(
    api_as, sheet_staff, nurse, monkeypatch
):
    """Jobs never hold a request: a large commit is sent to the import page, which runs it as a job."""
    monkeypatch.setattr("imports.api.API_COMMIT_MAX_ROWS", 2)
    content = sample_lines(2, 3, 25)  # three clean rows, the last with a stated date the module disagrees with

    dry = api_as(nurse).post(URL, {"file": upload(content)}, format="multipart")
    held_back = api_as(nurse).post(URL, {"file": upload(content), "dry_run": "false"}, format="multipart")

    assert (dry.status_code, held_back.status_code) == (200, 413)
    body = held_back.json()
    assert (body["dry_run"], body["rows"], body["created"]) == (False, 3, EMPTY)
    assert body["reconciliation"] == dry.json()["reconciliation"] != []
    assert body["errors"] == [
        {
            "row": None,
            "field": "file",
            "message": "The sheet has no errors, but its 3 rows are more than the 2 committed here at once, so "
            "nothing was saved. Commit it from the import page, which runs it as a job and shows its progress, "
            "or send it in parts.",
        }
    ]
    assert not Patient.objects.exists()


def test_a_large_commit_with_errors_is_refused_for_its_errors(api_as, sheet_staff, nurse, monkeypatch):
    monkeypatch.setattr("imports.api.API_COMMIT_MAX_ROWS", 2)

    response = api_as(nurse).post(
        URL, {"file": upload(sample_lines(2, 3, 114)), "dry_run": "false"}, format="multipart"
    )

    assert response.status_code == 400
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(4, "volume_added_ml")]
    assert not Patient.objects.exists()


def test_an_xlsx_sheet_imports_like_its_csv(api_as, sheet_staff, doctor):
    rows = read_sheet("caseload_sample.csv", sample_lines(2, 3, 25, 29, 114))
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(COLUMNS))
    for row in rows:
        # As a spreadsheet holds them: dates as date cells, numbers as numbers.
        sheet.append([_as_excel_cell(name, row.cells[name]) for name in COLUMNS])
    buffer = io.BytesIO()
    workbook.save(buffer)

    from_xlsx = api_as(doctor).post(URL, {"file": upload(buffer.getvalue(), "caseload.xlsx")}, format="multipart")
    from_csv = api_as(doctor).post(URL, {"file": upload(sample_lines(2, 3, 25, 29, 114))}, format="multipart")

    assert from_xlsx.status_code == 200
    assert from_xlsx.json() == from_csv.json()
    assert [line["row"] for line in from_xlsx.json()["reconciliation"]] == [4, 5]
    assert [error["row"] for error in from_xlsx.json()["errors"]] == [6]


def _as_excel_cell(name: str, value: str) -> object:
    if not value:
        return None
    if name.endswith(("_date", "_on")) or name == "dose_since":
        return dt.date.fromisoformat(value)
    if name.endswith(("_ml", "_mcg", "_kg", "_cm", "_per_ml")):
        return float(value)
    return value


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "file", "No file was submitted."),
        ({"file": "not a file"}, "file", "The submitted data was not a file. Check the encoding type on the form."),
    ],
)
def test_an_upload_without_a_file_answers_400_in_the_results_shape(api_as, nurse, data, field, message):
    response = api_as(nurse).post(URL, data, format="multipart")
    assert response.status_code == 400
    assert response.json() == {
        "dry_run": True,
        "rows": 0,
        "created": EMPTY,
        "errors": [{"row": None, "field": field, "message": message}],
        "reconciliation": [],
    }


def test_a_file_that_is_not_a_sheet_is_reported_not_a_server_error(api_as, nurse):
    response = api_as(nurse).post(URL, {"file": upload(b"\x00\x01", "photo.png")}, format="multipart")
    assert response.status_code == 200
    assert response.json()["errors"] == [
        {"row": None, "field": "file", "message": "Upload a .csv or .xlsx file (the template is a CSV)."}
    ]


@pytest.mark.parametrize("role", ["rehab_doctor", "pump_nurse"])
def test_doctors_and_nurses_may_import(api_as, personas, sheet_staff, role):
    client = api_as(personas[role])
    assert client.get(TEMPLATE_URL).status_code == 200
    assert client.post(URL, {"file": upload(sample_lines(2))}, format="multipart").status_code == 200


@pytest.mark.parametrize("role", ["administrator", "physical_therapist", "neurosurgeon", "outsider"])
def test_every_other_role_is_refused_and_nothing_is_saved(api_as, personas, sheet_staff, role):
    client = api_as(personas[role])
    assert client.get(TEMPLATE_URL).status_code == 403
    response = client.post(URL, {"file": upload(sample_lines(2)), "dry_run": "false"}, format="multipart")
    assert response.status_code == 403
    assert not Patient.objects.exists()


def test_anonymous_requests_are_refused(client):
    assert client.get(TEMPLATE_URL).status_code in (401, 403)
    assert client.post(URL, {"file": upload(sample_lines(2))}).status_code in (401, 403)


def test_the_schema_documents_both_operations(api_as, doctor):
    schema = api_as(doctor).get("/api/schema/?format=json").json()
    post = schema["paths"][URL]["post"]
    assert set(post["requestBody"]["content"]) == {"multipart/form-data"}
    assert {"200", "400", "401", "403", "413"} <= set(post["responses"])
    assert set(schema["paths"][TEMPLATE_URL]["get"]["responses"]["200"]["content"]) == {"text/csv"}
