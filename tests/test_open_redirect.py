"""No open redirect: every view that honours ``next`` stays on this site (issue 9).

Before the fix ``POST /void/pumps.refill/{id}/`` with ``next=https://evil.example/``
redirected there. Each view that takes a ``next`` is tried with hostile values; an
on-site ``next`` is still followed.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import RequestFactory
from django.urls import reverse

from alerts.models import Alert
from alerts.rules import URGENCY
from pumps.models import Refill
from spasticity.redirects import safe_next_url
from tests.factories import DEMO_PASSWORD, PumpFactory, UserFactory

pytestmark = pytest.mark.django_db

HOSTILE = [
    "https://evil.example/",
    "http://evil.example/login/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    " https://evil.example/",
    "https://testserver.evil.example/",
]
ON_SITE = "/patients/?page=2"


def assert_stays_on_site(response, expected: str) -> None:
    assert response.status_code == 302
    assert response["Location"] == expected, f"redirected to {response['Location']!r}"


@pytest.fixture
def refill(surgeon) -> Refill:
    return PumpFactory(by=surgeon).refills.get()


@pytest.fixture
def alert(surgeon) -> Alert:
    pump = PumpFactory(by=surgeon)
    return Alert.objects.create(
        kind="refill_due_soon",
        pump=pump,
        patient_id=pump.patient_id,
        due_on=dt.date(2024, 6, 8),
        urgency=URGENCY["refill_due_soon"],
        raised_on=dt.date(2024, 5, 25),
    )


# --- the helper every view uses -------------------------------------------------------


@pytest.mark.parametrize("target", HOSTILE)
def test_the_helper_refuses_every_off_site_target(target):
    request = RequestFactory().post("/anything/", {"next": target})
    assert safe_next_url(request, "/fallback/") == "/fallback/"


def test_the_helper_follows_an_on_site_target_from_the_form_or_the_query():
    assert safe_next_url(RequestFactory().post("/x/", {"next": ON_SITE}), "/fallback/") == ON_SITE
    assert safe_next_url(RequestFactory().get("/x/", {"next": ON_SITE}), "/fallback/") == ON_SITE
    assert safe_next_url(RequestFactory().post("/x/", {"next": "http://testserver/alerts/"}), "/") == (
        "http://testserver/alerts/"
    )


def test_an_https_page_never_sends_the_user_back_to_plain_http():
    request = RequestFactory().post("/x/", {"next": "http://testserver/alerts/"}, secure=True)
    assert safe_next_url(request, "/fallback/") == "/fallback/"


# --- voiding (the case) -------------------------------------------------------


@pytest.mark.parametrize("target", HOSTILE)
def test_voiding_a_refill_never_redirects_off_site(client_as, nurse, refill, target):
    url = reverse("record_void", args=["pumps.refill", refill.pk])
    response = client_as(nurse).post(url, {"reason": "Wrong volume typed", "next": target})
    assert_stays_on_site(response, "/")
    refill.refresh_from_db()
    assert refill.is_voided  # the void itself still happens


def test_a_refused_void_never_redirects_off_site_either(client_as, nurse, refill):
    url = reverse("record_void", args=["pumps.refill", refill.pk])
    response = client_as(nurse).post(url, {"reason": "", "next": "https://evil.example/"})
    assert_stays_on_site(response, "/")


def test_voiding_still_returns_to_the_on_site_page_it_came_from(client_as, nurse, refill):
    url = reverse("record_void", args=["pumps.refill", refill.pk])
    response = client_as(nurse).post(url, {"reason": "Wrong volume typed", "next": ON_SITE})
    assert_stays_on_site(response, ON_SITE)


# --- alerts and the dashboard's job buttons ---------------------------------------------


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/"])
def test_acknowledging_an_alert_never_redirects_off_site(client_as, nurse, alert, target):
    url = reverse("alerts:acknowledge", args=[alert.pk])
    response = client_as(nurse).post(url, {"version": alert.version, "note": "Called the family", "next": target})
    assert_stays_on_site(response, reverse("alerts:detail", args=[alert.pk]))
    assert Alert.objects.get(pk=alert.pk).status == "acknowledged"


def test_acknowledging_an_alert_returns_to_an_on_site_list(client_as, nurse, alert):
    url = reverse("alerts:acknowledge", args=[alert.pk])
    response = client_as(nurse).post(url, {"version": alert.version, "note": "", "next": "/alerts/?kind=x"})
    assert_stays_on_site(response, "/alerts/?kind=x")


def test_snoozing_an_alert_never_redirects_off_site_nor_carries_the_target_in_its_form(client_as, nurse, alert):
    url = reverse("alerts:snooze", args=[alert.pk])
    client = client_as(nurse)
    form_page = client.get(url, {"next": "https://evil.example/"})
    assert form_page.status_code == 200 and "evil.example" not in form_page.content.decode()
    until = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    body = {"version": alert.version, "snoozed_until": until, "snooze_reason": "Refill booked"}
    response = client.post(url, {**body, "next": "https://evil.example/"})
    assert_stays_on_site(response, reverse("alerts:detail", args=[alert.pk]))
    assert Alert.objects.get(pk=alert.pk).status == "snoozed"


@pytest.mark.parametrize("url_name", ["alerts:run_scan", "alerts:send_digest"])
def test_the_job_buttons_never_redirect_off_site(client_as, administrator, url_name, monkeypatch):
    monkeypatch.setattr("alerts.views.task_enqueue", lambda task, *a, **k: True)  # no broker needed here
    response = client_as(administrator).post(reverse(url_name), {"next": "https://evil.example/"})
    assert_stays_on_site(response, reverse("alerts:dashboard"))
    response = client_as(administrator).post(reverse(url_name), {"next": "/alerts/worklist/"})
    assert_stays_on_site(response, "/alerts/worklist/")


# --- signing in and out (Django's own views) --------------------------------------------


def test_signing_in_never_redirects_off_site(client):
    UserFactory(username="nia", role="pump_nurse")
    response = client.post(
        reverse("login"), {"username": "nia", "password": DEMO_PASSWORD, "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


def test_signing_out_never_redirects_off_site(client_as, nurse):
    response = client_as(nurse).post(reverse("logout"), {"next": "https://evil.example/"})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]
