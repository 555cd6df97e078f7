"""Pumps API (spec section 5): implant, replace, dose changes, refills, filters, roles, schema."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from pumps.models import DoseChange, Pump, PumpModel, Refill
from tests.factories import PatientFactory, PumpFactory

pytestmark = pytest.mark.django_db

D = Decimal
FLEX_360 = [
    {"start_time": "00:00", "rate_mcg_per_hour": 10},
    {"start_time": "08:00", "rate_mcg_per_hour": "20"},
    {"start_time": "20:00", "rate_mcg_per_hour": 10},
]


def implant_body(patient, **changes):
    body = {
        "patient": patient.pk,
        "model": PumpModel.objects.get(model="SynchroMed II").pk,
        "serial_number": "NGP100200H",
        "reservoir_volume_ml": 40,
        "low_reservoir_alarm_ml": "2.0",
        "implanted_on": "2024-01-15",
        "catheter_tip_level": "T10",
        "first_program": {"mode": "simple_continuous", "daily_dose_mcg": 500},
        "first_fill": {
            "volume_added_ml": "40",
            "drug": "lioresal",
            "concentration_mcg_per_ml": 2000,
            "lot_number": "L1",
        },
    }
    body.update(changes)
    return body


def test_posting_a_pump_records_the_implant_and_returns_the_worked_example_dates(api_as, surgeon):
    patient = PatientFactory()
    response = api_as(surgeon).post("/api/v1/pumps/", implant_body(patient), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "active"
    assert body["alarm_date"] == "2024-06-15"
    assert body["refill_due_on"] == "2024-06-08"
    assert body["battery_end_of_service_on"] == "2031-01-15"
    assert D(body["current_daily_dose_mcg"]) == D("500")
    assert D(body["current_concentration_mcg_per_ml"]) == D("2000")
    assert "first_fill" not in body and "first_program" not in body
    pump = Pump.objects.get(serial_number="NGP100200H")
    assert pump.surgeries.get().kind == "implant"
    assert pump.refills.count() == pump.dose_changes.count() == 1


def test_posting_only_the_specs_pump_fields_records_a_pump_without_a_projection(api_as, surgeon):
    patient = PatientFactory()
    body = implant_body(patient)
    del body["first_program"], body["first_fill"]
    response = api_as(surgeon).post("/api/v1/pumps/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["alarm_date"] is None
    assert response.json()["battery_end_of_service_on"] == "2031-01-15"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"serial_number": "DUP1"}, "serial_number"),
        (
            {
                "first_fill": {
                    "volume_added_ml": 45,
                    "drug": "lioresal",
                    "concentration_mcg_per_ml": 2000,
                    "lot_number": "L",
                }
            },
            "volume_added_ml",
        ),
        (
            {
                "first_fill": {
                    "volume_added_ml": 40,
                    "drug": "lioresal",
                    "concentration_mcg_per_ml": 0,
                    "lot_number": "L",
                }
            },
            "concentration_mcg_per_ml",
        ),
        ({"first_program": {"daily_dose_mcg": -5}}, "daily_dose_mcg"),
        ({"implanted_on": "2099-01-01"}, "implanted_on"),
    ],
)
def test_a_bad_implant_is_400_with_field_messages_and_saves_nothing(api_as, surgeon, changes, field):
    PumpFactory(by=surgeon, serial_number="DUP1")
    patient = PatientFactory()
    response = api_as(surgeon).post("/api/v1/pumps/", implant_body(patient, **changes), format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert isinstance(response.json()[field], list)
    assert Pump.objects.count() == 1


def test_a_dose_change_moves_the_alarm_and_needs_confirmation_above_20_percent(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = api_as(nurse)
    body = {"pump": pump.pk, "changed_on": "2024-03-15", "mode": "simple_continuous", "daily_dose_mcg": "800"}
    refused = client.post("/api/v1/dose-changes/", body, format="json")
    assert refused.status_code == 400
    assert any("60%" in m for m in refused.json()["confirmation_reason"])
    assert DoseChange.objects.count() == 1
    accepted = client.post(
        "/api/v1/dose-changes/", {**body, "confirmation_reason": "Agreed with Dr Doyle"}, format="json"
    )
    assert accepted.status_code == 201, accepted.json()
    assert accepted.json()["alarm_date"] == "2024-05-11"
    assert accepted.json()["refill_due_on"] == "2024-05-04"
    assert accepted.json()["change_percent"] == "60.0"
    assert client.get(f"/api/v1/pumps/{pump.pk}/").json()["alarm_date"] == "2024-05-11"


def test_a_flex_program_returns_its_computed_daily_dose_of_360(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon, daily_dose_mcg=D("350"))
    body = {"pump": pump.pk, "changed_on": "2024-02-01", "mode": "flex", "flex_steps": FLEX_360}
    response = api_as(nurse).post("/api/v1/dose-changes/", body, format="json")
    assert response.status_code == 201, response.json()
    assert D(response.json()["daily_dose_mcg"]) == D("360")
    assert response.json()["flex_steps"][1] == {"start_time": "08:00", "rate_mcg_per_hour": "20"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"daily_dose_mcg": "400"}, "daily_dose_mcg"),
        (
            {
                "flex_steps": [
                    {"start_time": "00:00", "rate_mcg_per_hour": 10},
                    {"start_time": "00:00", "rate_mcg_per_hour": 5},
                ]
            },
            "flex_steps",
        ),
        ({"flex_steps": [{"start_time": "01:00", "rate_mcg_per_hour": 10}]}, "flex_steps"),
        (
            {
                "flex_steps": [
                    {"start_time": "00:00", "rate_mcg_per_hour": 10},
                    {"start_time": "20:00", "rate_mcg_per_hour": 10},
                    {"start_time": "08:00", "rate_mcg_per_hour": 20},
                ]
            },
            "flex_steps",
        ),
        ({"flex_steps": "not a list"}, "flex_steps"),
    ],
)
def test_a_bad_flex_program_is_400_on_its_field_and_saves_nothing(api_as, surgeon, nurse, changes, field):
    pump = PumpFactory(by=surgeon, daily_dose_mcg=D("350"))
    body = {"pump": pump.pk, "changed_on": "2024-02-01", "mode": "flex", "flex_steps": FLEX_360, **changes}
    response = api_as(nurse).post("/api/v1/dose-changes/", body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert DoseChange.objects.count() == 1
    pump.refresh_from_db()
    assert pump.current_daily_dose_mcg == D("350")


def refill_body(pump, **changes):
    body = {
        "pump": pump.pk,
        "refilled_on": "2024-03-15",
        "aspirated_volume_ml": "22.5",
        "volume_added_ml": "40",
        "drug": "lioresal",
        "concentration_mcg_per_ml": "2000",
        "lot_number": "L2",
        "reservoir_port_access_confirmed": True,
        "pump_running_confirmed": True,
        "observation_signs": ["none_observed"],
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("aspirated", "deviation", "flag"), [("22.5", "16.7", "over_delivery"), ("23.0", "13.3", "none")]
)
def test_a_refill_returns_its_delivery_check_and_new_dates(api_as, surgeon, nurse, aspirated, deviation, flag):
    pump = PumpFactory(by=surgeon)
    response = api_as(nurse).post("/api/v1/refills/", refill_body(pump, aspirated_volume_ml=aspirated), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["expected_residual_ml"] == "25.00"
    assert body["delivery_deviation_percent"] == deviation
    assert body["delivery_flag"] == flag
    assert (body["alarm_date"], body["refill_due_on"]) == ("2024-08-14", "2024-08-07")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"volume_added_ml": "40.5"}, "volume_added_ml"),
        ({"volume_added_ml": "2"}, "volume_added_ml"),
        ({"concentration_mcg_per_ml": "-1"}, "concentration_mcg_per_ml"),
        ({"refilled_on": "2024-01-01"}, "refilled_on"),
        ({"refilled_on": (dt.date.today() + dt.timedelta(days=3)).isoformat()}, "refilled_on"),
        ({"concentration_mcg_per_ml": "750"}, "dilution_note"),
    ],
)
def test_a_bad_refill_is_400_with_a_field_message_and_saves_nothing(api_as, surgeon, nurse, changes, field):
    pump = PumpFactory(by=surgeon)
    response = api_as(nurse).post("/api/v1/refills/", refill_body(pump, **changes), format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert Refill.objects.count() == 1


def test_lists_filter_by_patient_and_pump(api_as, surgeon, nurse):
    first, second = PumpFactory(by=surgeon), PumpFactory(by=surgeon)
    client = api_as(nurse)
    client.post("/api/v1/refills/", refill_body(first), format="json")
    by_pump = client.get("/api/v1/refills/", {"pump": first.pk}).json()
    assert by_pump["count"] == 2 and {r["pump"] for r in by_pump["results"]} == {first.pk}
    by_patient = client.get("/api/v1/dose-changes/", {"patient": second.patient_id}).json()
    assert [r["pump"] for r in by_patient["results"]] == [second.pk]
    pumps = client.get("/api/v1/pumps/", {"patient": first.patient_id}).json()
    assert [p["id"] for p in pumps["results"]] == [first.pk]
    assert set(pumps) == {"count", "next", "previous", "results"}


def test_replacing_a_pump_explants_the_old_one_and_returns_the_new_one(api_as, surgeon):
    old = PumpFactory(by=surgeon, serial_number="OLD9")
    body = {
        "model": PumpModel.objects.get(model="Prometra II").pk,
        "serial_number": "NEW9",
        "reservoir_volume_ml": "20",
        "performed_on": "2024-04-01",
        "off_label_reason": "MDT decision: the smaller pump for a child",  # labelled from 22 (issue 13)
        "complications": ["csf_leak"],
        "first_fill": {
            "volume_added_ml": "20",
            "drug": "gablofen",
            "concentration_mcg_per_ml": "2000",
            "lot_number": "G",
        },
    }
    response = api_as(surgeon).post(f"/api/v1/pumps/{old.pk}/replace/", body, format="json")
    assert response.status_code == 201, response.json()
    new = response.json()
    assert new["serial_number"] == "NEW9" and new["catheter_tip_level"] == "T10"
    assert new["implanted_on"] == "2024-04-01" and new["status"] == "active"
    # A different model without an alarm volume takes the catalogue's: Prometra II 3.0 mL.
    # 17 mL above the alarm at 500/2000 = 0.25 mL/day = 68 days → 2024-06-08.
    assert new["low_reservoir_alarm_ml"] == "3.00"
    assert new["alarm_date"] == "2024-06-08"
    old_now = api_as(surgeon).get(f"/api/v1/pumps/{old.pk}/").json()
    assert old_now["status"] == "explanted" and old_now["explanted_on"] == "2024-04-01"
    assert old_now["alarm_date"] is None
    again = api_as(surgeon).post(f"/api/v1/pumps/{old.pk}/replace/", {**body, "serial_number": "NEW10"}, format="json")
    assert again.status_code == 400 and "performed_on" in again.json()


@pytest.mark.parametrize("role", ["physical_therapist", "administrator", "neurosurgeon"])
def test_roles_without_the_right_cannot_change_a_dose_or_record_a_refill(api_as, personas, surgeon, role):
    pump = PumpFactory(by=surgeon)
    client = api_as(personas[role])
    dose = {"pump": pump.pk, "changed_on": "2024-02-01", "daily_dose_mcg": "550"}
    assert client.post("/api/v1/dose-changes/", dose, format="json").status_code == 403
    assert client.post("/api/v1/refills/", refill_body(pump), format="json").status_code == 403
    assert DoseChange.objects.count() == Refill.objects.count() == 1
    assert client.get(f"/api/v1/pumps/{pump.pk}/").status_code == 200


@pytest.mark.parametrize("role", ["pump_nurse", "physical_therapist", "administrator"])
def test_only_neurosurgeons_and_rehab_doctors_record_surgery(api_as, personas, role):
    patient = PatientFactory()
    response = api_as(personas[role]).post("/api/v1/pumps/", implant_body(patient), format="json")
    assert response.status_code == 403
    assert not Pump.objects.exists()


def test_a_rehab_doctor_can_record_an_implant(api_as, doctor):
    response = api_as(doctor).post("/api/v1/pumps/", implant_body(PatientFactory()), format="json")
    assert response.status_code == 201


def test_anonymous_requests_are_refused(client):
    assert client.get("/api/v1/pumps/").status_code in (401, 403)


def test_voiding_a_dose_change_through_the_api_recomputes_the_pump(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = api_as(nurse)
    change = client.post(
        "/api/v1/dose-changes/",
        {
            "pump": pump.pk,
            "changed_on": "2024-03-15",
            "daily_dose_mcg": "800",
            "confirmation_reason": "Severe spasms, agreed at clinic",
        },
        format="json",
    ).json()
    response = client.post(f"/api/v1/dose-changes/{change['id']}/void/", {"reason": "Wrong pump"}, format="json")
    assert response.status_code == 200
    assert client.get(f"/api/v1/pumps/{pump.pk}/").json()["alarm_date"] == "2024-06-15"
    history = client.get(f"/api/v1/dose-changes/{change['id']}/history/").json()
    assert history[0]["history_change_reason"] == "Voided: Wrong pump"


def test_refills_and_dose_changes_are_not_edited_in_place(api_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    refill = pump.refills.get()
    response = api_as(nurse).patch(
        f"/api/v1/refills/{refill.pk}/", {"volume_added_ml": "30", "version": 1}, format="json"
    )
    assert response.status_code == 405


def test_editing_a_pump_needs_the_version_and_recomputes_the_battery(api_as, surgeon):
    pump = PumpFactory(by=surgeon)
    client = api_as(surgeon)
    missing = client.patch(f"/api/v1/pumps/{pump.pk}/", {"eri_on": "2024-05-01"}, format="json")
    assert missing.status_code == 400 and "version" in missing.json()
    pump.refresh_from_db()
    response = client.patch(
        f"/api/v1/pumps/{pump.pk}/", {"eri_on": "2024-05-01", "version": pump.version}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["battery_end_of_service_on"] == "2024-07-30"
    moved = client.patch(
        f"/api/v1/pumps/{pump.pk}/", {"patient": PatientFactory().pk, "version": pump.version + 1}, format="json"
    )
    assert moved.status_code == 400 and "patient" in moved.json()


def test_the_catalogue_is_seeded_and_only_rehabilitation_doctors_edit_it(api_as, administrator, doctor, nurse):
    client = api_as(nurse)
    models = {(m["manufacturer"], m["model"]): m for m in client.get("/api/v1/pump-models/").json()["results"]}
    synchromed = models[("Medtronic", "SynchroMed II")]
    assert [D(str(size)) for size in synchromed["reservoir_sizes_ml"]] == [20, 40]
    assert synchromed["nominal_battery_life_months"] == 84 and synchromed["days_eri_to_eos"] == 90
    prometra = models[("Flowonix", "Prometra II")]
    assert prometra["nominal_battery_life_months"] == 120 and prometra["days_eri_to_eos"] is None
    url = f"/api/v1/pump-models/{synchromed['id']}/"
    body = {"nominal_battery_life_months": 80, "version": synchromed["version"]}
    assert client.patch(url, body, format="json").status_code == 403
    assert api_as(administrator).patch(url, body, format="json").status_code == 403  # clinical, not admin data
    response = api_as(doctor).patch(url, body, format="json")
    assert response.status_code == 200 and response.json()["nominal_battery_life_months"] == 80


def test_the_schema_documents_the_pump_resources(api_as, nurse):
    schema = api_as(nurse).get(reverse("api_schema"), {"format": "json"}).json()
    paths = schema["paths"]
    for path in (
        "/api/v1/pumps/",
        "/api/v1/pumps/{id}/replace/",
        "/api/v1/dose-changes/",
        "/api/v1/refills/",
        "/api/v1/pump-models/",
    ):
        assert path in paths
    pump_schema = schema["components"]["schemas"]["Pump"]["properties"]
    for field in (
        "status",
        "current_daily_dose_mcg",
        "current_concentration_mcg_per_ml",
        "alarm_date",
        "refill_due_on",
        "battery_end_of_service_on",
    ):
        assert pump_schema[field].get("readOnly") is True, field
