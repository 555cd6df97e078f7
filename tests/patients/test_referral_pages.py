"""The referrals inbox and decisions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from patients.models import Referral
from spasticity.timeutil import clinic_today
from tests.factories import PatientFactory, ReferralFactory

pytestmark = pytest.mark.django_db


def test_the_inbox_lists_new_referrals_oldest_first(client_as, administrator):
    newer = ReferralFactory(received_on=clinic_today() - dt.timedelta(days=1))
    older = ReferralFactory(received_on=clinic_today() - dt.timedelta(days=9))
    ReferralFactory(status=Referral.Status.ACCEPTED)
    page = client_as(administrator).get(reverse("patients:referral_inbox")).context["page"]
    assert [r.pk for r in page] == [older.pk, newer.pk]


def test_an_administrator_records_a_referral_for_a_patient(client_as, administrator):
    patient = PatientFactory()
    response = client_as(administrator).post(
        reverse("patients:referral_create", args=[patient.pk]),
        {
            "received_on": clinic_today().isoformat(),
            "referring_clinician": "Dr R. Osei",
            "referring_service": "Community paediatrics",
            "reason": "Painful hip adductor spasticity",
        },
    )
    assert response.status_code == 302
    referral = Referral.objects.get(patient=patient)
    assert referral.status == "new"
    assert referral.history.latest().history_user == administrator


def test_a_future_received_date_is_refused(client_as, nurse):
    patient = PatientFactory()
    response = client_as(nurse).post(
        reverse("patients:referral_create", args=[patient.pk]),
        {
            "received_on": (clinic_today() + dt.timedelta(days=2)).isoformat(),
            "referring_clinician": "Dr R. Osei",
            "referring_service": "Community paediatrics",
            "reason": "x",
        },
    )
    assert response.status_code == 200
    assert "cannot be in the future" in response.context["form"].errors["received_on"][0]
    assert not Referral.objects.exists()


def test_declining_needs_a_reason_and_saves_nothing_without_one(client_as, doctor):
    referral = ReferralFactory()
    client = client_as(doctor)
    url = reverse("patients:referral_decide", args=[referral.pk])
    refused = client.post(url, {"status": "declined", "decline_reason": "", "version": referral.version})
    assert refused.status_code == 400
    assert "Say why" in refused.content.decode()
    referral.refresh_from_db()
    assert referral.status == "new"
    accepted = client.post(url, {"status": "accepted", "decline_reason": "", "version": referral.version})
    assert accepted.status_code == 302
    referral.refresh_from_db()
    assert referral.status == "accepted" and referral.decided_by == doctor


@pytest.mark.parametrize("role", ["physical_therapist", "neurosurgeon"])
def test_clinical_roles_outside_referrals_cannot_decide_them(client_as, personas, role):
    referral = ReferralFactory()
    response = client_as(personas[role]).post(
        reverse("patients:referral_decide", args=[referral.pk]), {"status": "accepted", "version": referral.version}
    )
    assert response.status_code == 403
    referral.refresh_from_db()
    assert referral.status == "new"
    page = client_as(personas[role]).get(reverse("patients:referral_detail", args=[referral.pk])).content.decode()
    assert "Record decision" not in page


def test_voiding_a_referral_keeps_it_with_who_and_why(client_as, nurse):
    referral = ReferralFactory()
    response = client_as(nurse).post(
        reverse("record_void", args=["patients.referral", referral.pk]), {"reason": "Entered twice", "next": "/"}
    )
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.is_voided and referral.voided_by == nurse and referral.void_reason == "Entered twice"
    assert Referral.objects.filter(pk=referral.pk).exists()
    assert referral.history.latest().history_change_reason == "Voided: Entered twice"


def test_a_therapist_cannot_void_a_referral(client_as, therapist):
    referral = ReferralFactory()
    response = client_as(therapist).post(
        reverse("record_void", args=["patients.referral", referral.pk]), {"reason": "x"}
    )
    assert response.status_code == 403
    referral.refresh_from_db()
    assert not referral.is_voided


def test_clinical_records_refuse_hard_deletion():
    referral = ReferralFactory()
    with pytest.raises(PermissionError):
        referral.delete()
    assert Referral.objects.filter(pk=referral.pk).exists()
