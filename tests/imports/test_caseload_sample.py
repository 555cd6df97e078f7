"""The sample sheet (``tests/data/caseload_sample.csv``, written by ``make_caseload_sample.py``):
its dry run pinned, and what a dry run, a refused commit and a clean commit leave behind.

The sheet is a clinic's 200-row pump caseload with the mistakes real sheets have: bad values
on 15 rows, and stated dates that the dosing module does not agree with on 10 (a float
rounding error, a daily volume rounded to 0.1 mL, a dose change forgotten, the 180-day cap
forgotten, a 14-day lead).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from alerts.models import Alert
from alerts.services import alert_scan, system_user
from imports.parsing import SheetRow, read_sheet
from imports.services import _Lookups, caseload_check, caseload_import, caseload_import_file, caseload_record
from patients.models import Patient
from pumps import dosing
from pumps.models import DoseChange, Pump, Refill, Surgery
from tests.factories import PumpFactory
from tests.imports.conftest import SAMPLE

pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 12, 1)

# (row, column, message): every bad value, row by row, as the sheet numbers its rows.
EXPECTED_ERRORS = [
    (15, "drug", "Unknown drug 'baclofen': use one of lioresal, gablofen, compounded."),
    (70, "daily_dose_mcg", "The daily dose must be more than 0 mcg/day."),
    (74, "assigned_nurse", "No staff account has the username 'nurse_ghost'."),
    (
        83,
        "concentration_mcg_per_ml",
        "750 mcg/mL is not a standard concentration (50, 500, 1000 or 2000): describe the dilution.",
    ),
    (87, "assigned_nurse", "dr_doyle is not an active pump nurse."),
    (102, "pump_model", "Unknown pump model 'SynchroMed III': the catalogue has Prometra II, SynchroMed II."),
    (109, "birth_date", "'2010-02-31' is not a date: write it as YYYY-MM-DD (e.g. 2024-01-15)."),
    (114, "volume_added_ml", "45 mL is more than the reservoir holds (40 mL)."),
    (135, "mrn", "A patient with MRN RX400021 is also on row 5."),
    (157, "sex", "Unknown sex 'F?': use one of female, male, other, unknown."),
    (157, "gmfcs_level", "'6' is not a GMFCS level: use 1 to 5 (or I to V)."),
    (157, "eri_on", "'soon' is not a date: write it as YYYY-MM-DD (e.g. 2024-01-15)."),
    (158, "reservoir_volume_ml", "The Medtronic SynchroMed II comes in 20 mL, 40 mL; 30 mL is not one of them."),
    (162, "serial_number", "A pump with serial number PII510130H is also on row 12."),
    (168, "family_name", "This column is required: the cell is empty."),
    (
        194,
        "dose_since",
        "The dose changed after the last refill (2025-08-21), and the sheet does not say the dose before it, so the "
        "alarm date cannot be computed. Import the dose in force at the last refill, then record the later change "
        "as a dose change.",
    ),
]

# (row, mrn, serial, stated alarm, computed alarm, difference, stated due, computed due, difference);
# difference = stated − computed in days: positive means the sheet would have the pump refilled too late.
EXPECTED_RECONCILIATION = [
    # forgotten dose change: +15% at the last refill, dates still the old dose's
    (25, "RX407952", "NGP524768H", "2025-08-16", "2025-08-06", 10, "2025-08-09", "2025-07-30", 10),
    # the 180-day stability cap forgotten (alarm − 7 days for a slow pump)
    (26, "RX407966", "NGP524794H", "2027-02-10", "2027-02-10", 0, "2027-02-03", "2026-03-21", 319),
    # float: 35 mL ÷ (140/1000 mL/day) is exactly 250 days, 249.99999999999997 in binary floating point
    (29, "RX401260", "PII512340H", "2026-02-02", "2026-02-03", -1, "2025-11-25", "2025-11-25", 0),
    (56, "RX407882", "NGP524638H", "2025-09-06", "2025-09-07", -1, "2025-08-30", "2025-08-31", -1),
    (65, "RX404235", "NGP517865H", "2025-11-09", "2025-11-10", -1, "2025-11-02", "2025-11-03", -1),
    (86, "RX407938", "PII524742H", "2025-06-15", "2025-06-05", 10, "2025-06-08", "2025-05-29", 10),
    # a 14-day lead instead of 7
    (127, "RX407959", "PII524781H", "2026-03-23", "2026-03-23", 0, "2026-03-09", "2026-03-16", -7),
    # the daily volume rounded to 0.1 mL before dividing
    (167, "RX407917", "PII524703H", "2025-09-14", "2025-09-12", 2, "2025-09-07", "2025-09-05", 2),
    (172, "RX407945", "NGP524755H", "2025-11-29", "2025-10-28", 32, "2025-11-17", "2025-10-21", 27),
    (191, "RX407931", "NGP524729H", "2026-01-05", "2025-12-30", 6, "2025-12-29", "2025-12-23", 6),
]
BAD_ROWS = {row for row, _, _ in EXPECTED_ERRORS}

AUDITED = (Patient, Pump, Surgery, DoseChange, Refill, Alert)


def counts() -> dict[str, int]:
    """Rows of every record the import may write, and of their histories."""
    found = {model.__name__: model.objects.count() for model in AUDITED}
    found |= {f"{model.__name__} history": model.history.count() for model in AUDITED}  # type: ignore[attr-defined]
    return found


def sample_rows(numbers: set[int] | None = None):
    rows = read_sheet("caseload_sample.csv", SAMPLE.read_bytes())
    return [row for row in rows if numbers is None or row.number in numbers]


def clean_rows_of_every_kind():
    """Good rows covering each way the dates map to records (see ``imports.services``)."""
    good = [row for row in sample_rows() if row.number not in BAD_ROWS]
    kinds = {
        "fill at implant": lambda c: c["last_refill_on"] == c["implanted_on"],
        "dose from before the implant": lambda c: c["dose_since"] < c["implanted_on"],
        "dose changed at the last fill": lambda c: c["dose_since"] == c["last_refill_on"] != c["implanted_on"],
        "dose changed between": lambda c: c["implanted_on"] < c["dose_since"] < c["last_refill_on"],
    }
    chosen = []
    for test in kinds.values():
        chosen += [row for row in good if test(row.cells)][:3]
    assert len(chosen) == 12
    return sorted(chosen, key=lambda row: row.number)


def test_the_sample_sheets_dry_run_is_pinned(sheet_staff, doctor):
    result = caseload_import_file("caseload_sample.csv", SAMPLE.read_bytes(), by=doctor, commit=False, today=TODAY)

    assert (result.dry_run, result.rows) == (True, 200)
    assert [(e.row, e.field, e.message) for e in result.errors] == EXPECTED_ERRORS
    assert [
        (
            line.row,
            line.mrn,
            line.serial_number,
            str(line.stated_alarm_date),
            str(line.computed_alarm_date),
            line.difference_days,
            str(line.stated_refill_due_on),
            str(line.computed_refill_due_on),
            line.refill_due_difference_days,
        )
        for line in result.reconciliation
    ] == EXPECTED_RECONCILIATION
    # What a commit would create: one patient, pump, program and fill per good row.
    assert result.created == dict.fromkeys(("patients", "pumps", "dose_changes", "refills"), 200 - len(BAD_ROWS))


# The catalogue's default alarm volumes (spec "Pump-model rules"), used when the sheet leaves it blank.
CATALOGUE_ALARM_ML = {"Prometra II": "3.0", "SynchroMed II": "2.0"}


def alarm_volume_ml(cells: dict[str, str]) -> Decimal:
    return Decimal(cells["low_reservoir_alarm_ml"] or CATALOGUE_ALARM_ML[cells["pump_model"]])


def test_the_reconciled_alarm_dates_are_the_dosing_modules(sheet_staff, doctor):
    """Independently of the import: the dosing module on the row's fill and dose."""
    rows = {row.number: row.cells for row in sample_rows()}
    result = caseload_check(sample_rows())
    for line in result.reconciliation:
        cells = rows[line.row]
        fill = dosing.Fill(
            refilled_on=dt.date.fromisoformat(cells["last_refill_on"]),
            volume_added_ml=Decimal(cells["volume_added_ml"]),
            concentration_mcg_per_ml=Decimal(cells["concentration_mcg_per_ml"]),
            low_reservoir_alarm_ml=alarm_volume_ml(cells),
        )
        dose = dosing.DoseSegment(dt.date.fromisoformat(cells["dose_since"]), Decimal(cells["daily_dose_mcg"]))
        projection = dosing.project_fill(fill, [dose], dosing.DosingSettings())
        assert (line.computed_alarm_date, line.computed_refill_due_on) == (
            projection.alarm_date,
            projection.refill_due_on,
        ), line.row


