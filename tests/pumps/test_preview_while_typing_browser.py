"""Headless Chromium on a portrait tablet (820×1180): the refill preview while typing (issue 14, point 5).

The new dates appear before the lot number is typed, the preview stays on screen beside the
Save button wherever the form is scrolled, and a corrected value's error goes away.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from tests.factories import PumpFactory
from tests.test_ux_session_browser import fill_sign_in, watch_console

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TABLET = {"width": 820, "height": 1180}


def within_viewport(page: Page, test_id: str) -> bool:
    box = page.get_by_test_id(test_id).bounding_box()
    assert box is not None
    return box["y"] >= 0 and box["y"] + box["height"] <= TABLET["height"] and box["x"] + box["width"] <= TABLET["width"]


def test_a_nurse_on_a_tablet_sees_the_new_dates_beside_save_while_typing(page: Page, live_server, nurse, surgeon):
    pump = PumpFactory(by=surgeon)
    form_url = f"{live_server.url}{reverse('pumps:refill_create', args=[pump.pk])}"
    console_errors = watch_console(page)
    page.set_viewport_size(TABLET)
    page.goto(form_url)
    fill_sign_in(page, nurse.username)
    expect(page).to_have_url(form_url)

    page.get_by_label("Refill date").fill("2024-03-15")
    page.get_by_label("Aspirated residual volume (mL)").fill("22.5")
    page.get_by_label("Volume added (mL)").fill("40")
    page.get_by_label("Concentration (mcg/mL)").fill("2000")
    # No lot number, no ticks: the dates are there, and what is left is named, not an error.
    expect(page.get_by_test_id("preview-alarm-date")).to_have_text("2024-08-14")
    expect(page.get_by_test_id("preview-refill-due")).to_have_text("2024-08-07")
    expect(page.get_by_test_id("preview-missing")).to_contain_text("Still needed before saving: Lot number")
    expect(page.get_by_test_id("preview-errors")).to_have_count(0)
    expect(page.get_by_label("Lot number")).to_have_value("")

    # At the top of the long form and at its end, the dates and Save are both on screen.
    for scroll_to in ("0", "document.body.scrollHeight / 2", "document.body.scrollHeight"):
        page.evaluate(f"() => window.scrollTo(0, {scroll_to})")
        expect(page.get_by_role("button", name="Save the refill")).to_be_in_viewport()
        assert within_viewport(page, "preview-dock")
        expect(page.get_by_test_id("preview-alarm-date")).to_be_in_viewport()

    # A volume above the 40 mL reservoir: the error shows; corrected, it goes.
    page.get_by_label("Volume added (mL)").fill("400")
    expect(page.get_by_test_id("preview-errors")).to_contain_text("Volume added (mL)")
    expect(page.get_by_test_id("preview-alarm-date")).to_have_count(0)
    page.get_by_label("Volume added (mL)").fill("40")
    expect(page.get_by_test_id("preview-errors")).to_have_count(0)
    expect(page.get_by_test_id("preview-alarm-date")).to_have_text("2024-08-14")

    # Saved too early, the page comes back with the lot number marked; typing it clears the mark.
    page.get_by_role("button", name="Save the refill").click()
    lot = page.get_by_label("Lot number")
    expect(lot).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator("#div_id_lot_number .invalid-feedback")).to_have_count(1)
    lot.fill("LOT-7")
    expect(lot).not_to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator("#div_id_lot_number .invalid-feedback")).to_have_count(0)
    expect(page.get_by_test_id("preview-missing")).not_to_contain_text("Lot number")
    assert page.evaluate("() => window.__cspViolations") == []
    assert console_errors == []
