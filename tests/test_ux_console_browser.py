"""Headless Chromium visits every page of each role's journey and finds a clean console (issue 14, point 7):
no console error and no Content-Security-Policy violation on any page, the API docs included,
and no favicon 404.

The pages: every link of the role's navigation and of its home page's shortcuts (the pages that
left the navigation, issue 14 point 2), whatever they hold, plus a patient, their goals
and history, a pump, a trial with scores, the reports, the API docs, and the forms the role
may fill in (a refill, a dose change, a goal).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from playwright.sync_api import ConsoleMessage, Error, Page, Response, expect

from pumps import services
from spasticity.roles import PERMS
from spasticity.timeutil import clinic_today
from tests.factories import (
    DEMO_PASSWORD,
    GoalFactory,
    PatientFactory,
    PumpFactory,
    ReferralFactory,
    ToneAssessmentFactory,
    TrialFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || ""));
});
"""
ROLES = ["rehab_doctor", "pump_nurse", "physical_therapist", "neurosurgeon", "administrator"]


def caseload(surgeon: User, nurse: User) -> dict[str, str]:
    """One patient along the whole pathway: referral, a scored trial, a goal, a pump with a titration."""
    patient = PatientFactory(given_name="Siân", family_name="Okafor", assigned_nurse=nurse)
    ReferralFactory(patient=patient, status="accepted")
    trial = TrialFactory(patient=patient)
    for minutes, grade in ((0, "3"), (60, "2")):
        ToneAssessmentFactory(trial=trial, minutes_after_bolus=minutes, mas=grade)
    GoalFactory(patient=patient)
    pump = PumpFactory(by=surgeon, patient=patient)
    services.dose_change_record(
        pump=pump, by=nurse, changed_on=pump.implanted_on, daily_dose_mcg=Decimal("500"), next_visit_on=clinic_today()
    )
    return {
        "patient": reverse("patients:detail", args=[patient.pk]),
        "patient goals": reverse("goals:patient_goals", args=[patient.pk]),
        "patient history": reverse("record_history", args=["patients.patient", patient.pk]),
        "pump": reverse("pumps:detail", args=[pump.pk]),
        "trial": reverse("trials:detail", args=[trial.pk]),
        "reports": reverse("reports:index"),
        "overdue refills": reverse("reports:overdue_refills"),
        "api docs": reverse("api_docs"),
        "refill form": reverse("pumps:refill_create", args=[pump.pk]),
        "dose change form": reverse("pumps:dose_change_create", args=[pump.pk]),
        "goal form": reverse("goals:create", args=[patient.pk]),
    }


FORM_PERMISSIONS = {
    "refill form": PERMS.RECORD_REFILL,
    "dose change form": PERMS.CHANGE_DOSE,
    "goal form": PERMS.MANAGE_GOAL,
}


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("user-role")).to_be_visible()


def navigation_paths(page: Page) -> list[str]:
    """Every link of the navigation (the home, the main items, the user menu's API docs) and of
    the home page's shortcuts to the pages that left the navigation; the page is the home."""
    hrefs = page.locator(
        'nav[aria-label="Main"] a[href^="/"], [data-testid="home-shortcuts"] a[href^="/"]'
    ).evaluate_all("links => links.map(link => link.getAttribute('href'))")
    return list(dict.fromkeys(hrefs))


@pytest.mark.parametrize("role", ROLES)
def test_every_page_of_the_role_journey_has_a_clean_console(page: Page, live_server, personas, role):
    user = personas[role]
    journey = caseload(personas["neurosurgeon"], personas["pump_nurse"])
    problems: list[str] = []
    current = {"path": ""}

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"{current['path']}: console {message.type}: {message.text}")

    def on_page_error(error: Error) -> None:
        problems.append(f"{current['path']}: script error: {error}")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            problems.append(f"{current['path']}: {response.status} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.on("response", on_response)
    page.add_init_script(CSP_WATCH)

    sign_in(page, live_server.url, user.username)
    nav_paths = navigation_paths(page)  # signing in lands on the role's home
    assert reverse("home") in nav_paths and reverse("patients:list") in nav_paths
    assert reverse("alerts:dashboard") in nav_paths  # a shortcut (or the administrator's nav item)
    pages = dict.fromkeys(nav_paths)
    for name, path in journey.items():
        needed = FORM_PERMISSIONS.get(name)
        if needed is None or user.has_perm(needed):
            pages[path] = None
    assert len(pages) >= 9

    for path in pages:
        current["path"] = path
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        if path == journey["api docs"]:
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("ITB Clinic API")
        for violation in page.evaluate("() => window.__cspViolations"):
            problems.append(f"{path}: CSP violation: {violation}")
    assert problems == []


def test_the_favicon_is_found_on_a_page_and_at_the_root(page: Page, live_server, nurse):
    sign_in(page, live_server.url, nurse.username)
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert page.request.get(f"{live_server.url}{icon}").status == 200
    assert page.request.get(f"{live_server.url}/favicon.ico").status == 200