def test_the_services_agree_with_the_dry_run_error_for_error_and_date_for_date(sheet_staff, doctor):
    """The commit's path (the services, rehearsed and rolled back) against the dry run's checks,
    on every bad row, every reconciled row and a sample of good ones."""
    wanted = (
        BAD_ROWS | {line[0] for line in EXPECTED_RECONCILIATION} | {row.number for row in clean_rows_of_every_kind()}
    )
    rows = sample_rows(wanted)
    before = counts()

    rehearsed = caseload_record("caseload_sample.csv", rows, by=doctor, today=TODAY, keep=False)
    checked = caseload_check(rows)

    assert rehearsed.errors == checked.errors
    assert rehearsed.reconciliation == checked.reconciliation
    assert rehearsed.created == checked.created
    assert counts() == before


def test_a_dry_run_saves_nothing(sheet_staff, doctor):
    before = counts()

    result = caseload_import_file("caseload_sample.csv", SAMPLE.read_bytes(), by=doctor, commit=False, today=TODAY)

    assert result.errors and result.reconciliation
    assert counts() == before


def test_a_commit_with_any_error_saves_nothing(sheet_staff, doctor):
    rows = [*clean_rows_of_every_kind(), *sample_rows({114})]  # one bad row: a volume over the reservoir
    before = counts()

    result = caseload_import("caseload_sample.csv", rows, by=doctor, commit=True, today=TODAY)

    assert result.refused
    assert [(e.row, e.field) for e in result.errors] == [(114, "volume_added_ml")]
    assert result.created == dict.fromkeys(("patients", "pumps", "dose_changes", "refills"), 0)
    assert counts() == before


