"""The import page: upload, a job that runs the import (eager here), progress, result and CSV downloads."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from imports.models import ImportRun
from imports.runs import FAILED_MESSAGE, QUEUE_DOWN_MESSAGE, import_run_execute
from patients.models import Patient
from pumps.models import Pump
from spasticity.celery import app
from tests.imports.conftest import SAMPLE
from tests.imports.test_import_api import sample_lines

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager():
    """The job runs in the request, as a worker would run it, once the upload is committed."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def post_sheet(
    client, content: bytes, django_capture_on_commit_callbacks, *, commit: bool = False, name: str = "caseload.csv"
):
    data = {"file": SimpleUploadedFile(name, content)}
    if commit:
        data["commit"] = "on"
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("imports:caseload"), data)


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_upload_page_offers_the_template_and_a_dry_run_by_default(client_as, nurse):
    response = client_as(nurse).get(reverse("imports:caseload"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert 'name="commit"' in html and "checked" not in html.split('name="commit"')[1].split(">")[0]
    assert reverse("imports:template_csv") in html
    template = client_as(nurse).get(reverse("imports:template_csv"))
    assert template["Content-Type"] == "text/csv; charset=utf-8"


def test_a_dry_run_shows_the_errors_and_the_reconciliation_and_saves_nothing(
    client_as, sheet_staff, nurse, eager, django_capture_on_commit_callbacks
):
    client = client_as(nurse)
    response = post_sheet(client, SAMPLE.read_bytes(), django_capture_on_commit_callbacks)

    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert (run.status, run.commit, run.owner, run.total_rows) == ("done", False, nurse, 200)
    page = client.get(response["Location"])
    html = page.content.decode()
    assert "16 problems in 200 rows: nothing was saved" in html
    assert html.count("<tr>") == 1 + 10 + 1 + 16  # two tables, each with its header row
    assert "Unknown pump model &#x27;SynchroMed III&#x27;" in html
    assert not Patient.objects.exists()

    errors = client.get(f"{reverse('imports:errors_csv')}?run={run.pk}")
    assert errors["Content-Disposition"] == 'attachment; filename="caseload-errors.csv"'
    assert csv_rows(errors)[:2] == [
        ["row", "field", "message"],
        ["15", "drug", "Unknown drug 'baclofen': use one of lioresal, gablofen, compounded."],
    ]
    reconciliation = csv_rows(client.get(f"{reverse('imports:reconciliation_csv')}?run={run.pk}"))
    assert reconciliation[0][:6] == [
        "row",
        "mrn",
        "serial_number",
        "stated_alarm_date",
        "computed_alarm_date",
        "difference_days",
    ]
    assert reconciliation[3][:6] == ["29", "RX401260", "PII512340H", "2026-02-02", "2026-02-03", "-1"]
    assert len(reconciliation) == 11


def test_a_clean_commit_from_the_page_records_the_rows(
    client_as, sheet_staff, doctor, eager, django_capture_on_commit_callbacks
):
    client = client_as(doctor)
    response = post_sheet(client, sample_lines(2, 3), django_capture_on_commit_callbacks, commit=True)

    page = client.get(response["Location"])
    assert "Imported 2 patients with 2 pumps, 2 programs and 2 fills." in page.content.decode()
    assert Pump.objects.implanted().count() == 2


def test_a_running_import_shows_its_progress_and_the_page_reloads_when_it_is_done(client_as, sheet_staff, nurse):
    client = client_as(nurse)
    run = ImportRun.objects.create(owner=nurse, file_name="caseload.csv", content=sample_lines(2, 3), commit=False)
    progress_url = f"{reverse('imports:progress')}?run={run.pk}"

    waiting = client.get(run.get_absolute_url()).content.decode()
    assert 'hx-trigger="every 1s"' in waiting and progress_url.replace("&", "&amp;") in waiting

    import_run_execute(run.pk, today=run.created_at.date())
    polled = client.get(progress_url, HTTP_HX_REQUEST="true")
    assert polled["HX-Redirect"] == run.get_absolute_url()
    assert "hx-trigger" not in polled.content.decode()


def test_a_run_is_imported_once_even_if_its_job_is_delivered_twice(sheet_staff, doctor):
    run = ImportRun.objects.create(owner=doctor, file_name="c.csv", content=sample_lines(2), commit=True)
    assert import_run_execute(run.pk, today=run.created_at.date()) == "done"
    assert import_run_execute(run.pk, today=run.created_at.date()) == "done"
    assert Patient.objects.count() == 1
    run.refresh_from_db()
    assert bytes(run.content) == b""  # the caseload's details are not kept once read
    assert run.result["created"]["patients"] == 1


def test_a_failing_import_says_so_instead_of_polling_for_ever(sheet_staff, doctor, monkeypatch):
    run = ImportRun.objects.create(owner=doctor, file_name="c.csv", content=sample_lines(2), commit=False)

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("imports.runs.caseload_import_file", broken)
    assert import_run_execute(run.pk, today=run.created_at.date()) == "failed"
    run.refresh_from_db()
    assert (run.status, run.failure) == ("failed", FAILED_MESSAGE)


def test_an_unreachable_queue_fails_the_run_with_a_message(
    client_as, sheet_staff, nurse, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("alerts.jobs.task_enqueue", lambda *args, **kwargs: False)
    response = post_sheet(client_as(nurse), sample_lines(2), django_capture_on_commit_callbacks)
    run = ImportRun.objects.get()
    assert (run.status, run.failure) == ("failed", QUEUE_DOWN_MESSAGE)
    assert QUEUE_DOWN_MESSAGE in client_as(nurse).get(response["Location"]).content.decode()


def test_a_run_is_its_owners(client_as, sheet_staff, nurse, doctor):
    run = ImportRun.objects.create(owner=nurse, file_name="c.csv", content=b"", commit=False)
    assert client_as(doctor).get(run.get_absolute_url()).status_code == 404
    assert client_as(doctor).get(f"{reverse('imports:errors_csv')}?run={run.pk}").status_code == 404
    assert client_as(nurse).get(f"{reverse('imports:run')}?run=abc").status_code == 404
    # Without ?run= the result page shows the user's latest run, or sends them to the upload.
    assert client_as(doctor).get(reverse("imports:run"))["Location"] == reverse("imports:caseload")


@pytest.mark.parametrize("role", ["administrator", "physical_therapist", "neurosurgeon", "outsider"])
def test_the_pages_refuse_every_other_role(client_as, personas, role):
    client = client_as(personas[role])
    for name in ("caseload", "run", "progress", "errors_csv", "reconciliation_csv", "template_csv"):
        assert client.get(reverse(f"imports:{name}")).status_code == 403, name
    assert client.post(reverse("imports:caseload"), {"file": SimpleUploadedFile("c.csv", b"mrn\n")}).status_code == 403
    assert not ImportRun.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("imports:caseload"))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        ("rehab_doctor", True),
        ("pump_nurse", True),
        ("administrator", False),  # the import carries clinical values: 403 for administrators
        ("physical_therapist", False),
        ("neurosurgeon", False),
    ],
)
def test_the_home_page_links_to_the_import_for_doctors_and_nurses_only(client_as, personas, role, shown):
    # The import left the main navigation (six items at most): it is one click from home.
    html = client_as(personas[role]).get(reverse("home")).content.decode()
    link = f'href="{reverse("imports:caseload")}" data-shortcut="import-caseload"'
    assert (link in html) is shown
    # The link is shown exactly where the page answers.
    assert client_as(personas[role]).get(reverse("imports:caseload")).status_code == (200 if shown else 403)
