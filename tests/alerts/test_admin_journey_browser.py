"""Headless Chromium: the administrator runs the overdue-refill report for a date, filters it
and downloads the CSV (spec journey 3), under the site's Content-Security-Policy."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from playwright.sync_api import Page, expect

from spasticity.roles import Role
from tests.factories import DEMO_PASSWORD, PatientFactory, PumpFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_administrator_runs_filters_and_downloads_the_overdue_refill_report(
    page: Page, live_server, administrator, nurse, surgeon
):
    nolan = UserFactory(username="nurse_nolan", first_name="Noor", last_name="Nolan", role=Role.PUMP_NURSE)
    for name, implanted_on, pump_nurse in [
        ("Adeyemi", dt.date(2024, 1, 10), nurse),  # past alarm on 2024-06-20
        ("Chen", dt.date(2024, 1, 20), nolan),  # overdue
        ("Davies", dt.date(2024, 1, 25), nurse),  # overdue
        ("Evans", dt.date(2024, 2, 1), nurse),  # not yet due
    ]:
        patient = PatientFactory(family_name=name, given_name="Kid", mrn=f"MRN-{name}", assigned_nurse=pump_nurse)
        PumpFactory(patient=patient, by=surgeon, implanted_on=implanted_on, serial_number=f"SN-{name}")
    console_errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(administrator.username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("administrator-home")).to_be_visible()  # the administrator's home

    page.get_by_role("link", name="Reports", exact=True).click()
    page.get_by_role("link", name="Overdue refills").click()
    page.get_by_label("As of").fill("2024-06-20")
    page.get_by_role("button", name="Run report").click()
    expect(page.get_by_test_id("report-as-of")).to_have_text("2024-06-20")
    rows = page.get_by_test_id("overdue-report").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("ADEYEMI, Kid")
    expect(rows.nth(0)).to_contain_text("Past alarm date")  # words on the page; the CSV keeps the code

    page.get_by_label("Pump nurse").select_option(label="Nia Nash (Pump nurse)")
    page.get_by_role("button", name="Run report").click()
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("overdue-report")).not_to_contain_text("CHEN")

    with page.expect_download() as download_info:
        page.get_by_test_id("download-csv").click()
    download = download_info.value
    assert download.suggested_filename == "overdue-refills-2024-06-20.csv"
    with open(download.path(), "rb") as handle:
        raw = handle.read()
    assert raw.startswith("\ufeff".encode())  # a UTF-8 BOM, so that Excel shows accents
    # The last column, the caregivers' phones, is checked in tests/alerts/test_reports.py.
    table = [row[:-1] for row in csv.reader(io.StringIO(raw.decode("utf-8-sig")))]
    assert table == [
        [
            "Patient",
            "MRN",
            "Pump serial",
            "Pump nurse",
            "Last refill",
            "Refill due",
            "Alarm date",
            "Days overdue",
            "Refill booked",
            "Status",
            "status_label",
        ],
        [
            "ADEYEMI, Kid",
            "MRN-Adeyemi",
            "SN-Adeyemi",
            "Nia Nash",
            "2024-01-10",
            "2024-06-03",
            "2024-06-10",
            "17",
            "",
            "past_alarm",
            "Past alarm date",
        ],
        [
            "DAVIES, Kid",
            "MRN-Davies",
            "SN-Davies",
            "Nia Nash",
            "2024-01-25",
            "2024-06-18",
            "2024-06-25",
            "2",
            "",
            "overdue",
            "Overdue",
        ],
    ]

    page.get_by_role("link", name="Print view").click()
    expect(page.get_by_role("heading", name="Overdue refills as of 2024-06-20")).to_be_visible()
    expect(page.get_by_test_id("overdue-report").locator("tbody tr")).to_have_count(2)
    assert console_errors == []
