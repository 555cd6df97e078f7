from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from spasticity.roles import Role, roles_of

pytestmark = pytest.mark.django_db


def test_add_staff_creates_a_user_with_the_role_and_a_usable_password():
    call_command("add_staff", "nnash", "--role", "pump_nurse", "--password", "correct-horse-42", "--email", "n@x.org")
    user = User.objects.get(username="nnash")
    assert roles_of(user) == {Role.PUMP_NURSE}
    assert user.email == "n@x.org"
    assert user.check_password("correct-horse-42")
    assert user.has_perm("spasticity.record_refill")
    assert not user.has_perm("spasticity.sign_trial")


def test_add_staff_changes_the_role_of_an_existing_user():
    call_command("add_staff", "sam", "--role", "neurosurgeon", "--password", "correct-horse-42")
    call_command("add_staff", "sam", "--role", "rehab_doctor", "--password", "correct-horse-42")
    assert roles_of(User.objects.get(username="sam")) == {Role.REHAB_DOCTOR}


def test_add_staff_refuses_an_unknown_role_and_a_weak_password():
    with pytest.raises(CommandError):
        call_command("add_staff", "x", "--role", "janitor", "--password", "correct-horse-42")
    with pytest.raises(CommandError, match=r"too short|too common"):
        call_command("add_staff", "y", "--role", "administrator", "--password", "abc")
    assert not User.objects.filter(username__in=["x", "y"]).exists()


def test_the_migration_gives_each_role_its_permissions():
    from django.contrib.auth.models import Group

    perms = {g.name: {p.codename for p in g.permissions.all()} for g in Group.objects.all()}
    assert "sign_trial" in perms["rehab_doctor"] and "sign_trial" not in perms["pump_nurse"]
    assert "record_surgery" in perms["neurosurgeon"] and "record_refill" not in perms["neurosurgeon"]
    assert perms["administrator"] >= {"edit_patient", "manage_referral", "handle_alert"}
    clinical = {"record_refill", "change_dose", "record_tone", "sign_trial", "record_surgery", "plan_trial"}
    assert not (perms["administrator"] & clinical)
