"""The reports (spec "Reports"): one selector per report, used by the page, the CSV,
the print view and the API alike, so that they can never disagree.

Each selector reads the pumps' stored, indexed columns in one query, whatever the
number of pumps, and returns plain dicts (from ``.values_list()``, no model instances)
keyed by the API's column names, so the API can send them as they are.

As of a past date, the stored columns are today's answer, not that day's: pumps whose
records changed after ``as_of`` are recomputed from their records as they stood (see
``overdue_refills`` and ``battery_end_of_life``), with a fixed number of extra queries.
"""

from __future__ import annotations

import csv
import datetime
import functools
import io
import itertools
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, cast, overload

from django.core.exceptions import ImproperlyConfigured
from django.db.models import CharField, F, IntegerField, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Concat, NullIf, Trim, Upper

from alerts.overdue import (
    NO_PROJECTION,
    OVERDUE,
    OVERDUE_STATUSES,
    PAST_ALARM,
    REPORT_ORDER,
    overdue_status,
    overdue_status_sql,
    report_order_sql,
)
from appointments.selectors import booked_refill_on
from patients.selectors import caregivers_with_phones
from pumps import dosing
from pumps.models import DoseChange, Pump, Refill
from pumps.projection import (
    active_refills,
    current_projection,
    emptying_annotations,
    emptying_of,
    pumps_emptied_after,
)
from spasticity.clinic import dosing_settings
from spasticity.lists import GROUP_PAGE_SIZE, GroupPage, queryset_page

__all__ = ["NO_PROJECTION", "OVERDUE", "OVERDUE_STATUSES", "PAST_ALARM"]

Row = dict[str, Any]


def _name_columns() -> dict[str, Any]:
    """The patient's and the nurse's names as the reports print them, computed by the database.

    ``patient_name``: FAMILY, Given (sorted and read by family name). ``pump_nurse``: the
    nurse's full name, else her username, empty without a nurse (``User.get_full_name()``).
    """
    nurse = "patient__assigned_nurse__"
    full_name = Trim(Concat(F(f"{nurse}first_name"), Value(" "), F(f"{nurse}last_name"), output_field=CharField()))
    return {
        "patient_name": Concat(
            Upper("patient__family_name"), Value(", "), F("patient__given_name"), output_field=CharField()
        ),
        "pump_nurse": Coalesce(NullIf(full_name, Value("")), F(f"{nurse}username"), Value("")),
    }


def _filtered(pumps: QuerySet[Pump], nurse_id: int | None, diagnosis: str) -> QuerySet[Pump]:
    if nurse_id:
        pumps = pumps.filter(patient__assigned_nurse_id=nurse_id)
    if diagnosis:
        pumps = pumps.filter(patient__diagnosis=diagnosis)
    return pumps


def _watched_on(as_of: datetime.date) -> QuerySet[Pump]:
    """``Pump.objects.watched()`` as it stood on ``as_of``: implanted by then, not yet explanted.

    Voiding counts as it stands now (a pump or patient entered in error was never watched).
    """
    return Pump.objects.filter(
        Q(explanted_on__isnull=True) | Q(explanted_on__gt=as_of),
        voided_at__isnull=True,
        patient__voided_at__isnull=True,
        implanted_on__lte=as_of,
    )


def _may_have_changed_since(as_of: datetime.date, today: datetime.date | None) -> bool:
    """Whether some record can be dated after ``as_of``: none is dated after today."""
    return today is None or as_of < today


def _merged(
    stored: Iterable[tuple[Any, ...]],
    changed: set[int],
    recomputed: list[tuple[Any, ...]],
    sort_key: Callable[[tuple[Any, ...]], Any],
) -> list[tuple[Any, ...]]:
    """The stored rows of the pumps that did not change, and the recomputed ones, in the report's order.

    The order is the SQL's, replayed in Python (``sort_key``); names compare by code point here.
    """
    keep = [values for values in stored if values[3] not in changed]  # values[3]: the pump id
    return sorted([*keep, *recomputed], key=sort_key)


