"""``python manage.py export_fhir --out DIR``: the demo caseload as Bulk Data NDJSON, checked line by line."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from patients.models import Patient
from spasticity.audit import void_record
from tests.factories import PatientFactory
from tests.interop.fhir_checks import check_ndjson_line

pytestmark = pytest.mark.django_db


def read_ndjson(out_dir) -> dict[str, list[dict]]:
    files = {}
    for path in sorted(out_dir.glob("*.ndjson")):
        lines = path.read_text(encoding="utf-8").splitlines()
        files[path.stem] = [json.loads(line) for line in lines]
    return files


def test_the_demo_caseload_exports_as_ndjson_that_validates_line_by_line(tmp_path, doctor):
    call_command("seed_demo", "--i-know-this-is-not-production", "--patients", "15", stdout=io.StringIO())
    voided = PatientFactory()
    void_record(voided, by=doctor, reason="Duplicate record")
    (tmp_path / "Flag.ndjson").write_text("left over from an earlier export\n")

    out = io.StringIO()
    call_command("export_fhir", "--out", str(tmp_path), stdout=out)

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
    # The clinic, named by every patient, is written once; references are relative (Type/id).
    assert len(files["Organization"]) == 1
    assert files["Patient"][0]["managingOrganization"]["reference"] == f"Organization/{files['Organization'][0]['id']}"
    # Every line of every file was written by this export (the stale Flag file was replaced).
    assert f"Flag.ndjson: {len(files['Flag'])}" in out.getvalue()
