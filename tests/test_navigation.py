"""Each role sees the navigation that fits its work (the server checks again on every action)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def nav_items(client) -> set[str]:
    html = client.get(reverse("patients:list")).content.decode()
    return set(re.findall(r'data-nav="([^"]+)"', html))


@pytest.mark.parametrize(
    ("role", "expected", "hidden"),
    [
        ("rehab_doctor", {"patients", "referrals", "new-patient"}, set()),
        ("pump_nurse", {"patients", "referrals", "new-patient"}, set()),
        ("administrator", {"patients", "referrals", "new-patient"}, set()),
        ("physical_therapist", {"patients"}, {"referrals", "new-patient"}),
        ("neurosurgeon", {"patients"}, {"referrals", "new-patient"}),
    ],
)
def test_each_role_sees_its_navigation(client_as, personas, role, expected, hidden):
    items = nav_items(client_as(personas[role]))
    assert expected <= items
    assert not (hidden & items)


def test_the_signed_in_user_and_role_are_shown(client_as, nurse):
    html = client_as(nurse).get(reverse("patients:list")).content.decode()
    assert "Nia Nash" in html and "Pump nurse" in html