class PagedRows:
    """A report's rows read a page at a time: the count is one query, and so is each slice.

    What a report's HTML page pages over (``django.core.paginator.Paginator`` calls
    ``count()`` and slices), so its first page costs a count and 50 rows at any caseload,
    not the whole report built in Python. Only for a report as of today: as of a past
    date the changed pumps are merged into the rows in Python (``_merged``), so the
    selector returns them all.
    """

    def __init__(self, values: QuerySet[Pump, tuple[Any, ...]], row: Callable[[tuple[Any, ...]], Row]) -> None:
        self._values = values
        self._row = row
        self._count: int | None = None

    def count(self) -> int:
        if self._count is None:
            self._count = self._values.count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[Row]:
        return (self._row(values) for values in self._values)

    @overload
    def __getitem__(self, index: int, /) -> Row: ...

    @overload
    def __getitem__(self, index: slice, /) -> list[Row]: ...

    def __getitem__(self, index: int | slice, /) -> Row | list[Row]:
        if isinstance(index, slice):
            return [self._row(values) for values in self._values[index]]
        return self._row(self._values[index])


# --------------------------------------------------------------------------
# Overdue refills
# --------------------------------------------------------------------------

# The row's keys (the API's columns), in the order of ``_overdue_values``.
OVERDUE_KEYS = (
    "patient",
    "patient_name",
    "mrn",
    "pump",
    "serial_number",
    "pump_nurse",
    "last_refill_on",
    "refill_due_on",
    "alarm_date",
    "days_overdue",
    "status",
    "booked_on",
)
# The row's keys after ``OVERDUE_KEYS``, filled in Python: the status's label
# (``alerts.overdue.OVERDUE_STATUSES``) and the caregivers' phone numbers.
OVERDUE_ROW_KEYS = (*OVERDUE_KEYS, "status_label", "caregiver_phones")
STATUS_LABELS: dict[str, str] = dict(OVERDUE_STATUSES)
# The ``booked`` filter: a booked refill appointment (``appointments.selectors.booked_refill_on``) or none.
BOOKED_CHOICES: tuple[tuple[str, str], ...] = (("yes", "Booked"), ("no", "Not booked"))


def _with_booking(pumps: QuerySet[Pump], booked: str) -> QuerySet[Pump]:
    """``booked_on``: the day of the pump's booked refill appointment (empty when none); ``booked`` filters on it."""
    pumps = pumps.annotate(booked_on=booked_refill_on())
    if booked:
        pumps = pumps.filter(booked_on__isnull=booked == "no")
    return pumps


def _overdue_values(pumps: QuerySet[Pump]) -> QuerySet[Pump, tuple[Any, ...]]:
    """The report's columns (days overdue filled in Python), then family and given name for sorting."""
    return pumps.annotate(**_name_columns(), days_overdue=Value(None, output_field=IntegerField())).values_list(
        "patient_id",
        "patient_name",
        "patient__mrn",
        "pk",
        "serial_number",
        "pump_nurse",
        "last_refill_on",
        "refill_due_on",
        "alarm_date",
        "days_overdue",
        "overdue_status",
        "booked_on",
        "patient__family_name",
        "patient__given_name",
    )