def test_a_commit_refused_by_the_services_saves_nothing(sheet_staff, doctor, monkeypatch):
    """A row the file's checks pass but a service refuses still rolls back every row: here a
    pump with the last row's serial number is recorded after the file's serials were looked up."""
    rows = clean_rows_of_every_kind()
    PumpFactory(serial_number=rows[-1].cells["serial_number"])
    looked_up = _Lookups.for_rows

    def looked_up_before_the_pump_was_recorded(sheet_rows):
        lookups = looked_up(sheet_rows)
        lookups.recorded_serials = set()
        return lookups

    monkeypatch.setattr(_Lookups, "for_rows", staticmethod(looked_up_before_the_pump_was_recorded))
    before = counts()

    result = caseload_record("caseload_sample.csv", rows, by=doctor, today=TODAY, keep=True)

    assert result.refused
    assert [(e.row, e.field, e.message) for e in result.errors] == [
        (
            rows[-1].number,
            "serial_number",
            f"A pump with the serial number {rows[-1].cells['serial_number']} is already recorded.",
        )
    ]
    assert result.created == dict.fromkeys(("patients", "pumps", "dose_changes", "refills"), 0)
    assert counts() == before


def test_a_clean_commit_records_each_pump_with_the_dosing_modules_dates_and_an_audit_trail(sheet_staff, nurse: User):
    rows = clean_rows_of_every_kind()

    result = caseload_import("caseload_sample.csv", rows, by=nurse, commit=True, today=TODAY)

    assert (result.errors, result.dry_run) == ([], False)
    assert result.created == dict.fromkeys(("patients", "pumps", "dose_changes", "refills"), 12)
    for row in rows:
        cells = row.cells
        pump = Pump.objects.select_related("patient", "model").get(serial_number=cells["serial_number"])
        assert pump.patient.mrn == cells["mrn"]
        assert pump.model.model == cells["pump_model"]
        implanted_on = dt.date.fromisoformat(cells["implanted_on"])
        dose_since = dt.date.fromisoformat(cells["dose_since"])
        last_refill_on = dt.date.fromisoformat(cells["last_refill_on"])
        (program,) = pump.dose_changes.all()
        (fill,) = pump.refills.all()
        (implant,) = pump.surgeries.all()
        assert (implant.kind, implant.performed_on) == (Surgery.Kind.IMPLANT, implanted_on)
        assert (program.changed_on, program.daily_dose_mcg) == (
            max(dose_since, implanted_on),
            Decimal(cells["daily_dose_mcg"]),
        )
        assert (fill.refilled_on, fill.volume_added_ml) == (last_refill_on, Decimal(cells["volume_added_ml"]))
        expected = dosing.project_fill(
            dosing.Fill(
                last_refill_on,
                Decimal(cells["volume_added_ml"]),
                Decimal(cells["concentration_mcg_per_ml"]),
                alarm_volume_ml(cells),
            ),
            [dosing.DoseSegment(dose_since, Decimal(cells["daily_dose_mcg"]))],
            dosing.DosingSettings(),
        )
        assert (pump.alarm_date, pump.refill_due_on) == (expected.alarm_date, expected.refill_due_on), row.number
        for record in (pump.patient, pump, implant, program, fill):
            created = record.history.earliest("history_date", "history_id")
            assert created.history_user == nurse
            assert created.history_change_reason.startswith("Imported from caseload_sample.csv")


