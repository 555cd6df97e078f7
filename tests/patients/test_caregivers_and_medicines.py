"""Caregivers with phone numbers, and oral medicines with their wean plan."""

from __future__ import annotations

import pytest
from django.urls import reverse

from patients.models import Caregiver, OralMedicine
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_an_administrator_adds_a_caregiver_shown_with_a_phone_link(client_as, administrator):
    patient = PatientFactory()
    client = client_as(administrator)
    response = client.post(
        reverse("patients:caregiver_create", args=[patient.pk]),
        {"name": "Grace Okafor", "relationship": "mother", "phone": "07700 900123", "is_legal_guardian": "on"},
    )
    assert response.status_code == 302
    caregiver = Caregiver.objects.get(patient=patient)
    assert caregiver.is_legal_guardian
    page = client.get(reverse("patients:detail", args=[patient.pk])).content.decode()
    assert 'href="tel:07700900123"' in page


def test_a_caregiver_needs_a_phone_number(client_as, nurse):
    patient = PatientFactory()
    response = client_as(nurse).post(
        reverse("patients:caregiver_create", args=[patient.pk]), {"name": "Grace", "relationship": "mother"}
    )
    assert response.status_code == 200
    assert "phone" in response.context["form"].errors
    assert not Caregiver.objects.exists()


def test_a_nurse_records_an_oral_medicine_with_its_wean_plan(client_as, nurse):
    patient = PatientFactory()
    response = client_as(nurse).post(
        reverse("patients:medicine_create", args=[patient.pk]),
        {"drug": "baclofen", "dose_description": "10 mg three times a day", "wean_plan": "-25% every 2 weeks"},
    )
    assert response.status_code == 302
    medicine = OralMedicine.objects.get(patient=patient)
    assert medicine.wean_plan == "-25% every 2 weeks"
    assert medicine.history.latest().history_user == nurse


def test_an_other_drug_must_be_named(client_as, doctor):
    patient = PatientFactory()
    response = client_as(doctor).post(
        reverse("patients:medicine_create", args=[patient.pk]), {"drug": "other", "dose_description": "5 mg"}
    )
    assert response.status_code == 200
    assert "Name the drug." in response.context["form"].errors["drug_other"]
    assert not OralMedicine.objects.exists()


def test_an_administrator_cannot_write_oral_medicines(client_as, administrator):
    patient = PatientFactory()
    response = client_as(administrator).post(
        reverse("patients:medicine_create", args=[patient.pk]), {"drug": "baclofen", "dose_description": "5 mg"}
    )
    assert response.status_code == 403
    assert not OralMedicine.objects.exists()
    page = client_as(administrator).get(reverse("patients:detail", args=[patient.pk])).content.decode()
    assert reverse("patients:medicine_create", args=[patient.pk]) not in page
