"""The patient's FHIR R4 Bundle at every stage of the pathway (issue 11, "FHIR R4 export").

Each Bundle is validated with fhir.resources (R4B) and by ``fhir_checks`` (references,
code bindings, ``hh:mm:ss`` times), then its content is checked against the records.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from interop.document import transfer_document
from interop.fhir import patient_bundle, resource_id
from interop.selectors import patient_records, transfer_summary
from patients.models import PathwayStage, Patient
from pumps.models import DoseChange, Pump, Refill, Surgery
from spasticity.timeutil import clinic_today
from tests.interop.conftest import seed_demo_caseload_with_a_flex_program
from tests.interop.fhir_checks import MAS_GRADES, SNOMED, check_bundle
from trials.models import ToneAssessment

pytestmark = pytest.mark.django_db


def export(patient) -> dict:
    return patient_bundle(patient_records(patient), as_of=clinic_today(), timestamp=timezone.now())


def only(resources: list[dict]) -> dict:
    assert len(resources) == 1
    return resources[0]


def codes(concept: dict) -> list[str]:
    return [c["code"] for c in concept["coding"]]


def test_a_referred_patient_exports_the_patient_with_the_mrn_and_nothing_clinical(referred_patient):
    by_type = check_bundle(export(referred_patient))
    patient = only(by_type["Patient"])
    assert patient["identifier"][0]["value"] == referred_patient.mrn
    assert patient["identifier"][0]["system"] == "https://itb-clinic.example/fhir/sid/mrn"
    assert patient["birthDate"] == referred_patient.birth_date.isoformat()
    for clinical in ("Device", "Procedure", "MedicationRequest", "Observation", "Goal", "Flag"):
        assert clinical not in by_type


def test_a_trial_exports_one_observation_per_tone_score_with_its_grade_muscle_and_side(trial_done_patient):
    by_type = check_bundle(export(trial_done_patient))
    trial = only([p for p in by_type["Procedure"] if codes(p["code"]) == ["itb-trial"]])
    assert trial["status"] == "completed" and codes(trial["outcome"]) == ["positive"]
    tone = [o for o in by_type["Observation"] if codes(o["code"]) == ["modified-ashworth"]]
    assert len(tone) == ToneAssessment.objects.filter(trial__patient=trial_done_patient).count() == 4
    trial_url = f"urn:uuid:{trial['id']}"
    cells = set()
    for observation in tone:
        assert observation["partOf"] == [{"reference": trial_url}]
        minutes = observation["component"][0]["valueQuantity"]
        assert minutes["code"] == "min"
        cells.add((codes(observation["bodySite"])[0], minutes["value"], codes(observation["valueCodeableConcept"])[0]))
    assert cells == {
        ("hip_adductors-left", 0, "3"),
        ("hip_adductors-right", 0, "1+"),
        ("hip_adductors-left", 240, "1"),
        ("hip_adductors-right", 240, "1"),
    }
    assert {grade for _, _, grade in cells} <= MAS_GRADES


def test_a_gas_goal_carries_its_levels_weighting_and_reviews(trial_done_patient):
    by_type = check_bundle(export(trial_done_patient))
    goal = only(by_type["Goal"])
    assert goal["lifecycleStatus"] == "active"
    # The review reached -1, the baseline: no change yet.
    assert codes(goal["achievementStatus"]) == ["no-change"]
    levels = {
        sub["valueInteger"]: text["valueString"]
        for ext in goal["extension"]
        if ext["url"].endswith("/goal-attainment-scaling")
        for sub, text in [ext["extension"]]
    }
    assert levels[0] == "Sits 3 to 5 hours" and set(levels) == {-2, -1, 0, 1, 2}
    weights = {
        ext["url"].rsplit("/", 1)[-1]: ext.get("valueInteger") for ext in goal["extension"] if "valueInteger" in ext
    }
    assert weights == {"gas-baseline-level": -1, "gas-importance": 2, "gas-difficulty": 1}
    review = only([o for o in by_type["Observation"] if codes(o["code"]) == ["gas-level"]])
    assert review["valueInteger"] == -1
    assert goal["outcomeReference"] == [{"reference": f"urn:uuid:{review['id']}"}]
    assert review["focus"] == [{"reference": f"urn:uuid:{goal['id']}"}]


def test_an_implanted_pump_exports_device_use_surgery_programs_refills_and_flags(implanted_patient):
    by_type = check_bundle(export(implanted_patient))
    pump = Pump.objects.get(patient=implanted_patient)
    device = only([d for d in by_type["Device"] if d.get("serialNumber")])
    assert (device["status"], device["serialNumber"], device["manufacturer"], device["modelNumber"]) == (
        "active",
        pump.serial_number,
        "Medtronic",
        "SynchroMed II",
    )
    use = only([u for u in by_type["DeviceUseStatement"] if u["device"]["reference"] == f"urn:uuid:{device['id']}"])
    assert use["status"] == "active" and use["timingPeriod"] == {"start": "2024-01-15"}
    assert use["bodySite"]["text"] == "Right lower abdomen, subfascial"

    implant = only([p for p in by_type["Procedure"] if codes(p["code"]) == ["implant"]])
    assert implant["performedDateTime"] == "2024-01-15"
    assert [(codes(f["action"]), f["manipulated"]["reference"]) for f in implant["focalDevice"]] == [
        (["129336009"], f"urn:uuid:{device['id']}")
    ]

    requests = sorted(by_type["MedicationRequest"], key=lambda r: r["authoredOn"])
    assert [(r["authoredOn"], r["status"]) for r in requests] == [("2024-01-15", "stopped"), ("2024-02-01", "active")]
    assert [r["dosageInstruction"][0]["doseAndRate"][0]["rateQuantity"] for r in requests] == [
        {"value": 500, "unit": "ug/d", "system": "http://unitsofmeasure.org", "code": "ug/d"},
        {"value": 550, "unit": "ug/d", "system": "http://unitsofmeasure.org", "code": "ug/d"},
    ]
    assert requests[1]["priorPrescription"] == {"reference": f"urn:uuid:{requests[0]['id']}"}
    assert "priorPrescription" not in requests[0]
    assert codes(requests[0]["dosageInstruction"][0]["route"]) == ["72607000"]
    assert requests[0]["dosageInstruction"][0]["route"]["coding"][0]["system"] == SNOMED


def test_each_refill_is_a_procedure_with_its_observations_and_the_stored_alarm_date(implanted_patient):
    by_type = check_bundle(export(implanted_patient))
    last = Refill.objects.get(pump__patient=implanted_patient, refilled_on=dt.date(2024, 9, 1))
    refills = [p for p in by_type["Procedure"] if codes(p["code"]) == ["pump-refill"]]
    assert sorted(p["performedDateTime"] for p in refills) == ["2024-01-15", "2024-05-01", "2024-09-01"]
    procedure = only([p for p in refills if p["performedDateTime"] == "2024-09-01"])
    observations = {
        codes(o["code"])[0]: o
        for o in by_type["Observation"]
        if o.get("partOf") == [{"reference": f"urn:uuid:{procedure['id']}"}]
    }
    assert observations["volume-added"]["valueQuantity"]["value"] == 40
    assert observations["volume-added"]["valueQuantity"]["code"] == "mL"
    assert observations["concentration"]["valueQuantity"] == {
        "value": 2000,
        "unit": "ug/mL",
        "system": "http://unitsofmeasure.org",
        "code": "ug/mL",
    }
    assert observations["aspirated-residual"]["valueQuantity"]["value"] == 5
    assert observations["expected-residual"]["valueQuantity"]["value"] == float(last.expected_residual_ml)
    assert observations["delivery-deviation"]["valueQuantity"]["value"] == float(last.delivery_deviation_percent)
    assert observations["delivery-deviation"]["valueQuantity"]["code"] == "%"
    # The alarm date is the one the dosing module stored when the refill was saved.
    assert observations["alarm-date"]["valueDateTime"] == last.alarm_date.isoformat()
    assert observations["refill-due-date"]["valueDateTime"] == last.refill_due_on.isoformat()


def test_every_unresolved_alert_is_an_active_flag_on_the_patient(implanted_patient):
    by_type = check_bundle(export(implanted_patient))
    alerts = list(implanted_patient.pump_alerts.unresolved())
    assert alerts, "the 2024 fill is long past its alarm date: the scan raised alerts"
    flags = by_type["Flag"]
    assert sorted(codes(f["code"])[0] for f in flags) == sorted(a.kind for a in alerts)
    assert all(f["status"] == "active" for f in flags)


def test_a_flex_program_has_one_dosage_per_step_in_ug_per_hour_at_its_time_of_day(flex_patient):
    by_type = check_bundle(export(flex_patient))
    flex = only([r for r in by_type["MedicationRequest"] if len(r["dosageInstruction"]) > 1])
    steps = [
        (
            d["timing"]["repeat"]["timeOfDay"],
            d["doseAndRate"][0]["rateQuantity"]["value"],
            d["doseAndRate"][0]["rateQuantity"]["code"],
        )
        for d in flex["dosageInstruction"]
    ]
    assert steps == [(["00:00:00"], 20, "ug/h"), (["07:00:00"], 25, "ug/h"), (["19:30:00"], 20, "ug/h")]
    assert all(codes(d["route"]) == ["72607000"] for d in flex["dosageInstruction"])
    assert flex["status"] == "active"
    change = DoseChange.objects.get(pump__patient=flex_patient, mode="flex")
    assert flex["id"] == resource_id("MedicationRequest", change.pk)
    assert change.daily_dose_mcg == Decimal("542.5")
    assert "542.5 mcg a day in total" in flex["note"][0]["text"]


def test_a_replacement_and_an_explant_are_coded_with_snomed_device_actions(replaced_patient):
    by_type = check_bundle(export(replaced_patient))
    old, new = Pump.objects.get(serial_number="OLD-1"), Pump.objects.get(serial_number="NEW-1")
    devices = {d.get("serialNumber"): d for d in by_type["Device"]}
    assert devices["OLD-1"]["status"] == "inactive" and devices["NEW-1"]["status"] == "inactive"
    url = {serial: f"urn:uuid:{d['id']}" for serial, d in devices.items() if serial}
    catheter_of_new = f"urn:uuid:{resource_id('Device', 'catheter', new.pk)}"

    surgeries = {codes(p["code"])[0]: p for p in by_type["Procedure"] if p.get("category")}
    assert set(surgeries) == {"implant", "pump_replacement", "explant"}
    actions = [
        (codes(f["action"])[0], f["manipulated"]["reference"]) for f in surgeries["pump_replacement"]["focalDevice"]
    ]
    assert actions == [("282089006", url["NEW-1"]), ("129303008", url["OLD-1"]), ("282089006", catheter_of_new)]
    explant = surgeries["explant"]
    assert [(codes(f["action"])[0], f["manipulated"]["reference"]) for f in explant["focalDevice"]] == [
        ("129303008", url["NEW-1"])
    ]
    assert [c["text"] for c in explant["complication"]] == ["Infection", "Other: Pocket erythema"]
    assert explant["performer"][0]["actor"]["reference"] in {f"urn:uuid:{p['id']}" for p in by_type["Practitioner"]}

    uses = {u["device"]["reference"]: u for u in by_type["DeviceUseStatement"]}
    assert uses[url["OLD-1"]]["timingPeriod"] == {"start": old.implanted_on.isoformat(), "end": "2024-06-01"}
    assert uses[url["NEW-1"]]["status"] == "completed"
    assert uses[url["NEW-1"]]["timingPeriod"] == {"start": "2024-06-01", "end": "2024-09-01"}
    # No program is active once the last pump is out; the carried-over program chains to the old one.
    requests = sorted(by_type["MedicationRequest"], key=lambda r: r["authoredOn"])
    assert [r["status"] for r in requests] == ["stopped", "stopped"]
    assert requests[1]["priorPrescription"]["reference"] == f"urn:uuid:{requests[0]['id']}"
    assert Surgery.objects.filter(patient=replaced_patient).count() == 3


def test_voided_records_are_left_out_and_nothing_points_at_them(patient_with_voided_records):
    patient, voided = patient_with_voided_records
    data = export(patient)
    by_type = check_bundle(data)
    ids = {entry["resource"]["id"] for entry in data["entry"]}
    assert resource_id("Procedure", "refill", voided["refill"].pk) not in ids
    assert resource_id("MedicationRequest", voided["dose"].pk) not in ids
    assert resource_id("Goal", voided["goal"].pk) not in ids
    assert resource_id("Procedure", "trial", voided["trial"].pk) not in ids
    assert "Goal" not in by_type
    # Only the implant's program remains.
    assert len(by_type["MedicationRequest"]) == 1
    # The cleared tone score (a voided row) is not exported: three of the four remain.
    cleared = ToneAssessment.objects.get(trial__patient=patient, side="right", minutes_after_bolus=240)
    assert cleared.is_voided and resource_id("Observation", "tone", cleared.pk) not in ids
    assert len([o for o in by_type["Observation"] if codes(o["code"]) == ["modified-ashworth"]]) == 3
    kept_trial = only([p for p in by_type["Procedure"] if codes(p["code"]) == ["itb-trial"]])
    assert kept_trial["status"] == "completed" and "outcome" not in kept_trial


def test_every_pathway_stage_of_the_demo_caseload_and_a_flex_program_export_valid_bundles(nurse):
    """Done when: every exported Bundle (the collection and the transfer document) validates with
    fhir.resources R4B and passes the reference and code checks, at every pathway stage and for a flex program."""
    flex_pump = seed_demo_caseload_with_a_flex_program(nurse)
    patients = list(Patient.objects.active().select_related("assigned_doctor", "assigned_nurse"))

    stages = set()
    for patient in patients:
        by_type = check_bundle(export(patient))
        assert only(by_type["Patient"])["identifier"][0]["value"] == patient.mrn
        summary = transfer_summary(patient_records(patient), prepared_on=clinic_today())
        check_bundle(transfer_document(summary, timestamp=timezone.now()), bundle_type="document")
        stages.add(patient.pathway_stage)

    assert stages == set(PathwayStage.values)
    flex = only([r for r in check_bundle(export(flex_pump.patient))["MedicationRequest"] if r["status"] == "active"])
    assert [
        (d["timing"]["repeat"]["timeOfDay"], d["doseAndRate"][0]["rateQuantity"]["code"])
        for d in flex["dosageInstruction"]
    ] == [(["00:00:00"], "ug/h"), (["07:00:00"], "ug/h"), (["19:30:00"], "ug/h")]


def test_the_same_record_exports_with_the_same_ids(implanted_patient):
    first = {e["fullUrl"] for e in export(implanted_patient)["entry"]}
    second = {e["fullUrl"] for e in export(implanted_patient)["entry"]}
    assert first == second


def test_the_export_reads_a_fixed_number_of_queries(implanted_patient, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        export(implanted_patient)


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(lambda r: r["Device"][0].update(status="implanted"), id="device-status"),
        pytest.param(
            lambda r: r["MedicationRequest"][0].update(priorPrescription={"reference": "urn:uuid:0"}), id="ref"
        ),
        pytest.param(
            lambda r: r["MedicationRequest"][0]["dosageInstruction"][0]["doseAndRate"][0]["rateQuantity"].update(
                code="mg/d", unit="mg/d"
            ),
            id="rate-unit",
        ),
        pytest.param(
            lambda r: r["MedicationRequest"][0]["dosageInstruction"][0]["timing"]["repeat"].update(
                timeOfDay=["7:00:00"]
            ),
            id="time",
        ),
        pytest.param(lambda r: r["Procedure"][0]["code"]["coding"][0].update(system="urn:unknown"), id="system"),
        pytest.param(lambda r: r["Flag"][0]["code"]["coding"][0].update(code="made_up_kind"), id="local-code"),
    ],
)
def test_the_checks_catch_a_broken_bundle(implanted_patient, break_it):
    """The checks above can fail: each breakage of a valid export is caught."""
    data = export(implanted_patient)
    by_type: dict[str, list[dict]] = {}
    for entry in data["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    break_it(by_type)
    with pytest.raises(Exception):
        check_bundle(data)
