"""Patient pages: create, edit with audit and concurrency, bad input, roles, query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from patients.models import Patient
from spasticity.timeutil import clinic_today
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

VALID_PATIENT = {
    "mrn": "MRN900001",
    "given_name": "Maya",
    "family_name": "Okafor",
    "birth_date": "2015-03-02",
    "sex": "female",
    "diagnosis": "cerebral_palsy",
    "gmfcs_level": "4",
    "weight_kg": "24.5",
    "height_cm": "121",
    "reliable_transport": "yes",
    "plans_to_move": "no",
    "travel_burden": "",
}


def edit_form_data(patient: Patient, **changes: str) -> dict[str, str]:
    data = {
        **VALID_PATIENT,
        "mrn": patient.mrn,
        "version": str(patient.version),
        "change_reason": "",
    }
    data.update(changes)
    return data


def test_a_nurse_creates_a_patient_and_the_history_names_her(client_as, nurse):
    response = client_as(nurse).post(reverse("patients:create"), VALID_PATIENT)
    assert response.status_code == 302
    patient = Patient.objects.get(mrn="MRN900001")
    assert patient.pathway_stage == "referred"
    first = patient.history.earliest()
    assert first.history_type == "+"
    assert first.history_user == nurse


def test_editing_a_patient_records_the_user_and_reason_on_the_history_page(client_as, administrator, doctor):
    patient = PatientFactory(weight_kg="20.0")
    client = client_as(administrator)
    response = client.post(
        reverse("patients:update", args=[patient.pk]),
        edit_form_data(patient, weight_kg="22.5", change_reason="Weighed at clinic"),
    )
    assert response.status_code == 302, response.content
    patient.refresh_from_db()
    assert str(patient.weight_kg) == "22.5"
    latest = patient.history.latest()
    assert latest.history_user == administrator
    assert latest.history_change_reason == "Weighed at clinic"
    page = client_as(doctor).get(reverse("record_history", args=["patients.patient", patient.pk]))
    html = page.content.decode()
    # The person by name, the field by its label (issue 14, point 6).
    assert "Ada Adams" in html and "admin_adams" not in html
    assert "Weighed at clinic" in html
    assert "weight_kg" not in html and "Weight (kg)" in html and "20" in html and "22.5" in html


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("birth_date", (clinic_today() + dt.timedelta(days=1)).isoformat(), "cannot be in the future"),
        ("gmfcs_level", "7", "less than or equal to 5"),
        ("weight_kg", "0", "Weight must be more than 0 kg"),
        ("given_name", "", "This field is required"),
        ("mrn", "", "This field is required"),
    ],
)
def test_bad_patient_input_gets_a_field_message_and_saves_nothing(client_as, nurse, field, value, message):
    response = client_as(nurse).post(reverse("patients:create"), {**VALID_PATIENT, field: value})
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors
    assert any(message in error for error in form.errors[field])
    assert not Patient.objects.exists()


def test_a_duplicate_mrn_is_refused_with_a_field_message(client_as, nurse):
    PatientFactory(mrn="MRN900001")
    response = client_as(nurse).post(reverse("patients:create"), VALID_PATIENT)
    assert response.status_code == 200
    assert "already exists" in response.context["form"].errors["mrn"][0]
    assert Patient.objects.count() == 1


def test_the_later_of_two_concurrent_edits_is_refused_not_silently_applied(client_as, nurse, administrator):
    patient = PatientFactory(weight_kg="20.0", given_name="Maya")
    opened_version = patient.version
    first = client_as(nurse).post(
        reverse("patients:update", args=[patient.pk]),
        edit_form_data(patient, weight_kg="21.0", version=str(opened_version)),
    )
    assert first.status_code == 302
    second = client_as(administrator).post(
        reverse("patients:update", args=[patient.pk]),
        edit_form_data(patient, weight_kg="30.0", version=str(opened_version)),
    )
    assert second.status_code == 200
    assert "Someone else saved this record" in second.content.decode()
    patient.refresh_from_db()
    assert str(patient.weight_kg) == "21.0"


@pytest.mark.parametrize("role", ["physical_therapist", "neurosurgeon"])
def test_roles_without_the_right_cannot_create_or_edit_patients(client_as, personas, role):
    patient = PatientFactory(given_name="Maya")
    client = client_as(personas[role])
    assert client.post(reverse("patients:create"), VALID_PATIENT).status_code == 403
    edit = client.post(reverse("patients:update", args=[patient.pk]), edit_form_data(patient, given_name="Changed"))
    assert edit.status_code == 403
    patient.refresh_from_db()
    assert patient.given_name == "Maya"
    assert Patient.objects.count() == 1
    page = client.get(reverse("patients:detail", args=[patient.pk])).content.decode()
    assert reverse("patients:update", args=[patient.pk]) not in page


@pytest.mark.parametrize("role", ["rehab_doctor", "pump_nurse", "administrator"])
def test_roles_with_the_right_can_create_patients(client_as, personas, role):
    response = client_as(personas[role]).post(reverse("patients:create"), VALID_PATIENT)
    assert response.status_code == 302
    assert Patient.objects.filter(mrn="MRN900001").exists()


def test_an_outsider_with_no_role_sees_no_patient_page(client_as, outsider):
    patient = PatientFactory()
    client = client_as(outsider)
    assert client.get(reverse("patients:list")).status_code == 403
    assert client.get(reverse("patients:detail", args=[patient.pk])).status_code == 403


def count_list_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_the_patient_list_makes_the_same_number_of_queries_for_5_and_200_patients(client_as, nurse):
    client = client_as(nurse)
    PatientFactory.create_batch(5, assigned_nurse=nurse)
    with_5 = count_list_queries(client, reverse("patients:list"))
    PatientFactory.create_batch(195, assigned_nurse=nurse)
    with_200 = count_list_queries(client, reverse("patients:list"))
    assert with_5 == with_200
    # One more since issue 14 (point 6): the nurse filter names each nurse with her role, the
    # nurses' groups prefetched in one query (spasticity.forms.StaffChoiceField).
    assert with_200 <= 13


def test_the_patient_list_searches_by_mrn_and_name_and_filters(client_as, nurse, doctor):
    PatientFactory(mrn="MRN111", family_name="Okafor", assigned_nurse=nurse)
    PatientFactory(mrn="MRN222", family_name="Smith", diagnosis="stroke")
    client = client_as(doctor)
    by_name = client.get(reverse("patients:list"), {"q": "okaf"}).context["page"]
    assert [p.mrn for p in by_name] == ["MRN111"]
    by_mrn = client.get(reverse("patients:list"), {"q": "MRN222"}).context["page"]
    assert [p.mrn for p in by_mrn] == ["MRN222"]
    by_nurse = client.get(reverse("patients:list"), {"nurse": nurse.pk}).context["page"]
    assert [p.mrn for p in by_nurse] == ["MRN111"]
    by_diagnosis = client.get(reverse("patients:list"), {"diagnosis": "stroke"}).context["page"]
    assert [p.mrn for p in by_diagnosis] == ["MRN222"]


def test_the_page_refuses_a_pump_nurse_who_is_not_an_active_pump_nurse(client_as, administrator, nurse):
    patient = PatientFactory()
    client = client_as(administrator)
    url = reverse("patients:update", args=[patient.pk])
    response = client.post(url, edit_form_data(patient, assigned_nurse=str(administrator.pk)))
    assert response.status_code == 200 and "assigned_nurse" in response.context["form"].errors
    patient.refresh_from_db()
    assert patient.assigned_nurse_id is None
    accepted = client.post(url, edit_form_data(patient, assigned_nurse=str(nurse.pk)))
    assert accepted.status_code == 302
    patient.refresh_from_db()
    assert patient.assigned_nurse == nurse


def test_the_service_refuses_a_non_nurse_whatever_the_caller(administrator, doctor):
    from django.core.exceptions import ValidationError

    from patients.services import patient_save

    patient = PatientFactory()
    patient.assigned_nurse = doctor
    with pytest.raises(ValidationError) as refused:
        patient_save(patient, by=administrator, expected_version=patient.version)
    assert "assigned_nurse" in refused.value.message_dict
