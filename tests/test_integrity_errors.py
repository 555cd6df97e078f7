"""Two saves that race past the validators (spec section 4): the loser gets a 400 with a field
message on the API and a field error on the page, never a 500.

The race is made deterministic by switching the uniqueness checks off, so both "requests"
pass validation and PostgreSQL's unique key refuses the second INSERT, as it would when
two clerks press Save at the same moment.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.validators import UniqueValidator

from patients import services as patient_services
from patients.models import Patient
from spasticity.api_errors import exception_handler
from spasticity.integrity import CLASH_MESSAGE, integrity_validation_error
from tests.factories import PatientFactory
from tests.patients import test_patient_api

pytestmark = pytest.mark.django_db

MRN_TAKEN = "Patient with this MRN already exists."

NEW_PATIENT = {**test_patient_api.NEW_PATIENT, "mrn": "MRN4242"}

PAGE_PATIENT = {
    **NEW_PATIENT,
    "gmfcs_level": "4",
    "reliable_transport": "yes",
    "plans_to_move": "no",
    "travel_burden": "",
}


@pytest.fixture
def uniqueness_checks_raced_past(monkeypatch):
    """Both saves passed the serializer's, the form's and the model's uniqueness checks."""
    monkeypatch.setattr(UniqueValidator, "__call__", lambda self, value, serializer_field: None)
    monkeypatch.setattr(Patient, "validate_unique", lambda self, exclude=None: None)


class DriverError(Exception):
    """Stands in for psycopg's error, which carries the violated constraint's name."""

    def __init__(self, constraint_name: str | None) -> None:
        super().__init__("duplicate key value violates unique constraint")
        self.diag = type("Diagnostic", (), {"constraint_name": constraint_name})()


def integrity_error(constraint_name: str | None) -> IntegrityError:
    error = IntegrityError("duplicate key value violates unique constraint")
    error.__cause__ = DriverError(constraint_name)
    return error


def duplicate_mrn_error() -> IntegrityError:
    PatientFactory(mrn="MRN4242")
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        PatientFactory(mrn="MRN4242")
    return raised.value


# --- Through the real endpoint and page, with PostgreSQL's own error ---------------------


def test_the_later_of_two_patients_created_with_one_mrn_at_once_gets_a_400_on_mrn(
    api_as, nurse, uniqueness_checks_raced_past
):
    PatientFactory(mrn="MRN4242")
    response = api_as(nurse).post("/api/v1/patients/", NEW_PATIENT, format="json")
    assert response.status_code == 400
    assert response.json() == {"mrn": [MRN_TAKEN]}
    assert Patient.objects.filter(mrn="MRN4242").count() == 1


def test_an_mrn_changed_to_one_just_taken_gets_a_400_on_mrn(api_as, nurse, uniqueness_checks_raced_past):
    PatientFactory(mrn="MRN4242")
    other = PatientFactory(mrn="MRN5000")
    response = api_as(nurse).patch(
        f"/api/v1/patients/{other.pk}/", {"mrn": "MRN4242", "version": other.version}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"mrn": [MRN_TAKEN]}
    other.refresh_from_db()
    assert other.mrn == "MRN5000"


def test_the_patient_page_that_loses_the_mrn_race_shows_the_message_on_the_mrn_field(
    client_as, nurse, uniqueness_checks_raced_past
):
    PatientFactory(mrn="MRN4242")
    response = client_as(nurse).post(reverse("patients:create"), PAGE_PATIENT)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["mrn"] == [MRN_TAKEN]
    assert Patient.objects.filter(mrn="MRN4242").count() == 1


def test_a_page_save_refused_by_an_unknown_constraint_shows_the_generic_clash_message(client_as, nurse, monkeypatch):
    def clash(*args, **kwargs):
        raise integrity_error("some_future_constraint")

    monkeypatch.setattr(patient_services, "patient_save", clash)
    response = client_as(nurse).post(reverse("patients:create"), PAGE_PATIENT)
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [CLASH_MESSAGE]
    assert not Patient.objects.exists()


def test_the_api_exception_handler_turns_a_real_duplicate_key_into_a_400_on_the_field():
    response = exception_handler(duplicate_mrn_error(), {})
    assert response is not None
    assert response.status_code == 400
    assert response.data == {"mrn": [MRN_TAKEN]}


# --- The registry ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraint", "field", "message"),
    [
        ("pump_serial_unique_when_not_voided", "serial_number", "A pump with this serial number is already recorded."),
        (
            "one_implanted_pump_per_patient",
            "patient",
            "This patient already has an implanted pump: explant or replace it first.",
        ),
        ("patients_patient_mrn_key", "mrn", MRN_TAKEN),
        ("auth_user_username_key", "username", "A user with that username already exists."),
    ],
)
def test_each_known_constraint_lands_on_its_field(constraint, field, message):
    error = integrity_validation_error(integrity_error(constraint))
    assert error.message_dict == {field: [message]}


@pytest.mark.parametrize("constraint", ["some_future_constraint", None])
def test_an_unknown_or_unnamed_constraint_is_a_generic_400(constraint):
    response = exception_handler(integrity_error(constraint), {})
    assert response is not None
    assert response.status_code == 400
    assert response.data == {"non_field_errors": [CLASH_MESSAGE]}


def test_an_integrity_error_without_a_driver_cause_is_a_generic_400():
    response = exception_handler(IntegrityError("UNIQUE constraint failed: patients_patient.mrn"), {})
    assert response is not None
    assert response.data == {"non_field_errors": [CLASH_MESSAGE]}
