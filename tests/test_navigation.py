"""Each role sees the navigation that fits its work (the server checks again on every action)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def nav_items(client) -> set[str]:
    """The items of the main navigation (the user menu, which holds the API, is not in it)."""
    html = client.get(reverse("patients:list")).content.decode()
    main = html[html.index('data-testid="main-nav"') : html.index('data-testid="user-menu"')]
    return set(re.findall(r'data-nav="([^"]+)"', main))


@pytest.mark.parametrize(
    ("role", "expected", "hidden"),
    [
        ("rehab_doctor", {"patients", "referrals", "trials"}, {"new-patient", "api", "dashboard"}),
        ("pump_nurse", {"patients", "referrals", "trials"}, {"new-patient", "api", "dashboard"}),
        ("administrator", {"patients", "referrals", "dashboard"}, {"new-patient", "api", "trials"}),
        ("physical_therapist", {"patients", "trials"}, {"referrals", "new-patient", "api"}),
        ("neurosurgeon", {"patients"}, {"referrals", "new-patient", "trials", "api"}),
    ],
)
def test_each_role_sees_its_navigation(client_as, personas, role, expected, hidden):
    # "New patient" left the navigation for the home page's shortcuts (tests/test_role_homes.py),
    # and the API for the user menu: six items at most for any role.
    items = nav_items(client_as(personas[role]))
    assert expected <= items
    assert not (hidden & items)
    assert len(items) <= 6


def test_the_api_docs_are_in_the_user_menu_beside_sign_out(client_as, nurse):
    html = client_as(nurse).get(reverse("patients:list")).content.decode()
    menu = html[html.index('data-testid="user-menu"') : html.index("</nav>")]
    assert f'href="{reverse("api_docs")}" data-nav="api"' in menu
    assert 'data-bs-toggle="dropdown"' in menu and "Sign out" in menu


def test_the_signed_in_user_and_role_are_shown(client_as, nurse):
    html = client_as(nurse).get(reverse("patients:list")).content.decode()
    assert "Nia Nash" in html and "Pump nurse" in html
