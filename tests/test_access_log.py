"""The access log: who opened which patient's record, when, from where, and how.

Each way into a record (page, API, PDF, CSV) writes one row with the reader; refused and
anonymous requests write none; administrators, and only they, read it per patient; the
daily purge deletes only rows past the retention window.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from access_log.apps import retention_check
from access_log.models import RecordAccess
from access_log.recording import client_address, record_access
from access_log.services import access_log_purge
from access_log.tasks import access_log_purge_task
from spasticity.celery import app
from tests.factories import (
    CaregiverFactory,
    DoseChangeFactory,
    PatientFactory,
    PumpFactory,
    RefillFactory,
    TrialFactory,
)

pytestmark = pytest.mark.django_db

CLINIC_PC = "10.20.30.40"
BROWSER = "Mozilla/5.0 (Windows NT 10.0) ClinicPC"


@pytest.fixture
def records(surgeon, nurse):
    """One patient with a pump (a dose change and a refill on it) and a trial."""
    patient = PatientFactory(given_name="Maya", family_name="Okafor")
    pump = PumpFactory(by=surgeon, patient=patient)
    return {
        "patient": patient,
        "pump": pump,
        "trial": TrialFactory(patient=patient),
        "dose_change": DoseChangeFactory(pump=pump, by=nurse),
        "refill": RefillFactory(pump=pump, by=nurse),
    }


def only_access() -> RecordAccess:
    accesses = list(RecordAccess.objects.all())
    assert len(accesses) == 1, accesses
    return accesses[0]


def access_inserts(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "access_log_recordaccess"')]


# --- Pages ---------------------------------------------------------------------------------

PAGES = {
    "patient": "patients:detail",
    "pump": "pumps:detail",
    "trial": "trials:detail",
    "dose_change": "pumps:dose_change_detail",
    "refill": "pumps:refill_detail",
}


@pytest.mark.parametrize("kind", PAGES)
def test_opening_a_record_page_logs_one_row_with_the_reader_the_patient_and_the_address(
    client_as, nurse, records, kind
):
    record, patient = records[kind], records["patient"]
    url = reverse(PAGES[kind], args=[record.pk])
    with CaptureQueriesContext(connection) as queries:
        response = client_as(nurse).get(url, REMOTE_ADDR=CLINIC_PC, HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 200
    assert len(access_inserts(queries)) == 1
    access = only_access()
    assert (access.user, access.patient, access.kind, access.object_id) == (nurse, patient, kind, record.pk)
    assert (access.channel, access.path, access.remote_addr, access.user_agent) == ("page", url, CLINIC_PC, BROWSER)
    assert timezone.now() - access.accessed_at < dt.timedelta(minutes=1)


def test_the_history_page_of_a_pump_is_logged_but_a_caregivers_is_not_a_logged_record(client_as, doctor, records):
    client = client_as(doctor)
    pump = records["pump"]
    assert client.get(reverse("record_history", args=["pumps.pump", pump.pk])).status_code == 200
    access = only_access()
    assert (access.kind, access.object_id, access.patient, access.channel) == (
        "pump",
        pump.pk,
        records["patient"],
        "page",
    )
    caregiver = CaregiverFactory(patient=records["patient"])
    assert client.get(reverse("record_history", args=["patients.caregiver", caregiver.pk])).status_code == 200
    assert RecordAccess.objects.count() == 1


def test_lists_and_edit_forms_are_not_logged(client_as, nurse, records):
    client = client_as(nurse)
    assert client.get(reverse("patients:list")).status_code == 200
    assert client.get(reverse("patients:update", args=[records["patient"].pk])).status_code == 200
    assert not RecordAccess.objects.exists()


def test_an_anonymous_visitor_is_sent_to_sign_in_and_nothing_is_logged(client, records):
    response = client.get(reverse("patients:detail", args=[records["patient"].pk]))
    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert not RecordAccess.objects.exists()


def test_a_signed_in_user_with_no_clinic_role_is_refused_and_nothing_is_logged(client_as, outsider, records):
    client = client_as(outsider)
    assert client.get(reverse("patients:detail", args=[records["patient"].pk])).status_code == 403
    assert client.get(reverse("pumps:emergency_card_pdf", args=[records["pump"].pk])).status_code == 403
    assert not RecordAccess.objects.exists()


def test_a_record_that_does_not_exist_logs_nothing(client_as, nurse):
    client = client_as(nurse)
    assert client.get(reverse("patients:detail", args=[999999])).status_code == 404
    assert client.get(reverse("pumps:refill_detail", args=[999999])).status_code == 404
    assert not RecordAccess.objects.exists()


# --- API -----------------------------------------------------------------------------------

API_RESOURCES = {
    "patient": "patients",
    "pump": "pumps",
    "trial": "trials",
    "dose_change": "dose-changes",
    "refill": "refills",
}


@pytest.mark.parametrize("kind", API_RESOURCES)
def test_an_api_read_of_one_record_logs_it_with_the_token_holder(api_as, therapist, records, kind):
    record = records[kind]
    url = f"/api/v1/{API_RESOURCES[kind]}/{record.pk}/"
    response = api_as(therapist).get(url, REMOTE_ADDR=CLINIC_PC)
    assert response.status_code == 200
    access = only_access()
    assert (access.user, access.patient, access.kind, access.object_id) == (
        therapist,
        records["patient"],
        kind,
        record.pk,
    )
    assert (access.channel, access.path, access.remote_addr) == ("api", url, CLINIC_PC)


def test_the_history_and_goal_attainment_actions_are_reads_of_the_record(api_as, doctor, records):
    api = api_as(doctor)
    patient, trial = records["patient"], records["trial"]
    assert api.get(f"/api/v1/trials/{trial.pk}/history/").status_code == 200
    assert api.get(f"/api/v1/patients/{patient.pk}/goal-attainment/").status_code == 200
    logged = list(RecordAccess.objects.order_by("pk").values_list("kind", "object_id", "patient_id", "channel"))
    assert logged == [("trial", trial.pk, patient.pk, "api"), ("patient", patient.pk, patient.pk, "api")]


def test_api_lists_and_writes_are_not_logged(api_as, doctor, records):
    api = api_as(doctor)
    patient = records["patient"]
    assert api.get("/api/v1/patients/").status_code == 200
    assert api.get(f"/api/v1/refills/?pump={records['pump'].pk}").status_code == 200
    body = {"given_name": "Maia", "version": patient.version}
    assert api.patch(f"/api/v1/patients/{patient.pk}/", body, format="json").status_code == 200
    assert not RecordAccess.objects.exists()


def test_anonymous_and_roleless_api_reads_are_refused_and_not_logged(api_as, outsider, records):
    from rest_framework.test import APIClient

    url = f"/api/v1/patients/{records['patient'].pk}/"
    assert APIClient().get(url).status_code in (401, 403)
    assert api_as(outsider).get(url).status_code == 403
    assert not RecordAccess.objects.exists()


# --- Printouts and CSV ---------------------------------------------------------------------

PRINTOUTS = {
    "pump": "pumps:emergency_card_pdf",
    "dose_change": "pumps:dose_change_summary_pdf",
    "refill": "pumps:refill_summary_pdf",
}


@pytest.mark.parametrize("kind", PRINTOUTS)
def test_downloading_a_printout_logs_it_as_a_pdf(client_as, nurse, records, kind):
    record = records[kind]
    response = client_as(nurse).get(reverse(PRINTOUTS[kind], args=[record.pk]), REMOTE_ADDR=CLINIC_PC)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    access = only_access()
    assert (access.user, access.patient, access.kind, access.object_id) == (
        nurse,
        records["patient"],
        kind,
        record.pk,
    )
    assert (access.channel, access.remote_addr) == ("pdf", CLINIC_PC)


@pytest.mark.parametrize("name", ["reports:overdue_refills_csv", "reports:battery_csv"])
def test_a_report_csv_download_logs_one_row_with_its_query_and_no_single_patient(client_as, administrator, name):
    PumpFactory.create_batch(3)
    url = reverse(name) + "?as_of=2024-06-20"
    response = client_as(administrator).get(url, REMOTE_ADDR=CLINIC_PC)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    access = only_access()
    assert (access.user, access.patient, access.kind, access.object_id) == (administrator, None, "report", None)
    assert (access.channel, access.path, access.remote_addr) == ("csv", url, CLINIC_PC)


def test_the_report_page_is_not_logged_but_the_api_report_is_as_api_or_csv(client_as, api_as, administrator):
    assert client_as(administrator).get(reverse("reports:overdue_refills")).status_code == 200
    assert not RecordAccess.objects.exists()
    api = api_as(administrator)
    assert api.get("/api/v1/reports/overdue-refills/?as_of=2024-06-20").status_code == 200
    assert api.get("/api/v1/reports/battery-end-of-life/?format=csv").status_code == 200
    logged = list(RecordAccess.objects.order_by("pk").values_list("kind", "channel", "path"))
    assert logged == [
        ("report", "api", "/api/v1/reports/overdue-refills/?as_of=2024-06-20"),
        ("report", "csv", "/api/v1/reports/battery-end-of-life/?format=csv"),
    ]


def test_a_refused_report_query_is_not_logged(client_as, api_as, administrator):
    assert client_as(administrator).get(reverse("reports:battery_csv"), {"as_of": "9999-12-31"}).status_code == 400
    assert api_as(administrator).get("/api/v1/reports/overdue-refills/?as_of=junk").status_code == 400
    assert not RecordAccess.objects.exists()


# --- Where a request came from -------------------------------------------------------------


def request_from(remote_addr: str, forwarded_for: str | None = None):
    headers = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/patients/1/", **headers)


def test_x_forwarded_for_is_ignored_unless_a_trusted_proxy_is_configured(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request_from("192.0.2.7", "203.0.113.9")) == "192.0.2.7"


def test_behind_one_trusted_proxy_the_address_it_saw_is_used_and_spoofed_hops_are_not(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client sent "1.2.3.4" itself; the proxy appended the address it really saw.
    assert client_address(request_from("172.18.0.5", "1.2.3.4, 203.0.113.9")) == "203.0.113.9"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(request_from("172.18.0.5", "1.2.3.4, 203.0.113.9, 172.18.0.9")) == "203.0.113.9"


def test_a_missing_or_malformed_address_is_stored_empty(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request_from("172.18.0.5", "")) == "172.18.0.5"
    assert client_address(request_from("172.18.0.5", "<script>")) is None
    assert client_address(request_from("")) is None
    assert client_address(request_from("2001:db8::1")) == "2001:db8::1"


def test_a_long_path_and_user_agent_are_cut_to_fit(nurse, records):
    request = RequestFactory().get("/patients/1/?q=" + "x" * 900, HTTP_USER_AGENT="A" * 1000)
    request.user = nurse
    access = record_access(request, patient_id=records["patient"].pk, kind="patient", object_id=1, channel="page")
    access.refresh_from_db()
    assert len(access.path) == 500 and len(access.user_agent) == 300


def test_record_access_ignores_an_anonymous_request(records):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/patients/1/")
    request.user = AnonymousUser()
    assert record_access(request, patient_id=records["patient"].pk, kind="patient", object_id=1, channel="page") is None
    assert not RecordAccess.objects.exists()


# --- Who has looked at this record (administrators) ----------------------------------------


def add_accesses(patient, user, count: int, *, start: dt.datetime, channel: str = "page") -> None:
    RecordAccess.objects.bulk_create(
        RecordAccess(
            user=user,
            patient=patient,
            kind="patient",
            object_id=patient.pk,
            channel=channel,
            path=f"/patients/{patient.pk}/",
            remote_addr=CLINIC_PC,
            accessed_at=start + dt.timedelta(minutes=n),
        )
        for n in range(count)
    )


def test_an_administrator_sees_who_looked_at_this_patient_newest_first(client_as, administrator, nurse, doctor):
    patient, other = PatientFactory(), PatientFactory()
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    add_accesses(patient, nurse, 1, start=start)
    add_accesses(patient, doctor, 1, start=start + dt.timedelta(hours=1), channel="api")
    add_accesses(other, nurse, 1, start=start)
    response = client_as(administrator).get(reverse("access_log:patient", args=[patient.pk]))
    assert response.status_code == 200
    assert [(a.user, a.channel) for a in response.context["page"]] == [(doctor, "api"), (nurse, "page")]
    html = response.content.decode()
    assert "Dana Doyle" in html and "Nia Nash" in html and CLINIC_PC in html
    assert html.index("Dana Doyle") < html.index("Nia Nash")
    # Reading the log is not an opening of the record.
    assert RecordAccess.objects.count() == 3


def test_the_patient_page_links_the_access_log_for_administrators_only(client_as, administrator, nurse):
    patient = PatientFactory()
    url = reverse("access_log:patient", args=[patient.pk])
    assert url in client_as(administrator).get(reverse("patients:detail", args=[patient.pk])).content.decode()
    assert url not in client_as(nurse).get(reverse("patients:detail", args=[patient.pk])).content.decode()


@pytest.mark.parametrize("role", ["rehab_doctor", "pump_nurse", "physical_therapist", "neurosurgeon", "outsider"])
def test_every_other_role_is_refused_the_access_log_and_its_csv(client_as, personas, role):
    patient = PatientFactory()
    add_accesses(patient, personas["rehab_doctor"], 1, start=timezone.now())
    client = client_as(personas[role])
    assert client.get(reverse("access_log:patient", args=[patient.pk])).status_code == 403
    assert client.get(reverse("access_log:patient_csv", args=[patient.pk])).status_code == 403


def test_an_anonymous_visitor_is_sent_to_sign_in_from_the_access_log(client):
    patient = PatientFactory()
    for name in ("access_log:patient", "access_log:patient_csv"):
        response = client.get(reverse(name, args=[patient.pk]))
        assert response.status_code == 302 and reverse("login") in response["Location"]


def test_the_access_log_page_makes_the_same_number_of_queries_for_3_and_120_rows(client_as, administrator, nurse):
    client = client_as(administrator)
    few, many = PatientFactory(), PatientFactory()
    add_accesses(few, nurse, 3, start=timezone.now() - dt.timedelta(days=1))
    add_accesses(many, nurse, 120, start=timezone.now() - dt.timedelta(days=1))

    def count(patient) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("access_log:patient", args=[patient.pk]))
        assert response.status_code == 200
        return len(queries), len(response.context["page"])

    (with_3, rows_3), (with_120, rows_120) = count(few), count(many)
    assert (rows_3, rows_120) == (3, 50)  # 50 a page
    # Session, user, roles (middleware, context processor, this page), permissions, patient, count, rows.
    assert with_3 == with_120 <= 15


def test_the_access_log_csv_lists_every_row_newest_first(client_as, administrator, nurse, doctor):
    patient = PatientFactory()
    RecordAccess.objects.create(
        user=nurse,
        patient=patient,
        kind="refill",
        object_id=41,
        channel="pdf",
        path="/pumps/refills/41/summary.pdf",
        remote_addr="10.0.0.8",
        user_agent="=HYPERLINK(evil)",
        accessed_at=dt.datetime(2026, 7, 1, 8, 30, tzinfo=dt.UTC),
    )
    add_accesses(patient, doctor, 60, start=dt.datetime(2026, 7, 2, 9, 0, tzinfo=dt.UTC), channel="api")
    response = client_as(administrator).get(reverse("access_log:patient_csv", args=[patient.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert f'filename="access-log-patient-{patient.pk}.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["When", "Username", "Name", "Record", "Record id", "Channel", "Path", "Address", "User agent"]
    assert len(rows) == 1 + 61  # every row, not one page
    assert rows[1][:3] == ["2026-07-02T10:59:00+01:00", "dr_doyle", "Dana Doyle"]  # clinic time (BST)
    # The user agent is the visitor's text: escaped so a spreadsheet does not run it.
    assert rows[-1] == [
        "2026-07-01T09:30:00+01:00",
        "nurse_nash",
        "Nia Nash",
        "refill",
        "41",
        "pdf",
        "/pumps/refills/41/summary.pdf",
        "10.0.0.8",
        "'=HYPERLINK(evil)",
    ]
    assert RecordAccess.objects.count() == 61  # the export is not logged either


def test_the_access_log_of_a_patient_that_does_not_exist_is_404(client_as, administrator):
    assert client_as(administrator).get(reverse("access_log:patient", args=[999999])).status_code == 404


# --- Retention -----------------------------------------------------------------------------


def test_the_purge_deletes_only_rows_older_than_the_retention_window_in_one_statement(settings, nurse):
    settings.ACCESS_LOG_RETENTION_DAYS = 30
    patient = PatientFactory()
    now = dt.datetime(2026, 12, 4, 3, 30, tzinfo=dt.UTC)
    add_accesses(patient, nurse, 1, start=now - dt.timedelta(days=30, seconds=1))  # just past the window
    add_accesses(patient, nurse, 1, start=now - dt.timedelta(days=400))
    add_accesses(patient, nurse, 1, start=now - dt.timedelta(days=30))  # exactly at the edge: kept
    add_accesses(patient, nurse, 1, start=now - dt.timedelta(days=1))
    with CaptureQueriesContext(connection) as queries:
        deleted = access_log_purge(now=now)
    assert deleted == 2
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["DELETE"]
    kept = sorted(RecordAccess.objects.values_list("accessed_at", flat=True))
    assert kept == [now - dt.timedelta(days=30), now - dt.timedelta(days=1)]
    assert access_log_purge(now=now) == 0  # safe to run twice


def test_the_default_retention_is_eight_years_and_the_job_runs_daily(settings, nurse):
    assert settings.ACCESS_LOG_RETENTION_DAYS == 2920
    patient = PatientFactory()
    add_accesses(patient, nurse, 1, start=timezone.now() - dt.timedelta(days=2921))
    add_accesses(patient, nurse, 1, start=timezone.now() - dt.timedelta(days=2919))
    assert access_log_purge_task() == 1
    assert RecordAccess.objects.count() == 1
    job = app.conf.beat_schedule["access-log-purge-daily"]
    assert job["task"] == access_log_purge_task.name == "access_log.purge"
    assert (job["schedule"].hour, job["schedule"].minute) == ({3}, {30})


@pytest.mark.parametrize("days", [0, -5, "30"])
def test_a_retention_of_less_than_a_day_is_refused_at_start_up(settings, days):
    settings.ACCESS_LOG_RETENTION_DAYS = days
    assert [error.id for error in retention_check()] == ["access_log.E001"]
    settings.ACCESS_LOG_RETENTION_DAYS = 1
    assert retention_check() == []


# --- The Django admin ----------------------------------------------------------------------


def test_the_admin_lists_the_log_read_only(client, nurse, records):
    RecordAccess.objects.create(user=nurse, patient=records["patient"], kind="patient", channel="page", path="/")
    superuser = User.objects.create_superuser("root_rita", "rita@clinic.example", "a-long-passphrase-1")
    client.force_login(superuser)
    access = RecordAccess.objects.get()
    assert client.get("/admin/access_log/recordaccess/").status_code == 200
    assert client.get("/admin/access_log/recordaccess/add/").status_code == 403
    assert client.post(f"/admin/access_log/recordaccess/{access.pk}/delete/", {"post": "yes"}).status_code == 403
    assert RecordAccess.objects.count() == 1


def test_the_migration_is_in_step_with_the_model():
    call_command("makemigrations", "access_log", "--check", "--dry-run", verbosity=0)