def overdue_refills(
    *,
    as_of: datetime.date,
    nurse_id: int | None = None,
    diagnosis: str = "",
    status: str = "",
    booked: str = "",
    today: datetime.date | None = None,
    caregiver_phones: bool = True,
) -> list[Row]:
    """Pumps watched on ``as_of`` past their refill-due date then, or with no projection, most urgent first.

    Each row is a dict with ``OVERDUE_KEYS``; ``days_overdue`` is empty without a due date;
    ``booked_on`` is the day of the pump's booked refill appointment as it stands now (empty
    when none is booked), and ``booked`` (``yes`` or ``no``) keeps the pumps with or without one.

    1. The status is ``alerts.overdue.overdue_status`` (its SQL twin filters and sorts
       here): ``no_projection`` first (nobody knows when those pumps run dry), then
       ``past_alarm`` (withdrawal risk), then ``overdue``; within each group, most days
       overdue first; then patient name and pump serial so the order is stable.
       ``status`` filters to one of them.
    2. One query over the stored columns. ``today`` (the clinic's today, when the
       caller knows it) tells that nothing can be dated after ``as_of``, so a report
       as of today stays that one query, plus one for the caregivers' phone numbers
       (``_add_caregiver_phones``), whatever the number of pumps. The page does not
       show the phones (the CSV and the API do): ``caregiver_phones=False`` skips that
       query, which costs a third of the page's time at 20,000 pumps.
    3. As of a past date, the pumps that changed since are recomputed instead
       (``_overdue_as_of``): the records as they stand now (voids included), dated
       on or before ``as_of``, projected by ``pumps.projection``. Three more queries.
    """
    stored: Iterable[tuple[Any, ...]] = _overdue_stored(
        as_of=as_of, nurse_id=nurse_id, diagnosis=diagnosis, status=status, booked=booked
    )
    if _may_have_changed_since(as_of, today):
        changed, recomputed = _overdue_as_of(
            as_of=as_of, nurse_id=nurse_id, diagnosis=diagnosis, status=status, booked=booked
        )
        if changed:
            stored = _merged(stored, changed, recomputed, _overdue_sort_key)
    rows = [_overdue_row(values, as_of) for values in stored]
    if caregiver_phones:
        _add_caregiver_phones(rows)
    return rows


def overdue_refills_pages(
    *, as_of: datetime.date, today: datetime.date | None = None, **filters: Any
) -> list[Row] | PagedRows:
    """``overdue_refills`` for the report's page (``filters``: its ``nurse_id``, ``diagnosis``,
    ``status`` and ``booked``), without the caregivers' phones: as of today, read a page at a
    time (``PagedRows``); as of a past date, every row."""
    if _may_have_changed_since(as_of, today):
        return overdue_refills(as_of=as_of, today=today, caregiver_phones=False, **filters)
    return PagedRows(_overdue_stored(as_of=as_of, **filters), functools.partial(_overdue_row, as_of=as_of))


def _overdue_stored(
    *, as_of: datetime.date, nurse_id: int | None = None, diagnosis: str = "", status: str = "", booked: str = ""
) -> QuerySet[Pump, tuple[Any, ...]]:
    """The report's rows from the pumps' stored columns, in the report's order (``overdue_refills`` 1 and 2)."""
    pumps = _filtered(Pump.objects.watched().filter(implanted_on__lte=as_of), nurse_id, diagnosis)
    pumps = pumps.annotate(
        overdue_status=overdue_status_sql(as_of=as_of), report_order=report_order_sql(as_of=as_of)
    ).filter(overdue_status__isnull=False)
    if status:
        pumps = pumps.filter(overdue_status=status)
    pumps = pumps.order_by(
        "report_order",
        F("refill_due_on").asc(nulls_first=True),
        "patient__family_name",
        "patient__given_name",
        "serial_number",
    )
    return _overdue_values(_with_booking(pumps, booked))


def _add_caregiver_phones(rows: list[Row]) -> None:
    """Each row's ``caregiver_phones``: "Name (relationship): phone", legal guardians first (one query).

    The nurse calls the family about an overdue pump, so the report carries the numbers.
    """
    phones: dict[int, list[str]] = {}
    caregivers = caregivers_with_phones(row["patient"] for row in rows).values_list(
        "patient_id", "name", "relationship", "phone"
    )
    for patient_id, name, relationship, phone in caregivers:
        phones.setdefault(patient_id, []).append(f"{name} ({relationship}): {phone}")
    for row in rows:
        row["caregiver_phones"] = "; ".join(phones.get(row["patient"], ()))


def _overdue_row(values: tuple[Any, ...], as_of: datetime.date) -> Row:
    row = dict(zip(OVERDUE_KEYS, values, strict=False))  # the two sort columns at the end are left out
    due_on = values[7]
    row["days_overdue"] = (as_of - due_on).days if due_on else None
    row["status_label"] = STATUS_LABELS[row["status"]]
    return row


