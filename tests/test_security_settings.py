"""Production's transport, caching and database settings, checked as production runs them.

The walk requests every URL of the site and every API list and detail operation over HTTPS
(as behind Caddy) with DEBUG off and the HTTPS-only settings production computes
(``spasticity.security``), as an anonymous visitor and as each role.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from wsgiref.util import setup_testing_defaults

import psycopg
import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

import spasticity.settings as production_settings
from alerts.models import Alert
from alerts.services import alert_scan, system_user
from appointments.calendar import calendar_feed_issue
from appointments.models import Appointment
from appointments.services import appointment_book
from devices.models import SafetyNotice
from devices.services import MriChecklist, mri_record, safety_notice_acknowledge, safety_notice_save
from pumps.models import Surgery
from spasticity.roles import Role
from spasticity.security import HSTS_ONE_YEAR_S, secret_key, transport_settings
from tests.factories import (
    DEMO_PASSWORD,
    CaregiverFactory,
    DoseChangeFactory,
    GoalFactory,
    OralMedicineFactory,
    PumpFactory,
    ReferralFactory,
    RefillFactory,
    TrialFactory,
    UserFactory,
)

REPO = Path(__file__).resolve().parent.parent

# Open to anyone: signing in and out, the admin's own login page, the API's token endpoint, and a
# staff member's calendar feed (opened by its secret token, not a sign-in).
OPEN_URL_NAMES = {"login", "logout", "admin:login", "api_token", "calendar_feed"}
# Asked by a page's script (the keep-alive ping): a 401 for an anonymous request, not the login page.
SCRIPT_URL_NAMES = {"session_ping"}
# The API's description (not a record): open to any signed-in user, with or without a clinic role.
SIGNED_IN_URL_NAMES = {"api_schema", "api_docs"}

# Which record fills a ``<pk>``: the one named by the path segment just before it.
RECORD_BY_SEGMENT = {
    "patients": "patient",
    "caregivers": "caregiver",
    "medicines": "medicine",
    "referrals": "referral",
    "trials": "trial",
    "goals": "goal",
    "catalogue": "pump_model",
    "pump-models": "pump_model",
    "pumps": "pump",
    "dose-changes": "dose_change",
    "refills": "refill",
    "surgeries": "surgery",
    "alerts": "alert",
    "appointments": "appointment",
    "mri": "mri",
    "mri-scans": "mri",
    "safety-notices": "safety_notice",
    "safety-notice-pumps": "safety_notice_pump",
}
# ``history/<model_label>/<pk>/`` and ``void/<model_label>/<pk>/`` are walked for each of these.
AUDITED_RECORDS = (
    "patient",
    "referral",
    "trial",
    "goal",
    "pump",
    "dose_change",
    "refill",
    "surgery",
    "alert",
    "appointment",
    "mri",
    "safety_notice",
    "safety_notice_pump",
)

# A route's ``<int:pk>``, a regex's ``(?P<pk>...)``, or an unnamed regex group (django-simple-history's admin).
PARAMETER = re.compile(
    r"<(?:\w+:)?(?P<route>\w+)>"
    r"|\(\?P<(?P<regex>\w+)>(?P<body>(?:[^()]|\([^()]*\))*)\)"
    r"|\((?P<unnamed>[^?()][^()]*)\)"
)


# --- The walk: every URL pattern with real records in its parameters ---------------------


@pytest.fixture
def records(db: None) -> dict[str, Model]:
    """One record of every kind a URL names: a patient with a pump, refill, dose change, trial, goal and alert."""
    pump = PumpFactory()
    patient = pump.patient
    dose_change = DoseChangeFactory(pump=pump)
    refill = RefillFactory(pump=pump)
    alert_scan(as_of=dt.date(2024, 6, 10), by=system_user())
    nurse = UserFactory(role=Role.PUMP_NURSE)
    starts_at = timezone.now() + dt.timedelta(days=7)
    appointment = appointment_book(
        Appointment(patient=patient, kind="review", starts_at=starts_at), staff=[nurse], by=nurse
    )
    mri = mri_record(
        pump=pump,
        by=nurse,
        scanned_on=dt.date(2024, 6, 1),
        checklist=_mri_checklist_for(pump),
    )
    notice = safety_notice_save(
        SafetyNotice(
            title="Catheter access port advisory",
            issued_on=dt.date(2024, 5, 1),
            pump_model=pump.model,
            serial_numbers=[pump.serial_number],
            action_required="Inform the family and check the access port at the next refill.",
        ),
        by=nurse,
    )
    acknowledgement = safety_notice_acknowledge(
        notice, pump=pump, by=nurse, patient_informed_on=dt.date(2024, 5, 2), action_taken="Family informed by phone."
    )
    return {
        "mri": mri,
        "safety_notice": notice,
        "safety_notice_pump": acknowledgement,
        "appointment": appointment,
        # ``calendar/<token>.ics``: a real feed's token (the walk reads ``.pk``).
        "token": SimpleNamespace(pk=calendar_feed_issue(nurse, now=timezone.now())),
        "patient": patient,
        "caregiver": CaregiverFactory(patient=patient),
        "medicine": OralMedicineFactory(patient=patient),
        "referral": ReferralFactory(patient=patient),
        "trial": TrialFactory(patient=patient),
        "goal": GoalFactory(patient=patient),
        "pump_model": pump.model,
        "pump": pump,
        "dose_change": dose_change,
        "refill": refill,
        "surgery": Surgery.objects.get(pump=pump),
        "alert": Alert.objects.filter(pump=pump).earliest("pk"),
    }


def _mri_checklist_for(pump: Any) -> MriChecklist:
    """The checklist the pump's model asks for (Prometra: emptied at 1.5 T; SynchroMed: motor restarted)."""
    if pump.model.mri_procedure == "empty_before_refill_after":
        return MriChecklist(
            field_strength_tesla=Decimal("1.5"),
            emptied_before_scan=True,
            volume_removed_ml=Decimal("5"),
            field_strength_confirmed=True,
        )
    return MriChecklist(field_strength_tesla=Decimal("1.5"), interrogated_after_scan=True, motor_restart_confirmed=True)


