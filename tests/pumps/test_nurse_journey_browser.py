"""A pump nurse's day in headless Chromium: today's list, a titration visit, a refill, the printout.

The pump is the spec's worked example (40 mL added 2024-01-15, alarm 2 mL, 500 mcg/day at
2000 mcg/mL): the visit raises the dose to 800 mcg/day on 2024-03-15 (alarm 2024-05-11,
refill due 2024-05-04), then the refill on 2024-05-01 finds exactly the expected 6.2 mL
left and puts 40 mL in (0.4 mL/day → alarm 2024-08-04, refill due 2024-07-28).
"""

from __future__ import annotations

import re
import subprocess
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from pumps import services
from spasticity.timeutil import clinic_today
from tests.factories import DEMO_PASSWORD, PatientFactory, PumpFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def pdf_text(path) -> str:
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return re.sub(r"\s+", " ", text)


def assert_no_csp_violation(page: Page) -> None:
    assert page.evaluate("window.__cspViolations") == []


def test_a_nurse_does_a_titration_visit_and_a_refill_from_todays_list(
    page: Page, live_server, nurse, surgeon, tmp_path
):
    patient = PatientFactory(given_name="Maya", family_name="Okafor", assigned_nurse=nurse)
    pump = PumpFactory(by=surgeon, patient=patient, serial_number="NGP777001H")
    # The last visit booked today's titration visit (same program).
    services.dose_change_record(
        pump=pump, by=nurse, changed_on=pump.implanted_on, daily_dose_mcg=Decimal("500"), next_visit_on=clinic_today()
    )
    console_errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.add_init_script(CSP_RECORDER)

    sign_in(page, live_server.url, nurse.username)
    page.get_by_role("link", name="Today's pumps").click()
    expect(page.get_by_role("heading", name="Today's pump list")).to_be_visible()
    refills = page.get_by_test_id("today-refills")
    expect(refills).to_contain_text("OKAFOR, Maya")
    expect(refills).to_contain_text("Past alarm date")
    visits = page.get_by_test_id("today-visits")
    expect(visits).to_contain_text("NGP777001H")
    assert_no_csp_violation(page)

    # --- The titration visit -----------------------------------------------------------
    visits.get_by_role("link", name="Titration visit").click()
    expect(page.get_by_test_id("current-program")).to_contain_text("500 mcg/day")
    page.get_by_label("Date of change").fill("2024-03-15")
    # Try a flex program in the 24-hour editor: the server adds it up to 360 mcg/day.
    page.get_by_label("Flex (rates by time of day)").check()
    editor = page.locator("#flex-editor")
    expect(editor).to_be_visible()
    editor.get_by_label("Rate in mcg per hour").nth(0).fill("10")
    for start, rate in (("08:00", "20"), ("20:00", "10")):
        editor.get_by_role("button", name="Add a step").click()
        editor.get_by_label("Step start time").last.fill(start)
        editor.get_by_label("Rate in mcg per hour").last.fill(rate)
    expect(page.get_by_test_id("preview-daily-dose")).to_have_text("360 mcg/day")
    expect(page.locator(".flex-day .flex-bar")).to_have_count(3)
    # The nurse settles on a simple continuous 800 mcg/day instead.
    page.get_by_label("Simple continuous").check()
    page.get_by_label("Daily dose (mcg/day)").fill("800")
    expect(page.get_by_test_id("preview-change")).to_have_text("+60.0%")
    expect(page.get_by_test_id("preview-alarm-date")).to_have_text("2024-05-11")
    expect(page.get_by_test_id("needs-confirmation")).to_be_visible()
    page.get_by_label("Reason for the change").fill("Hips still tight at the visit")
    page.get_by_role("button", name="Save the new program").click()
    expect(page.get_by_text("Give a confirmation reason to go ahead.")).to_be_visible()
    page.get_by_label("Confirmation reason").fill("Severe spasms; agreed with Dr Doyle")
    # +60% is above the 50% hard stop: the new dose is typed a second time.
    page.get_by_label("Type the new dose again (mcg/day)").fill("800")
    page.get_by_label("Next titration visit").fill("2024-03-22")
    page.get_by_role("button", name="Save the new program").click()
    expect(page.get_by_test_id("alarm-date")).to_have_text("2024-05-11")
    expect(page.get_by_test_id("refill-due-on")).to_have_text("2024-05-04")
    with page.expect_download() as download:
        page.get_by_test_id("summary-pdf").click()
    visit_pdf = tmp_path / "visit.pdf"
    download.value.save_as(visit_pdf)
    visit_text = pdf_text(visit_pdf)
    assert "from 500 mcg a day to 800 mcg a day (+60.0%)" in visit_text
    assert "(2024-05-11)" in visit_text and "(2024-05-04)" in visit_text and "(2024-03-22)" in visit_text

    # --- The refill ----------------------------------------------------------------------
    page.get_by_role("link", name="Medtronic SynchroMed II NGP777001H").click()
    page.get_by_test_id("record-refill").click()
    expect(page.get_by_test_id("last-refill")).to_contain_text("40 mL of Lioresal Intrathecal 2000 mcg/mL")
    expect(page.get_by_label("Concentration (mcg/mL)")).to_have_value("2000.00")
    page.get_by_label("Refill date").fill("2024-05-01")
    page.get_by_label("Aspirated residual volume (mL)").fill("6.2")
    page.get_by_label("Lot number").fill("LOT-2405")
    expect(page.get_by_test_id("preview-expected-residual")).to_have_text("6.2 mL")
    expect(page.get_by_test_id("preview-deviation")).to_have_text("0.0%")
    expect(page.get_by_test_id("preview-alarm-date")).to_have_text("2024-08-04")
    page.get_by_role("button", name="Save the refill").click()
    expect(page.get_by_text("Confirm that the needle was in the central reservoir fill port")).to_be_visible()
    page.get_by_label("Central reservoir fill port access confirmed").check()
    page.get_by_label("Pump running confirmed").check()
    page.get_by_label("None observed").check()
    page.get_by_role("button", name="Save the refill").click()
    expect(page.get_by_test_id("alarm-date")).to_have_text("2024-08-04")
    expect(page.get_by_test_id("refill-due-on")).to_have_text("2024-07-28")
    with page.expect_download() as download:
        page.get_by_test_id("summary-pdf").click()
    refill_pdf = tmp_path / "refill.pdf"
    download.value.save_as(refill_pdf)
    refill_text = pdf_text(refill_pdf)
    assert "(2024-08-04)" in refill_text and "(2024-07-28)" in refill_text

    # --- The pump page shows the new dates and draws its charts -----------------------
    page.get_by_role("link", name="Medtronic SynchroMed II NGP777001H").click()
    expect(page.get_by_test_id("alarm-date")).to_have_text("2024-08-04")
    expect(page.get_by_test_id("refill-due-on")).to_have_text("2024-07-28")
    expect(page.get_by_test_id("current-dose")).to_contain_text("800 mcg/day")
    for chart in ("dose-chart", "volume-chart"):
        page.wait_for_function(f"document.getElementById('{chart}').width > 0")
    assert page.evaluate("Object.keys(Chart.instances).length") == 2
    assert_no_csp_violation(page)
    assert console_errors == []
