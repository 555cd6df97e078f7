"""Headless Chromium: from the refill's after-visit page, the next refill is booked in two clicks and
shows on the nurse's week view, with no console error and no Content-Security-Policy violation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from appointments.models import Appointment
from spasticity.timeutil import clinic_today
from tests.factories import DEMO_PASSWORD, PatientFactory, PumpFactory, RefillFactory

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


def test_a_nurse_books_the_next_refill_in_two_clicks_and_sees_it_on_her_week(page: Page, live_server, nurse, surgeon):
    today = clinic_today()
    patient = PatientFactory(given_name="Maya", family_name="Okafor", assigned_nurse=nurse)
    pump = PumpFactory(
        by=surgeon, patient=patient, serial_number="NGP555001H", implanted_on=today - dt.timedelta(days=60), today=today
    )
    refill = RefillFactory(pump=pump, by=nurse, refilled_on=today, aspirated_volume_ml=Decimal("25"))
    pump.refresh_from_db()
    console_errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.add_init_script(CSP_RECORDER)
    sign_in(page, live_server.url, nurse.username)
    page.goto(f"{live_server.url}/pumps/refills/{refill.pk}/")
    expect(page.get_by_test_id("booked-refill")).to_have_text("not booked")
    assert page.evaluate("window.__cspViolations") == []

    page.get_by_test_id("book-next-refill").click()  # click 1
    expect(page.get_by_test_id("window-closes")).to_have_text(f"{pump.refill_due_on:%Y-%m-%d}")
    assert page.evaluate("window.__cspViolations") == []
    page.get_by_role("button", name="Book").click()  # click 2

    expect(page.get_by_role("alert").filter(has_text="Saved")).to_be_visible()
    appointment = Appointment.objects.get()
    assert (appointment.kind, appointment.pump_id, appointment.lead_staff_id) == ("refill", pump.pk, nurse.pk)
    assert pump.refill_due_on - dt.timedelta(days=14) <= appointment.starts_on <= pump.refill_due_on
    # The week view of the appointment, the nurse's own: patient, pump, place and the pump's alarm date.
    row = page.get_by_test_id("appointment-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("OKAFOR, Maya")
    expect(row).to_contain_text("NGP555001H")
    expect(row).to_contain_text("Clinic")
    expect(row).to_contain_text(f"{pump.alarm_date:%Y-%m-%d}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Nia Nash")
    assert page.evaluate("window.__cspViolations") == []

    # The after-visit page now shows the booking instead of "not booked".
    page.goto(f"{live_server.url}/pumps/refills/{refill.pk}/")
    expect(page.get_by_test_id("booked-refill")).to_contain_text(f"{appointment.local_starts_at:%Y-%m-%d %H:%M}")
    assert page.evaluate("window.__cspViolations") == []
    assert console_errors == []
