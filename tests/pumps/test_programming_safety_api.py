"""Programming safety through the API (issue 13 points 1–5): the programmer's numbers,
concentration changes, the second check and its alerts, hard stops, pump running and observation.

The worked example: a 40 mL SynchroMed II implanted 2024-01-15, 500 mcg/day at 2000 mcg/mL,
alarm at 2 mL. A refill of 40 mL on 2024-03-15 projects its alarm 152 days later, on 2024-08-14.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from alerts import rules
from alerts.models import Alert
from alerts.services import alert_scan, system_user
from pumps.models import CheckStatus, DoseChange, Refill
from spasticity.timeutil import clinic_today
from tests.factories import PumpFactory, RefillFactory
from tests.pumps.test_pump_api import refill_body

pytestmark = pytest.mark.django_db

D = Decimal
ALARM_AFTER_REFILL = "2024-08-14"


def open_kinds(pump) -> set[str]:
    return set(Alert.objects.unresolved().filter(pump=pump).values_list("kind", flat=True))


def concentration_change(pump, **changes):
    """2000 → 500 mcg/mL at the refill: at 500 mcg/day, 0.25 → 1 mL/day."""
    return refill_body(pump, concentration_mcg_per_ml="500", **changes)


# --- 1. The programmer's numbers ---------------------------------------------------------


def test_a_programmer_alarm_date_five_days_off_is_a_400_naming_both_dates_and_the_causes(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = api_as(nurse)
    off = client.post("/api/v1/refills/", refill_body(pump, programmer_alarm_date="2024-08-19"), format="json")
    assert off.status_code == 400
    message = " ".join(off.json()["programmer_alarm_date"])
    assert "2024-08-19" in message and ALARM_AFTER_REFILL in message and "5 days" in message
    assert "concentration" in message and "alarm volume" in message and "dose change" in message
    assert Refill.objects.filter(pump=pump).count() == 1  # only the first fill
    matching = client.post(
        "/api/v1/refills/", refill_body(pump, programmer_alarm_date=ALARM_AFTER_REFILL), format="json"
    )
    assert matching.status_code == 201, matching.json()
    assert matching.json()["programmer_alarm_date"] == ALARM_AFTER_REFILL
    assert matching.json()["checked_against_programmer"] is True


def test_the_programmer_may_be_a_day_out_on_the_alarm_and_within_the_volume_and_dose_tolerances(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    body = refill_body(
        pump,
        programmer_alarm_date="2024-08-13",
        programmer_reservoir_volume_ml="39.9",
        programmer_daily_dose_mcg="502.5",  # 0.5% of 500
    )
    response = api_as(nurse).post("/api/v1/refills/", body, format="json")
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("programmer_reservoir_volume_ml", "39.8", "40 mL"),
        ("programmer_daily_dose_mcg", "503", "500 mcg/day"),
    ],
)
def test_a_programmer_volume_or_dose_out_of_tolerance_is_a_400_on_that_field(
    api_as, surgeon, nurse, field, value, expected
):
    pump = PumpFactory(by=surgeon)
    response = api_as(nurse).post("/api/v1/refills/", refill_body(pump, **{field: value}), format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert expected in response.json()[field][0] and value.rstrip("0").rstrip(".") in response.json()[field][0]


def test_a_dose_change_is_checked_against_the_volume_left_on_the_day(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    # 2024-03-15: 60 days at 0.25 mL/day used 15 mL of 40 → 25 mL left; 550 mcg/day from then.
    body = {"pump": pump.pk, "changed_on": "2024-03-15", "daily_dose_mcg": "550", "reason": "Titration"}
    client = api_as(nurse)
    wrong = client.post("/api/v1/dose-changes/", {**body, "programmer_reservoir_volume_ml": "40"}, format="json")
    assert wrong.status_code == 400 and "25 mL" in wrong.json()["programmer_reservoir_volume_ml"][0]
    right = client.post("/api/v1/dose-changes/", {**body, "programmer_reservoir_volume_ml": "25"}, format="json")
    assert right.status_code == 201, right.json()


def test_records_without_programmer_numbers_say_not_checked_and_the_clinic_can_require_them(
    api_as, surgeon, nurse, settings
):
    pump = PumpFactory(by=surgeon)
    client = api_as(nurse)
    unchecked = client.post("/api/v1/refills/", refill_body(pump), format="json")
    assert unchecked.json()["checked_against_programmer"] is False
    settings.CLINIC = {**settings.CLINIC, "REQUIRE_PROGRAMMER_CHECK": True}
    refused = client.post("/api/v1/refills/", refill_body(pump, refilled_on="2024-03-16"), format="json")
    assert refused.status_code == 400
    assert {"programmer_alarm_date", "programmer_reservoir_volume_ml", "programmer_daily_dose_mcg"} <= set(
        refused.json()
    )


# --- 2. Concentration change, pump running, observation ------------------------------


def test_a_concentration_change_without_reprogramming_confirmed_is_a_400_showing_both_ml_per_day(
    api_as, surgeon, nurse
):
    pump = PumpFactory(by=surgeon)
    response = api_as(nurse).post("/api/v1/refills/", concentration_change(pump), format="json")
    assert response.status_code == 400
    message = response.json()["concentration_reprogrammed_confirmed"][0]
    assert "2000 to 500 mcg/mL" in message and "1 mL/day" in message and "0.25 mL/day" in message
    assert Refill.objects.filter(pump=pump).count() == 1


def test_a_refill_must_confirm_the_pump_running_and_record_the_observation(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    body = refill_body(pump, pump_running_confirmed=False, observation_minutes=None)
    del body["observation_signs"]
    response = api_as(nurse).post("/api/v1/refills/", body, format="json")
    assert response.status_code == 400
    assert {"pump_running_confirmed", "observation_minutes", "observation_signs"} <= set(response.json())
    both = refill_body(pump, observation_signs=["none_observed", "drowsiness"])
    assert "observation_signs" in api_as(nurse).post("/api/v1/refills/", both, format="json").json()
    recorded = api_as(nurse).post(
        "/api/v1/refills/", refill_body(pump, observation_signs=["itching", "increased_spasticity"]), format="json"
    )
    assert recorded.status_code == 201, recorded.json()
    assert recorded.json()["observation_minutes"] == 15  # the clinic's default
    assert recorded.json()["observation_signs"] == ["itching", "increased_spasticity"]


# --- 3. The second check ----------------------------------------------------------------


def test_a_concentration_change_awaits_a_second_check_that_the_author_cannot_make_and_a_colleague_can(
    api_as, surgeon, nurse, doctor
):
    pump = PumpFactory(by=surgeon)
    created = api_as(nurse).post(
        "/api/v1/refills/", concentration_change(pump, concentration_reprogrammed_confirmed=True), format="json"
    )
    assert created.status_code == 201, created.json()
    refill = created.json()
    assert refill["check_status"] == "awaiting_second_check"
    url = f"/api/v1/refills/{refill['id']}/second-check/"
    own = api_as(nurse).post(url, {"agrees": True}, format="json")
    assert own.status_code == 403
    assert Refill.objects.get(pk=refill["id"]).check_status == CheckStatus.AWAITING_SECOND_CHECK
    checked = api_as(doctor).post(url, {"agrees": True, "note": "Programmer shows 500 mcg/mL"}, format="json")
    assert checked.status_code == 200, checked.json()
    body = checked.json()
    assert body["check_status"] == "checked" and body["second_checked_by"] == "dr_doyle"
    assert body["second_checked_at"] and body["second_check_note"] == "Programmer shows 500 mcg/mL"
    again = api_as(doctor).post(url, {"agrees": True}, format="json")
    assert again.status_code == 400  # checked once
    history = api_as(nurse).get(f"/api/v1/refills/{refill['id']}/history/").json()
    assert history[0]["history_user"] == "dr_doyle" and "Second check: agrees" in history[0]["history_change_reason"]


def test_a_refill_at_the_same_concentration_needs_no_second_check(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    refill = api_as(nurse).post("/api/v1/refills/", refill_body(pump), format="json").json()
    assert refill["check_status"] == "not_required"
    refused = api_as(nurse).post(f"/api/v1/refills/{refill['id']}/second-check/", {"agrees": True}, format="json")
    assert refused.status_code == 403  # the author; a colleague would get 400: nothing awaits


@pytest.mark.parametrize(
    ("dose", "status"),
    [("600", "not_required"), ("601", "awaiting_second_check"), ("390", "awaiting_second_check")],
)
def test_a_dose_change_above_20_percent_awaits_a_second_check(api_as, surgeon, nurse, dose, status):
    pump = PumpFactory(by=surgeon)
    body = {
        "pump": pump.pk,
        "changed_on": "2024-03-15",
        "daily_dose_mcg": dose,
        "confirmation_reason": "Tone much worse since the growth spurt",
    }
    response = api_as(nurse).post("/api/v1/dose-changes/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["check_status"] == status


def test_the_clinic_can_ask_a_second_check_of_every_record_or_of_none(api_as, surgeon, nurse, settings):
    pump = PumpFactory(by=surgeon)
    body = {"pump": pump.pk, "changed_on": "2024-03-15", "daily_dose_mcg": "510", "reason": "Small step"}
    settings.CLINIC = {**settings.CLINIC, "SECOND_CHECK": "always"}
    assert api_as(nurse).post("/api/v1/dose-changes/", body, format="json").json()["check_status"] == (
        "awaiting_second_check"
    )
    settings.CLINIC = {**settings.CLINIC, "SECOND_CHECK": "off"}
    refill = api_as(nurse).post(
        "/api/v1/refills/", concentration_change(pump, concentration_reprogrammed_confirmed=True), format="json"
    )
    assert refill.json()["check_status"] == "not_required"


@pytest.mark.parametrize("role", ["physical_therapist", "neurosurgeon", "administrator"])
def test_roles_that_do_not_program_pumps_cannot_second_check(api_as, personas, surgeon, nurse, role):
    pump = PumpFactory(by=surgeon)
    change = DoseChange.objects.get(
        pk=api_as(nurse)
        .post(
            "/api/v1/dose-changes/",
            {
                "pump": pump.pk,
                "changed_on": "2024-03-15",
                "daily_dose_mcg": "700",
                "confirmation_reason": "Severe spasms at night",
            },
            format="json",
        )
        .json()["id"]
    )
    response = api_as(personas[role]).post(
        f"/api/v1/dose-changes/{change.pk}/second-check/", {"agrees": True}, format="json"
    )
    assert response.status_code == 403
    change.refresh_from_db()
    assert change.check_status == CheckStatus.AWAITING_SECOND_CHECK


def test_a_doctor_can_check_a_nurses_dose_change_with_the_version_read(api_as, surgeon, nurse, doctor):
    pump = PumpFactory(by=surgeon)
    created = (
        api_as(nurse)
        .post(
            "/api/v1/dose-changes/",
            {
                "pump": pump.pk,
                "changed_on": "2024-03-15",
                "daily_dose_mcg": "700",
                "confirmation_reason": "Severe spasms at night",
            },
            format="json",
        )
        .json()
    )
    url = f"/api/v1/dose-changes/{created['id']}/second-check/"
    stale = api_as(doctor).post(url, {"agrees": True, "version": created["version"] - 1}, format="json")
    assert stale.status_code == 409
    fresh = api_as(doctor).post(url, {"agrees": True, "version": created["version"]}, format="json")
    assert fresh.status_code == 200 and fresh.json()["check_status"] == "checked"


def test_a_disagreeing_check_needs_a_note_and_raises_an_urgent_alert_answered_by_voiding(
    api_as, surgeon, nurse, doctor
):
    pump = PumpFactory(by=surgeon)
    refill = (
        api_as(nurse)
        .post("/api/v1/refills/", concentration_change(pump, concentration_reprogrammed_confirmed=True), format="json")
        .json()
    )
    url = f"/api/v1/refills/{refill['id']}/second-check/"
    silent = api_as(doctor).post(url, {"agrees": False}, format="json")
    assert silent.status_code == 400 and "note" in silent.json()
    disagreed = api_as(doctor).post(url, {"agrees": False, "note": "Programmer still at 2000 mcg/mL"}, format="json")
    assert disagreed.status_code == 200 and disagreed.json()["check_status"] == "disagreed"
    assert "second_check_disagreed" in open_kinds(pump)  # in the same transaction, not at 06:00
    alert = Alert.objects.unresolved().get(pump=pump, kind="second_check_disagreed")
    assert alert.due_on == dt.date(2024, 3, 15)
    assert alert.urgency == rules.URGENCY["second_check_disagreed"] < rules.URGENCY["refill_overdue"]  # urgent
    voided = api_as(nurse).post(
        f"/api/v1/refills/{refill['id']}/void/", {"reason": "Reprogrammed wrongly"}, format="json"
    )
    assert voided.status_code == 200
    assert "second_check_disagreed" not in open_kinds(pump)


def test_a_disagreement_is_answered_by_a_later_record_that_a_colleague_checked(api_as, surgeon, nurse, doctor):
    pump = PumpFactory(by=surgeon)
    first = (
        api_as(nurse)
        .post(
            "/api/v1/dose-changes/",
            {
                "pump": pump.pk,
                "changed_on": "2024-03-15",
                "daily_dose_mcg": "700",
                "confirmation_reason": "Severe spasms at night",
            },
            format="json",
        )
        .json()
    )
    api_as(doctor).post(
        f"/api/v1/dose-changes/{first['id']}/second-check/", {"agrees": False, "note": "Meant 600"}, format="json"
    )
    assert "second_check_disagreed" in open_kinds(pump)
    # 700 → 600 is a 14% step: it needs no check on its own, so it does not answer the dispute.
    small = (
        api_as(nurse)
        .post(
            "/api/v1/dose-changes/",
            {"pump": pump.pk, "changed_on": "2024-03-15", "daily_dose_mcg": "600"},
            format="json",
        )
        .json()
    )
    assert small["check_status"] == "not_required"
    assert "second_check_disagreed" in open_kinds(pump)
    corrected = (
        api_as(nurse)
        .post(
            "/api/v1/dose-changes/",
            {
                "pump": pump.pk,
                "changed_on": "2024-03-16",
                "daily_dose_mcg": "1100",
                "confirmation_reason": "Agreed with Dr Doyle today",
            },
            format="json",
        )
        .json()
    )
    assert corrected["check_status"] == "awaiting_second_check"
    api_as(doctor).post(f"/api/v1/dose-changes/{corrected['id']}/second-check/", {"agrees": True}, format="json")
    assert "second_check_disagreed" not in open_kinds(pump)


def test_an_unchecked_record_raises_second_check_missing_after_the_window(api_as, surgeon, nurse, doctor):
    today = clinic_today()
    pump = PumpFactory(by=surgeon, implanted_on=today - dt.timedelta(days=60))
    refill = RefillFactory(
        pump=pump,
        by=nurse,
        refilled_on=today,
        concentration_mcg_per_ml=D(500),
        concentration_reprogrammed_confirmed=True,
    )
    assert refill.check_status == CheckStatus.AWAITING_SECOND_CHECK
    # Recorded today with a 24-hour window: not missing tomorrow, missing the day after.
    alert_scan(as_of=today + dt.timedelta(days=1), by=system_user())
    assert "second_check_missing" not in open_kinds(pump)
    alert_scan(as_of=today + dt.timedelta(days=2), by=system_user())
    missing = Alert.objects.unresolved().get(pump=pump, kind="second_check_missing")
    assert missing.due_on == today
    assert alert_scan(as_of=today + dt.timedelta(days=2), by=system_user()).changes == 0  # a no-op when run twice
    api_as(doctor).post(f"/api/v1/refills/{refill.pk}/second-check/", {"agrees": True}, format="json")
    alert_scan(as_of=today + dt.timedelta(days=2), by=system_user())
    assert "second_check_missing" not in open_kinds(pump)


# --- 4. Hard stops -----------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["ok", "Agreed", "  fine     "])
def test_a_confirmation_reason_shorter_than_ten_characters_is_refused(api_as, surgeon, nurse, reason):
    pump = PumpFactory(by=surgeon)
    body = {"pump": pump.pk, "changed_on": "2024-03-15", "daily_dose_mcg": "1500", "confirmation_reason": reason}
    response = api_as(nurse).post("/api/v1/dose-changes/", body, format="json")
    assert response.status_code == 400
    assert "at least 10 characters" in response.json()["confirmation_reason"][0]
    assert DoseChange.objects.filter(pump=pump).count() == 1
