"""Every read with rules for pumps: the pump page, the nurse's lists, the schedule.

Lists read the pump's stored columns (one query whatever the history); the pump page
loads its records once and asks ``pumps.dosing`` for today's volume and the chart.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db.models import BooleanField, Case, CharField, Count, ExpressionWrapper, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce

from alerts.overdue import NO_PROJECTION, OVERDUE, PAST_ALARM, overdue_status_sql
from appointments.models import Appointment, AppointmentKind
from appointments.selectors import booked_refill_between, booked_refills_by_pump, booked_visits_between
from pumps import dosing
from pumps.models import DoseChange, Pump, Refill, Surgery
from pumps.projection import (
    active_dose_changes,
    active_refills,
    current_projection,
    dose_segments,
    emptied_after,
    emptying_annotations,
    emptying_of,
    fill_of,
    missing_for_projection,
    pump_state,
    state_drift,
    stored_state,
)
from spasticity.clinic import dosing_settings
from spasticity.lists import GROUP_PAGE_SIZE, GroupPage, page_slice, queryset_page

# The chart shows at most this many days of one fill (a fill lasts 180 days at most).
CHART_DAYS_PER_FILL_LIMIT = 400


# --------------------------------------------------------------------------
# The starting dose after implant
# --------------------------------------------------------------------------


def positive_trial_bolus_mcg(patient_id: int) -> Decimal | None:
    """The bolus of the patient's signed positive trial, from the trials app when it offers it."""
    try:
        from trials.selectors import effective_positive_trial_bolus_mcg  # type: ignore[attr-defined]
    except ImportError:
        return None  # the trials app does not offer it (yet): the clinician enters the dose.
    bolus = effective_positive_trial_bolus_mcg(patient_id)
    return Decimal(str(bolus)) if bolus is not None else None


def suggested_starting_dose_mcg(patient_id: int) -> tuple[Decimal | None, Decimal | None]:
    """(positive trial bolus, suggested daily dose = 2 × bolus), or (None, None) without a trial."""
    bolus = positive_trial_bolus_mcg(patient_id)
    if bolus is None or bolus <= 0:
        return None, None
    return bolus, dosing.suggested_starting_daily_dose_mcg(bolus, dosing_settings())


# --------------------------------------------------------------------------
# The pump page
# --------------------------------------------------------------------------


@dataclass
class PumpPage:
    pump: Pump
    refills: list[Refill]
    dose_changes: list[DoseChange]
    surgeries: list[Surgery]
    other_pumps: list[Pump]
    current_program: DoseChange | None
    current_fill: Refill | None
    projected_volume_today_ml: Decimal | None
    days_to_alarm: Decimal | None
    empty_on: datetime.date | None
    daily_volume_ml: Decimal | None
    # What the pump needs before it has an alarm date: "program", "fill" (empty when projected).
    projection_missing: tuple[str, ...] = ()
    chart: dict[str, Any] = field(default_factory=dict)


def pump_page(pk: int, *, today: datetime.date) -> PumpPage:
    """Everything the pump page shows, in a fixed number of queries."""
    pump = (
        Pump.objects.select_related("model", "patient", "patient__assigned_nurse")
        .annotate(**emptying_annotations())  # an MRI emptying since the last fill (no extra query)
        .get(pk=pk)
    )
    refills = list(pump.refills.select_related("voided_by").order_by("-refilled_on", "-pk"))
    dose_changes = list(pump.dose_changes.select_related("voided_by").order_by("-changed_on", "-pk"))
    surgeries = list(
        Surgery.objects.filter(Q(pump=pump) | Q(replaced_pump=pump))
        .select_related("surgeon", "pump", "replaced_pump")
        .order_by("-performed_on", "-pk")
    )
    other_pumps = list(pump.patient.pumps.exclude(pk=pump.pk).select_related("model").order_by("-implanted_on"))
    fills, programs = active_refills(refills), active_dose_changes(dose_changes)
    page = PumpPage(
        pump=pump,
        refills=refills,
        dose_changes=dose_changes,
        surgeries=surgeries,
        other_pumps=other_pumps,
        current_program=programs[-1] if programs else None,
        current_fill=fills[-1] if fills else None,
        projected_volume_today_ml=None,
        days_to_alarm=None,
        empty_on=None,
        daily_volume_ml=None,
        projection_missing=missing_for_projection(pump, fills, programs),
    )
    _add_projection(page, fills, programs, today)
    page.chart = pump_chart_data(pump, fills, programs, today=today)
    return page


