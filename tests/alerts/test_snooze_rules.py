"""Snoozing has limits (spec "Alerts and jobs"): a pump past its alarm date is a withdrawal risk
and is never snoozed, only acknowledged with a note; other alerts wait at most
``CLINIC["MAX_SNOOZE_DAYS"]`` days. The rules live in the services; the page and the API reach them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from alerts.models import Alert
from alerts.selectors import worklist
from alerts.services import alert_acknowledge, alert_scan, alert_snooze, system_user
from spasticity.timeutil import clinic_today
from tests.factories import RefillFactory

pytestmark = pytest.mark.django_db

PAST_ALARM_ON = dt.date(2024, 6, 16)  # the worked example's alarm date is 2024-06-15
OVERDUE_ON = dt.date(2024, 6, 10)  # refill due 2024-06-08, alarm still ahead


@pytest.fixture
def past_alarm(pump_of) -> Alert:
    pump = pump_of()
    alert_scan(as_of=PAST_ALARM_ON, by=system_user())
    return Alert.objects.get(pump=pump, kind="past_alarm_date")


@pytest.fixture
def overdue(pump_of) -> Alert:
    pump = pump_of()
    alert_scan(as_of=OVERDUE_ON, by=system_user())
    return Alert.objects.get(pump=pump, kind="refill_overdue")


def days_from_today(days: int) -> dt.date:
    return clinic_today() + dt.timedelta(days=days)


# --------------------------------------------------------------------------
# The services
# --------------------------------------------------------------------------


@pytest.mark.parametrize("until", [dt.date(2024, 6, 17), dt.date(9999, 12, 31)])
def test_a_pump_past_its_alarm_date_cannot_be_snoozed_even_for_a_day(past_alarm, nurse, until):
    with pytest.raises(ValidationError) as error:
        alert_snooze(past_alarm, by=nurse, until=until, reason="Family on holiday", today=PAST_ALARM_ON)

    assert list(error.value.message_dict) == ["snoozed_until"]
    assert "cannot be snoozed" in error.value.message_dict["snoozed_until"][0]
    past_alarm.refresh_from_db()
    assert (past_alarm.status, past_alarm.snoozed_until, past_alarm.version) == ("open", None, 1)


def test_other_alerts_are_snoozed_for_at_most_thirty_days(overdue, nurse):
    assert alert_snooze(overdue, by=nurse, until=dt.date(2024, 7, 10), reason="Refill booked", today=OVERDUE_ON)
    overdue.refresh_from_db()
    assert (overdue.status, overdue.snoozed_until) == ("snoozed", dt.date(2024, 7, 10))

    with pytest.raises(ValidationError) as error:
        alert_snooze(overdue, by=nurse, until=dt.date(2024, 7, 11), reason="Refill booked", today=OVERDUE_ON)
    [message] = error.value.message_dict["snoozed_until"]
    assert "at most 30 days" in message and "2024-07-10" in message
    assert Alert.objects.get(pk=overdue.pk).snoozed_until == dt.date(2024, 7, 10)


def test_the_snooze_limit_is_the_clinic_setting(overdue, nurse, settings):
    settings.CLINIC = {**settings.CLINIC, "MAX_SNOOZE_DAYS": 7}
    with pytest.raises(ValidationError, match="at most 7 days"):
        alert_snooze(overdue, by=nurse, until=dt.date(2024, 6, 18), reason="Booked", today=OVERDUE_ON)
    alert_snooze(overdue, by=nurse, until=dt.date(2024, 6, 17), reason="Booked", today=OVERDUE_ON)
    assert Alert.objects.get(pk=overdue.pk).status == "snoozed"


@pytest.mark.parametrize("note", ["", "   "])
def test_a_pump_past_its_alarm_date_is_acknowledged_only_with_a_note(past_alarm, nurse, note):
    with pytest.raises(ValidationError) as error:
        alert_acknowledge(past_alarm, by=nurse, note=note)
    assert list(error.value.message_dict) == ["note"]
    assert Alert.objects.get(pk=past_alarm.pk).status == "open"

    alert_acknowledge(past_alarm, by=nurse, note="Family called, refill today at 14:00")
    past_alarm.refresh_from_db()
    assert (past_alarm.status, past_alarm.acknowledged_by) == ("acknowledged", nurse)
    assert past_alarm.history.latest().history_change_reason == "Family called, refill today at 14:00"


def test_other_alerts_are_still_acknowledged_without_a_note(overdue, nurse):
    alert_acknowledge(overdue, by=nurse)
    assert Alert.objects.get(pk=overdue.pk).status == "acknowledged"


def test_an_acknowledged_past_alarm_alert_stays_on_the_worklist_until_the_refill_answers_it(past_alarm, nurse):
    alert_acknowledge(past_alarm, by=nurse, note="Refill booked for this afternoon")
    assert [a.pk for a in worklist(today=PAST_ALARM_ON, nurse_id=nurse.pk).alerts] == [past_alarm.pk]

    RefillFactory(pump=past_alarm.pump, by=nurse, refilled_on=PAST_ALARM_ON, aspirated_volume_ml=2, today=PAST_ALARM_ON)
    assert Alert.objects.get(pk=past_alarm.pk).status == "resolved"
    assert worklist(today=PAST_ALARM_ON, nurse_id=nurse.pk).alerts == []


@pytest.mark.parametrize("role", ["physical_therapist", "neurosurgeon", "outsider"])
def test_the_services_refuse_roles_that_do_not_handle_alerts(overdue, personas, role):
    user = personas[role]
    with pytest.raises(PermissionDenied):
        alert_snooze(overdue, by=user, until=dt.date(2024, 6, 12), reason="Booked", today=OVERDUE_ON)
    with pytest.raises(PermissionDenied):
        alert_acknowledge(overdue, by=user, note="Seen")
    overdue.refresh_from_db()
    assert (overdue.status, overdue.version) == ("open", 1)


# --------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["pump_nurse", "administrator"])
def test_the_api_refuses_to_snooze_a_pump_past_its_alarm_date(past_alarm, api_as, personas, role):
    response = api_as(personas[role]).post(
        f"/api/v1/alerts/{past_alarm.pk}/snooze/",
        {"snoozed_until": "9999-12-31", "reason": "Family away", "version": past_alarm.version},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["snoozed_until"]
    assert "cannot be snoozed" in response.json()["snoozed_until"][0]
    assert Alert.objects.get(pk=past_alarm.pk).status == "open"


def test_the_api_snoozes_other_alerts_for_at_most_thirty_days(overdue, api_as, nurse):
    client = api_as(nurse)
    url = f"/api/v1/alerts/{overdue.pk}/snooze/"
    too_long = client.post(url, {"snoozed_until": days_from_today(31).isoformat(), "reason": "Booked"}, format="json")
    assert too_long.status_code == 400
    assert "at most 30 days" in too_long.json()["snoozed_until"][0]
    assert days_from_today(30).isoformat() in too_long.json()["snoozed_until"][0]

    ok = client.post(url, {"snoozed_until": days_from_today(30).isoformat(), "reason": "Booked"}, format="json")
    assert ok.status_code == 200
    assert (ok.json()["status"], ok.json()["snoozed_until"]) == ("snoozed", days_from_today(30).isoformat())


def test_the_api_acknowledges_a_pump_past_its_alarm_date_only_with_a_note(past_alarm, api_as, nurse):
    client = api_as(nurse)
    url = f"/api/v1/alerts/{past_alarm.pk}/acknowledge/"
    without = client.post(url, {"version": past_alarm.version}, format="json")
    assert without.status_code == 400 and list(without.json()) == ["note"]
    assert Alert.objects.get(pk=past_alarm.pk).status == "open"

    ok = client.post(url, {"version": past_alarm.version, "note": "Family called"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "acknowledged"


@pytest.mark.parametrize("role", ["physical_therapist", "neurosurgeon", "outsider"])
def test_the_api_refuses_snooze_and_acknowledge_to_other_roles(overdue, api_as, personas, role):
    client = api_as(personas[role])
    snooze = client.post(
        f"/api/v1/alerts/{overdue.pk}/snooze/",
        {"snoozed_until": days_from_today(2).isoformat(), "reason": "Booked"},
        format="json",
    )
    ack = client.post(f"/api/v1/alerts/{overdue.pk}/acknowledge/", {"note": "Seen"}, format="json")
    assert (snooze.status_code, ack.status_code) == (403, 403)
    assert Alert.objects.get(pk=overdue.pk).status == "open"


# --------------------------------------------------------------------------
# The pages
# --------------------------------------------------------------------------


def test_the_pages_offer_no_snooze_for_a_pump_past_its_alarm_date(past_alarm, client_as, nurse):
    client = client_as(nurse)
    snooze_url = reverse("alerts:snooze", args=[past_alarm.pk])
    detail = client.get(reverse("alerts:detail", args=[past_alarm.pk])).content.decode()
    assert snooze_url not in detail
    assert 'name="note"' in detail and "required" in detail.split('name="note"')[1].split(">")[0]
    worklist_page = client.get(reverse("alerts:worklist")).content.decode()
    assert snooze_url not in worklist_page

    page = client.get(snooze_url)
    assert page.status_code == 200
    assert "cannot be snoozed" in page.content.decode() and 'name="snoozed_until"' not in page.content.decode()


def test_the_snooze_page_shows_the_service_refusal_for_a_pump_past_its_alarm_date(past_alarm, client_as, nurse):
    response = client_as(nurse).post(
        reverse("alerts:snooze", args=[past_alarm.pk]),
        {"version": past_alarm.version, "snoozed_until": "9999-12-31", "snooze_reason": "Family away"},
    )
    assert response.status_code == 400
    assert "cannot be snoozed" in response.context["form"].errors["snoozed_until"][0]
    assert "cannot be snoozed" in response.content.decode()
    assert Alert.objects.get(pk=past_alarm.pk).status == "open"


def test_the_snooze_page_offers_dates_up_to_the_limit_and_refuses_later_ones(overdue, client_as, nurse):
    client = client_as(nurse)
    url = reverse("alerts:snooze", args=[overdue.pk])
    latest = days_from_today(30).isoformat()
    assert f'max="{latest}"' in client.get(url).content.decode()
    assert f'max="{latest}"' in client.get(reverse("alerts:detail", args=[overdue.pk])).content.decode()

    too_long = client.post(
        url, {"version": overdue.version, "snoozed_until": days_from_today(31).isoformat(), "snooze_reason": "Booked"}
    )
    assert too_long.status_code == 400
    assert "at most 30 days" in too_long.context["form"].errors["snoozed_until"][0]
    ok = client.post(url, {"version": overdue.version, "snoozed_until": latest, "snooze_reason": "Booked"})
    assert ok.status_code == 302
    assert Alert.objects.get(pk=overdue.pk).snoozed_until == days_from_today(30)


def test_the_page_acknowledges_a_pump_past_its_alarm_date_only_with_a_note(past_alarm, client_as, nurse):
    client = client_as(nurse)
    url = reverse("alerts:acknowledge", args=[past_alarm.pk])
    without = client.post(url, {"version": past_alarm.version}, follow=True)
    assert "acknowledged with a note" in without.content.decode()
    assert Alert.objects.get(pk=past_alarm.pk).status == "open"

    client.post(url, {"version": past_alarm.version, "note": "Family called"})
    assert Alert.objects.get(pk=past_alarm.pk).status == "acknowledged"


@pytest.mark.parametrize("role", ["physical_therapist", "neurosurgeon", "outsider"])
def test_the_pages_refuse_snooze_and_acknowledge_to_other_roles(overdue, client_as, personas, role):
    client = client_as(personas[role])
    snooze = client.post(
        reverse("alerts:snooze", args=[overdue.pk]),
        {"version": overdue.version, "snoozed_until": days_from_today(2).isoformat(), "snooze_reason": "Booked"},
    )
    ack = client.post(reverse("alerts:acknowledge", args=[overdue.pk]), {"version": overdue.version})
    assert (snooze.status_code, ack.status_code) == (403, 403)
    assert Alert.objects.get(pk=overdue.pk).status == "open"
