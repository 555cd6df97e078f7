"""Acknowledging and snoozing alerts: on pages and through the API, audited, by the right roles."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from alerts.models import Alert
from alerts.services import alert_acknowledge, alert_scan, alert_snooze, system_user
from spasticity.timeutil import clinic_today

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(pump_of) -> Alert:
    pump = pump_of()
    alert_scan(as_of=dt.date(2024, 6, 10), by=system_user())
    return Alert.objects.get(pump=pump)


def tomorrow() -> str:
    return (clinic_today() + dt.timedelta(days=1)).isoformat()


def test_acknowledging_keeps_the_alert_actionable_and_names_who_took_it_on(alert, nurse):
    alert_acknowledge(alert, by=nurse, note="Calling the family")
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", nurse)
    assert alert.is_actionable
    latest = alert.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (nurse, "Calling the family")


def test_a_snooze_needs_a_reason_and_an_expiry_after_today(alert, nurse):
    today = dt.date(2024, 6, 10)
    with pytest.raises(ValidationError) as error:
        alert_snooze(alert, by=nurse, until=today, reason=" ", today=today)
    assert set(error.value.message_dict) == {"snoozed_until", "snooze_reason"}
    assert "after today (2024-06-10)" in error.value.message_dict["snoozed_until"][0]
    assert Alert.objects.get(pk=alert.pk).status == "open"


def test_a_stale_acknowledge_is_refused(alert, nurse, doctor):
    stale_version = alert.version
    alert_acknowledge(alert, by=doctor)
    with pytest.raises(ValidationError, match="Someone else saved"):
        alert_acknowledge(alert, by=nurse, expected_version=stale_version)


def test_a_nurse_acknowledges_from_the_page_and_the_history_page_names_her(alert, client_as, nurse):
    client = client_as(nurse)
    response = client.post(reverse("alerts:acknowledge", args=[alert.pk]), {"version": alert.version})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    history = client.get(reverse("record_history", args=["alerts.alert", alert.pk])).content.decode()
    # By full name (issue 14, point 6), the alert scan's account too.
    assert "Nia Nash" in history and "ITB alert scan (system)" in history


def test_a_nurse_snoozes_from_the_page_with_field_errors_for_bad_input(alert, client_as, nurse):
    client = client_as(nurse)
    url = reverse("alerts:snooze", args=[alert.pk])
    today = clinic_today().isoformat()
    not_after_today = client.post(url, {"version": alert.version, "snoozed_until": today, "snooze_reason": "Booked"})
    assert not_after_today.status_code == 400
    assert f"The snooze must end after today ({today})" in not_after_today.content.decode()
    no_reason = client.post(url, {"version": alert.version, "snoozed_until": tomorrow(), "snooze_reason": ""})
    assert no_reason.status_code == 400 and "This field is required" in no_reason.content.decode()
    assert Alert.objects.get(pk=alert.pk).status == "open"

    good = client.post(url, {"version": alert.version, "snoozed_until": tomorrow(), "snooze_reason": "Refill booked"})
    assert good.status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.snooze_reason, alert.snoozed_by) == ("snoozed", "Refill booked", nurse)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("rehab_doctor", True),
        ("pump_nurse", True),
        ("administrator", True),
        ("physical_therapist", False),
        ("neurosurgeon", False),
    ],
)
def test_only_doctors_nurses_and_administrators_handle_alerts_on_the_pages(alert, client_as, personas, role, allowed):
    client = client_as(personas[role])
    ack = client.post(reverse("alerts:acknowledge", args=[alert.pk]), {"version": alert.version})
    assert ack.status_code == (302 if allowed else 403)
    snooze = client.get(reverse("alerts:snooze", args=[alert.pk]))
    assert snooze.status_code == (200 if allowed else 403)
    # Every role reads the alert.
    assert client.get(reverse("alerts:detail", args=[alert.pk])).status_code == 200


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("pump_nurse", 200),
        ("administrator", 200),
        ("physical_therapist", 403),
        ("neurosurgeon", 403),
        ("outsider", 403),
    ],
)
def test_the_api_acknowledge_is_for_the_alert_handling_roles(alert, api_as, personas, role, status):
    response = api_as(personas[role]).post(
        f"/api/v1/alerts/{alert.pk}/acknowledge/", {"version": alert.version}, format="json"
    )
    assert response.status_code == status
    if status == 200:
        assert response.json()["status"] == "acknowledged"
        assert response.json()["acknowledged_by"] == personas[role].username


def test_the_api_lists_alerts_filtered_by_patient_and_pump(alert, pump_of, api_as, therapist):
    other = pump_of()
    alert_scan(as_of=dt.date(2024, 6, 16), by=system_user())
    client = api_as(therapist)
    everything = client.get("/api/v1/alerts/").json()
    assert everything["count"] == 3  # past alarm for both, overdue resolved
    body = client.get(f"/api/v1/alerts/?patient={other.patient_id}").json()
    assert [(a["kind"], a["pump"], a["patient"], a["status"], a["due_on"]) for a in body["results"]] == [
        ("past_alarm_date", other.pk, other.patient_id, "open", "2024-06-15")
    ]
    by_pump = client.get(f"/api/v1/alerts/?pump={alert.pump_id}&status=resolved").json()
    assert [a["kind"] for a in by_pump["results"]] == ["refill_overdue"]


def test_the_api_snooze_validates_and_records(alert, api_as, nurse):
    client = api_as(nurse)
    bad = client.post(
        f"/api/v1/alerts/{alert.pk}/snooze/", {"snoozed_until": "2020-01-01", "reason": "x"}, format="json"
    )
    assert bad.status_code == 400 and "snoozed_until" in bad.json()
    missing = client.post(f"/api/v1/alerts/{alert.pk}/snooze/", {"snoozed_until": tomorrow()}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()

    ok = client.post(
        f"/api/v1/alerts/{alert.pk}/snooze/",
        {"snoozed_until": tomorrow(), "reason": "Booked", "version": alert.version},
        format="json",
    )
    assert ok.status_code == 200
    assert (ok.json()["status"], ok.json()["snoozed_until"]) == ("snoozed", tomorrow())
    stale = client.post(
        f"/api/v1/alerts/{alert.pk}/snooze/",
        {"snoozed_until": tomorrow(), "reason": "Again", "version": alert.version},
        format="json",
    )
    assert stale.status_code == 409
    history = client.get(f"/api/v1/alerts/{alert.pk}/history/").json()
    assert [h["history_user"] for h in history] == ["nurse_nash", "itb-system"]


def test_anonymous_api_requests_are_refused(alert, client):
    assert client.get("/api/v1/alerts/").status_code in (401, 403)
    assert client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code in (401, 403)
