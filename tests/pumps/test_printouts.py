"""Printouts rendered for real with WeasyPrint and read back with poppler's pdftotext."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from pumps import pdf, services
from tests.factories import PatientFactory, PumpFactory

pytestmark = pytest.mark.django_db

D = Decimal


def pdf_text(content: bytes, tmp_path, *, layout: bool = False) -> str:
    path = tmp_path / "printout.pdf"
    path.write_bytes(content)
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    text = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return re.sub(r"\s+", " ", text)


def pdf_info(content: bytes, tmp_path) -> str:
    path = tmp_path / "info.pdf"
    path.write_bytes(content)
    return subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout


def test_the_after_visit_summary_of_a_dose_change_shows_the_new_alarm_date_2024_05_11(surgeon, nurse, tmp_path):
    patient = PatientFactory(given_name="Maya", family_name="Okafor")
    pump = PumpFactory(by=surgeon, patient=patient)
    change = services.dose_change_record(
        pump=pump,
        by=nurse,
        changed_on=dt.date(2024, 3, 15),
        daily_dose_mcg=D("800"),
        confirmation_reason="Agreed with Dr Doyle",
        next_visit_on=dt.date(2024, 3, 22),
    )
    text = pdf_text(pdf.dose_change_summary(change), tmp_path)
    assert "Maya Okafor" in text
    assert "from 500 mcg a day to 800 mcg a day (+60.0%)" in text
    assert "Saturday 11 May 2024 (2024-05-11)" in text
    assert "refilled by Saturday 4 May 2024 (2024-05-04)" in text
    assert "Friday 22 March 2024 (2024-03-22)" in text
    assert settings.CLINIC["PHONE"] in text and settings.CLINIC["OUT_OF_HOURS_PHONE"] in text


def test_the_after_visit_summary_of_a_refill_shows_the_new_dates_and_next_appointment(surgeon, nurse, tmp_path):
    pump = PumpFactory(by=surgeon)
    refill = services.refill_record(
        pump=pump,
        by=nurse,
        refilled_on=dt.date(2024, 3, 15),
        aspirated_volume_ml=D("23"),
        volume_added_ml=D("40"),
        drug="lioresal",
        concentration_mcg_per_ml=D("2000"),
        lot_number="L7",
        reservoir_port_access_confirmed=True,
        pump_running_confirmed=True,
        observation_signs=["none_observed"],
        next_refill_appointment_on=dt.date(2024, 8, 1),
    )
    text = pdf_text(pdf.refill_summary(refill), tmp_path)
    assert "Pump refill on Friday 15 March 2024 (2024-03-15)" in text
    assert "40 mL of Lioresal Intrathecal at 2000 micrograms (mcg) per mL" in text
    assert "(2024-08-14)" in text and "(2024-08-07)" in text
    assert "Next refill appointment: Thursday 1 August 2024 (2024-08-01)" in text
    assert "The dose was not changed: 500 mcg a day." in text


def test_the_first_fill_summary_holds_the_specs_worked_example(surgeon, tmp_path):
    pump = PumpFactory(by=surgeon)
    text = pdf_text(pdf.refill_summary(pump.refills.get()), tmp_path)
    assert "Saturday 15 June 2024 (2024-06-15)" in text
    assert "Saturday 8 June 2024 (2024-06-08)" in text


def test_the_emergency_card_is_wallet_sized_and_carries_the_pump_facts(surgeon, tmp_path):
    patient = PatientFactory(given_name="Maya", family_name="Okafor", birth_date=dt.date(2015, 3, 2))
    pump = PumpFactory(by=surgeon, patient=patient, serial_number="NGP424242H")
    content = pdf.emergency_card(pump)
    info = pdf_info(content, tmp_path)
    # 85.6 × 54 mm = 242.65 × 153.07 pt; two sides.
    assert re.search(r"Page size:\s+242\.6\d* x 153\.0\d* pts", info), info
    assert re.search(r"Pages:\s+2", info)
    text = pdf_text(content, tmp_path)
    for expected in (
        "Maya Okafor",
        "Medtronic SynchroMed II · serial NGP424242H",
        "Lioresal Intrathecal) 2000 mcg/mL",
        "500 mcg/day",
        "2024-06-15",
        "refill by 2024-06-08",
        "Do not stop intrathecal baclofen suddenly",
        settings.CLINIC["PHONE"],
        settings.CLINIC["OUT_OF_HOURS_PHONE"],
    ):
        assert expected in text, expected


def test_the_printouts_download_as_pdf_attachments(client_as, surgeon, nurse, tmp_path):
    pump = PumpFactory(by=surgeon)
    change = services.dose_change_record(
        pump=pump,
        by=nurse,
        changed_on=dt.date(2024, 3, 15),
        daily_dose_mcg=D("800"),
        confirmation_reason="Severe spasms, agreed at clinic",
    )
    client = client_as(nurse)
    for url, expected in (
        (reverse("pumps:dose_change_summary_pdf", args=[change.pk]), "2024-05-11"),
        (reverse("pumps:refill_summary_pdf", args=[pump.refills.get().pk]), "2024-06-15"),
        (reverse("pumps:emergency_card_pdf", args=[pump.pk]), "2024-05-11"),
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith("attachment;")
        assert expected in pdf_text(response.content, tmp_path)