def _add_projection(page: PumpPage, fills: list[Refill], programs: list[DoseChange], today: datetime.date) -> None:
    fill, program = page.current_fill, page.current_program
    if fill is None or program is None or not page.pump.is_implanted:
        return
    segments = dose_segments(programs)
    current = fill_of(fill, page.pump)
    emptying = emptying_of(page.pump)
    if emptying is not None and emptied_after(emptying, fill):  # emptied for an MRI: 0 mL from that day
        current = dosing.emptied_fill(current, emptying.emptied_on)
    projection = dosing.project_fill(current, segments, dosing_settings())
    page.days_to_alarm, page.empty_on = projection.days_to_alarm, projection.empty_on
    page.daily_volume_ml = dosing.daily_volume_ml(program.daily_dose_mcg, fill.concentration_mcg_per_ml)
    if today >= current.refilled_on:
        page.projected_volume_today_ml = dosing.projected_volume_ml(current, segments, today)


def pump_chart_data(
    pump: Pump, fills: list[Refill], programs: list[DoseChange], *, today: datetime.date
) -> dict[str, Any]:
    """Daily dose over time and the projected reservoir volume of each fill, for Chart.js.

    Each fill is drawn from its day to the next fill (the last one to its empty day),
    one point a day, every value from ``dosing.projected_volume_ml``.
    """
    segments = dose_segments(programs)
    dose_points = [{"x": f"{p.changed_on:%Y-%m-%d}", "y": float(p.daily_dose_mcg)} for p in programs]
    if programs and today > programs[-1].changed_on:
        # The current program holds until today (or the explant): draw it to there.
        until_on = pump.explanted_on or today
        dose_points.append({"x": f"{until_on:%Y-%m-%d}", "y": float(programs[-1].daily_dose_mcg)})
    volume_points: list[dict[str, Any]] = []
    for index, refill in enumerate(fills):
        fill = fill_of(refill, pump)
        if index + 1 < len(fills):
            end_on = fills[index + 1].refilled_on
        else:
            end_on = (dosing.empty_on(fill, segments) or refill.refilled_on) + datetime.timedelta(days=1)
        days = min((end_on - refill.refilled_on).days, CHART_DAYS_PER_FILL_LIMIT)
        for offset in range(max(days, 1)):
            on = refill.refilled_on + datetime.timedelta(days=offset)
            volume_points.append({"x": f"{on:%Y-%m-%d}", "y": float(dosing.projected_volume_ml(fill, segments, on))})
    return {
        "dose": dose_points,
        "volume": volume_points,
        "alarm_ml": float(pump.low_reservoir_alarm_ml),
        "alarm_date": f"{pump.alarm_date:%Y-%m-%d}" if pump.alarm_date else None,
        "today": f"{today:%Y-%m-%d}",
    }


# --------------------------------------------------------------------------
# One visit: what its refill and dose-change printouts and pages show
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitProjection:
    """The pump as it stood at the end of one visit day, after every record of that day."""

    visit_on: datetime.date
    program: DoseChange | None  # the dose program in effect after the visit
    fill: Refill | None  # the fill in the pump after the visit
    alarm_date: datetime.date | None
    refill_due_on: datetime.date | None

    @property
    def dose_changed_at_visit(self) -> bool:
        return self.program is not None and self.program.changed_on == self.visit_on

    @property
    def refilled_at_visit(self) -> bool:
        return self.fill is not None and self.fill.refilled_on == self.visit_on

    @property
    def next_visit_on(self) -> datetime.date | None:
        return self.program.next_visit_on if self.program else None

    @property
    def next_refill_appointment_on(self) -> datetime.date | None:
        return self.fill.next_refill_appointment_on if self.fill else None


