"""The demo caseload covers the whole pathway, with a login per role and coherent dates."""

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


@pytest.fixture(scope="module")
def demo_caseload(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        # 15 patients: a third (5) for the four trial stories, ten for the ten pump stories.
        call_command("seed_demo", "--patients", "15", stdout=io.StringIO())
        yield
        # Module-scoped data outside the per-test transactions: clear it for the tests after us.
        from django.core.management import call_command as run

        run("flush", "--noinput", verbosity=0)
        from django.contrib.auth.models import Group, Permission
        from django.contrib.contenttypes.models import ContentType

        from spasticity.roles import sync_role_groups

        sync_role_groups(Group, Permission, ContentType)


def test_every_pathway_stage_is_in_the_demo(demo_caseload):
    stages = set(Patient.objects.values_list("pathway_stage", flat=True))
    assert stages == set(PathwayStage.values)


def test_each_role_has_a_demo_login_with_the_demo_password(demo_caseload):
    for username, role in [
        ("doctor", Role.REHAB_DOCTOR),
        ("nurse", Role.PUMP_NURSE),
        ("therapist", Role.PHYSICAL_THERAPIST),
        ("surgeon", Role.NEUROSURGEON),
        ("admin", Role.ADMINISTRATOR),
    ]:
        user = User.objects.get(username=username)
        assert roles_of(user) == {role}
        assert user.check_password(DEMO_PASSWORD)


def test_no_demo_referral_comes_after_the_treatment_it_led_to(demo_caseload):
    for patient in Patient.objects.all():
        events = patient_timeline(patient)
        referrals = [e.on for e in events if e.kind == "referral"]
        treatment = [e.on for e in events if e.kind != "referral"]
        if referrals and treatment:
            assert max(referrals) <= min(treatment), patient.mrn


def test_seeding_twice_leaves_the_demo_as_it_is(demo_caseload):
    count = Patient.objects.count()
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "already present" in out.getvalue()
    assert Patient.objects.count() == count
