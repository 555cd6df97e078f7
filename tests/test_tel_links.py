"""Caregivers' numbers as ``tel:`` links: typed as free text, dialled as typed only when they can be."""

from __future__ import annotations

import pytest
from django.urls import reverse

from spasticity.templatetags.clinic import tel_href
from tests.factories import CaregiverFactory, PatientFactory


@pytest.mark.parametrize(
    ("typed", "href"),
    [
        ("07700 900123", "tel:07700900123"),
        ("+44 (0)7700 900123", "tel:+447700900123"),  # the written-out (0) is not dialled after +44
        ("0161 555 0100 ext 204", "tel:01615550100"),  # the extension is for a person, not the phone
        ("0161 555 0100 x204", "tel:01615550100"),
        ("07700 900123 / 07700 900456", "tel:07700900123"),  # the first of two numbers
        ("0770０900123", ""),  # a full-width digit: not what it looks like, so no link
        ("07700 9001²3", ""),
        ("call the school", ""),
        ("12345", ""),  # too short to be a number
        ("+1234567890123456", ""),  # longer than E.164 allows
    ],
)
def test_a_number_is_a_link_only_when_a_phone_can_dial_it(typed, href):
    assert tel_href(typed) == href


@pytest.mark.django_db
def test_the_patient_page_shows_an_undiallable_number_as_text(client_as, nurse):
    patient = PatientFactory()
    CaregiverFactory(patient=patient, name="Ada", phone="+44 (0)7700 900123")
    CaregiverFactory(patient=patient, name="Ben", phone="ask at reception")
    html = client_as(nurse).get(reverse("patients:detail", args=[patient.pk])).content.decode()
    assert 'href="tel:+447700900123"' in html
    assert "ask at reception" in html and 'href="tel:ask' not in html