def record_for(name: str, path_before: str, records: dict[str, Model]) -> Model:
    """``patient_pk`` names its record; a bare ``pk`` takes the record of the segment before it."""
    if name != "pk":
        return records[name.removesuffix("_pk")]
    segment = path_before.rstrip("/").rsplit("/", 1)[-1].lstrip("^")
    return records[RECORD_BY_SEGMENT[segment]]


def admin_value(name: str, body: str) -> str:
    """The admin's parameters: no persona is staff, so every admin URL is a redirect to its login."""
    if "|" in body:
        return body.split("|")[0]
    return "" if name == "url" else "1"


def fill(pattern: str, records: dict[str, Model]) -> list[str]:
    """The concrete paths of one URL pattern (several for ``<model_label>``).

    None for DRF's ``.json`` format-suffix variants, the one kind of pattern left out: they
    reach the same views as the paths without the suffix.
    """
    if "(?P<format>" in pattern or "<drf_format_suffix:format>" in pattern:
        return []
    if "<str:model_label>" in pattern:
        prefix = pattern.split("<", 1)[0]
        return [f"/{prefix}{records[key]._meta.label_lower}/{records[key].pk}/" for key in AUDITED_RECORDS]

    def value(match: re.Match[str]) -> str:
        name, body = match["route"] or match["regex"] or "", match["body"] or match["unnamed"] or ""
        if pattern.startswith("admin/"):
            return admin_value(name, body)
        return str(record_for(name, pattern[: match.start()], records).pk)

    path = PARAMETER.sub(value, pattern).replace("^", "").replace("$", "")
    return ["/" + path.lstrip("/")]


def walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    """Every URL pattern of the URLconf, recursively: (namespaced name, full pattern)."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            child_namespace = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), child_namespace)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name}", prefix + str(entry.pattern)


def site_paths(records: dict[str, Model]) -> Iterator[tuple[str, str]]:
    for name, pattern in walk(get_resolver().url_patterns):
        for path in fill(pattern, records):
            yield name, path


# --- Production's HTTPS-only settings and the headers every response must carry ----------


@pytest.fixture
def production_https(settings: Any) -> None:
    """DEBUG off and HTTPS only, as ``spasticity.settings`` computes them with no ALLOW_HTTP."""
    settings.DEBUG = False
    for name, value in transport_settings(debug=False, allow_http=False).items():
        setattr(settings, name, value)


def header_problems(response: Any) -> list[str]:
    expected = {
        "Strict-Transport-Security": lambda v: v == f"max-age={HSTS_ONE_YEAR_S}; includeSubDomains",
        "X-Content-Type-Options": lambda v: v == "nosniff",
        "Referrer-Policy": lambda v: v == "same-origin",
        "X-Frame-Options": lambda v: v in ("DENY", "SAMEORIGIN"),
        "Content-Security-Policy": lambda v: "default-src 'self'" in v,
        "Cache-Control": lambda v: "no-store" in v,
    }
    return [
        f"{header}: {response.get(header)!r}"
        for header, ok in expected.items()
        if not (response.has_header(header) and ok(response[header]))
    ]


def request_problems(client: Client, method: str, path: str, name: str, check: Callable[[Any], str]) -> list[str]:
    response = getattr(client, method)(path, secure=True)
    problems = [problem for problem in [check(response)] if problem] + header_problems(response)
    return [f"{method.upper()} {path} ({name}) {response.status_code}: {problem}" for problem in problems]


def anonymous_answer_problem(name: str, path: str) -> Callable[[Any], str]:
    """Anonymous: the sign-in page (redirect) or a 401/403; never a clinical page, never a 500."""

    def check(response: Any) -> str:
        if response.status_code >= 500:
            return "server error"
        if name in OPEN_URL_NAMES:
            return ""
        if path.startswith("/api/"):
            return "" if response.status_code in (401, 403) else "the API answered an anonymous request"
        if name in SCRIPT_URL_NAMES:
            return "" if response.status_code in (401, 405) else "answered an anonymous request"
        if response.status_code != 302 or "/login/" not in response["Location"]:
            return "not sent to the sign-in page"
        return ""

    return check


def signed_in_answer_problem(role: str, name: str, path: str) -> Callable[[Any], str]:
    """Signed in: no server error; a user with no clinic role sees nothing but the sign-in pages."""

    def check(response: Any) -> str:
        if response.status_code >= 500:
            return "server error"
        if response.status_code == 401:
            return "a signed-in user was treated as anonymous"
        if response.status_code == 404:
            return "not found: the walk did not reach the page with a real record"
        opened = response.status_code == 200 and not path.startswith(("/accounts/", "/admin/"))
        opened = opened and name not in SIGNED_IN_URL_NAMES
        return "a user with no clinic role opened it" if role == "outsider" and opened else ""

    return check


def test_the_walk_fills_every_parameter_with_a_real_record(records):
    paths = {path: name for name, path in site_paths(records)}
    pump, refill = records["pump"], records["refill"]
    assert paths[f"/pumps/{pump.pk}/refill/new/"] == "pumps:refill_create"
    assert paths[f"/pumps/refills/{refill.pk}/summary.pdf"] == "pumps:refill_summary_pdf"
    assert paths[f"/api/v1/refills/{refill.pk}/"] == "refill-detail"
    assert paths[f"/history/pumps.refill/{refill.pk}/"] == "record_history"
    assert paths[f"/api/v1/alerts/{records['alert'].pk}/"] == "alert-detail"
    assert paths["/api/v1/patients/"] == "patient-list"
    assert not [path for path in paths if re.search(r"[<>()\[\]^$]", path)]


def test_anonymous_requests_over_https_reach_no_record_and_carry_the_security_headers(production_https, records):
    client = Client()
    problems = []
    for name, path in site_paths(records):
        for method in ("get", "post"):
            problems += request_problems(client, method, path, name, anonymous_answer_problem(name, path))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "role", ["rehab_doctor", "pump_nurse", "physical_therapist", "neurosurgeon", "administrator", "outsider"]
)
def test_every_page_and_api_read_as_each_role_is_no_store_with_the_security_headers(
    production_https, records, personas, role
):
    client = Client()
    client.force_login(personas[role])
    problems = []
    for name, path in site_paths(records):
        problems += request_problems(client, "get", path, name, signed_in_answer_problem(role, name, path))
    assert not problems, "\n".join(problems)


def test_the_refill_summary_pdf_is_no_store(production_https, records, client_as, nurse):
    response = client_as(nurse).get(reverse("pumps:refill_summary_pdf", args=[records["refill"].pk]), secure=True)
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    assert "no-store" in response["Cache-Control"]


def test_the_overdue_refills_csv_is_no_store(production_https, records, client_as, administrator):
    response = client_as(administrator).get(reverse("reports:overdue_refills_csv"), secure=True)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "no-store" in response["Cache-Control"]


def test_an_api_answer_to_a_token_is_no_store(production_https, records, api_as, nurse):
    response = api_as(nurse).get("/api/v1/pumps/", secure=True)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_static_files_keep_their_cache(production_https, client_as, nurse):
    response = client_as(nurse).get("/static/css/clinic.css", secure=True)
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_the_session_and_csrf_cookies_are_secure(production_https, nurse):
    client = Client()
    login_page = client.get(reverse("login"), secure=True)
    assert login_page.status_code == 200
    assert login_page.cookies[django_settings.CSRF_COOKIE_NAME]["secure"]
    signed_in = client.post(reverse("login"), {"username": nurse.username, "password": DEMO_PASSWORD}, secure=True)
    assert signed_in.status_code == 302
    session_cookie = signed_in.cookies[django_settings.SESSION_COOKIE_NAME]
    assert session_cookie["secure"]
    assert session_cookie["httponly"]


def test_plain_http_is_redirected_to_https(production_https, db):
    response = Client().get("/patients/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/patients/"


def test_https_said_by_the_proxy_is_trusted(production_https, db):
    response = Client().get("/patients/", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 302
    assert "/login/" in response["Location"]
    assert response.has_header("Strict-Transport-Security")


# --- The switches: SECRET_KEY, DEBUG and ALLOW_HTTP ---------------------------------------

SHOW_SETTINGS = """
import django, json
django.setup()
from django.conf import settings as s
names = ["SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
         "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_PROXY_SSL_HEADER"]