def _overdue_sort_key(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """The report's SQL order: status, due date (empty first), family and given name, serial."""
    due_on = values[7]
    return (
        REPORT_ORDER[values[10]],
        due_on is not None,
        due_on or datetime.date.min,
        values[12],
        values[13],
        values[4],
    )


def _changed_since(pumps: QuerySet[Pump], as_of: datetime.date) -> QuerySet[Pump]:
    """The pumps whose answer on ``as_of`` is not their stored columns.

    A non-voided refill or dose change dated after ``as_of`` moved the stored dates; a
    pump explanted after ``as_of`` was still watched then but stores no dates now.
    """
    later_refills = Refill.objects.filter(voided_at__isnull=True, refilled_on__gt=as_of).values("pump_id")
    later_programs = DoseChange.objects.filter(voided_at__isnull=True, changed_on__gt=as_of).values("pump_id")
    # An MRI emptying dated after ``as_of`` moved the stored dates too (``pumps.projection``).
    later_emptyings = pumps_emptied_after(as_of)
    return pumps.filter(
        Q(explanted_on__gt=as_of) | Q(pk__in=later_refills) | Q(pk__in=later_programs) | Q(pk__in=later_emptyings)
    )


def _overdue_as_of(
    *, as_of: datetime.date, nurse_id: int | None, diagnosis: str, status: str, booked: str
) -> tuple[set[int], list[tuple[Any, ...]]]:
    """The changed pumps' ids, and their report values as the records said on ``as_of`` (three queries).

    Every changed pump's stored row is wrong for ``as_of``, listed or not: the ids say
    which to drop. The records are those "as they stand now, dated on or before
    ``as_of``": a record voided since does not count, a record entered late but dated
    on or before ``as_of`` does. Names, nurse, diagnosis, alarm volume and booking are today's.
    """
    kept_refills = Refill.objects.filter(voided_at__isnull=True, refilled_on__lte=as_of)
    kept_programs = DoseChange.objects.filter(voided_at__isnull=True, changed_on__lte=as_of)
    pumps = (
        _with_booking(_changed_since(_filtered(_watched_on(as_of), nurse_id, diagnosis), as_of), booked)
        .annotate(**_name_columns(), **emptying_annotations(as_of))
        .select_related("patient")
        .prefetch_related(
            Prefetch("refills", queryset=kept_refills, to_attr="refills_then"),
            Prefetch("dose_changes", queryset=kept_programs, to_attr="programs_then"),
        )
    )
    settings = dosing_settings()
    changed: set[int] = set()
    recomputed = []
    for pump in pumps:
        changed.add(pump.pk)
        refills_then = cast(list[Refill], pump.refills_then)  # type: ignore[attr-defined]
        programs_then = cast(list[DoseChange], pump.programs_then)  # type: ignore[attr-defined]
        projection = current_projection(pump, refills_then, programs_then, settings, emptying_of(pump))
        due_on = projection.refill_due_on if projection else None
        alarm_on = projection.alarm_date if projection else None
        pump_status = overdue_status(as_of=as_of, refill_due_on=due_on, alarm_date=alarm_on)
        if pump_status is None or (status and pump_status != status):
            continue
        fills = active_refills(refills_then)
        patient = pump.patient
        recomputed.append(
            (
                patient.pk,
                pump.patient_name,  # type: ignore[attr-defined]
                patient.mrn,
                pump.pk,
                pump.serial_number,
                pump.pump_nurse,  # type: ignore[attr-defined]
                fills[-1].refilled_on if fills else None,
                due_on,
                alarm_on,
                None,
                pump_status,
                pump.booked_on,  # type: ignore[attr-defined]
                patient.family_name,
                patient.given_name,
            )
        )
    return changed, recomputed


# The page's and the print view's columns, in this order: (label, row key). People read the status's label.
OVERDUE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Patient", "patient_name"),
    ("MRN", "mrn"),
    ("Pump serial", "serial_number"),
    ("Pump nurse", "pump_nurse"),
    ("Last refill", "last_refill_on"),
    ("Refill due", "refill_due_on"),
    ("Alarm date", "alarm_date"),
    ("Days overdue", "days_overdue"),
    ("Refill booked", "booked_on"),
    ("Status", "status_label"),  # last: the page shows it as a badge
)
# The CSV's: the page's, with the status's code for machines, then its label and the caregivers' phones.
OVERDUE_CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    *OVERDUE_COLUMNS[:-1],
    ("Status", "status"),
    ("status_label", "status_label"),
    ("Caregiver phones", "caregiver_phones"),
)
# Excel reads a CSV as UTF-8 (accents and all) only when it starts with this byte order mark.
UTF8_BOM = "\ufeff"


