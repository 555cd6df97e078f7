"""The page's hard stop in headless Chromium (issue 13): 130 → 1500 mcg/day (+1053.8%, the
walkthrough's "+1054%") shows both doses in mcg/day and mL/day with the difference in red,
and is saved only with the new dose typed a second time."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from pumps.models import DoseChange
from tests.factories import PatientFactory, PumpFactory
from tests.pumps.test_nurse_journey_browser import CSP_RECORDER, assert_no_csp_violation, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_1054_percent_increase_needs_the_dose_retyped_and_shows_both_volumes(page: Page, live_server, nurse, surgeon):
    patient = PatientFactory(given_name="Leo", family_name="Brandt", assigned_nurse=nurse)
    # 130 mcg/day at 500 mcg/mL: 0.26 mL/day.
    pump = PumpFactory(
        by=surgeon,
        patient=patient,
        serial_number="NGP777054H",
        daily_dose_mcg=Decimal("130"),
        concentration_mcg_per_ml=Decimal("500"),
        volume_added_ml=Decimal("20"),
    )
    page.add_init_script(CSP_RECORDER)
    sign_in(page, live_server.url, nurse.username)
    page.goto(f"{live_server.url}/pumps/{pump.pk}/dose/new/")
    page.get_by_label("Date of change").fill("2024-01-20")
    page.get_by_label("Daily dose (mcg/day)").fill("1500")
    compare = page.get_by_test_id("dose-compare")
    expect(page.get_by_test_id("old-ml-per-day")).to_have_text("0.26")
    expect(page.get_by_test_id("new-ml-per-day")).to_have_text("3")
    expect(compare).to_contain_text("130")
    expect(compare).to_contain_text("1500")
    difference = page.get_by_test_id("dose-difference")
    expect(difference).to_have_text("+1053.8%")
    expect(difference).to_have_class("text-danger fw-bold fs-3 mb-2")
    expect(page.get_by_test_id("hard-stop")).to_be_visible()
    page.get_by_label("Reason for the change").fill("Severe spasms at night")
    page.get_by_label("Confirmation reason").fill("Discussed with Dr Doyle and the family")
    page.get_by_role("button", name="Save the new program").click()
    expect(page.get_by_test_id("retype-dose")).to_contain_text("retype the new dose (1500 mcg/day)")  # the field error
    assert DoseChange.objects.filter(pump=pump).count() == 1
    page.get_by_label("Type the new dose again (mcg/day)").fill("150")
    page.get_by_role("button", name="Save the new program").click()
    expect(page.get_by_test_id("retype-dose")).to_contain_text("retype the new dose (1500 mcg/day)")  # the field error
    page.get_by_label("Type the new dose again (mcg/day)").fill("1500")
    page.get_by_role("button", name="Save the new program").click()
    expect(page.get_by_test_id("daily-dose")).to_contain_text("1500 mcg/day")
    expect(page.get_by_test_id("second-check-status")).to_contain_text("awaiting a second check")
    expect(page.get_by_test_id("programmer-check")).to_have_text("Not checked against the programmer.")
    assert_no_csp_violation(page)