def projection_after_visit(pump: Pump, *, visit_on: datetime.date) -> VisitProjection:
    """The projection after every record of the visit on ``visit_on`` (two queries).

    A refill and a dose change at one visit are two records, each of which stored
    the dates as of its own save; the family needs the dates after both.

    1. Take the pump's refills and dose changes dated on or before the visit day:
       a later visit never changes what this visit printed.
    2. Only records that are not voided count, in (date, record) order, so the
       last fill and the last program of the visit day win.
    3. Project the last fill across those programs with ``pumps.dosing``, as
       ``pump_state`` does for the pump row (so, for the latest visit, the
       printout and the pump row agree). A pump explanted since still shows
       what its visit meant then.
    """
    refills = active_refills(pump.refills.filter(refilled_on__lte=visit_on))
    dose_changes = active_dose_changes(pump.dose_changes.filter(changed_on__lte=visit_on))
    projection = current_projection(pump, refills, dose_changes, dosing_settings())
    return VisitProjection(
        visit_on=visit_on,
        program=dose_changes[-1] if dose_changes else None,
        fill=refills[-1] if refills else None,
        alarm_date=projection.alarm_date if projection else None,
        refill_due_on=projection.refill_due_on if projection else None,
    )


# --------------------------------------------------------------------------
# Lists: the nurse's day and the titration schedule
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkItem:
    pump: Pump
    kind: str  # "refill", "visit" or "no_projection"
    on: datetime.date | None
    status: str  # "past_alarm", "overdue", "missed", "today", "this_week", "no_projection"
    booked_on: datetime.date | None = None  # the legacy bare date noted at the last refill
    booking: Appointment | None = None  # the booked refill appointment: shown before ``booked_on``

    @property
    def patient(self) -> Any:
        return self.pump.patient


TODAY = "today"
THIS_WEEK = "this_week"
MISSED = "missed"
URGENCY = {PAST_ALARM: 0, NO_PROJECTION: 1, OVERDUE: 2, MISSED: 3, TODAY: 4, THIS_WEEK: 5}

# The sections of the nurse's list in the order the page shows them, each with its
# statuses most urgent first: a pump with no alarm date first (nothing else warns
# about it), then the refills, then the titration visits.
NO_PROJECTION_SECTION = "no_projection"
REFILLS = "refills"
VISITS = "visits"
SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (NO_PROJECTION_SECTION, "Pumps with no alarm date on record", (NO_PROJECTION,)),
    (REFILLS, "Refills", (PAST_ALARM, OVERDUE, TODAY, THIS_WEEK)),
    (VISITS, "Titration visits", (MISSED, TODAY, THIS_WEEK)),
)
SECTION_KEYS = [key for key, _label, _statuses in SECTIONS]


@dataclass(frozen=True)
class WorkSection(GroupPage[WorkItem]):
    """One section of the nurse's list: its count by status (most urgent first) and one page of rows."""

    counts: tuple[tuple[str, int], ...] = ()


@dataclass
class NurseWorklist:
    today: datetime.date
    week_end_on: datetime.date
    sections: list[WorkSection]

    def section(self, key: str) -> WorkSection:
        return next(section for section in self.sections if section.key == key)

    @property
    def refill_section(self) -> WorkSection:
        return self.section(REFILLS)

    @property
    def visit_section(self) -> WorkSection:
        return self.section(VISITS)

    @property
    def no_projection_section(self) -> WorkSection:
        return self.section(NO_PROJECTION_SECTION)

    @property
    def refills(self) -> list[WorkItem]:
        """This page's refills, most urgent first."""
        return self.refill_section.rows

    @property
    def visits(self) -> list[WorkItem]:
        return self.visit_section.rows

    @property
    def no_projection(self) -> list[WorkItem]:
        return self.no_projection_section.rows

    @property
    def is_empty(self) -> bool:
        return not any(section.total for section in self.sections)


def _implanted_pumps(nurse_id: int | None, unassigned: bool = False) -> Any:
    """Watched pumps of one nurse's patients, of the patients with no pump nurse, or of everyone."""
    pumps = Pump.objects.watched()
    if nurse_id is not None:
        pumps = pumps.filter(patient__assigned_nurse_id=nurse_id)
    elif unassigned:
        pumps = pumps.filter(patient__assigned_nurse__isnull=True)
    return pumps.select_related("patient", "patient__assigned_nurse", "model")