# --------------------------------------------------------------------------
# Battery end of life
# --------------------------------------------------------------------------

BATTERY_KEYS = (
    "patient",
    "patient_name",
    "mrn",
    "pump",
    "serial_number",
    "pump_model",
    "pump_nurse",
    "implanted_on",
    "eri_on",
    "battery_end_of_service_on",
    "days_left",
)


# What ``_battery_values`` reads: the report's columns but days left, which ``_battery_row``
# works out in Python (a NULL placeholder column cost a converter call per row), then the
# family name to sort by, then any extra columns.
_BATTERY_READ_KEYS = BATTERY_KEYS[:-1]
_FAMILY_NAME_AT = len(_BATTERY_READ_KEYS)
_END_OF_SERVICE_AT = _BATTERY_READ_KEYS.index("battery_end_of_service_on")


def _battery_values(pumps: QuerySet[Pump], *extra: str) -> QuerySet[Pump, tuple[Any, ...]]:
    """The report's columns but days left (``_BATTERY_READ_KEYS``), the family name for sorting, then ``extra``."""
    pump_model = Concat(F("model__manufacturer"), Value(" "), F("model__model"), output_field=CharField())
    return pumps.annotate(**_name_columns(), pump_model=pump_model).values_list(
        "patient_id",
        "patient_name",
        "patient__mrn",
        "pk",
        "serial_number",
        "pump_model",
        "pump_nurse",
        "implanted_on",
        "eri_on",
        "battery_end_of_service_on",
        "patient__family_name",
        *extra,
    )


def battery_end_of_life(
    *, as_of: datetime.date, within_days: int = 180, today: datetime.date | None = None
) -> list[Row]:
    """Pumps watched on ``as_of`` whose battery ends within ``within_days`` of it (or already has), soonest first.

    Each row is a dict with ``BATTERY_KEYS``; ``days_left`` is negative once end of service has passed.

    1. One query over the stored ``battery_end_of_service_on`` (``today`` as in
       ``overdue_refills``).
    2. As of a past date, a pump explanted since (watched then, no stored date now)
       and a pump whose replacement indicator (``eri_on``) is dated after ``as_of``
       (not signalled yet then: the nominal battery life counted) are recomputed by
       ``pumps.dosing`` (``_battery_as_of``, one more query). The catalogue's battery
       life is today's: the report does not replay catalogue edits.
    """
    until = as_of + datetime.timedelta(days=within_days)
    stored: Iterable[tuple[Any, ...]] = _battery_stored(as_of=as_of, until=until)
    if _may_have_changed_since(as_of, today):
        changed, recomputed = _battery_as_of(as_of=as_of, until=until)
        if changed:
            stored = _merged(stored, changed, recomputed, _battery_sort_key)
    return [_battery_row(values, as_of) for values in stored]


def battery_end_of_life_pages(
    *, as_of: datetime.date, within_days: int = 180, today: datetime.date | None = None
) -> list[Row] | PagedRows:
    """``battery_end_of_life`` for the report's page: as of today, read a page at a time
    (``PagedRows``); as of a past date, every row."""
    if _may_have_changed_since(as_of, today):
        return battery_end_of_life(as_of=as_of, within_days=within_days, today=today)
    stored = _battery_stored(as_of=as_of, until=as_of + datetime.timedelta(days=within_days))
    return PagedRows(stored, functools.partial(_battery_row, as_of=as_of))


