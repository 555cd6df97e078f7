"""Issue 8: one visit, one set of dates; and a pump page that says what its projection lacks.

The worked visit: the spec's pump (40 mL added on 2024-01-15, alarm 2 mL, 500 mcg/day at
2000 mcg/mL → 0.25 mL/day) comes back on 2024-03-15, 60 days later, having used 15 mL.
The nurse aspirates the 25 mL left, adds 40 mL at 2000 mcg/mL, and the dose goes from
500 to 700 mcg/day (+40%, confirmed).

* After both records: 700 / 2000 = 0.35 mL/day; (40 − 2) / 0.35 = 108.57 days →
  alarm 2024-03-15 + 108 = 2024-07-01, refill due 7 days before, 2024-06-24.
* What the refill stored when it was saved, before the dose change (the old printout):
  38 / 0.25 = 152 days → alarm 2024-08-14, due 2024-08-07: 44 days late.
* What the dose change stored when it was saved before the refill (the reverse order):
  the January fill had 25 mL left, 23 mL above the alarm at 0.35 mL/day = 65.71 days →
  day 60 + 65 = 125 after 2024-01-15 → alarm 2024-05-19, due 2024-05-12: 43 days early.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from pumps import pdf, services
from pumps.models import Pump
from spasticity.audit import void_record
from tests.factories import DoseChangeFactory, PatientFactory, PumpFactory, RefillFactory
from tests.pumps.test_printouts import pdf_text
from tests.pumps.test_pump_api import implant_body
from tests.pumps.test_pump_pages import page_html, text_of

pytestmark = pytest.mark.django_db

D = Decimal
VISIT_ON = dt.date(2024, 3, 15)
AFTER_VISIT = ("2024-07-01", "2024-06-24")  # alarm, refill due after the refill and the dose change


def refill_at_visit(pump, nurse):
    return RefillFactory(pump=pump, by=nurse, refilled_on=VISIT_ON, aspirated_volume_ml=D("25"))


def dose_change_at_visit(pump, nurse):
    return DoseChangeFactory(
        pump=pump, by=nurse, changed_on=VISIT_ON, daily_dose_mcg=D("700"), confirmation_reason="Agreed with Dr Doyle"
    )


def printed_dates(text: str) -> tuple[bool, bool]:
    alarm_on, due_on = AFTER_VISIT
    return (
        f"beep on Monday 1 July 2024 ({alarm_on})" in text,
        f"refilled by Monday 24 June 2024 ({due_on})" in text,
    )


def shown_dates(client, url: str) -> tuple[str, str]:
    html = page_html(client, url)
    return text_of(html, "alarm-date"), text_of(html, "refill-due-on")


def stored(pump: Pump) -> tuple[str, str]:
    pump.refresh_from_db()
    return f"{pump.alarm_date:%Y-%m-%d}", f"{pump.refill_due_on:%Y-%m-%d}"


# --- Same-visit printouts -------------------------------------------------------------


def test_a_refill_then_a_dose_change_print_the_same_dates_as_the_pump(surgeon, nurse, client_as, tmp_path):
    pump = PumpFactory(by=surgeon)
    refill = refill_at_visit(pump, nurse)
    change = dose_change_at_visit(pump, nurse)
    # The refill was saved before the dose change: it still stores the 500 mcg/day dates.
    assert (refill.alarm_date, refill.refill_due_on) == (dt.date(2024, 8, 14), dt.date(2024, 8, 7))
    assert stored(pump) == AFTER_VISIT

    refill_text = pdf_text(pdf.refill_summary(refill), tmp_path)
    change_text = pdf_text(pdf.dose_change_summary(change), tmp_path)
    assert printed_dates(refill_text) == (True, True)
    assert printed_dates(change_text) == (True, True)
    assert "2024-08-14" not in refill_text and "2024-08-07" not in refill_text
    # The refill's paper no longer tells the family the dose was left alone.
    assert "The pump's dose from this visit: 700 mcg a day." in refill_text
    assert "The dose was not changed" not in refill_text
    assert "from 500 mcg a day to 700 mcg a day (+40.0%)" in change_text

    client = client_as(nurse)
    assert shown_dates(client, reverse("pumps:refill_detail", args=[refill.pk])) == AFTER_VISIT
    assert shown_dates(client, reverse("pumps:dose_change_detail", args=[change.pk])) == AFTER_VISIT
    assert "dose change to 700 mcg/day" in page_html(client, reverse("pumps:refill_detail", args=[refill.pk]))


def test_a_dose_change_then_a_refill_print_the_same_dates_as_the_pump(surgeon, nurse, client_as, tmp_path):
    pump = PumpFactory(by=surgeon)
    change = dose_change_at_visit(pump, nurse)
    refill = refill_at_visit(pump, nurse)
    # The dose change was saved before the refill: it stores the January fill's dates.
    assert (change.alarm_date, change.refill_due_on) == (dt.date(2024, 5, 19), dt.date(2024, 5, 12))
    assert stored(pump) == AFTER_VISIT

    refill_text = pdf_text(pdf.refill_summary(refill), tmp_path)
    change_text = pdf_text(pdf.dose_change_summary(change), tmp_path)
    assert printed_dates(refill_text) == (True, True)
    assert printed_dates(change_text) == (True, True)
    assert "2024-05-19" not in change_text and "2024-05-12" not in change_text

    client = client_as(nurse)
    assert shown_dates(client, reverse("pumps:refill_detail", args=[refill.pk])) == AFTER_VISIT
    assert shown_dates(client, reverse("pumps:dose_change_detail", args=[change.pk])) == AFTER_VISIT
    assert "refill of 40 mL" in page_html(client, reverse("pumps:dose_change_detail", args=[change.pk]))


def test_the_downloaded_pdfs_of_one_visit_carry_the_same_dates(surgeon, nurse, client_as, tmp_path):
    pump = PumpFactory(by=surgeon)
    refill = refill_at_visit(pump, nurse)
    change = dose_change_at_visit(pump, nurse)
    client = client_as(nurse)
    for url in (
        reverse("pumps:refill_summary_pdf", args=[refill.pk]),
        reverse("pumps:dose_change_summary_pdf", args=[change.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert printed_dates(pdf_text(response.content, tmp_path)) == (True, True), url


def test_a_later_visit_does_not_change_what_an_earlier_visit_printed(surgeon, nurse, client_as, tmp_path):
    pump = PumpFactory(by=surgeon)
    refill = refill_at_visit(pump, nurse)
    change = dose_change_at_visit(pump, nurse)
    # A month later, 700 → 750 mcg/day (+7.1%): 31 days at 0.35 mL/day used 10.85 mL, the
    # 27.15 mL above the alarm last 72.4 days at 0.375 mL/day → day 103.4 → alarm 2024-06-26.
    DoseChangeFactory(pump=pump, by=nurse, changed_on=dt.date(2024, 4, 15), daily_dose_mcg=D("750"))
    assert stored(pump) == ("2024-06-26", "2024-06-19")
    # And a refill after that (the pump moves again).
    RefillFactory(pump=pump, by=nurse, refilled_on=dt.date(2024, 6, 1), aspirated_volume_ml=D("11.5"))
    assert stored(pump)[0] not in ("2024-06-26", AFTER_VISIT[0])

    for content in (pdf.refill_summary(refill), pdf.dose_change_summary(change)):
        text = pdf_text(content, tmp_path)
        assert printed_dates(text) == (True, True)
        assert "2024-06-26" not in text
    client = client_as(nurse)
    assert shown_dates(client, reverse("pumps:refill_detail", args=[refill.pk])) == AFTER_VISIT
    assert shown_dates(client, reverse("pumps:dose_change_detail", args=[change.pk])) == AFTER_VISIT


def test_a_voided_same_day_dose_change_no_longer_counts_on_the_refills_printout(surgeon, nurse, tmp_path):
    pump = PumpFactory(by=surgeon)
    refill = refill_at_visit(pump, nurse)
    change = dose_change_at_visit(pump, nurse)
    void_record(change, by=nurse, reason="Entered on the wrong patient")
    assert stored(pump) == ("2024-08-14", "2024-08-07")
    text = pdf_text(pdf.refill_summary(refill), tmp_path)
    assert "(2024-08-14)" in text and "(2024-08-07)" in text
    assert "The dose was not changed: 500 mcg a day." in text


# --- The pump page says what its projection lacks ------------------------------------------


def test_a_pump_posted_without_program_or_fill_says_both_are_missing(api_as, surgeon, nurse, client_as):
    body = implant_body(PatientFactory(), serial_number="BARE1", implanted_on="2024-02-01")
    del body["first_program"], body["first_fill"]
    assert api_as(surgeon).post("/api/v1/pumps/", body, format="json").status_code == 201
    pump = Pump.objects.get(serial_number="BARE1")
    assert pump.alarm_date is None

    html = page_html(client_as(nurse), reverse("pumps:detail", args=[pump.pk]))
    assert 'data-testid="projection-missing"' in html
    assert "No active program recorded" in text_of(html, "missing-program")
    assert "No active fill recorded" in text_of(html, "missing-fill")
    assert reverse("pumps:dose_change_create", args=[pump.pk]) in html
    assert reverse("pumps:refill_create", args=[pump.pk]) in html


def test_a_pump_with_a_fill_but_no_program_says_the_program_is_missing(surgeon, nurse, client_as):
    pump = PumpFactory(by=surgeon, daily_dose_mcg=None)
    html = page_html(client_as(nurse), reverse("pumps:detail", args=[pump.pk]))
    assert 'data-testid="projection-missing"' in html
    assert 'data-testid="missing-program"' in html
    assert 'data-testid="missing-fill"' not in html


def test_a_pump_whose_only_fill_was_voided_says_the_fill_is_missing(surgeon, nurse, client_as):
    pump = PumpFactory(by=surgeon)
    void_record(pump.refills.get(), by=nurse, reason="Wrong volume typed")
    html = page_html(client_as(nurse), reverse("pumps:detail", args=[pump.pk]))
    assert 'data-testid="projection-missing"' in html
    assert 'data-testid="missing-fill"' in html
    assert 'data-testid="missing-program"' not in html


def test_a_pump_with_a_program_and_a_fill_shows_no_missing_projection_banner(surgeon, nurse, client_as):
    pump = PumpFactory(by=surgeon)
    html = page_html(client_as(nurse), reverse("pumps:detail", args=[pump.pk]))
    assert 'data-testid="projection-missing"' not in html
    assert text_of(html, "alarm-date") == "2024-06-15"


def test_an_explanted_pump_without_a_fill_needs_nothing(surgeon, nurse, client_as):
    pump = PumpFactory(by=surgeon, volume_added_ml=None)
    services.pump_explant(pump, by=surgeon, surgery=services.SurgeryDetails(performed_on=dt.date(2024, 2, 1)))
    html = page_html(client_as(nurse), reverse("pumps:detail", args=[pump.pk]))
    assert 'data-testid="projection-missing"' not in html