def _section_filters(today: datetime.date, week_end_on: datetime.date) -> dict[str, Q]:
    """Which pumps each section lists (a pump can be in both refills and visits)."""
    booked_this_week = Q(
        next_refill_appointment_on__gte=today, next_refill_appointment_on__lte=week_end_on
    ) | booked_refill_between(first_day=today, last_day=week_end_on)
    return {
        NO_PROJECTION_SECTION: Q(alarm_date__isnull=True),
        REFILLS: Q(alarm_date__isnull=False) & (Q(refill_due_on__lte=week_end_on) | booked_this_week),
        VISITS: Q(next_visit_on__lte=week_end_on),
    }


def _refill_status_sql(today: datetime.date) -> Coalesce:
    """A listed refill's status: past alarm or overdue from ``overdue_status_sql`` (the
    classifier the scan and the reports use), else due or booked today, else this week."""
    due_today = (
        Q(refill_due_on=today)
        | Q(next_refill_appointment_on=today)
        | booked_refill_between(first_day=today, last_day=today)
    )
    return Coalesce(
        overdue_status_sql(as_of=today),
        Case(When(due_today, then=Value(TODAY)), default=Value(THIS_WEEK)),
        output_field=CharField(),
    )


def _visit_status_sql(today: datetime.date) -> Case:
    return Case(
        When(next_visit_on__lt=today, then=Value(MISSED)),
        When(next_visit_on=today, then=Value(TODAY)),
        default=Value(THIS_WEEK),
        output_field=CharField(),
    )


def _urgency_sql(status_field: str) -> Case:
    """``URGENCY`` of a status annotation, for sorting in SQL."""
    ranks = [When(**{status_field: status}, then=Value(rank)) for status, rank in URGENCY.items()]
    return Case(*ranks, default=Value(len(URGENCY)), output_field=IntegerField())


def _section_counts(pumps: Any, filters: dict[str, Q], today: datetime.date) -> Counter[tuple[str, str]]:
    """Pumps per (section, status), from one grouped query: (refill status, visit status, no projection) → pumps."""
    grouped = (
        pumps.filter(filters[NO_PROJECTION_SECTION] | filters[REFILLS] | filters[VISITS])
        .values(
            refill=Case(When(filters[REFILLS], then=_refill_status_sql(today)), default=Value(None)),
            visit=Case(When(filters[VISITS], then=_visit_status_sql(today)), default=Value(None)),
            missing=ExpressionWrapper(filters[NO_PROJECTION_SECTION], output_field=BooleanField()),
        )
        .annotate(pumps=Count("pk"))
        .order_by()
    )
    counts: Counter[tuple[str, str]] = Counter()
    for row in grouped:
        if row["missing"]:
            counts[NO_PROJECTION_SECTION, NO_PROJECTION] += row["pumps"]
        if row["refill"]:
            counts[REFILLS, row["refill"]] += row["pumps"]
        if row["visit"]:
            counts[VISITS, row["visit"]] += row["pumps"]
    return counts


# Who a list row is about: the patient's name and MRN, and their pump nurse's name.
PATIENT_ROW_FIELDS = (
    "patient__family_name",
    "patient__given_name",
    "patient__mrn",
    "patient__assigned_nurse__username",
    "patient__assigned_nurse__first_name",
    "patient__assigned_nurse__last_name",
)
# What a row of the list shows, and no more: the columns of 25 rows, not of every field.
WORK_ROW_FIELDS = (
    "patient_id",
    "serial_number",
    "alarm_date",
    "refill_due_on",
    "next_refill_appointment_on",
    "next_visit_on",
    "current_daily_dose_mcg",
    *PATIENT_ROW_FIELDS,
)


def _refill_item(pump: Pump) -> WorkItem:
    status = pump.work_status  # type: ignore[attr-defined]
    return WorkItem(pump, "refill", pump.refill_due_on, status, booked_on=pump.next_refill_appointment_on)


def _visit_item(pump: Pump) -> WorkItem:
    return WorkItem(pump, "visit", pump.next_visit_on, pump.work_status)  # type: ignore[attr-defined]


def _no_projection_item(pump: Pump) -> WorkItem:
    return WorkItem(pump, "no_projection", None, NO_PROJECTION)


