"""Reports as of a past date say what the records said that day (spec "Reports").

A quarter-end audit as of 2026-03-31, run after April's refills, dose changes and
surgeries were recorded. Every pump gets 40 mL of 2000 mcg/mL at 500 mcg/day at implant
(0.25 mL/day): the alarm (2 mL left) comes 152 days after the fill, refill due 7 days before.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from alerts import reports
from pumps.services import SurgeryDetails, pump_explant, pump_update
from spasticity.audit import void_record
from tests.factories import DoseChangeFactory, PatientFactory, PumpFactory, RefillFactory

pytestmark = pytest.mark.django_db

QUARTER_END = dt.date(2026, 3, 31)


@pytest.fixture
def april_changes(nurse, surgeon, doctor):
    """Five pumps as of 2026-03-31, each with what April did to it."""

    def pump(mrn: str, implanted_on: dt.date):
        patient = PatientFactory(mrn=mrn, family_name=mrn.title(), assigned_nurse=nurse)
        return PumpFactory(patient=patient, by=surgeon, implanted_on=implanted_on)

    pumps = {
        # alarm 2026-04-03, due 03-27: overdue 4 days on 03-31; refilled 04-02.
        "refilled": pump("REFILLED", dt.date(2025, 11, 2)),
        # alarm 2026-03-02, due 02-23: past alarm 36 days on 03-31; explanted 04-15.
        "explanted": pump("EXPLANTED", dt.date(2025, 10, 1)),
        # alarm 2026-04-11, due 04-04: not overdue on 03-31. A doubled dose from 04-01
        # brings the alarm to 04-06 and the stored due date to 03-30.
        "dose_changed": pump("DOSE", dt.date(2025, 11, 10)),
        # No record since: alarm 2026-03-21, due 03-14: past alarm 17 days (stored columns).
        "unchanged": pump("UNCHANGED", dt.date(2025, 10, 20)),
        # Implanted in April: not watched on 03-31 (it has no projection-less row either).
        "implanted_later": pump("APRIL", dt.date(2026, 4, 5)),
    }
    RefillFactory(pump=pumps["refilled"], by=nurse, refilled_on=dt.date(2026, 4, 2), aspirated_volume_ml=Decimal("3"))
    pump_explant(pumps["explanted"], by=surgeon, surgery=SurgeryDetails(performed_on=dt.date(2026, 4, 15)))
    DoseChangeFactory(
        pump=pumps["dose_changed"],
        by=doctor,
        changed_on=dt.date(2026, 4, 1),
        daily_dose_mcg=Decimal("1000"),
        confirmation_reason="Severe tone after the growth spurt; discussed with the family",
    )
    for one in pumps.values():
        one.refresh_from_db()
    return pumps


def test_the_stored_columns_alone_would_answer_wrongly(april_changes):
    """The case is worth testing: today's columns tell another story than 2026-03-31's records."""
    pumps = april_changes
    assert pumps["refilled"].refill_due_on > QUARTER_END  # refilled since: looks never overdue
    assert pumps["explanted"].explanted_on == dt.date(2026, 4, 15)  # no longer watched
    assert pumps["dose_changed"].refill_due_on == dt.date(2026, 3, 30)  # looks overdue on 03-31


def test_a_quarter_end_report_shows_what_the_records_said_that_day(april_changes):
    pumps = april_changes
    rows = reports.overdue_refills(as_of=QUARTER_END, today=dt.date(2026, 11, 30))
    assert [
        (r["pump"], r["status"], r["days_overdue"], r["last_refill_on"], r["refill_due_on"], r["alarm_date"])
        for r in rows
    ] == [
        (pumps["explanted"].pk, "past_alarm", 36, dt.date(2025, 10, 1), dt.date(2026, 2, 23), dt.date(2026, 3, 2)),
        (pumps["unchanged"].pk, "past_alarm", 17, dt.date(2025, 10, 20), dt.date(2026, 3, 14), dt.date(2026, 3, 21)),
        (pumps["refilled"].pk, "overdue", 4, dt.date(2025, 11, 2), dt.date(2026, 3, 27), dt.date(2026, 4, 3)),
    ]


def test_without_today_the_selector_still_looks_for_later_records(april_changes):
    """A caller that does not know today (a script) gets the honest answer too."""
    with_today = reports.overdue_refills(as_of=QUARTER_END, today=dt.date(2026, 11, 30))
    assert reports.overdue_refills(as_of=QUARTER_END) == with_today


def test_the_status_filter_applies_to_recomputed_pumps(april_changes):
    pumps = april_changes
    overdue = reports.overdue_refills(as_of=QUARTER_END, status="overdue", today=dt.date(2026, 11, 30))
    assert [r["pump"] for r in overdue] == [pumps["refilled"].pk]


def test_a_record_voided_since_does_not_count(april_changes, doctor):
    """Records as they stand now: the April refill voided, the pump reads as its stored columns again."""
    pumps = april_changes
    refill = pumps["refilled"].refills.get(refilled_on=dt.date(2026, 4, 2))
    void_record(refill, by=doctor, reason="Entered on the wrong pump")
    pumps["refilled"].refresh_from_db()
    assert pumps["refilled"].refill_due_on == dt.date(2026, 3, 27)
    rows = reports.overdue_refills(as_of=QUARTER_END, today=dt.date(2026, 11, 30))
    assert [(r["pump"], r["days_overdue"]) for r in rows][-1] == (pumps["refilled"].pk, 4)


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.getvalue().decode())))


def test_the_page_the_csv_and_the_api_give_the_same_quarter_end_answer(april_changes, client_as, api_as, doctor):
    params = {"as_of": "2026-03-31"}
    page = client_as(doctor).get(reverse("reports:overdue_refills"), params)
    download = client_as(doctor).get(reverse("reports:overdue_refills_csv"), params)
    body = api_as(doctor).get("/api/v1/reports/overdue-refills/", params).json()

    expected = [("EXPLANTED", "past_alarm", 36), ("UNCHANGED", "past_alarm", 17), ("REFILLED", "overdue", 4)]
    assert [(r["mrn"], r["status"], r["days_overdue"]) for r in body["results"]] == expected
    assert [(row[1], row[9], int(row[7])) for row in csv_rows(download)[1:]] == expected
    assert [(r["mrn"], r["status"], r["days_overdue"]) for r in page.context["rows"]] == expected
    assert page.context["total"] == 3


def test_as_of_today_the_recomputation_is_not_needed(april_changes):
    """Today, every record is on or before as_of: the stored columns are the answer."""
    today = dt.date(2026, 11, 30)
    assert reports.overdue_refills(as_of=today, today=today) == reports.overdue_refills(as_of=today)


# --------------------------------------------------------------------------
# Battery end of life: the explant and the replacement indicator (ERI) date are dated facts
# --------------------------------------------------------------------------


@pytest.fixture
def april_battery(nurse, surgeon, doctor):
    """SynchroMed II: 84 months nominal, end of service 90 days after the ERI date."""

    def pump(mrn: str, implanted_on: dt.date):
        patient = PatientFactory(mrn=mrn, family_name=mrn.title(), assigned_nurse=nurse)
        return PumpFactory(patient=patient, by=surgeon, implanted_on=implanted_on)

    # Nominal end of service 2026-06-01 (62 days after 03-31); explanted 04-20.
    explanted = pump("OLD-PUMP", dt.date(2019, 6, 1))
    pump_explant(explanted, by=surgeon, surgery=SurgeryDetails(performed_on=dt.date(2026, 4, 20)))
    # Nominal end 2027-01-01; the ERI signalled 2026-04-15 brings it to 2026-07-14.
    eri_later = pump("ERI-APRIL", dt.date(2020, 1, 1))
    eri_later.eri_on = dt.date(2026, 4, 15)
    pump_update(eri_later, by=doctor, reason="Interrogation: ERI")
    # ERI signalled before the quarter end: end of service 2026-05-10 counts on 03-31.
    eri_before = pump("ERI-FEB", dt.date(2020, 2, 1))
    eri_before.eri_on = dt.date(2026, 2, 9)
    pump_update(eri_before, by=doctor, reason="Interrogation: ERI")
    return explanted, eri_later, eri_before


def test_a_quarter_end_battery_report_counts_pumps_explanted_since_and_ignores_later_eri_dates(april_battery):
    explanted, eri_later, eri_before = april_battery
    rows = reports.battery_end_of_life(as_of=QUARTER_END, within_days=180, today=dt.date(2026, 11, 30))
    assert [(r["pump"], r["battery_end_of_service_on"], r["days_left"], r["eri_on"]) for r in rows] == [
        (eri_before.pk, dt.date(2026, 5, 10), 40, dt.date(2026, 2, 9)),
        (explanted.pk, dt.date(2026, 6, 1), 62, None),
    ]
    assert eri_later.battery_end_of_service_on == dt.date(2026, 7, 14)  # stored: within 180 days of 03-31
    # As of mid-April the ERI was known and the pump still in: both dates move.
    mid_april = reports.battery_end_of_life(as_of=dt.date(2026, 4, 16), within_days=180)
    assert [(r["mrn"], r["battery_end_of_service_on"]) for r in mid_april] == [
        ("ERI-FEB", dt.date(2026, 5, 10)),
        ("OLD-PUMP", dt.date(2026, 6, 1)),
        ("ERI-APRIL", dt.date(2026, 7, 14)),
    ]


def test_the_battery_page_and_api_agree_as_of_a_past_date(april_battery, client_as, api_as, nurse):
    params = {"as_of": "2026-03-31", "within_days": "180"}
    body = api_as(nurse).get("/api/v1/reports/battery-end-of-life/", params).json()
    page = client_as(nurse).get(reverse("reports:battery"), params)
    assert [r["mrn"] for r in body["results"]] == ["ERI-FEB", "OLD-PUMP"]
    assert [r["mrn"] for r in page.context["rows"]] == ["ERI-FEB", "OLD-PUMP"]
