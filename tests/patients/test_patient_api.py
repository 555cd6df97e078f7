"""The patients and referrals API: token auth, validation, roles, history, concurrency."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from patients.models import Patient, Referral
from spasticity.timeutil import clinic_today
from tests.factories import DEMO_PASSWORD, PatientFactory, ReferralFactory

pytestmark = pytest.mark.django_db

NEW_PATIENT = {
    "mrn": "MRN777",
    "given_name": "Leo",
    "family_name": "Brandt",
    "birth_date": "2016-07-09",
    "sex": "male",
    "diagnosis": "cerebral_palsy",
    "gmfcs_level": 5,
    "weight_kg": "18.2",
    "height_cm": 110,
}


def test_a_token_is_issued_for_a_username_and_password(nurse):
    response = APIClient().post("/api/v1/auth/token/", {"username": nurse.username, "password": DEMO_PASSWORD})
    assert response.status_code == 200
    token = response.json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/patients/").status_code == 200


def test_a_wrong_password_gets_no_token(nurse):
    response = APIClient().post("/api/v1/auth/token/", {"username": nurse.username, "password": "nope"})
    assert response.status_code == 400
    assert "token" not in response.json()


def test_patient_lists_are_paginated(api_as, therapist):
    PatientFactory.create_batch(3)
    body = api_as(therapist).get("/api/v1/patients/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3


def test_a_nurse_creates_a_patient_through_the_api(api_as, nurse):
    response = api_as(nurse).post("/api/v1/patients/", NEW_PATIENT, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["pathway_stage"] == "referred"
    assert body["birth_date"] == "2016-07-09"
    assert Patient.objects.get(mrn="MRN777").history.latest().history_user == nurse


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"birth_date": (clinic_today() + dt.timedelta(days=3)).isoformat()}, "birth_date"),
        ({"gmfcs_level": 7}, "gmfcs_level"),
        ({"weight_kg": "0"}, "weight_kg"),
        ({"given_name": ""}, "given_name"),
        ({"sex": "robot"}, "sex"),
        ({"birth_date": "09/07/2016"}, "birth_date"),
    ],
)
def test_bad_patient_input_through_the_api_is_a_400_with_field_errors(api_as, nurse, changes, field):
    response = api_as(nurse).post("/api/v1/patients/", {**NEW_PATIENT, **changes}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert isinstance(response.json()[field], list)
    assert not Patient.objects.exists()


def test_a_duplicate_mrn_through_the_api_is_a_400(api_as, nurse):
    PatientFactory(mrn="MRN777")
    response = api_as(nurse).post("/api/v1/patients/", NEW_PATIENT, format="json")
    assert response.status_code == 400
    assert "mrn" in response.json()
    assert Patient.objects.count() == 1


@pytest.mark.parametrize("role", ["physical_therapist", "neurosurgeon"])
def test_roles_without_the_right_get_403_and_nothing_is_saved(api_as, personas, role):
    patient = PatientFactory(given_name="Leo")
    client = api_as(personas[role])
    assert client.post("/api/v1/patients/", NEW_PATIENT, format="json").status_code == 403
    patch = client.patch(f"/api/v1/patients/{patient.pk}/", {"given_name": "X", "version": 1}, format="json")
    assert patch.status_code == 403
    patient.refresh_from_db()
    assert patient.given_name == "Leo"
    assert Patient.objects.count() == 1


def test_an_update_with_a_stale_version_is_refused_with_409(api_as, nurse, administrator):
    patient = PatientFactory(weight_kg="20.0")
    first = api_as(nurse).patch(f"/api/v1/patients/{patient.pk}/", {"weight_kg": "21.0", "version": 1}, format="json")
    assert first.status_code == 200, first.json()
    assert first.json()["version"] == 2
    second = api_as(administrator).patch(
        f"/api/v1/patients/{patient.pk}/", {"weight_kg": "30.0", "version": 1}, format="json"
    )
    assert second.status_code == 409
    assert "version" in second.json()
    patient.refresh_from_db()
    assert str(patient.weight_kg) == "21.0"


def test_an_update_without_a_version_is_refused(api_as, nurse):
    patient = PatientFactory(weight_kg="20.0")
    response = api_as(nurse).patch(f"/api/v1/patients/{patient.pk}/", {"weight_kg": "25.0"}, format="json")
    assert response.status_code == 400
    assert "version" in response.json()


def test_the_history_endpoint_lists_who_changed_what_and_why_newest_first(api_as, nurse, doctor):
    patient = PatientFactory(weight_kg="20.0")
    api_as(nurse).patch(
        f"/api/v1/patients/{patient.pk}/",
        {"weight_kg": "21.5", "version": 1, "change_reason": "Weighed in clinic"},
        format="json",
    )
    history = api_as(doctor).get(f"/api/v1/patients/{patient.pk}/history/").json()
    assert history[0]["history_user"] == nurse.username
    assert history[0]["history_type"] == "~"
    assert "weight_kg" in history[0]["changed_fields"]
    assert history[0]["history_change_reason"] == "Weighed in clinic"
    assert history[-1]["history_type"] == "+"
    assert set(history[0]) == {
        "history_date",
        "history_user",
        "history_type",
        "changed_fields",
        "history_change_reason",
    }


def test_patients_cannot_be_deleted_only_voided_with_a_reason(api_as, doctor):
    patient = PatientFactory()
    client = api_as(doctor)
    assert client.delete(f"/api/v1/patients/{patient.pk}/").status_code == 405
    refused = client.post(f"/api/v1/patients/{patient.pk}/void/", {"reason": ""}, format="json")
    assert refused.status_code == 400
    voided = client.post(f"/api/v1/patients/{patient.pk}/void/", {"reason": "Duplicate record"}, format="json")
    assert voided.status_code == 200
    patient.refresh_from_db()
    assert patient.is_voided and patient.void_reason == "Duplicate record" and patient.voided_by == doctor


def test_referrals_filter_by_patient_and_a_decline_needs_a_reason(api_as, administrator):
    mine = ReferralFactory()
    ReferralFactory()
    client = api_as(administrator)
    listed = client.get(f"/api/v1/referrals/?patient={mine.patient_id}").json()
    assert [r["id"] for r in listed["results"]] == [mine.pk]
    refused = client.patch(f"/api/v1/referrals/{mine.pk}/", {"status": "declined", "version": 1}, format="json")
    assert refused.status_code == 400
    assert "decline_reason" in refused.json()
    mine.refresh_from_db()
    assert mine.status == Referral.Status.NEW
    accepted = client.patch(f"/api/v1/referrals/{mine.pk}/", {"status": "accepted", "version": 1}, format="json")
    assert accepted.status_code == 200
    assert accepted.json()["decided_on"] == clinic_today().isoformat()


def test_the_openapi_schema_and_docs_are_served_to_signed_in_users(client_as, api_as, nurse):
    schema = api_as(nurse).get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/patients/" in paths and "/api/v1/patients/{id}/history/" in paths
    docs = client_as(nurse).get("/api/docs/")
    assert docs.status_code == 200