def _section_rows(pumps: Any, key: str, filter_q: Q, today: datetime.date, start: int, end: int) -> list[WorkItem]:
    """One page of one section, most urgent first, then by date and family name (one query)."""
    rows = pumps.filter(filter_q).select_related(None).select_related("patient", "patient__assigned_nurse")
    rows = rows.only(*WORK_ROW_FIELDS)
    if key == REFILLS:
        rows = rows.annotate(work_status=_refill_status_sql(today))
        rows = rows.order_by(_urgency_sql("work_status"), "refill_due_on", "patient__family_name", "pk")
        items = [_refill_item(pump) for pump in rows[start:end]]
        bookings = booked_refills_by_pump(item.pump.pk for item in items)  # one query for the page
        return [replace(item, booking=bookings.get(item.pump.pk)) for item in items]
    if key == VISITS:
        rows = rows.annotate(work_status=_visit_status_sql(today))
        rows = rows.order_by(_urgency_sql("work_status"), "next_visit_on", "patient__family_name", "pk")
        return [_visit_item(pump) for pump in rows[start:end]]
    rows = rows.order_by("patient__family_name", "pk")
    return [_no_projection_item(pump) for pump in rows[start:end]]


def nurse_worklist(
    *,
    today: datetime.date,
    nurse_id: int | None = None,
    unassigned: bool = False,
    days: int = 7,
    pages: Mapping[str, int] | None = None,
    page_size: int = GROUP_PAGE_SIZE,
) -> NurseWorklist:
    """Refills and titration visits due today or in the coming week, most urgent first,
    in sections with their counts and one page of rows each.

    Reads the pumps' stored columns (refill due, alarm date, booked refill and visit
    dates), never their history, in a fixed number of queries whatever the caseload:
    one aggregate for the counts, then one sliced query per section that has rows.
    Overdue refills, pumps past their alarm date and missed visits stay on the list
    until something is recorded.

    ``nurse_id`` keeps one nurse's patients, ``unassigned`` the patients with no pump
    nurse; ``pages`` names the page each section shows (``{"refills": 2}``), 1 by default.
    """
    week_end_on = today + datetime.timedelta(days=days - 1)
    pumps = _implanted_pumps(nurse_id, unassigned)
    filters = _section_filters(today, week_end_on)
    counts = _section_counts(pumps, filters, today)
    sections = []
    for key, label, statuses in SECTIONS:
        by_status = tuple((status, counts[key, status]) for status in statuses)
        total = sum(n for _status, n in by_status)
        number, start, end = page_slice((pages or {}).get(key, 1), total, page_size)
        rows = _section_rows(pumps, key, filters[key], today, start, end) if total else []
        sections.append(WorkSection(key, label, total, number, page_size, rows, counts=by_status))
    return NurseWorklist(today=today, week_end_on=week_end_on, sections=sections)


@dataclass(frozen=True)
class ScheduleRow:
    on: datetime.date
    # "titration_booked", "refill_booked" (an appointment); "visit", "refill_noted" (bare dates); "refill_due"
    kind: str
    pump: Pump
    appointment: Appointment | None = None


@dataclass
class NurseSchedule:
    nurse: User | None
    rows: list[ScheduleRow]


