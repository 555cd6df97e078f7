"""Write ``caseload_sample.csv``: a realistic 200-row pump caseload sheet, the same every time.

    .venv/bin/python tests/data/make_caseload_sample.py [--rows 200] [--out tests/data/caseload_sample.csv]
        [--clean]

Most rows are right: their stated alarm and refill-due dates are the dosing module's (this
script calls ``pumps.dosing``, which is pure, as a careful clinic's sheet would compute them).
Some are not, as real sheets are not (``tests/imports/test_caseload_sample.py`` pins which):

* a float mistake: days = (volume − alarm volume) ÷ (dose ÷ concentration) in binary
  floating point, floored; where the exact quotient is a whole number, the float lands just
  under it and the stated alarm is a day early;
* a rounding mistake: the daily volume rounded to 0.1 mL before dividing, which moves the
  alarm by days;
* a forgotten dose change: the dose changed at (or before) the last refill, but the stated
  dates are still those of the old dose;
* refill-due mistakes: a 14-day lead instead of 7, or the 180-day stability cap forgotten;
* rows with bad values (unknown pump model or nurse, a day that does not exist, duplicates,
  a volume over the reservoir, a dose after the last refill…).

``--clean`` leaves the mistakes and bad rows out (the timing test's sheet of any size).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import math
import random
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from imports.parsing import COLUMNS
from pumps import dosing

SEED = 20261204
NURSES = ("nurse_nash", "nurse_okafor")
SETTINGS = dosing.DosingSettings()
GIVEN = ("Amara", "Ben", "Chloe", "Dev", "Ella", "Finn", "Grace", "Hugo", "Isla", "Jonah", "Kira", "Leo", "Maya")
FAMILY = ("Adeyemi", "Brown", "Chen", "Dubois", "Evans", "Fischer", "Gupta", "Hughes", "Ivanova", "Jones", "Khan")
DIAGNOSES = ("cerebral_palsy", "cerebral_palsy", "cerebral_palsy", "brain_injury", "spinal_cord_injury", "stroke")
STANDARD_CONCENTRATIONS = (Decimal(500), Decimal(1000), Decimal(2000))


def projection(row: dict[str, str]) -> dosing.Projection:
    """What the dosing module says for a row: the last fill, with the dose in force since its date."""
    fill = dosing.Fill(
        refilled_on=dt.date.fromisoformat(row["last_refill_on"]),
        volume_added_ml=Decimal(row["volume_added_ml"]),
        concentration_mcg_per_ml=Decimal(row["concentration_mcg_per_ml"]),
        low_reservoir_alarm_ml=Decimal(row["low_reservoir_alarm_ml"] or "2.0"),
    )
    program_on = max(dt.date.fromisoformat(row["dose_since"]), dt.date.fromisoformat(row["implanted_on"]))
    return dosing.project_fill(fill, [dosing.DoseSegment(program_on, Decimal(row["daily_dose_mcg"]))], SETTINGS)


def state_right_dates(row: dict[str, str]) -> None:
    result = projection(row)
    assert result.alarm_date is not None and result.refill_due_on is not None
    row["stated_alarm_date"] = result.alarm_date.isoformat()
    row["stated_refill_due_on"] = result.refill_due_on.isoformat()


def state_dates(row: dict[str, str], alarm_on: dt.date, *, stability_cap: bool = True) -> None:
    """Stated dates from a sheet's own alarm date; refill due as the spec says, unless the cap is forgotten."""
    fill_on = dt.date.fromisoformat(row["last_refill_on"])
    due_on = dosing.refill_due_on(fill_on, alarm_on, SETTINGS)
    if not stability_cap:
        due_on = alarm_on - dt.timedelta(days=SETTINGS.refill_lead_days)
    row["stated_alarm_date"] = alarm_on.isoformat()
    row["stated_refill_due_on"] = due_on.isoformat()


def _usable_ml(row: dict[str, str]) -> tuple[float, Fraction]:
    usable = Decimal(row["volume_added_ml"]) - Decimal(row["low_reservoir_alarm_ml"] or "2.0")
    return float(usable), Fraction(usable)


def float_days(row: dict[str, str]) -> int:
    usable_float, _ = _usable_ml(row)
    per_day = float(row["daily_dose_mcg"]) / float(row["concentration_mcg_per_ml"])
    return math.floor(usable_float / per_day)


def exact_days(row: dict[str, str]) -> int:
    _, usable = _usable_ml(row)
    per_day = Fraction(Decimal(row["daily_dose_mcg"])) / Fraction(Decimal(row["concentration_mcg_per_ml"]))
    return math.floor(usable / per_day)


