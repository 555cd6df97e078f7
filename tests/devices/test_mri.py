"""Issue 13, point 6: MRI scans of pumps and their follow-up.

A Prometra II is emptied before the scan (1.5 T only): the projection puts its reservoir at
0 mL from the scan day, so its alarm is that day and the refill alerts follow until the next
refill answers it. A SynchroMed II is interrogated after the scan to confirm its motor
restarted. Either follow-up missing the day after the scan raises ``mri_follow_up_missing``.

The pumps: 20 mL added on 2024-01-15 at 2000 mcg/mL, 500 mcg/day (0.25 mL/day): a Prometra's
3 mL alarm is reached on 2024-03-23 (68 days), a SynchroMed's 2 mL on 2024-03-27 (72).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from alerts.models import Alert, AlertStatus
from alerts.services import alert_scan, alerts_wanted, system_user
from devices.alert_source import _wanted
from devices.models import MriScan
from pumps.models import PumpModel
from pumps.projection import Emptying, emptied_after
from pumps.selectors import projection_drift
from tests.factories import PatientFactory, PumpFactory
from tests.pumps.test_pump_api import refill_body

pytestmark = pytest.mark.django_db

D = Decimal
SCAN_ON = dt.date(2024, 3, 1)
ALARM_BEFORE_SCAN = {"Prometra II": dt.date(2024, 3, 23), "SynchroMed II": dt.date(2024, 3, 27)}


def make_pump(surgeon, model_name="Prometra II"):
    alarm_ml = D("3.0") if model_name == "Prometra II" else D("2.0")
    return PumpFactory(
        by=surgeon,
        patient=PatientFactory(birth_date=dt.date(1990, 5, 1)),
        model=PumpModel.objects.get(model=model_name),
        reservoir_volume_ml=D("20"),
        low_reservoir_alarm_ml=alarm_ml,
        volume_added_ml=D("20"),
    )


def prometra_scan(pump, **changes):
    body = {
        "pump": pump.pk,
        "scanned_on": SCAN_ON.isoformat(),
        "field_strength_tesla": "1.5",
        "emptied_before_scan": True,
        "volume_removed_ml": "8.9",
        "field_strength_confirmed": True,
    }
    return {**body, **changes}


def synchromed_scan(pump, **changes):
    return {"pump": pump.pk, "scanned_on": SCAN_ON.isoformat(), "field_strength_tesla": "3.0", **changes}


def open_kinds(pump):
    return set(Alert.objects.filter(pump=pump, status=AlertStatus.OPEN).values_list("kind", flat=True))


def scan_on(day):
    alert_scan(as_of=day, by=system_user())


def test_a_prometra_emptied_for_an_mri_is_empty_from_that_day_until_its_refill(api_as, surgeon, nurse):
    pump = make_pump(surgeon)
    assert pump.alarm_date == ALARM_BEFORE_SCAN["Prometra II"]
    client = api_as(nurse)
    response = client.post("/api/v1/mri-scans/", prometra_scan(pump), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["procedure"], body["follow_up_due_on"], body["patient"]) == (
        "empty_before_refill_after",
        "2024-03-02",
        pump.patient_id,
    )
    pump.refresh_from_db()
    # Empty from the scan day: the alarm is that day, the refill due (alarm − 7 days) already past.
    assert (pump.alarm_date, pump.refill_due_on) == (SCAN_ON, dt.date(2024, 2, 23))
    assert projection_drift() == []  # verify_projections agrees with the stored columns

    scan_on(SCAN_ON)
    assert "mri_follow_up_missing" not in open_kinds(pump)  # within its 24 hours
    scan_on(SCAN_ON + dt.timedelta(days=1))
    assert {"past_alarm_date", "mri_follow_up_missing"} <= open_kinds(pump)

    # The refill after the scan (the same day, recorded after it) answers both.
    refill = client.post(
        "/api/v1/refills/",
        refill_body(pump, refilled_on=SCAN_ON.isoformat(), aspirated_volume_ml="0", volume_added_ml="20"),
        format="json",
    )
    assert refill.status_code == 201, refill.json()
    # Emptied since the previous fill: its residual says nothing about the delivery.
    assert refill.json()["delivery_flag"] == "none"
    pump.refresh_from_db()
    assert pump.alarm_date == dt.date(2024, 5, 8)  # 17 mL to the 3 mL alarm at 0.25 mL/day: 68 days
    scan_on(SCAN_ON + dt.timedelta(days=1))
    assert not {"past_alarm_date", "mri_follow_up_missing"} & open_kinds(pump)
    assert projection_drift() == []


def test_voiding_the_emptying_puts_the_fill_back(api_as, surgeon, nurse, doctor):
    pump = make_pump(surgeon)
    scan_id = api_as(nurse).post("/api/v1/mri-scans/", prometra_scan(pump), format="json").json()["id"]
    pump.refresh_from_db()
    assert pump.alarm_date == SCAN_ON
    voided = api_as(doctor).post(f"/api/v1/mri-scans/{scan_id}/void/", {"reason": "Wrong patient"}, format="json")
    assert voided.status_code == 200, voided.json()
    pump.refresh_from_db()
    assert pump.alarm_date == ALARM_BEFORE_SCAN["Prometra II"]
    scan_on(SCAN_ON + dt.timedelta(days=2))
    assert "mri_follow_up_missing" not in open_kinds(pump)
    history = api_as(nurse).get(f"/api/v1/mri-scans/{scan_id}/history/").json()
    assert history[0]["history_change_reason"] == "Voided: Wrong patient"
    assert history[-1]["history_user"] == nurse.username


def test_a_prometra_checklist_is_enforced(api_as, surgeon, nurse):
    pump = make_pump(surgeon)
    bad = prometra_scan(
        pump,
        emptied_before_scan=False,
        volume_removed_ml=None,
        field_strength_tesla="3.0",
        field_strength_confirmed=False,
    )
    response = api_as(nurse).post("/api/v1/mri-scans/", bad, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {
        "emptied_before_scan",
        "volume_removed_ml",
        "field_strength_tesla",
        "field_strength_confirmed",
    }
    assert "1.5 T only, not 3 T" in errors["field_strength_tesla"][0]
    assert not MriScan.objects.exists()


def test_a_synchromed_scan_is_followed_up_by_its_interrogation(api_as, surgeon, nurse):
    pump = make_pump(surgeon, "SynchroMed II")
    client = api_as(nurse)
    created = client.post("/api/v1/mri-scans/", synchromed_scan(pump), format="json")
    assert created.status_code == 201, created.json()
    scan = created.json()
    pump.refresh_from_db()
    assert pump.alarm_date == ALARM_BEFORE_SCAN["SynchroMed II"]  # a SynchroMed is not emptied
    emptied = client.post("/api/v1/mri-scans/", synchromed_scan(pump, emptied_before_scan=True), format="json")
    assert emptied.status_code == 400 and "emptied_before_scan" in emptied.json()

    scan_on(SCAN_ON + dt.timedelta(days=1))
    assert "mri_follow_up_missing" in open_kinds(pump)
    url = f"/api/v1/mri-scans/{scan['id']}/follow-up/"
    not_restarted = {"interrogated_after_scan": True, "motor_restart_confirmed": False, "version": scan["version"]}
    refused = client.post(url, not_restarted, format="json")
    assert refused.status_code == 400 and "pump failure" in refused.json()["motor_restart_confirmed"][0]
    stale = client.post(url, {**not_restarted, "motor_restart_confirmed": True, "version": 0}, format="json")
    assert stale.status_code == 409
    done = client.post(url, {**not_restarted, "motor_restart_confirmed": True, "note": "Rate OK"}, format="json")
    assert done.status_code == 200, done.json()
    assert done.json()["follow_up_recorded_by"] == nurse.username
    assert "mri_follow_up_missing" not in open_kinds(pump)  # the write refreshed the pump's alerts
    again = client.post(url, {**not_restarted, "motor_restart_confirmed": True, "version": done.json()["version"]})
    assert again.status_code == 400


def test_a_synchromed_interrogated_at_once_needs_no_later_follow_up(api_as, surgeon, nurse):
    pump = make_pump(surgeon, "SynchroMed II")
    body = synchromed_scan(pump, interrogated_after_scan=True, motor_restart_confirmed=True)
    assert api_as(nurse).post("/api/v1/mri-scans/", body, format="json").status_code == 201
    wanted = alerts_wanted(as_of=SCAN_ON + dt.timedelta(days=3))
    assert (pump.pk, "mri_follow_up_missing") not in wanted


@pytest.mark.parametrize("persona", ["therapist", "surgeon", "administrator"])
def test_only_doctors_and_nurses_record_mri_scans(api_as, request, surgeon, persona):
    pump = make_pump(surgeon)
    user = request.getfixturevalue(persona)
    response = api_as(user).post("/api/v1/mri-scans/", prometra_scan(pump), format="json")
    assert response.status_code == 403
    assert api_as(user).get(f"/api/v1/mri-scans/?pump={pump.pk}").status_code == 200  # everyone reads


def test_the_follow_up_is_missing_from_the_day_after_the_scan():
    assert _wanted({"devices_mri_awaiting_since": SCAN_ON}, SCAN_ON) == {}
    assert _wanted({"devices_mri_awaiting_since": SCAN_ON}, SCAN_ON + dt.timedelta(days=1)) == {
        "mri_follow_up_missing": SCAN_ON + dt.timedelta(days=1)
    }
    assert _wanted({"devices_mri_awaiting_since": None}, SCAN_ON + dt.timedelta(days=9)) == {}


def test_the_python_and_sql_rules_agree_on_a_same_day_refill(api_as, surgeon, nurse):
    """A refill recorded before the scan on the same day does not answer the emptying (both rules)."""
    pump = make_pump(surgeon)
    client = api_as(nurse)
    before = client.post(
        "/api/v1/refills/",
        refill_body(pump, refilled_on=SCAN_ON.isoformat(), aspirated_volume_ml="8.75", volume_added_ml="20"),
        format="json",
    )
    assert before.status_code == 201, before.json()
    assert client.post("/api/v1/mri-scans/", prometra_scan(pump), format="json").status_code == 201
    scan = MriScan.objects.get()
    pump.refresh_from_db()
    refill = pump.refills.get(refilled_on=SCAN_ON)
    assert emptied_after(Emptying(scan.scanned_on, scan.created_at), refill)
    assert pump.alarm_date == SCAN_ON
    assert (pump.pk, "mri_follow_up_missing") in alerts_wanted(as_of=SCAN_ON + dt.timedelta(days=1))


def test_the_mri_pages_record_a_scan_and_its_follow_up(client_as, surgeon, nurse, therapist):
    pump = make_pump(surgeon, "SynchroMed II")
    client = client_as(nurse)
    pump_page = client.get(f"/pumps/{pump.pk}/").content.decode()
    assert f"/devices/mri/new/{pump.pk}/" in pump_page and f"/devices/mri/pump/{pump.pk}/" in pump_page
    form = client.get(f"/devices/mri/new/{pump.pk}/").content.decode()
    assert "Interrogate the pump after the MRI" in form and "emptied_before_scan" not in form
    created = client.post(f"/devices/mri/new/{pump.pk}/", {"scanned_on": "2024-03-01", "field_strength_tesla": "3.0"})
    assert created.status_code == 302, created.content.decode()[:2000]
    scan = MriScan.objects.get()
    detail = client.get(created["Location"]).content.decode()
    assert "missing: due by 2024-03-02" in detail
    assert client_as(therapist).get(created["Location"]).status_code == 200
    assert client_as(therapist).get(f"/devices/mri/new/{pump.pk}/").status_code == 403
    follow_up = {"interrogated_after_scan": "on", "motor_restart_confirmed": "on", "version": scan.version}
    done = client.post(f"/devices/mri/{scan.pk}/follow-up/", follow_up)
    assert done.status_code == 302, done.content.decode()[:2000]
    scan.refresh_from_db()
    assert scan.follow_up_recorded_by == nurse
    listing = client.get(f"/devices/mri/pump/{pump.pk}/").content.decode()
    assert "recorded" in listing


def test_the_prometra_form_asks_for_the_emptying(client_as, surgeon, nurse):
    pump = make_pump(surgeon)
    url = f"/devices/mri/new/{pump.pk}/"
    assert "1.5 T only" in client_as(nurse).get(url).content.decode()
    refused = client_as(nurse).post(url, {"scanned_on": "2024-03-01", "field_strength_tesla": "3.0"})
    assert refused.status_code == 200
    page = refused.content.decode()
    assert "must be emptied before an MRI" in page and "1.5 T only, not 3 T" in page


def test_the_pump_page_shows_the_reservoir_emptied_for_the_mri(api_as, client_as, surgeon, nurse):
    pump = make_pump(surgeon)
    assert api_as(nurse).post("/api/v1/mri-scans/", prometra_scan(pump), format="json").status_code == 201
    page = client_as(nurse).get(f"/pumps/{pump.pk}/").content.decode()
    assert 'data-testid="alarm-date">2024-03-01<' in page
    assert 'data-testid="projected-volume">0 mL<' in page


def test_the_refill_and_dose_change_previews_see_the_emptying_as_the_saves_do(api_as, surgeon, nurse):
    """A preview shows what the save will store: after a Prometra was emptied for its MRI, a
    refill has no delivery check to show, and a dose change leaves the alarm on the scan day."""
    from pumps.models import Pump
    from pumps.services import FillDetails, ProgramDetails, dose_change_preview, refill_preview

    pump = make_pump(surgeon)
    assert api_as(nurse).post("/api/v1/mri-scans/", prometra_scan(pump), format="json").status_code == 201
    as_read_by_a_page = Pump.objects.select_related("model").get(pk=pump.pk)  # no emptying beside it

    fill = FillDetails(
        volume_added_ml=D("20"), drug="lioresal", concentration_mcg_per_ml=D("2000"), aspirated_volume_ml=D("0")
    )
    refill = refill_preview(pump=as_read_by_a_page, refilled_on=SCAN_ON, fill=fill).refill
    assert refill.delivery_flag == "none" and refill.expected_delivered_ml is None  # as the save (above)
    assert refill.alarm_date == dt.date(2024, 5, 8)

    program = ProgramDetails(daily_dose_mcg=D("520"))
    draft = dose_change_preview(pump=as_read_by_a_page, changed_on=SCAN_ON, program=program)
    assert draft.errors == {}
    # Still empty from the scan day: the new dose cannot move an alarm that has been reached.
    assert draft.dose_change.alarm_date == SCAN_ON
