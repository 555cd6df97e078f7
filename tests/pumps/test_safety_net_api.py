"""Issue 8, through the API as an integrating system would use it: no path lets a pump
silently leave the safety net or print a wrong date.

The worked example throughout (spec section 2): 40 mL added on 2024-01-15, alarm 2 mL,
500 mcg/day at 2000 mcg/mL → 0.25 mL/day, alarm 2024-06-15, due 2024-06-08; the
reservoir is projected empty 160 days after the fill, on 2024-06-23.
"""

from __future__ import annotations

import datetime as dt
import sys
import types
from decimal import Decimal

import pytest

from alerts.models import Alert
from alerts.services import alert_scan, system_user
from patients.models import Patient
from pumps.models import DoseChange, Pump, PumpModel, Refill, Surgery
from tests.factories import PatientFactory, PumpFactory, UserFactory
from tests.pumps.test_pump_api import implant_body, refill_body

pytestmark = pytest.mark.django_db

D = Decimal


def pump_json(client, pump):
    return client.get(f"/api/v1/pumps/{pump.pk}/").json()


def all_messages(response):
    return " ".join(message for messages in response.json().values() for message in messages)


def overdue_rows(client, as_of):
    response = client.get("/api/v1/reports/overdue-refills/", {"as_of": as_of})
    assert response.status_code == 200, response.content
    return response.json()["results"]


# --- Voiding a patient -------------------------------------------------------------


def test_a_patient_with_an_implanted_pump_cannot_be_voided_until_it_is_explanted(
    api_as, administrator, doctor, surgeon
):
    pump = PumpFactory(by=surgeon)
    admin = api_as(administrator)
    refused = api_as(doctor).post(f"/api/v1/patients/{pump.patient_id}/void/", {"reason": "Duplicate"}, format="json")
    assert refused.status_code == 400
    message = all_messages(refused)
    assert pump.serial_number in message and "implanted" in message and "explant" in message
    assert not Patient.objects.get(pk=pump.patient_id).is_voided
    # The pump is still watched: it is in the overdue report once past its alarm date.
    assert [row["serial_number"] for row in overdue_rows(admin, "2024-06-20")] == [pump.serial_number]

    explant = api_as(surgeon).post(f"/api/v1/pumps/{pump.pk}/explant/", {"performed_on": "2024-03-01"}, format="json")
    assert explant.status_code == 201, explant.json()
    voided = api_as(doctor).post(f"/api/v1/patients/{pump.patient_id}/void/", {"reason": "Duplicate"}, format="json")
    assert voided.status_code == 200, voided.json()


# --- Surgeries: explant, revision, and their voids --------------------------------------


