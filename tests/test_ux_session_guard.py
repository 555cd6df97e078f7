"""Self-saving pages never lose a keystroke (issue 14, point 1), server side: the keep-alive ping,
the absolute session limit, and the answers an htmx save gets once signed out or refused."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from spasticity.middleware import LAST_SEEN_KEY, LAST_SEEN_RESOLUTION_S, SIGNED_IN_KEY
from tests.factories import PumpFactory, TrialFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
CELL = {"muscle_group": "hip_adductors", "side": "left", "minutes_after_bolus": "0", "version": "0", "mas": "2"}


def age_session(client: Client, **seconds_ago: int) -> None:
    session = client.session
    now_s = int(time.time())
    for key, ago_s in seconds_ago.items():
        session[key] = now_s - ago_s
    session.save()


def test_the_ping_answers_204_with_the_current_form_token_while_signed_in(client_as, nurse):
    response = client_as(nurse).get(reverse("session_ping"))
    assert response.status_code == 204
    assert len(response["X-CSRFToken"]) == 64


def test_the_ping_answers_401_json_once_signed_out(client):
    response = client.get(reverse("session_ping"))
    assert response.status_code == 401
    assert response.json()["error"] == "signed_out"
    assert "Location" not in response


def test_a_ping_keeps_an_active_session_alive_past_the_idle_timeout(client_as, nurse):
    client = client_as(nurse)
    idle_limit_s = settings.SESSION_IDLE_TIMEOUT_MINUTES * 60
    # Pinged 2 minutes before the idle limit; without the ping it would end 3 minutes later.
    age_session(client, **{LAST_SEEN_KEY: idle_limit_s - 120})
    assert client.get(reverse("session_ping")).status_code == 204
    age_session(client, **{LAST_SEEN_KEY: 60})
    assert client.get(reverse("session_ping")).status_code == 204
    assert int(time.time()) - client.session[LAST_SEEN_KEY] < 5


def test_an_idle_session_answers_the_ping_with_401(client_as, nurse):
    client = client_as(nurse)
    age_session(client, **{LAST_SEEN_KEY: settings.SESSION_IDLE_TIMEOUT_MINUTES * 60 + 5})
    assert client.get(reverse("session_ping")).status_code == 401


def test_pings_never_keep_a_session_past_the_absolute_limit(client_as, nurse):
    client = client_as(nurse)
    absolute_limit_s = settings.SESSION_ABSOLUTE_LIMIT_HOURS * 60 * 60
    age_session(client, **{SIGNED_IN_KEY: absolute_limit_s - 60, LAST_SEEN_KEY: 30})
    assert client.get(reverse("session_ping")).status_code == 204
    age_session(client, **{SIGNED_IN_KEY: absolute_limit_s + 1, LAST_SEEN_KEY: 30})
    assert client.get(reverse("session_ping")).status_code == 401
    assert client.get(reverse("patients:list")).status_code == 302


def test_a_signed_out_htmx_save_gets_a_401_json_error_not_the_login_page(client, nurse):
    trial = TrialFactory()
    response = client.post(reverse("trials:cell", args=[trial.pk]), CELL, **HTMX)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": "signed_out",
        "detail": "Not saved: sign in again.",
        "login_url": reverse("login"),
    }
    assert "Location" not in response and "HX-Redirect" not in response
    assert trial.assessments.count() == 0


def test_an_idle_session_gets_the_401_on_its_next_htmx_save(client_as, nurse):
    trial = TrialFactory()
    client = client_as(nurse)
    age_session(client, **{LAST_SEEN_KEY: settings.SESSION_IDLE_TIMEOUT_MINUTES * 60 + 5})
    response = client.post(reverse("trials:cell", args=[trial.pk]), CELL, **HTMX)
    assert response.status_code == 401
    assert trial.assessments.count() == 0


def test_a_signed_out_page_request_is_still_sent_to_the_login_page(client):
    trial = TrialFactory()
    response = client.get(reverse("trials:detail", args=[trial.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_signed_in_htmx_save_still_saves(client_as, nurse):
    trial = TrialFactory()
    response = client_as(nurse).post(reverse("trials:cell", args=[trial.pk]), CELL, **HTMX)
    assert response.status_code == 200
    assert trial.assessments.get().mas == "2"


def test_an_htmx_save_with_a_stale_form_token_gets_a_403_the_page_understands(nurse):
    trial = TrialFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(nurse)
    response = client.post(reverse("trials:cell", args=[trial.pk]), CELL, HTTP_X_CSRFTOKEN="stale" * 8, **HTMX)
    assert response.status_code == 403
    assert response.json()["error"] == "csrf"
    assert trial.assessments.count() == 0


def test_a_form_with_a_stale_token_gets_a_styled_page_that_says_so(nurse):
    pump = PumpFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(nurse)
    page = reverse("pumps:refill_create", args=[pump.pk])
    response = client.post(page, {"csrfmiddlewaretoken": "stale" * 8}, HTTP_REFERER=f"http://testserver{page}")
    assert response.status_code == 403
    html = response.content.decode()
    assert "This page has expired" in html and "security token has expired" in html
    assert f'href="http://testserver{page}"' in html


def test_an_htmx_save_refused_by_role_says_which_role_in_json(client_as, therapist):
    pump = PumpFactory()
    response = client_as(therapist).post(reverse("pumps:refill_preview", args=[pump.pk]), {}, **HTMX)
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert detail.startswith("Not saved: To record a pump refill you need the role ")
    assert detail.endswith("Rehabilitation doctor or Pump nurse.")


def test_the_last_seen_time_is_written_at_most_once_a_minute(client_as, nurse):
    """Saving the session on every request cost every page an UPDATE and a commit."""
    client = client_as(nurse)
    client.get(reverse("patients:list"))
    first_seen = client.session[LAST_SEEN_KEY]
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("patients:list"))
    assert not [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "django_session"')]
    assert client.session[LAST_SEEN_KEY] == first_seen
    # A minute on, the next request writes it again.
    age_session(client, **{LAST_SEEN_KEY: LAST_SEEN_RESOLUTION_S})
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("patients:list"))
    assert [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "django_session"')]
    assert int(time.time()) - client.session[LAST_SEEN_KEY] < 5