def titration_schedule(
    *, start_on: datetime.date, end_on: datetime.date, nurse_id: int | None = None
) -> list[NurseSchedule]:
    """Upcoming titration visits and refills per pump nurse, between two dates (two queries).

    The booked titration and refill appointments (with their time and place) come first; the
    bare dates noted at the last dose change or refill (``next_visit_on``,
    ``next_refill_appointment_on``) only for a pump with no such booking in the range.
    """
    in_range = {"gte": start_on, "lte": end_on}
    pumps = _implanted_pumps(nurse_id)
    booked = booked_visits_between(
        first_day=start_on, last_day=end_on, pumps=pumps, kinds=(AppointmentKind.TITRATION, AppointmentKind.REFILL)
    )
    booked_pump_ids = {appointment.pump_id for appointment in booked}
    pumps = pumps.filter(
        Q(next_visit_on__range=(start_on, end_on))
        | Q(next_refill_appointment_on__range=(start_on, end_on))
        | Q(refill_due_on__range=(start_on, end_on))
        | Q(pk__in=booked_pump_ids)
    )
    by_nurse: dict[int | None, NurseSchedule] = {}
    rows: dict[int | None, list[ScheduleRow]] = defaultdict(list)
    for pump in pumps:
        nurse = pump.patient.assigned_nurse
        key = nurse.pk if nurse else None
        by_nurse.setdefault(key, NurseSchedule(nurse, rows[key]))
        mine = [appointment for appointment in booked if appointment.pump_id == pump.pk]
        kinds_booked = {appointment.kind for appointment in mine}
        for appointment in mine:
            rows[key].append(ScheduleRow(appointment.starts_on, f"{appointment.kind}_booked", pump, appointment))
        bare = (
            ("visit", pump.next_visit_on, AppointmentKind.TITRATION),
            ("refill_noted", pump.next_refill_appointment_on, AppointmentKind.REFILL),
            ("refill_due", pump.refill_due_on, None),
        )
        for kind, on, booked_kind in bare:
            if on is not None and in_range["gte"] <= on <= in_range["lte"] and booked_kind not in kinds_booked:
                rows[key].append(ScheduleRow(on, kind, pump))
    for schedule in by_nurse.values():
        schedule.rows.sort(key=lambda row: (row.on, row.pump.patient.family_name))
    return sorted(by_nurse.values(), key=lambda s: (s.nurse is None, s.nurse.last_name if s.nurse else ""))


def patient_pumps(patient_id: int) -> list[Pump]:
    """The patient's pumps, in first (implanted) then explanted (one query)."""
    pumps = Pump.objects.active().filter(patient_id=patient_id).select_related("model")
    return sorted(pumps, key=lambda p: (p.explanted_on is not None, -p.implanted_on.toordinal()))


# --------------------------------------------------------------------------
# Drift between the stored columns and a fresh recomputation
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PumpDrift:
    pump: Pump
    fields: dict[str, tuple[object, object]]  # field: (stored, fresh)


def projection_drift(*, model_id: int | None = None, pump_ids: tuple[int, int] | None = None) -> list[PumpDrift]:
    """Every pump (of one catalogue model, with an id in ``[low, high)``) whose stored
    projection or current values differ from a fresh recomputation.

    Reads the pumps with their refills and dose changes (three queries) and recomputes
    with ``pumps.dosing`` exactly as ``pump_recompute_projection`` does. The id range
    is one chunk of the daily refresh, which runs the chunks on several workers.
    """
    settings = dosing_settings()
    pumps = (
        Pump.objects.select_related("model")
        .annotate(**emptying_annotations())
        .prefetch_related("refills", "dose_changes")
        .order_by("pk")
    )
    if model_id is not None:
        pumps = pumps.filter(model_id=model_id)
    if pump_ids is not None:
        pumps = pumps.filter(pk__gte=pump_ids[0], pk__lt=pump_ids[1])
    drifts = []
    for pump in pumps:
        fresh = pump_state(pump, list(pump.refills.all()), list(pump.dose_changes.all()), settings)
        drift = state_drift(stored_state(pump), fresh)
        if drift:
            drifts.append(PumpDrift(pump, drift))
    return drifts


def previous_fill(refill: Refill) -> Refill | None:
    """The fill before this one on its pump (not voided), for a concentration change on the page and printout."""
    return (
        Refill.objects.active()
        .filter(pump_id=refill.pump_id)
        .exclude(pk=refill.pk)
        .filter(Q(refilled_on__lt=refill.refilled_on) | Q(refilled_on=refill.refilled_on, pk__lt=refill.pk))
        .order_by("-refilled_on", "-pk")
        .first()
    )


# --- Role homes (spasticity.home_views) --------------------------------------------------------


def recent_surgeries(
    *, today: datetime.date, days: int, page: int = 1, page_size: int = GROUP_PAGE_SIZE
) -> GroupPage[Surgery]:
    """Surgeries (not voided, patient not voided) of the last ``days`` days, newest first, each
    with its complications (``Surgery.complication_labels``, from the row itself). Two queries."""
    surgeries = (
        Surgery.objects.active()
        .filter(performed_on__gt=today - datetime.timedelta(days=days), patient__voided_at__isnull=True)
        .select_related("patient", "pump", "surgeon")
        .order_by("-performed_on", "-pk")
    )
    return queryset_page(surgeries, key="surgeries", label="Recent surgeries", page=page, size=page_size)
