"""``GET patients/{id}/fhir/`` and the transfer summary: media type, roles, and the access log."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from access_log.models import RecordAccess
from tests.factories import PatientFactory
from tests.interop.fhir_checks import check_bundle

pytestmark = pytest.mark.django_db

ROLES = ["rehab_doctor", "pump_nurse", "physical_therapist", "neurosurgeon", "administrator"]


def fhir_url(patient) -> str:
    return f"/api/v1/patients/{patient.pk}/fhir/"


def document_url(patient) -> str:
    return f"/api/v1/patients/{patient.pk}/fhir/transfer-summary/"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_exports_the_bundle_as_fhir_json(api_as, personas, implanted_patient, role):
    response = api_as(personas[role]).get(fhir_url(implanted_patient))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    by_type = check_bundle(json.loads(response.content))
    assert by_type["Patient"][0]["identifier"][0]["value"] == implanted_patient.mrn


@pytest.mark.parametrize("role", ROLES)
def test_every_role_gets_the_transfer_document(api_as, personas, implanted_patient, role):
    response = api_as(personas[role]).get(document_url(implanted_patient))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    check_bundle(json.loads(response.content), bundle_type="document")


def test_a_fhir_client_asking_for_fhir_json_gets_it(api_as, nurse, referred_patient):
    response = api_as(nurse).get(fhir_url(referred_patient), HTTP_ACCEPT="application/fhir+json")
    assert response.status_code == 200 and response["Content-Type"] == "application/fhir+json"


@pytest.mark.parametrize("url", [fhir_url, document_url])
def test_anonymous_and_roleless_exports_are_refused_and_not_logged(api_as, outsider, referred_patient, url):
    assert APIClient().get(url(referred_patient)).status_code in (401, 403)
    assert api_as(outsider).get(url(referred_patient)).status_code == 403
    assert not RecordAccess.objects.exists()


@pytest.mark.parametrize("url", [fhir_url, document_url])
def test_each_export_is_logged_as_an_api_read_of_the_patient(api_as, therapist, referred_patient, url):
    api_as(therapist).get(url(referred_patient))
    entry = RecordAccess.objects.get()
    assert (entry.user, entry.patient_id, entry.kind, entry.object_id, entry.channel) == (
        therapist,
        referred_patient.pk,
        "patient",
        referred_patient.pk,
        "api",
    )
    assert entry.path == url(referred_patient)


def test_a_voided_or_missing_patient_is_not_exported(api_as, doctor):
    patient = PatientFactory()
    from spasticity.audit import void_record

    void_record(patient, by=doctor, reason="Duplicate record")
    assert api_as(doctor).get(fhir_url(patient)).status_code == 404
    assert api_as(doctor).get("/api/v1/patients/999999/fhir/").status_code == 404
    assert not RecordAccess.objects.exists()


def test_the_schema_documents_both_exports_as_fhir_json(api_as, nurse):
    paths = api_as(nurse).get("/api/schema/?format=json").json()["paths"]
    for path in ("/api/v1/patients/{id}/fhir/", "/api/v1/patients/{id}/fhir/transfer-summary/"):
        ok = paths[path]["get"]["responses"]["200"]
        assert list(ok["content"]) == ["application/fhir+json"]
        assert {"401", "403", "404"} <= set(paths[path]["get"]["responses"])


def test_the_patient_page_links_to_the_transfer_summary(client_as, administrator, referred_patient):
    page = client_as(administrator).get(reverse("patients:detail", args=[referred_patient.pk]))
    assert reverse("interop:transfer_summary_pdf", args=[referred_patient.pk]) in page.content.decode()


def test_an_error_is_json_even_for_a_client_that_accepts_only_fhir_json(api_as, nurse):
    response = api_as(nurse).get("/api/v1/patients/999999/fhir/", HTTP_ACCEPT="application/fhir+json")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert "detail" in response.json()
