"""Alerts are never voided (spec section 3, "Corrections"): the scan owns them and resolves them
when they no longer apply. Neither the generic void page nor the API voids one."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from alerts.models import Alert
from alerts.services import alert_scan, system_user
from spasticity.audit import void_record

pytestmark = pytest.mark.django_db

REFUSAL = "Alerts are never voided: the scan resolves them when they no longer apply."


@pytest.fixture
def alert(pump_of) -> Alert:
    pump = pump_of()
    alert_scan(as_of=dt.date(2024, 6, 16), by=system_user())
    return Alert.objects.get(pump=pump, kind="past_alarm_date")


def assert_untouched(alert: Alert) -> None:
    fresh = Alert.objects.get(pk=alert.pk)
    assert (fresh.voided_at, fresh.voided_by, fresh.void_reason, fresh.version) == (None, None, "", 1)
    assert fresh.status == "open" and fresh.history.count() == 1
    assert Alert.objects.unresolved().filter(pk=alert.pk).exists()


def test_voiding_an_alert_is_refused_and_nothing_is_saved(alert, nurse):
    with pytest.raises(ValidationError) as error:
        void_record(alert, by=nurse, reason="Raised by mistake")
    assert error.value.messages == [REFUSAL]
    assert_untouched(alert)


@pytest.mark.parametrize("role", ["pump_nurse", "administrator", "rehab_doctor"])
def test_the_void_page_refuses_an_alert_with_the_reason(alert, client_as, personas, role):
    detail = reverse("alerts:detail", args=[alert.pk])
    response = client_as(personas[role]).post(
        reverse("record_void", args=["alerts.alert", alert.pk]),
        {"reason": "Raised by mistake", "next": detail},
        follow=True,
    )
    assert response.redirect_chain == [(detail, 302)]
    assert REFUSAL in response.content.decode()
    assert "voided." not in response.content.decode()
    assert_untouched(alert)


def test_the_api_has_no_void_action_for_alerts(alert, api_as, nurse):
    response = api_as(nurse).post(
        f"/api/v1/alerts/{alert.pk}/void/", {"reason": "Raised by mistake", "version": alert.version}, format="json"
    )
    assert response.status_code in (404, 405)
    assert_untouched(alert)


def test_the_api_still_offers_only_acknowledge_snooze_and_history(api_as, nurse):
    schema = api_as(nurse).get(reverse("api_schema"), {"format": "json"})
    assert schema.status_code == 200
    alert_paths = {path for path in schema.json()["paths"] if path.startswith("/api/v1/alerts/")}
    assert alert_paths == {
        "/api/v1/alerts/",
        "/api/v1/alerts/{id}/",
        "/api/v1/alerts/{id}/acknowledge/",
        "/api/v1/alerts/{id}/history/",
        "/api/v1/alerts/{id}/snooze/",
    }
