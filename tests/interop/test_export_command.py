"""``python manage.py export_fhir --out DIR --as-user USERNAME``: the demo caseload as Bulk Data NDJSON,
checked line by line, and written to the access log as the named user's export of each patient."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from access_log.models import RecordAccess
from patients.models import Patient
from spasticity.audit import void_record
from tests.factories import PatientFactory
from tests.interop.conftest import seed_demo_caseload_with_a_flex_program
from tests.interop.fhir_checks import check_ndjson_line

pytestmark = pytest.mark.django_db

ROLES = ["rehab_doctor", "pump_nurse", "physical_therapist", "neurosurgeon", "administrator"]


def read_ndjson(out_dir) -> dict[str, list[dict]]:
    files = {}
    for path in sorted(out_dir.glob("*.ndjson")):
        lines = path.read_text(encoding="utf-8").splitlines()
        files[path.stem] = [json.loads(line) for line in lines]
    return files


def export(out_dir, username: str) -> str:
    out = io.StringIO()
    call_command("export_fhir", "--out", str(out_dir), "--as-user", username, stdout=out)
    return out.getvalue()


def test_the_demo_caseload_exports_as_ndjson_that_validates_line_by_line(tmp_path, doctor, nurse):
    flex_pump = seed_demo_caseload_with_a_flex_program(nurse)
    voided = PatientFactory()
    void_record(voided, by=doctor, reason="Duplicate record")
    (tmp_path / "Flag.ndjson").write_text("left over from an earlier export\n")

    printed = export(tmp_path, doctor.username)

    files = read_ndjson(tmp_path)
    # One file per type, each line a resource of that type (no Bundle wrapper).
    for kind, resources in files.items():
        assert resources and all(resource["resourceType"] == kind for resource in resources)
    assert {
        "Patient",
        "Device",
        "DeviceUseStatement",
        "Procedure",
        "MedicationRequest",
        "Observation",
        "Goal",
        "Flag",
    } <= set(files)
    ids_by_type = {kind: {resource["id"] for resource in resources} for kind, resources in files.items()}
    # Each line: fhir.resources R4B, code bindings, hh:mm:ss times, and every Type/id reference written.
    problems = [
        problem
        for resources in files.values()
        for resource in resources
        for problem in check_ndjson_line(resource, ids_by_type)
    ]
    assert problems == []
    for kind, resources in files.items():
        assert len(ids_by_type[kind]) == len(resources), f"{kind} written twice"
    mrns = {patient["identifier"][0]["value"] for patient in files["Patient"]}
    assert mrns == set(Patient.objects.active().values_list("mrn", flat=True))
    assert voided.mrn not in mrns
    # The flex program is among the lines: one ug/h dosage per step, at its hh:mm:ss.
    flex = [r for r in files["MedicationRequest"] if len(r["dosageInstruction"]) > 1]
    assert [d["timing"]["repeat"]["timeOfDay"] for d in flex[0]["dosageInstruction"]] == [
        ["00:00:00"],
        ["07:00:00"],
        ["19:30:00"],
    ]
    assert flex[0]["subject"]["reference"].removeprefix("Patient/") in ids_by_type["Patient"]
    assert flex_pump.patient.mrn in mrns
    # The clinic, named by every patient, is written once; references are relative (Type/id).
    assert len(files["Organization"]) == 1
    assert files["Patient"][0]["managingOrganization"]["reference"] == f"Organization/{files['Organization'][0]['id']}"
    # Every line of every file was written by this export (the stale Flag file was replaced).
    assert f"Flag.ndjson: {len(files['Flag'])}" in printed


def test_the_export_is_in_the_access_log_once_per_patient_exported(tmp_path, therapist, doctor):
    patients = [PatientFactory(), PatientFactory()]
    voided = PatientFactory()
    void_record(voided, by=doctor, reason="Duplicate record")

    export(tmp_path, therapist.username)

    entries = RecordAccess.objects.order_by("patient_id")
    command = f"manage.py export_fhir --out {tmp_path} --as-user {therapist.username}"
    assert [(e.user, e.patient_id, e.kind, e.object_id, e.channel, e.path) for e in entries] == [
        (therapist, patient.pk, "patient", patient.pk, "ndjson", command) for patient in patients
    ]


def test_a_caseload_larger_than_a_batch_is_logged_in_one_insert_per_batch(tmp_path, nurse, monkeypatch):
    monkeypatch.setattr("interop.bulk.PATIENTS_PER_BATCH", 2)
    patients = [PatientFactory() for _ in range(5)]

    with CaptureQueriesContext(connection) as queries:
        export(tmp_path, nurse.username)

    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "access_log_')]
    assert len(inserts) == 3  # 2 + 2 + 1 patients
    assert sorted(RecordAccess.objects.values_list("patient_id", flat=True)) == [p.pk for p in patients]
    assert len(read_ndjson(tmp_path)["Patient"]) == 5


@pytest.mark.parametrize("role", ROLES)
def test_every_role_exports_the_caseload(tmp_path, personas, role):
    patient = PatientFactory()

    printed = export(tmp_path, personas[role].username)

    assert "Patient.ndjson: 1" in printed
    assert RecordAccess.objects.get().user == personas[role]
    assert read_ndjson(tmp_path)["Patient"][0]["identifier"][0]["value"] == patient.mrn


def test_the_exporting_user_must_be_named_and_be_staff(tmp_path, outsider):
    PatientFactory()
    with pytest.raises(CommandError, match="--as-user"):
        call_command("export_fhir", "--out", str(tmp_path))
    with pytest.raises(CommandError, match="No active account"):
        call_command("export_fhir", "--out", str(tmp_path), "--as-user", "nobody")
    with pytest.raises(CommandError, match="has no role"):
        call_command("export_fhir", "--out", str(tmp_path), "--as-user", outsider.username)
    assert not RecordAccess.objects.exists()
    assert list(tmp_path.glob("*.ndjson")) == []
