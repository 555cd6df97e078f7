"""The caseload import in headless Chromium: from the menu to the result, the progress polled with htmx,
with no console error and no Content-Security-Policy violation."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from imports.models import ImportRun
from imports.runs import import_run_execute
from patients.models import Patient
from spasticity.timeutil import clinic_today
from tests.factories import DEMO_PASSWORD
from tests.imports.test_import_api import sample_lines

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def test_a_nurse_checks_a_sheet_from_the_menu_and_sees_the_dry_run_once_the_job_has_run(
    page: Page, live_server, sheet_staff, nurse, monkeypatch, tmp_path
):
    # No worker here: the run stays queued until the test runs its job, as a worker would.
    monkeypatch.setattr("imports.runs._enqueue", lambda run_id: None)
    sheet = tmp_path / "clinic caseload.csv"
    sheet.write_bytes(sample_lines(2, 3))
    console_errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.add_init_script(CSP_RECORDER)

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(nurse.username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Import caseload").click()
    expect(page.get_by_role("heading", name="Import a caseload")).to_be_visible()
    page.get_by_label("Caseload sheet").set_input_files(str(sheet))
    page.get_by_role("button", name="Check the sheet").click()

    expect(page.get_by_test_id("import-progress")).to_contain_text("Waiting for the import to start")
    run = ImportRun.objects.get()
    assert import_run_execute(run.pk, today=clinic_today()) == "done"
    # The polled fragment sees the finished run and htmx reloads the result page.
    expect(page.get_by_test_id("import-summary")).to_contain_text("All 2 rows can be imported", timeout=10_000)
    assert not Patient.objects.exists()
    assert page.evaluate("window.__cspViolations") == []
    assert console_errors == []