def test_an_explant_through_the_api_returns_the_surgery_and_its_void_reimplants_the_pump(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = api_as(surgeon)
    response = client.post(
        f"/api/v1/pumps/{pump.pk}/explant/",
        {"performed_on": "2024-03-01", "complications": ["infection"], "notes": "Pocket infection"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    surgery = response.json()
    assert (surgery["kind"], surgery["performed_on"], surgery["pump"]) == ("explant", "2024-03-01", pump.pk)
    assert surgery["surgeon"] == surgeon.pk  # defaults to the acting neurosurgeon
    assert surgery["complications"] == ["infection"]
    after = pump_json(client, pump)
    assert (after["status"], after["explanted_on"], after["alarm_date"]) == ("explanted", "2024-03-01", None)

    listed = client.get("/api/v1/surgeries/", {"pump": pump.pk}).json()["results"]
    assert [s["kind"] for s in listed] == ["explant", "implant"]

    voided = client.post(f"/api/v1/surgeries/{surgery['id']}/void/", {"reason": "Wrong patient"}, format="json")
    assert voided.status_code == 200, voided.json()
    assert voided.json()["voided"] is True
    back = pump_json(client, pump)
    assert (back["status"], back["explanted_on"]) == ("active", None)
    assert (back["alarm_date"], back["refill_due_on"]) == ("2024-06-15", "2024-06-08")
    # It is in the safety net again: refills are accepted and the scan watches it.
    assert api_as(nurse).post("/api/v1/refills/", refill_body(pump), format="json").status_code == 201
    alert_scan(as_of=dt.date(2024, 8, 30), by=system_user())
    assert Alert.objects.filter(pump=pump, resolved_at__isnull=True).exists()


@pytest.mark.parametrize("role", ["pump_nurse", "administrator", "physical_therapist"])
def test_only_surgeons_and_rehab_doctors_explant_revise_or_void_a_surgery(api_as, personas, surgeon, role):
    pump = PumpFactory(by=surgeon)
    client = api_as(personas[role])
    explant = {"performed_on": "2024-03-01"}
    assert client.post(f"/api/v1/pumps/{pump.pk}/explant/", explant, format="json").status_code == 403
    revision = {"performed_on": "2024-03-01", "catheter_tip_level": "T8"}
    assert client.post(f"/api/v1/pumps/{pump.pk}/revise-catheter/", revision, format="json").status_code == 403
    implant = Surgery.objects.get(pump=pump)
    assert client.post(f"/api/v1/surgeries/{implant.pk}/void/", {"reason": "x"}, format="json").status_code == 403
    assert client.get("/api/v1/surgeries/", {"patient": pump.patient_id}).status_code == 200
    pump.refresh_from_db()
    assert pump.explanted_on is None and pump.catheter_tip_level == "T10"


def test_an_explant_surgeon_must_be_a_surgeon_or_rehab_doctor(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    body = {"performed_on": "2024-03-01", "surgeon": nurse.pk}
    response = api_as(surgeon).post(f"/api/v1/pumps/{pump.pk}/explant/", body, format="json")
    assert response.status_code == 400 and "surgeon" in response.json()
    pump.refresh_from_db()
    assert pump.explanted_on is None


def test_a_catheter_revision_changes_the_catheter_and_its_void_restores_it(api_as, surgeon):
    pump = PumpFactory(by=surgeon)
    client = api_as(surgeon)
    body = {"performed_on": "2024-03-01", "catheter_model": "8709SC", "catheter_tip_level": "T6"}
    response = client.post(f"/api/v1/pumps/{pump.pk}/revise-catheter/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["kind"] == "catheter_revision"
    pump.refresh_from_db()
    assert (pump.catheter_model, pump.catheter_tip_level) == ("8709SC", "T6")
    assert pump.explanted_on is None

    voided = client.post(f"/api/v1/surgeries/{response.json()['id']}/void/", {"reason": "Entered twice"}, format="json")
    assert voided.status_code == 200, voided.json()
    pump.refresh_from_db()
    assert (pump.catheter_model, pump.catheter_tip_level) == ("8781 Ascenda", "T10")


def test_voiding_an_implant_surgery_is_refused_with_what_to_do_first(api_as, surgeon):
    pump = PumpFactory(by=surgeon)
    implant = Surgery.objects.get(pump=pump)
    response = api_as(surgeon).post(f"/api/v1/surgeries/{implant.pk}/void/", {"reason": "x"}, format="json")
    assert response.status_code == 400
    assert "voiding the pump record" in all_messages(response)
    implant.refresh_from_db()
    assert not implant.is_voided


def test_voiding_a_replacements_new_pump_reimplants_the_old_one(api_as, surgeon):
    old = PumpFactory(by=surgeon, serial_number="OLD1")
    client = api_as(surgeon)
    body = {
        "model": old.model_id,
        "serial_number": "NEW1",
        "reservoir_volume_ml": "40",
        "performed_on": "2024-04-01",
        "first_fill": {
            "volume_added_ml": "40",
            "drug": "lioresal",
            "concentration_mcg_per_ml": "2000",
            "lot_number": "N",
        },
    }
    new = client.post(f"/api/v1/pumps/{old.pk}/replace/", body, format="json").json()
    assert pump_json(client, old)["status"] == "explanted"
    voided = client.post(f"/api/v1/pumps/{new['id']}/void/", {"reason": "Wrong pump entered"}, format="json")
    assert voided.status_code == 200, voided.json()
    back = pump_json(client, old)
    assert (back["status"], back["explanted_on"]) == ("active", None)
    assert (back["alarm_date"], back["refill_due_on"]) == ("2024-06-15", "2024-06-08")
    # The serial of the voided pump may be used again (unique among non-voided pumps only).
    again = client.post(f"/api/v1/pumps/{old.pk}/replace/", body, format="json")
    assert again.status_code == 201, again.json()


# --- Pumps without a projection ---------------------------------------------------------


def test_a_pump_without_a_program_or_fill_raises_projection_missing_and_leads_the_overdue_report(
    api_as, surgeon, administrator
):
    watched = PumpFactory(by=surgeon)  # the worked example: due 2024-06-08
    body = implant_body(PatientFactory(), serial_number="BARE1", implanted_on="2024-02-01")
    del body["first_program"], body["first_fill"]
    created = api_as(surgeon).post("/api/v1/pumps/", body, format="json")
    assert created.status_code == 201, created.json()
    bare = Pump.objects.get(serial_number="BARE1")

    alert_scan(as_of=dt.date(2024, 2, 2), by=system_user())
    alert = Alert.objects.get(pump=bare)
    assert (alert.kind, alert.status, alert.due_on) == ("projection_missing", "open", dt.date(2024, 2, 1))
    rows = overdue_rows(api_as(administrator), "2024-06-20")
    assert [(row["serial_number"], row["status"]) for row in rows] == [
        ("BARE1", "no_projection"),
        (watched.serial_number, "past_alarm"),
    ]
    assert rows[0]["refill_due_on"] is None and rows[0]["days_overdue"] is None

    # Recording the program and the first fill answers the alert at the next scan.
    nurse = UserFactory(role="pump_nurse")
    client = api_as(nurse)
    dose = {"pump": bare.pk, "changed_on": "2024-02-05", "daily_dose_mcg": "500", "reason": "Start"}
    assert client.post("/api/v1/dose-changes/", dose, format="json").status_code == 201
    assert Alert.objects.get(pump=bare).status == "open"  # still no fill
    fill = refill_body(bare, refilled_on="2024-02-05", aspirated_volume_ml=None)
    assert client.post("/api/v1/refills/", fill, format="json").status_code == 201
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_projection_missing_ranks_just_below_past_alarm_date():
    from alerts import rules

    order = rules.KINDS_BY_URGENCY
    assert order.index("projection_missing") == order.index("past_alarm_date") + 1


# --- Replacement keeps the alarm volume ---------------------------------------------------


def test_a_same_model_replacement_keeps_the_old_alarm_volume_and_another_model_takes_its_default(api_as, surgeon):
    client = api_as(surgeon)
    old = PumpFactory(by=surgeon, low_reservoir_alarm_ml=D("3.0"))
    body = {"model": old.model_id, "serial_number": "SAME1", "reservoir_volume_ml": "40", "performed_on": "2024-04-01"}
    same = client.post(f"/api/v1/pumps/{old.pk}/replace/", body, format="json")
    assert same.status_code == 201, same.json()
    assert D(same.json()["low_reservoir_alarm_ml"]) == D("3.0")

    other = PumpFactory(by=surgeon, low_reservoir_alarm_ml=D("3.0"))
    prometra = PumpModel.objects.get(model="Prometra II")
    body = {
        "model": prometra.pk,
        "serial_number": "OTHER1",
        "reservoir_volume_ml": "20",
        "performed_on": "2024-04-01",
        # The factory's patients are children: a Prometra II is off-label for them (labelled from 22).
        "off_label_reason": "Team decision: smaller pump for a slim abdomen",
    }
    different = client.post(f"/api/v1/pumps/{other.pk}/replace/", body, format="json")
    assert different.status_code == 201, different.json()
    assert D(different.json()["low_reservoir_alarm_ml"]) == D("3.0")  # Prometra II's catalogue default


# --- Dose safety --------------------------------------------------------------------------


def test_two_same_day_steps_of_20_percent_need_a_confirmation_together(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon, daily_dose_mcg=D("100"), concentration_mcg_per_ml=D("500"))
    client = api_as(nurse)
    step = {"pump": pump.pk, "changed_on": "2024-03-15", "reason": "Titration"}
    assert client.post("/api/v1/dose-changes/", {**step, "daily_dose_mcg": "120"}, format="json").status_code == 201
    second = client.post("/api/v1/dose-changes/", {**step, "daily_dose_mcg": "144"}, format="json")
    assert second.status_code == 400
    assert any("44" in message for message in second.json()["confirmation_reason"]), second.json()
    assert DoseChange.objects.filter(pump=pump).count() == 2
    confirmed = client.post(
        "/api/v1/dose-changes/",
        {**step, "daily_dose_mcg": "144", "confirmation_reason": "Agreed with Dr Doyle: two steps today"},
        format="json",
    )
    assert confirmed.status_code == 201, confirmed.json()
    # The next day, 144 → 160 is an 11% step on its own.
    next_day = {**step, "changed_on": "2024-03-16", "daily_dose_mcg": "160"}
    assert client.post("/api/v1/dose-changes/", next_day, format="json").status_code == 201


@pytest.fixture
def positive_trial_of_50_mcg(monkeypatch):
    fake = types.ModuleType("trials.selectors")
    fake.effective_positive_trial_bolus_mcg = lambda patient_id: D("50")
    monkeypatch.setitem(sys.modules, "trials.selectors", fake)


def test_the_first_program_is_checked_against_the_suggested_starting_dose(
    api_as, surgeon, nurse, positive_trial_of_50_mcg
):
    body = implant_body(PatientFactory(), first_program={"daily_dose_mcg": 300})
    refused = api_as(surgeon).post("/api/v1/pumps/", body, format="json")
    assert refused.status_code == 400
    assert any("100" in message for message in refused.json()["confirmation_reason"]), refused.json()
    assert not Pump.objects.exists()

    at_suggestion = implant_body(PatientFactory(), serial_number="OK1", first_program={"daily_dose_mcg": 100})
    assert api_as(surgeon).post("/api/v1/pumps/", at_suggestion, format="json").status_code == 201

    # A pump implanted without a program: its first dose change is checked the same way.
    bare = implant_body(PatientFactory(), serial_number="BARE2")
    del bare["first_program"], bare["first_fill"]
    pump_id = api_as(surgeon).post("/api/v1/pumps/", bare, format="json").json()["id"]
    dose = {"pump": pump_id, "changed_on": "2024-01-20", "daily_dose_mcg": "300"}
    first = api_as(nurse).post("/api/v1/dose-changes/", dose, format="json")
    assert first.status_code == 400 and "confirmation_reason" in first.json()


# --- Refills --------------------------------------------------------------------------------


def test_a_refill_without_port_access_confirmed_is_400_on_that_field(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    for body in (refill_body(pump, reservoir_port_access_confirmed=False), refill_body(pump)):
        if body["reservoir_port_access_confirmed"]:
            del body["reservoir_port_access_confirmed"]
        response = api_as(nurse).post("/api/v1/refills/", body, format="json")
        assert response.status_code == 400
        assert "reservoir_port_access_confirmed" in response.json(), response.json()
    assert Refill.objects.filter(pump=pump).count() == 1


def test_a_second_refill_the_same_day_is_refused_naming_the_first(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = api_as(nurse)
    assert client.post("/api/v1/refills/", refill_body(pump, lot_number="FIRST1"), format="json").status_code == 201
    second = client.post("/api/v1/refills/", refill_body(pump, lot_number="SECOND"), format="json")
    assert second.status_code == 400
    message = " ".join(second.json()["refilled_on"])
    assert "FIRST1" in message and "void" in message
    assert Refill.objects.filter(pump=pump).count() == 2


def test_a_refill_after_the_projected_empty_day_is_not_assessable_not_zero(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)  # projected empty on 2024-06-23
    body = refill_body(pump, refilled_on="2024-07-01", aspirated_volume_ml="0")
    response = api_as(nurse).post("/api/v1/refills/", body, format="json")
    assert response.status_code == 201, response.json()
    refill = response.json()
    assert refill["delivery_flag"] == "not_assessable"
    assert refill["delivery_deviation_percent"] is None
    assert "may have run dry" in refill["delivery_note"]
    # On the projected empty day itself the check still stands.
    on_time = PumpFactory(by=surgeon)
    body = refill_body(on_time, refilled_on="2024-06-23", aspirated_volume_ml="0")
    assert api_as(nurse).post("/api/v1/refills/", body, format="json").json()["delivery_flag"] != "not_assessable"


# --- One implanted pump per patient ---------------------------------------------------------


def test_a_patient_cannot_have_two_implanted_pumps(api_as, surgeon):
    pump = PumpFactory(by=surgeon)
    body = implant_body(pump.patient, serial_number="SECOND1", implanted_on="2024-02-01")
    response = api_as(surgeon).post("/api/v1/pumps/", body, format="json")
    assert response.status_code == 400
    assert "patient" in response.json(), response.json()
    assert Pump.objects.filter(patient=pump.patient).count() == 1


def test_the_database_itself_refuses_a_second_implanted_pump(surgeon):
    from django.db import IntegrityError, transaction

    pump = PumpFactory(by=surgeon)
    second = Pump(
        patient=pump.patient,
        model=pump.model,
        serial_number="RAW2",
        reservoir_volume_ml=D("40"),
        implanted_on=dt.date(2024, 2, 1),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()


# --- The pump nurse --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["administrator", "rehab_doctor", "physical_therapist"])
def test_only_an_active_pump_nurse_can_be_a_patients_pump_nurse(api_as, personas, administrator, nurse, role):
    patient = PatientFactory()
    client = api_as(administrator)
    url = f"/api/v1/patients/{patient.pk}/"
    refused = client.patch(url, {"assigned_nurse": personas[role].pk, "version": patient.version}, format="json")
    assert refused.status_code == 400
    assert "assigned_nurse" in refused.json(), refused.json()
    patient.refresh_from_db()
    assert patient.assigned_nurse_id is None

    nurse.is_active = False
    nurse.save()
    inactive = client.patch(url, {"assigned_nurse": nurse.pk, "version": patient.version}, format="json")
    assert inactive.status_code == 400 and "assigned_nurse" in inactive.json()
    nurse.is_active = True
    nurse.save()
    accepted = client.patch(url, {"assigned_nurse": nurse.pk, "version": patient.version}, format="json")
    assert accepted.status_code == 200, accepted.json()


# --- The catalogue ------------------------------------------------------------------------------


def test_a_reservoir_size_in_use_cannot_be_removed_from_the_catalogue(api_as, doctor, surgeon):
    pump = PumpFactory(by=surgeon, model=PumpModel.objects.get(model="SynchroMed II"))  # 40 mL
    client = api_as(doctor)
    model = client.get(f"/api/v1/pump-models/{pump.model_id}/").json()
    url = f"/api/v1/pump-models/{pump.model_id}/"
    refused = client.patch(url, {"reservoir_sizes_ml": [20], "version": model["version"]}, format="json")
    assert refused.status_code == 400
    assert "40 mL" in " ".join(refused.json()["reservoir_sizes_ml"])
    added = client.patch(url, {"reservoir_sizes_ml": [20, 40, 60], "version": model["version"]}, format="json")
    assert added.status_code == 200, added.json()


def test_a_catalogue_that_no_longer_lists_a_pumps_size_never_blocks_its_refills(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    # A catalogue edited before this rule existed (or by a data fix) no longer lists 40 mL.
    PumpModel.objects.filter(pk=pump.model_id).update(reservoir_sizes_ml=[20])
    response = api_as(nurse).post("/api/v1/refills/", refill_body(pump), format="json")
    assert response.status_code == 201, response.json()
    dose = {"pump": pump.pk, "changed_on": "2024-03-16", "daily_dose_mcg": "550"}
    assert api_as(nurse).post("/api/v1/dose-changes/", dose, format="json").status_code == 201


def test_a_battery_life_edit_recomputes_end_of_service_in_a_job_not_in_the_request(
    api_as, doctor, surgeon, django_capture_on_commit_callbacks, monkeypatch
):
    from pumps.tasks import projections_refresh_task

    queued: list[dict] = []
    monkeypatch.setattr(projections_refresh_task, "apply_async", lambda args, kwargs, **_: queued.append(kwargs))
    pump = PumpFactory(by=surgeon, model=PumpModel.objects.get(model="SynchroMed II"))  # implanted 2024-01-15
    assert pump.battery_end_of_service_on == dt.date(2031, 1, 15)  # 84 months
    client = api_as(doctor)
    model = client.get(f"/api/v1/pump-models/{pump.model_id}/").json()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.patch(
            f"/api/v1/pump-models/{pump.model_id}/",
            {"nominal_battery_life_months": 24, "version": model["version"]},
            format="json",
        )
    assert response.status_code == 200, response.json()
    pump.refresh_from_db()
    assert pump.battery_end_of_service_on == dt.date(2031, 1, 15)  # not in the request
    for callback in callbacks:
        callback()
    assert queued == [{"model_id": pump.model_id}]
    assert projections_refresh_task(**queued[0]) == {"moved": 1}  # as the worker runs it
    pump.refresh_from_db()
    assert pump.battery_end_of_service_on == dt.date(2026, 1, 15)
    change = pump.history.first()
    assert change.history_user is not None and "catalogue" in change.history_change_reason.lower()


# --- Races past the service's checks: the database refuses, the client gets a 400 ----------


@pytest.fixture
def identity_checks_raced_past(monkeypatch):
    """Both implants passed the service's serial and one-pump checks, and the model's
    constraint validation, at the same moment: only PostgreSQL's unique index is left."""
    from pumps import services

    monkeypatch.setattr(services, "_pump_identity_errors", lambda pump, replacing=None: {})
    monkeypatch.setattr(Pump, "validate_constraints", lambda self, exclude=None: None)


def test_the_later_of_two_implants_with_one_serial_gets_a_400_on_serial_number(
    api_as, surgeon, identity_checks_raced_past
):
    PumpFactory(by=surgeon, serial_number="RACE1")
    response = api_as(surgeon).post(
        "/api/v1/pumps/", implant_body(PatientFactory(), serial_number="RACE1"), format="json"
    )
    assert response.status_code == 400
    assert "serial_number" in response.json(), response.json()
    assert Pump.objects.filter(serial_number="RACE1").count() == 1


def test_the_later_of_two_implants_for_one_patient_gets_a_400_on_patient(api_as, surgeon, identity_checks_raced_past):
    pump = PumpFactory(by=surgeon)
    response = api_as(surgeon).post("/api/v1/pumps/", implant_body(pump.patient, serial_number="RACE2"), format="json")
    assert response.status_code == 400
    assert "patient" in response.json(), response.json()
    assert Pump.objects.filter(patient=pump.patient).count() == 1


def test_a_refused_void_leaves_the_callers_object_as_it_was(doctor, surgeon):
    from django.core.exceptions import ValidationError

    from spasticity.audit import void_record

    pump = PumpFactory(by=surgeon)
    patient = pump.patient
    version = patient.version
    with pytest.raises(ValidationError):
        void_record(patient, by=doctor, reason="Duplicate")
    assert (patient.voided_at, patient.voided_by, patient.void_reason, patient.version) == (None, None, "", version)
    patient.refresh_from_db()
    assert not patient.is_voided and patient.version == version