def test_a_clean_commit_refreshes_each_pumps_alerts_as_the_scan_would(sheet_staff, nurse: User):
    result = caseload_import("caseload_sample.csv", clean_rows_of_every_kind(), by=nurse, commit=True, today=TODAY)

    assert not result.errors
    past_alarm = Pump.objects.implanted().filter(alarm_date__lt=TODAY)
    assert past_alarm.exists(), "the sample has pumps already past their alarm date on TODAY"
    for pump in past_alarm:
        assert pump.alerts.unresolved().filter(kind="past_alarm_date").exists(), pump.serial_number
    # Nothing left for the scan to do: the import raised every alert the records call for.
    assert alert_scan(as_of=TODAY, by=system_user()).changes == 0


def test_importing_the_same_rows_again_refuses_each_row_as_a_duplicate(sheet_staff, doctor):
    rows = clean_rows_of_every_kind()
    assert not caseload_import("caseload_sample.csv", rows, by=doctor, commit=True, today=TODAY).errors
    before = counts()

    again = caseload_import("caseload_sample.csv", rows, by=doctor, commit=True, today=TODAY)

    assert again.refused
    assert [(e.row, e.field) for e in again.errors] == [
        (row.number, field) for row in rows for field in ("mrn", "serial_number")
    ]
    assert all("is already recorded: the import never updates a record" in e.message for e in again.errors)
    assert counts() == before


def test_a_pump_imported_without_an_alarm_volume_takes_its_models_catalogue_default(sheet_staff, nurse: User):
    """Spec "Pump-model rules": an implant that gives no alarm volume takes the model's (Prometra II 3.0 mL)."""
    clean = clean_rows_of_every_kind()
    by_model = {row.cells["pump_model"]: row for row in clean}
    rows = [
        SheetRow(row.number, {**row.cells, "low_reservoir_alarm_ml": "", "stated_alarm_date": ""})
        for row in by_model.values()
    ]

    result = caseload_import("caseload_sample.csv", rows, by=nurse, commit=True, today=TODAY)

    assert result.errors == []
    imported = {
        pump.model.model: pump.low_reservoir_alarm_ml
        for pump in Pump.objects.select_related("model").filter(
            serial_number__in=[row.cells["serial_number"] for row in rows]
        )
    }
    assert imported == {"Prometra II": Decimal("3.00"), "SynchroMed II": Decimal("2.00")}
