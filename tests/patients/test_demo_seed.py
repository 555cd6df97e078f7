"""The demo caseload covers the whole pathway, with a login per role and coherent dates.

One test seeds once (about 20 s) and checks everything, inside the test's transaction,
so nothing outlives it.
"""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from patients.models import PathwayStage, Patient
from patients.selectors import patient_timeline
from spasticity.roles import Role, roles_of
from tests.factories import DEMO_PASSWORD

pytestmark = pytest.mark.django_db

DEMO_LOGINS = [
    ("doctor", Role.REHAB_DOCTOR),
    ("nurse", Role.PUMP_NURSE),
    ("therapist", Role.PHYSICAL_THERAPIST),
    ("surgeon", Role.NEUROSURGEON),
    ("admin", Role.ADMINISTRATOR),
]


def referral_follows_treatment(patient: Patient) -> bool:
    events = patient_timeline(patient)
    referrals = [e.on for e in events if e.kind == "referral"]
    treatment = [e.on for e in events if e.kind != "referral"]
    return bool(referrals and treatment) and max(referrals) > min(treatment)


def test_the_demo_covers_every_stage_and_role_with_coherent_dates_and_seeds_once():
    # 15 patients: a third (5) for the four trial stories, ten for the ten pump stories.
    call_command("seed_demo", "--i-know-this-is-not-production", "--patients", "15", stdout=io.StringIO())

    assert set(Patient.objects.values_list("pathway_stage", flat=True)) == set(PathwayStage.values)
    for username, role in DEMO_LOGINS:
        user = User.objects.get(username=username)
        assert roles_of(user) == {role}
        assert user.check_password(DEMO_PASSWORD)
    assert [p.mrn for p in Patient.objects.all() if referral_follows_treatment(p)] == []

    count = Patient.objects.count()
    again = io.StringIO()
    call_command("seed_demo", "--i-know-this-is-not-production", stdout=again)
    assert "already present" in again.getvalue()
    assert Patient.objects.count() == count