class Sheet:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rows: list[dict[str, str]] = []
        self.made = 0  # rows made so far, good or not: each gets its own MRN and serial

    def day_between(self, start: dt.date, end: dt.date) -> dt.date:
        return start + dt.timedelta(days=self.rng.randrange((end - start).days + 1))

    def good_row(self) -> dict[str, str]:
        rng, number = self.rng, self.made
        self.made += 1
        model, prefix = rng.choice((("SynchroMed II", "NGP"), ("SynchroMed II", "NGP"), ("Prometra II", "PII")))
        reservoir = rng.choice(("20", "40", "40"))
        alarm = "" if model == "SynchroMed II" and rng.random() < 0.5 else rng.choice(("2.0", "3.0", "4.0"))
        implanted_on = self.day_between(dt.date(2015, 1, 1), dt.date(2024, 12, 31))
        last_refill_on = self.day_between(dt.date(2025, 3, 1), dt.date(2025, 11, 28))
        dose_since = self.day_between(implanted_on, last_refill_on - dt.timedelta(days=1))
        concentration = rng.choice(STANDARD_CONCENTRATIONS)
        volume_cap = int(reservoir)
        return {
            "mrn": f"RX{400000 + number * 7:06d}",
            "given_name": rng.choice(GIVEN),
            "family_name": rng.choice(FAMILY),
            "birth_date": self.day_between(dt.date(1960, 1, 1), dt.date(2019, 12, 31)).isoformat(),
            "sex": rng.choice(("female", "male", "Female", "Male", "unknown")),
            "diagnosis": rng.choice(DIAGNOSES),
            "gmfcs_level": rng.choice(("", "2", "3", "4", "5", "IV", "V")),
            "weight_kg": f"{rng.randrange(150, 900) / 10:.1f}",
            "height_cm": str(rng.randrange(95, 190)),
            "assigned_nurse": rng.choice((*NURSES, "")),
            "pump_model": model,
            "serial_number": f"{prefix}{510000 + number * 13}H",
            "reservoir_volume_ml": reservoir,
            "low_reservoir_alarm_ml": alarm,
            "implanted_on": implanted_on.isoformat(),
            "catheter_tip_level": rng.choice(("T10", "T8", "T4", "C5", "")),
            "eri_on": "",
            "daily_dose_mcg": str(rng.choice((rng.randrange(60, 900, 5), rng.randrange(100, 6000) / 10))),
            "dose_since": dose_since.isoformat(),
            "last_refill_on": last_refill_on.isoformat(),
            "volume_added_ml": str(rng.randrange(max(6, int(float(alarm or 2)) + 2), volume_cap + 1)),
            "drug": rng.choice(("lioresal", "gablofen", "Lioresal", "compounded")),
            "concentration_mcg_per_ml": str(concentration),
            "stated_alarm_date": "",
            "stated_refill_due_on": "",
        }


def add_good_rows(sheet: Sheet, count: int) -> None:
    for _ in range(count):
        row = sheet.good_row()
        if sheet.rng.random() < 0.9:
            state_right_dates(row)
        sheet.rows.append(row)


def float_mistake_row(sheet: Sheet) -> dict[str, str]:
    """A row whose exact day count is whole and whose float count falls just short of it."""
    while True:
        row = sheet.good_row()
        if float_days(row) < exact_days(row):
            fill_on = dt.date.fromisoformat(row["last_refill_on"])
            state_dates(row, fill_on + dt.timedelta(days=float_days(row)))
            return row


def rounded_rate_row(sheet: Sheet) -> dict[str, str]:
    """The daily volume rounded to 0.1 mL before dividing: the alarm moves by days."""
    while True:
        row = sheet.good_row()
        row["concentration_mcg_per_ml"] = "500"
        row["daily_dose_mcg"] = str(sheet.rng.randrange(100, 700))
        per_day = round(Decimal(row["daily_dose_mcg"]) / Decimal(500), 1)
        _, usable = _usable_ml(row)
        days = math.floor(usable / Fraction(per_day))
        if 2 <= abs(days - exact_days(row)) <= 9:
            state_dates(row, dt.date.fromisoformat(row["last_refill_on"]) + dt.timedelta(days=days))
            return row


def forgotten_dose_change_row(sheet: Sheet) -> dict[str, str]:
    """The dose went up at the last refill; the stated dates are still the old dose's (too late)."""
    row = sheet.good_row()
    old = dict(row)
    new_dose = Decimal(row["daily_dose_mcg"]) * Decimal(sheet.rng.choice(("1.1", "1.15", "1.2")))
    row["daily_dose_mcg"] = str(new_dose.quantize(Decimal("0.1")))
    row["dose_since"] = row["last_refill_on"]
    result = projection(old)
    assert result.alarm_date is not None and result.refill_due_on is not None
    row["stated_alarm_date"] = result.alarm_date.isoformat()
    row["stated_refill_due_on"] = result.refill_due_on.isoformat()
    return row