shown = {name: getattr(s, name) for name in names}
shown["CONN_MAX_AGE"] = s.DATABASES["default"]["CONN_MAX_AGE"]
shown["CONN_HEALTH_CHECKS"] = s.DATABASES["default"]["CONN_HEALTH_CHECKS"]
print(json.dumps(shown))
"""


def load_production_settings(**environment: str) -> subprocess.CompletedProcess[str]:
    """Import ``spasticity.settings`` in a fresh interpreter with only the given variables set.

    The database is the demo's SQLite default (nothing connects). An empty SECRET_KEY stands
    for "unset" and also shadows any SECRET_KEY in a developer's .env file (read without overwriting).
    """
    clean = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "spasticity.settings", **environment}
    return subprocess.run(
        [sys.executable, "-c", SHOW_SETTINGS], env=clean, cwd=REPO, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("debug", [{"DEBUG": "false"}, {}], ids=["DEBUG=false", "DEBUG unset"])
def test_production_refuses_to_start_without_a_secret_key(debug):
    loaded = load_production_settings(SECRET_KEY="", **debug)
    assert loaded.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in loaded.stderr


@pytest.mark.skipif((REPO / ".env").exists(), reason="a .env file may set SECRET_KEY for this checkout")
def test_production_refuses_to_start_when_secret_key_is_absent_from_the_environment():
    loaded = load_production_settings(DEBUG="false")
    assert loaded.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in loaded.stderr


def test_production_starts_with_a_secret_key_https_only_and_health_checked_connections():
    loaded = load_production_settings(DEBUG="false", SECRET_KEY="a-long-random-production-key-0123456789")
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout) == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


def test_allow_http_turns_off_the_redirect_hsts_and_secure_cookies():
    loaded = load_production_settings(DEBUG="false", SECRET_KEY="a-long-random-key-0123456789", ALLOW_HTTP="true")
    assert loaded.returncode == 0, loaded.stderr
    shown = json.loads(loaded.stdout)
    assert (shown["SECURE_SSL_REDIRECT"], shown["SECURE_HSTS_SECONDS"]) == (False, 0)
    assert (shown["SESSION_COOKIE_SECURE"], shown["CSRF_COOKIE_SECURE"]) == (False, False)


def test_debug_starts_without_a_key_and_over_http():
    loaded = load_production_settings(DEBUG="true")
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["SECURE_SSL_REDIRECT"] is False


def test_the_key_rule_and_the_transport_rule_both_ways():
    with pytest.raises(ImproperlyConfigured):
        secret_key("", debug=False)
    assert secret_key("clinic-key", debug=False) == "clinic-key"
    assert secret_key("", debug=True)
    assert transport_settings(debug=False, allow_http=False)["SESSION_COOKIE_SECURE"] is True
    assert transport_settings(debug=False, allow_http=True)["SESSION_COOKIE_SECURE"] is False
    assert transport_settings(debug=True, allow_http=False)["SECURE_HSTS_SECONDS"] == 0


# --- PostgreSQL restart: the next request reconnects --------------------------------------


def serve(app: WSGIHandler, path: str, session_key: str) -> int:
    """One request as gunicorn's sync worker makes it: same thread, same kept connection."""
    environ: dict[str, Any] = {
        "PATH_INFO": path,
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_COOKIE": f"{django_settings.SESSION_COOKIE_NAME}={session_key}",
    }
    setup_testing_defaults(environ)
    statuses: list[str] = []
    body = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        b"".join(body)
    finally:
        body.close()  # sends request_finished, as gunicorn does
    return int(statuses[0].split()[0])


