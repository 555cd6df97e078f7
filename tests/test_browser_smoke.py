"""A real browser (headless Chromium) signs in and opens a patient."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.factories import DEMO_PASSWORD, CaregiverFactory, PatientFactory, ReferralFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_nurse_signs_in_finds_a_patient_and_opens_their_record(page: Page, live_server, nurse):
    patient = PatientFactory(given_name="Maya", family_name="Okafor", mrn="MRN424242", assigned_nurse=nurse)
    CaregiverFactory(patient=patient, name="Grace Okafor", phone="07700 900123")
    ReferralFactory(patient=patient, referring_clinician="Dr R. Osei")
    console_errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))

    sign_in(page, live_server.url, nurse.username)
    # A nurse starts the day on her home, which holds the worklist; the patient list is one click away.
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_test_id("nurse-home")).to_be_visible()
    page.get_by_role("link", name="Patients", exact=True).click()
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()
    page.get_by_label("MRN or name").fill("okafor")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="OKAFOR, Maya").click()

    expect(page.get_by_test_id("patient-name")).to_have_text("OKAFOR, Maya")
    expect(page.get_by_test_id("pathway-stage")).to_have_text("Referred")
    expect(page.get_by_text("Grace Okafor")).to_be_visible()
    expect(page.get_by_test_id("timeline")).to_contain_text("Dr R. Osei")
    # Bootstrap's own script runs under the Content-Security-Policy: the menu collapses and opens.
    page.set_viewport_size({"width": 800, "height": 1000})
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("link", name="Referrals")).to_be_visible()
    assert console_errors == []


def test_a_wrong_password_keeps_the_user_on_the_login_page(page: Page, live_server, nurse):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(nurse.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("didn't match")