def battery_csv_values(
    *, as_of: datetime.date, within_days: int = 180, today: datetime.date | None = None
) -> Iterable[Sequence[Any]]:
    """The battery report's CSV cells (``BATTERY_COLUMNS``' order), without a dict per row.

    The CSV's hot path: as of today straight from the stored columns (a dict per row, then
    picking its cells, was a tenth of the download at 20,000 pumps); as of a past date, from
    ``battery_end_of_life``'s rows. ``tests/alerts/test_reports_scale.py`` checks both
    give the cells of ``battery_end_of_life``.
    """
    if _may_have_changed_since(as_of, today):
        rows = battery_end_of_life(as_of=as_of, within_days=within_days, today=today)
        return map(operator.itemgetter(*(key for _label, key in BATTERY_COLUMNS)), rows)
    stored = _battery_stored(as_of=as_of, until=as_of + datetime.timedelta(days=within_days))
    return ((*_BATTERY_CSV_READ(values), (values[_END_OF_SERVICE_AT] - as_of).days) for values in stored)


def _battery_stored(*, as_of: datetime.date, until: datetime.date) -> QuerySet[Pump, tuple[Any, ...]]:
    """The report's rows from the pumps' stored battery dates, soonest first (``battery_end_of_life`` 1)."""
    return _battery_values(_battery_pumps(as_of=as_of, until=until))


def _battery_pumps(*, as_of: datetime.date, until: datetime.date) -> QuerySet[Pump]:
    """The battery report's pumps by their stored end of service, in its order: one rule for the
    report and the neurosurgeon's home."""
    pumps = Pump.objects.watched().filter(implanted_on__lte=as_of, battery_end_of_service_on__lte=until)
    return pumps.order_by("battery_end_of_service_on", "patient__family_name", "serial_number")


def batteries_ending(
    *, today: datetime.date, within_days: int, page: int = 1, page_size: int = GROUP_PAGE_SIZE
) -> GroupPage[Pump]:
    """One page of the battery report's pumps as of today, as pumps (the neurosurgeon's home:
    the replacements to plan, soonest first). Two queries."""
    pumps = _battery_pumps(as_of=today, until=today + datetime.timedelta(days=within_days))
    pumps = pumps.select_related("patient", "model")
    return queryset_page(pumps, key="replacements", label="Upcoming replacements", page=page, size=page_size)


def overdue_refill_count(*, as_of: datetime.date) -> int:
    """How many rows the overdue-refills report has as of today (``as_of``), in one count query."""
    return _overdue_stored(as_of=as_of).count()


def _battery_row(values: tuple[Any, ...], as_of: datetime.date) -> Row:
    row = dict(zip(_BATTERY_READ_KEYS, values, strict=False))
    row["days_left"] = (values[_END_OF_SERVICE_AT] - as_of).days
    return row