def terminate_other_connections() -> int:
    """What a PostgreSQL restart does to the app's kept connections, from a connection of our own."""
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"], port=db["PORT"], autocommit=True
    ) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("health_checks", "status_after_restart"),
    [(production_settings.DATABASES["default"]["CONN_HEALTH_CHECKS"], 200), (False, 500)],
    ids=["production (health checks on)", "health checks off"],
)
def test_after_a_database_restart_the_next_request_reconnects(monkeypatch, nurse, health_checks, status_after_restart):
    """The test client keeps its connection on purpose, so requests go through the real WSGI handler.

    With health checks off, the case shows the failure production had: the first request
    after the restart reuses the dead connection and ends in a 500.
    """
    monkeypatch.setitem(
        connection.settings_dict, "CONN_MAX_AGE", production_settings.DATABASES["default"]["CONN_MAX_AGE"]
    )
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", health_checks)
    connection.close()  # the next connection is opened with these settings
    signed_in = Client()
    signed_in.force_login(nurse)
    session_key = signed_in.cookies[django_settings.SESSION_COOKIE_NAME].value
    app = WSGIHandler()

    assert serve(app, "/patients/", session_key) == 200
    kept_backend = connection.connection.info.backend_pid
    assert terminate_other_connections() >= 1
    assert serve(app, "/patients/", session_key) == status_after_restart
    if health_checks:
        assert connection.connection.info.backend_pid != kept_backend
    connection.close()
