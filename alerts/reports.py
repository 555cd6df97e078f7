"""The reports (spec "Reports"): one selector per report, used by the page, the CSV,
the print view and the API alike, so that they can never disagree.

Each selector reads the pumps' stored, indexed columns in one query, whatever the
number of pumps, and returns plain rows with the report's columns.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import F, QuerySet

from alerts.overdue import (
    NO_PROJECTION,
    OVERDUE,
    OVERDUE_STATUSES,
    PAST_ALARM,
    overdue_status,
    overdue_status_sql,
    report_order_sql,
)
from pumps.models import Pump

__all__ = ["NO_PROJECTION", "OVERDUE", "OVERDUE_STATUSES", "PAST_ALARM"]


def _staff_name(user: Any) -> str:
    if user is None:
        return ""
    return str(user.get_full_name() or user.username)


def _watched_pumps() -> QuerySet[Pump]:
    return Pump.objects.watched().select_related("patient", "patient__assigned_nurse", "model")


# --------------------------------------------------------------------------
# Overdue refills
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class OverdueRefillRow:
    patient_id: int
    patient_name: str
    mrn: str
    pump_id: int
    serial_number: str
    pump_nurse: str
    last_refill_on: datetime.date | None
    refill_due_on: datetime.date | None
    alarm_date: datetime.date | None
    days_overdue: int | None
    status: str

    @property
    def status_label(self) -> str:
        return dict(OVERDUE_STATUSES)[self.status]


def overdue_refills(
    *, as_of: datetime.date, nurse_id: int | None = None, diagnosis: str = "", status: str = ""
) -> list[OverdueRefillRow]:
    """Watched pumps past their refill-due date on ``as_of``, or with no projection, most urgent first.

    The status is ``alerts.overdue.overdue_status`` (its SQL twin filters and sorts
    here): ``no_projection`` first (nobody knows when those pumps run dry), then
    ``past_alarm`` (withdrawal risk), then ``overdue``; within each group, most days
    overdue first; then patient name and pump serial so the order is stable.
    ``status`` filters to one of them. ``days_overdue`` is empty without a due date.
    """
    pumps = _watched_pumps().annotate(
        overdue_status=overdue_status_sql(as_of=as_of), report_order=report_order_sql(as_of=as_of)
    )
    pumps = pumps.filter(overdue_status__isnull=False)
    if nurse_id:
        pumps = pumps.filter(patient__assigned_nurse_id=nurse_id)
    if diagnosis:
        pumps = pumps.filter(patient__diagnosis=diagnosis)
    if status:
        pumps = pumps.filter(overdue_status=status)
    pumps = pumps.order_by(
        "report_order",
        F("refill_due_on").asc(nulls_first=True),
        "patient__family_name",
        "patient__given_name",
        "serial_number",
    )
    return [_overdue_row(pump, as_of) for pump in pumps]


def _report_name(patient: Any) -> str:
    """How a report names a patient: FAMILY, Given (sorted and read by family name)."""
    return f"{patient.family_name.upper()}, {patient.given_name}"


def _overdue_row(pump: Pump, as_of: datetime.date) -> OverdueRefillRow:
    patient = pump.patient
    status = overdue_status(as_of=as_of, refill_due_on=pump.refill_due_on, alarm_date=pump.alarm_date)
    assert status is not None, "the SQL twin selected this pump: the Python rule must agree"
    return OverdueRefillRow(
        patient_id=patient.pk,
        patient_name=_report_name(patient),
        mrn=patient.mrn,
        pump_id=pump.pk,
        serial_number=pump.serial_number,
        pump_nurse=_staff_name(patient.assigned_nurse),
        last_refill_on=pump.last_refill_on,
        refill_due_on=pump.refill_due_on,
        alarm_date=pump.alarm_date,
        days_overdue=(as_of - pump.refill_due_on).days if pump.refill_due_on else None,
        status=status,
    )


# The page's table and the CSV share these columns, in this order.
OVERDUE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Patient", "patient_name"),
    ("MRN", "mrn"),
    ("Pump serial", "serial_number"),
    ("Pump nurse", "pump_nurse"),
    ("Last refill", "last_refill_on"),
    ("Refill due", "refill_due_on"),
    ("Alarm date", "alarm_date"),
    ("Days overdue", "days_overdue"),
    ("Status", "status"),
)


# --------------------------------------------------------------------------
# Battery end of life
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class BatteryRow:
    patient_id: int
    patient_name: str
    mrn: str
    pump_id: int
    serial_number: str
    pump_model: str
    pump_nurse: str
    implanted_on: datetime.date
    eri_on: datetime.date | None
    battery_end_of_service_on: datetime.date
    days_left: int


def battery_end_of_life(*, as_of: datetime.date, within_days: int = 180) -> list[BatteryRow]:
    """Implanted pumps whose battery ends within ``within_days`` of ``as_of`` (or already has),
    soonest first. ``days_left`` is negative once end of service has passed."""
    until = as_of + datetime.timedelta(days=within_days)
    pumps = _watched_pumps().filter(battery_end_of_service_on__lte=until)
    pumps = pumps.order_by("battery_end_of_service_on", "patient__family_name", "serial_number")
    rows = []
    for pump in pumps:
        patient = pump.patient
        assert pump.battery_end_of_service_on is not None
        rows.append(
            BatteryRow(
                patient_id=patient.pk,
                patient_name=_report_name(patient),
                mrn=patient.mrn,
                pump_id=pump.pk,
                serial_number=pump.serial_number,
                pump_model=str(pump.model),
                pump_nurse=_staff_name(patient.assigned_nurse),
                implanted_on=pump.implanted_on,
                eri_on=pump.eri_on,
                battery_end_of_service_on=pump.battery_end_of_service_on,
                days_left=(pump.battery_end_of_service_on - as_of).days,
            )
        )
    return rows


BATTERY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Patient", "patient_name"),
    ("MRN", "mrn"),
    ("Pump serial", "serial_number"),
    ("Pump model", "pump_model"),
    ("Pump nurse", "pump_nurse"),
    ("Implanted", "implanted_on"),
    ("ERI date", "eri_on"),
    ("End of service", "battery_end_of_service_on"),
    ("Days left", "days_left"),
)


# --------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------


def cell(value: Any) -> str:
    """How a value reads in a table cell and a CSV cell (dates as YYYY-MM-DD, nothing as blank)."""
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return f"{value:%Y-%m-%d}"
    return str(value)


def table(rows: Sequence[Any], columns: Sequence[tuple[str, str]]) -> list[list[str]]:
    """The rows as the page shows them: one list of cells per row, in column order."""
    return [[cell(getattr(row, attribute)) for _label, attribute in columns] for row in rows]


def csv_text(rows: Sequence[Any], columns: Sequence[tuple[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([label for label, _attribute in columns])
    for values in table(rows, columns):
        # A cell starting with = + - @ would run as a formula in a spreadsheet.
        writer.writerow(
            [f"'{v}" if v[:1] in ("=", "+", "@") or (v[:1] == "-" and not _number(v)) else v for v in values]
        )
    return out.getvalue()


def _number(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True