def _battery_sort_key(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """The report's order: end of service, family name, serial number."""
    return (values[_END_OF_SERVICE_AT], values[_FAMILY_NAME_AT], values[4])


def _battery_as_of(*, as_of: datetime.date, until: datetime.date) -> tuple[set[int], list[tuple[Any, ...]]]:
    """The pumps whose battery date on ``as_of`` is not their stored one, and their values then (one query)."""
    pumps = _watched_on(as_of).filter(Q(explanted_on__gt=as_of) | Q(eri_on__gt=as_of))
    changed: set[int] = set()
    recomputed = []
    for values in _battery_values(pumps, "model__nominal_battery_life_months", "model__days_eri_to_eos"):
        changed.add(values[3])
        implanted_on, eri_on = values[7], values[8]
        life_months, eri_to_eos_days = values[_FAMILY_NAME_AT + 1 :]
        eri_then = eri_on if eri_on is not None and eri_on <= as_of else None
        end_on = dosing.battery_end_of_service_on(
            implanted_on=implanted_on,
            nominal_battery_life_months=life_months,
            eri_on=eri_then,
            days_eri_to_eos=eri_to_eos_days,
        )
        if end_on <= until:
            recomputed.append((*values[:8], eri_then, end_on, values[_FAMILY_NAME_AT]))
    return changed, recomputed


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
# The CSV's cells but the last (days left, worked out per row) as picked from ``_battery_values``' tuple.
if BATTERY_COLUMNS[-1][1] != "days_left":  # battery_csv_values appends it last
    raise ImproperlyConfigured("BATTERY_COLUMNS must end with days_left")
_BATTERY_CSV_READ = operator.itemgetter(*(_BATTERY_READ_KEYS.index(key) for _label, key in BATTERY_COLUMNS[:-1]))


# --------------------------------------------------------------------------
# Cells and CSV
# --------------------------------------------------------------------------


def cell(value: Any) -> str:
    """How a value reads in a table cell and a CSV cell (dates as YYYY-MM-DD, nothing as blank)."""
    if value is None:
        return ""
    if type(value) is datetime.date:
        return value.isoformat()  # the same text, several times faster than strftime
    if isinstance(value, datetime.date):
        return f"{value:%Y-%m-%d}"
    return str(value)


def table(rows: Iterable[Row], columns: Sequence[tuple[str, str]]) -> list[list[str]]:
    """The rows as the page shows them: one list of cells per row, in column order."""
    keys = [key for _label, key in columns]
    return [[cell(row[key]) for key in keys] for row in rows]


def _spreadsheet_safe(value: Any) -> str:
    """A CSV cell; text starting with = + - @ would run as a formula in a spreadsheet."""
    if type(value) is str:
        if value[:1] in ("=", "+", "@") or (value[:1] == "-" and not _number(value)):
            return f"'{value}"
        return value
    return cell(value)


def csv_lines(rows: Iterable[Row], columns: Sequence[tuple[str, str]]) -> Iterator[str]:
    """The report as CSV text, a few hundred lines at a time (for a ``StreamingHttpResponse``)."""
    keys = [key for _label, key in columns]
    values_of = operator.itemgetter(*keys) if len(keys) > 1 else (lambda row: (row[keys[0]],))
    return csv_value_lines(map(values_of, rows), [label for label, _key in columns])


# A few large chunks stream faster than one write per row.
CSV_ROWS_PER_CHUNK = 500


def csv_value_lines(rows: Iterable[Sequence[Any]], labels: Sequence[str]) -> Iterator[str]:
    """``csv_lines`` for rows that are already their cells, in the labels' order."""
    out = io.StringIO()
    writer = csv.writer(out)

    def flush() -> str:
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    writer.writerow(labels)
    yield flush()
    rows = iter(rows)
    while batch := list(itertools.islice(rows, CSV_ROWS_PER_CHUNK)):
        # Most rows are written as they are; ``writerows`` then loops in C.
        writer.writerows([row if _written_as_is(row) else [_csv_cell(value) for value in row] for row in batch])
        yield flush()


# The csv module writes these as ``cell`` would (None empty, a date as YYYY-MM-DD, an int in digits).
_WRITTEN_AS_IS = frozenset({int, datetime.date, type(None)})


def _written_as_is(values: Sequence[Any]) -> bool:
    """Whether the csv module may write the row's values as they are: no formula to defuse, no other type.

    Most rows are; converting each cell (``_csv_cell``) cost about a third of a large CSV.
    """
    for value in values:
        kind = type(value)
        if kind is str:
            if value[:1] in _FORMULA_STARTS:
                return False
        elif kind not in _WRITTEN_AS_IS:
            return False
    return True


def _csv_cell(value: Any) -> str:
    """``_spreadsheet_safe`` with the common types first: it runs for every cell of every row."""
    kind = type(value)
    if kind is datetime.date:
        return value.isoformat()  # type: ignore[no-any-return]
    if kind is str:
        return value if value[:1] not in _FORMULA_STARTS else _spreadsheet_safe(value)  # type: ignore[no-any-return]
    return "" if value is None else str(value)


_FORMULA_STARTS = frozenset("=+-@")


def csv_text(rows: Iterable[Any], columns: Sequence[tuple[str, str]]) -> str:
    """The whole CSV at once, for rows with attributes (the access log's export)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([label for label, _attribute in columns])
    for row in rows:
        writer.writerow([_spreadsheet_safe(cell(getattr(row, attribute))) for _label, attribute in columns])
    return out.getvalue()


def _number(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True
