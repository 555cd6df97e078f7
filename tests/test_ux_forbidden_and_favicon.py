"""A styled 403 that names the role needed, and a favicon (issue 14, point 7)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from spasticity.errors import capability_for
from spasticity.roles import CAPABILITIES, PERMS
from tests.factories import PumpFactory, TrialFactory

pytestmark = pytest.mark.django_db


def test_a_refused_page_names_the_roles_that_may_do_it(client_as, administrator):
    pump = PumpFactory()
    response = client_as(administrator).get(reverse("pumps:refill_create", args=[pump.pk]))
    assert response.status_code == 403
    html = response.content.decode()
    assert "Your role does not allow this" in html
    assert "To record a pump refill you need the role Rehabilitation doctor or Pump nurse." in html
    assert "Ada Adams (Clinic administrator)" in html
    assert 'data-testid="needed-roles"' in html
    # The site's own page, with its navigation, not Django's bare "403 Forbidden".
    assert 'aria-label="Main"' in html


def test_a_refused_post_names_the_doctor_for_signing(client_as, nurse):
    trial = TrialFactory()
    response = client_as(nurse).post(reverse("trials:sign_off", args=[trial.pk]), {"outcome": "positive"})
    assert response.status_code == 403
    assert "To sign off a trial outcome you need the role Rehabilitation doctor." in response.content.decode()


def test_a_refusal_with_its_own_reason_shows_that_reason(client_as, outsider):
    response = client_as(outsider).get(reverse("patients:list"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "Your account has no clinic role. Ask an administrator." in html
    assert "with no clinic role" in html


def test_an_api_refusal_stays_json(client_as, administrator):
    response = client_as(administrator).get("/api/v1/no-such-thing/")
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("capability", CAPABILITIES, ids=lambda capability: capability.codename)
def test_every_clinic_permission_maps_to_its_roles(capability):
    assert capability_for(f"spasticity.{capability.codename}") == capability


def test_a_permission_outside_the_clinic_table_names_no_role():
    assert capability_for("auth.change_user") is None
    assert capability_for(PERMS.RECORD_REFILL) is not None


def test_favicon_ico_is_served_at_the_root(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"


def test_every_page_links_the_svg_favicon(client):
    html = client.get(reverse("login")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    assert client.get("/static/favicon.svg").status_code == 200