def lead_mistake_row(sheet: Sheet) -> dict[str, str]:
    row = sheet.good_row()
    state_right_dates(row)
    alarm_on = dt.date.fromisoformat(row["stated_alarm_date"])
    if row["stated_refill_due_on"] == (alarm_on - dt.timedelta(days=7)).isoformat():
        row["stated_refill_due_on"] = (alarm_on - dt.timedelta(days=14)).isoformat()
    return row


def stability_cap_forgotten_row(sheet: Sheet) -> dict[str, str]:
    """A slow pump: its alarm is more than 187 days away, so the 180-day cap sets the due date."""
    row = sheet.good_row()
    row.update(reservoir_volume_ml="40", volume_added_ml="40", concentration_mcg_per_ml="2000", daily_dose_mcg="150")
    alarm_on = projection(row).alarm_date
    assert alarm_on is not None
    state_dates(row, alarm_on, stability_cap=False)
    return row


def implanted_at_last_fill_row(sheet: Sheet) -> dict[str, str]:
    """A recent implant: the last fill is the first fill, in theatre; the dose set that day."""
    row = sheet.good_row()
    row["implanted_on"] = row["last_refill_on"]
    row["dose_since"] = row["last_refill_on"]
    state_right_dates(row)
    return row


def carried_over_dose_row(sheet: Sheet) -> dict[str, str]:
    """A replacement pump: the dose has not changed since before this pump went in."""
    row = sheet.good_row()
    implanted_on = dt.date.fromisoformat(row["implanted_on"])
    row["dose_since"] = (implanted_on - dt.timedelta(days=sheet.rng.randrange(30, 400))).isoformat()
    state_right_dates(row)
    return row


def bad_rows(sheet: Sheet) -> list[dict[str, str]]:
    """One row per kind of bad value (and one with several), as a clinic's sheet has them."""
    first, second = sheet.rows[3], sheet.rows[10]
    rows = [sheet.good_row() for _ in range(14)]
    rows[0]["pump_model"] = "SynchroMed III"
    rows[1]["assigned_nurse"] = "nurse_ghost"
    rows[2]["birth_date"] = "2010-02-31"
    rows[3]["mrn"] = first["mrn"]
    rows[4]["serial_number"] = second["serial_number"]
    rows[5].update(reservoir_volume_ml="40", volume_added_ml="45")
    rows[6]["daily_dose_mcg"] = "0"
    rows[7]["drug"] = "baclofen"
    rows[8]["dose_since"] = (dt.date.fromisoformat(rows[8]["last_refill_on"]) + dt.timedelta(days=9)).isoformat()
    rows[9].update(pump_model="SynchroMed II", reservoir_volume_ml="30", volume_added_ml="18")
    rows[10]["concentration_mcg_per_ml"] = "750"
    rows[11].update(sex="F?", gmfcs_level="6", eri_on="soon")
    rows[12]["assigned_nurse"] = "dr_doyle"
    rows[13]["family_name"] = ""
    for row in rows:
        state_right_dates_if_possible(row)
    return rows


def state_right_dates_if_possible(row: dict[str, str]) -> None:
    with contextlib.suppress(ValueError, ArithmeticError, AssertionError):
        state_right_dates(row)  # a row with a bad number states no date


def build(total_rows: int, *, clean: bool) -> list[dict[str, str]]:
    sheet = Sheet(random.Random(SEED))
    if clean:
        add_good_rows(sheet, total_rows)
        return sheet.rows
    add_good_rows(sheet, 12)
    special = [
        *(float_mistake_row(sheet) for _ in range(3)),
        *(rounded_rate_row(sheet) for _ in range(2)),
        *(forgotten_dose_change_row(sheet) for _ in range(3)),
        lead_mistake_row(sheet),
        stability_cap_forgotten_row(sheet),
        *(implanted_at_last_fill_row(sheet) for _ in range(4)),
        *(carried_over_dose_row(sheet) for _ in range(4)),
    ]
    errors = bad_rows(sheet)
    add_good_rows(sheet, total_rows - len(sheet.rows) - len(special) - len(errors))
    # Spread the special and bad rows through the sheet (a fixed shuffle: the same file every time).
    body = sheet.rows[12:] + special + errors
    sheet.rng.shuffle(body)
    return sheet.rows[:12] + body


def write(rows: list[dict[str, str]], out: Path) -> None:
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("caseload_sample.csv"))
    parser.add_argument("--clean", action="store_true", help="only good rows, every stated date right")
    options = parser.parse_args()
    write(build(options.rows, clean=options.clean), options.out)


if __name__ == "__main__":
    main()
