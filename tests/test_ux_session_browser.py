"""Headless Chromium: a session that ends mid-trial or mid-refill loses nothing (issue 14, point 1).

The session cookie is deleted in the middle of the work, as an idle timeout or the absolute
limit would end it: the next save says "Not saved: sign in again" and keeps the value, the
dialog's sign-in comes back to the same page, and what was typed is sent again and saved.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import reverse
from playwright.sync_api import Page, expect

from pumps.models import Refill
from tests.factories import DEMO_PASSWORD, PumpFactory, ToneAssessmentFactory, TrialFactory
from trials.models import ToneAssessment

NOT_SAVED = re.compile(r"\bnot-saved\b")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def fill_sign_in(page: Page, username: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def end_the_session(page: Page) -> None:
    """What the idle timeout does, from the browser's side: the session is gone."""
    page.context.clear_cookies(name=settings.SESSION_COOKIE_NAME)


def sign_in_again_from_the_dialog(page: Page, username: str) -> None:
    dialog = page.get_by_test_id("session-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Not saved: sign in again.")
    dialog.get_by_role("link", name="Sign in again").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    fill_sign_in(page, username)


def watch_console(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.add_init_script(CSP_WATCH)
    return errors


def test_a_grade_typed_after_the_session_ended_is_saved_after_signing_in_again(page: Page, live_server, doctor):
    trial = TrialFactory()
    ToneAssessmentFactory(trial=trial, muscle_group="hip_adductors", side="left", minutes_after_bolus=0, mas="3")
    trial_url = f"{live_server.url}{reverse('trials:detail', args=[trial.pk])}"
    watch_console(page)
    page.goto(trial_url)
    fill_sign_in(page, doctor.username)
    expect(page).to_have_url(trial_url)

    saved_cell = page.locator("#mas-hip_adductors-right-0")
    saved_cell.fill("2")
    # Each answer renews the session cookie: end the session only once this save has answered.
    with page.expect_response(lambda response: response.url.endswith("/cell/")):
        saved_cell.press("Tab")
    expect(page.locator("#mas-hip_adductors-right-0")).to_have_value("2")
    expect(page.locator("#mas-hip_adductors-right-0")).not_to_have_class(NOT_SAVED)

    end_the_session(page)
    cell = page.locator("#mas-hamstrings-left-0")
    cell.fill("1+")
    cell.press("Tab")
    # The cell keeps the grade, turns red and says why; no login page lands inside the table.
    expect(page.get_by_test_id("not-saved")).to_have_text("Not saved: sign in again.")
    expect(page.locator("#mas-hamstrings-left-0")).to_have_value("1+")
    expect(page.locator("#mas-hamstrings-left-0")).to_have_class(
        "form-control form-control-sm grid-input is-invalid not-saved"
    )
    expect(page.get_by_test_id("tone-grid").locator("input#id_username")).to_have_count(0)
    assert not ToneAssessment.objects.filter(trial=trial, muscle_group="hamstrings").exists()

    sign_in_again_from_the_dialog(page, doctor.username)
    expect(page).to_have_url(trial_url)
    expect(page.get_by_test_id("restored-banner")).to_be_visible()
    expect(page.locator("#mas-hamstrings-left-0")).to_have_value("1+")
    expect(page.locator("#trial-response")).to_be_visible()
    expect(page.locator(".htmx-request")).to_have_count(0)
    expect(page.get_by_test_id("not-saved")).to_have_count(0)
    saved = ToneAssessment.objects.get(trial=trial, muscle_group="hamstrings", side="left", minutes_after_bolus=0)
    assert saved.mas == "1+"
    assert saved.history.earliest().history_user == doctor
    assert page.evaluate("() => window.__cspViolations") == []


def test_a_grade_changed_by_someone_else_meanwhile_is_reported_not_overwritten(page: Page, live_server, doctor, nurse):
    trial = TrialFactory()
    trial_url = f"{live_server.url}{reverse('trials:detail', args=[trial.pk])}"
    page.goto(trial_url)
    fill_sign_in(page, doctor.username)
    end_the_session(page)
    cell = page.locator("#mas-hamstrings-left-0")
    cell.fill("2")
    cell.press("Tab")
    expect(page.get_by_test_id("not-saved")).to_be_visible()
    # While the doctor is signed out, the nurse scores the same cell.
    ToneAssessmentFactory(trial=trial, muscle_group="hamstrings", side="left", minutes_after_bolus=0, mas="3")

    sign_in_again_from_the_dialog(page, doctor.username)
    expect(page.get_by_test_id("cell-error")).to_be_visible()
    assert ToneAssessment.objects.get(trial=trial, muscle_group="hamstrings", side="left").mas == "3"


def test_a_refill_typed_after_the_session_ended_comes_back_with_its_preview(page: Page, live_server, nurse, surgeon):
    pump = PumpFactory(by=surgeon)
    form_url = f"{live_server.url}{reverse('pumps:refill_create', args=[pump.pk])}"
    console_errors = watch_console(page)
    page.goto(form_url)
    fill_sign_in(page, nurse.username)
    expect(page).to_have_url(form_url)

    page.get_by_label("Refill date").fill("2024-05-01")
    page.get_by_label("Aspirated residual volume (mL)").fill("13.25")
    page.get_by_label("Lot number").fill("LOT-BEFORE")
    alarm = page.get_by_test_id("preview-alarm-date")
    expect(alarm).not_to_be_empty()
    alarm_while_signed_in = alarm.inner_text()
    expect(page.locator(".htmx-request")).to_have_count(0)

    end_the_session(page)
    page.get_by_label("Lot number").fill("LOT-AFTER-TIMEOUT")
    preview = page.get_by_test_id("refill-preview")
    expect(preview.get_by_test_id("not-saved")).to_have_text("Not saved: sign in again.")
    expect(page.locator("form#refill-form")).to_have_class("card card-body not-saved")
    # Save while signed out keeps the form instead of posting it to the login page.
    page.get_by_test_id("session-dialog").get_by_role("button", name="Not now").click()
    page.get_by_label("Central reservoir fill port access confirmed").check()
    # Put aside, the dialog gives way to a banner rather than reopening at each change.
    expect(page.get_by_test_id("signed-out-banner")).to_be_visible()
    expect(page.get_by_test_id("session-dialog")).not_to_be_visible()
    page.get_by_role("button", name="Save the refill").click()
    expect(page).to_have_url(form_url)
    assert not Refill.objects.filter(pump=pump, lot_number="LOT-AFTER-TIMEOUT").exists()

    sign_in_again_from_the_dialog(page, nurse.username)
    expect(page).to_have_url(form_url)
    expect(page.get_by_test_id("restored-banner")).to_be_visible()
    expect(page.get_by_label("Refill date")).to_have_value("2024-05-01")
    expect(page.get_by_label("Aspirated residual volume (mL)")).to_have_value("13.25")
    expect(page.get_by_label("Lot number")).to_have_value("LOT-AFTER-TIMEOUT")
    expect(page.get_by_label("Central reservoir fill port access confirmed")).to_be_checked()
    # The values were sent again: the preview shows the same new dates as before.
    expect(page.get_by_test_id("preview-alarm-date")).to_have_text(alarm_while_signed_in)
    expect(page.get_by_test_id("refill-preview").get_by_test_id("not-saved")).to_have_count(0)
    expect(page.locator("form#refill-form")).not_to_have_class(NOT_SAVED)
    # Saving the refill itself is the form's own business (tests/pumps): nothing was posted meanwhile.
    assert not Refill.objects.filter(pump=pump, lot_number="LOT-AFTER-TIMEOUT").exists()
    assert page.evaluate("() => window.__cspViolations") == []
    assert [e for e in console_errors if "401" not in e] == []


def test_a_different_user_signing_in_does_not_receive_the_unsaved_grade(page: Page, live_server, doctor, nurse):
    trial = TrialFactory()
    trial_url = f"{live_server.url}{reverse('trials:detail', args=[trial.pk])}"
    page.goto(trial_url)
    fill_sign_in(page, doctor.username)
    end_the_session(page)
    cell = page.locator("#mas-hamstrings-left-0")
    cell.fill("2")
    cell.press("Tab")
    expect(page.get_by_test_id("not-saved")).to_be_visible()

    sign_in_again_from_the_dialog(page, nurse.username)
    expect(page).to_have_url(trial_url)
    expect(page.locator("#mas-hamstrings-left-0")).to_have_value("")
    expect(page.get_by_test_id("restored-banner")).to_have_count(0)
    assert not ToneAssessment.objects.filter(trial=trial, muscle_group="hamstrings").exists()


def test_a_save_refused_for_a_rotated_form_token_is_sent_again_with_the_new_one(page: Page, live_server, doctor):
    trial = TrialFactory()
    trial_url = f"{live_server.url}{reverse('trials:detail', args=[trial.pk])}"
    page.goto(trial_url)
    fill_sign_in(page, doctor.username)
    expect(page).to_have_url(trial_url)
    # Signing in again in another tab gives the browser a new CSRF secret: this page's token is stale.
    page.context.add_cookies([{"name": settings.CSRF_COOKIE_NAME, "value": "r" * 32, "url": live_server.url}])

    statuses: list[int] = []
    page.on("response", lambda response: response.url.endswith("/cell/") and statuses.append(response.status))
    cell = page.locator("#mas-hamstrings-left-0")
    cell.fill("2")
    with page.expect_response(lambda response: response.url.endswith("/cell/") and response.status == 200):
        cell.press("Tab")
    assert statuses == [403, 200]
    expect(page.get_by_test_id("not-saved")).to_have_count(0)
    expect(page.get_by_test_id("session-dialog")).to_have_count(0)
    assert ToneAssessment.objects.get(trial=trial, muscle_group="hamstrings", side="left").mas == "2"
