"""Every read with rules for alerts: the alert list, the nurse worklist, the dashboard."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, F, OuterRef, Q, Subquery, Window
from django.db.models.functions import RowNumber

from alerts import rules
from alerts.models import (
    ACTIONABLE_STATUSES,
    Alert,
    AlertKind,
    AlertQuerySet,
    AlertStatus,
    Notification,
    NotificationStatus,
)
from alerts.services import alert_kinds
from patients.models import PathwayStage, Patient
from pumps.models import DoseChange, Refill
from pumps.selectors import PATIENT_ROW_FIELDS, NurseWorklist, nurse_worklist
from spasticity.lists import GROUP_PAGE_SIZE, GroupPage, page_slice


def alert_list(
    *,
    status: str = "actionable",
    kind: str = "",
    nurse_id: int | None = None,
    include_unassigned: bool = False,
    patient_id: int | None = None,
    pump_id: int | None = None,
) -> AlertQuerySet:
    """Alerts most urgent first, with what a row shows (one query).

    ``status``: ``actionable`` (open or acknowledged), ``unresolved`` (also snoozed),
    one of the statuses, or empty for all. ``nurse_id`` keeps that nurse's patients,
    and with ``include_unassigned`` also the patients with no pump nurse.
    """
    alerts: AlertQuerySet = Alert.objects.filter(voided_at__isnull=True).select_related(
        "patient", "patient__assigned_nurse", "pump", "acknowledged_by", "snoozed_by"
    )
    if status == "actionable":
        alerts = alerts.filter(status__in=[AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED])
    elif status == "unresolved":
        alerts = alerts.exclude(status=AlertStatus.RESOLVED)
    elif status:
        alerts = alerts.filter(status=status)
    if kind:
        alerts = alerts.filter(kind=kind)
    if nurse_id is not None:
        mine = Q(patient__assigned_nurse_id=nurse_id)
        alerts = alerts.filter(mine | Q(patient__assigned_nurse__isnull=True) if include_unassigned else mine)
    if patient_id is not None:
        alerts = alerts.filter(patient_id=patient_id)
    if pump_id is not None:
        alerts = alerts.filter(pump_id=pump_id)
    return alerts.order_by("urgency", "due_on", "pk")


@dataclass
class Worklist:
    """The nurse's day: the pumps app's refills and visits, and the alerts to act on by kind."""

    today: datetime.date
    pumps: NurseWorklist
    groups: list[GroupPage[Alert]]  # one per alert kind, most urgent first, with its count
    snoozed_count: int
    unassigned_count: int  # actionable alerts of patients with no pump nurse, whoever is shown

    @property
    def alerts(self) -> list[Alert]:
        """This page's alerts of every group, most urgent first."""
        return [alert for group in self.groups for alert in group.rows]

    @property
    def alert_count(self) -> int:
        return sum(group.total for group in self.groups)


ALERT_ORDER = (F("urgency").asc(), F("due_on").asc(), F("pk").asc())


def _whose_alerts(nurse_id: int | None, unassigned: bool) -> Q:
    if nurse_id is not None:
        return Q(patient__assigned_nurse_id=nurse_id)
    if unassigned:
        return Q(patient__assigned_nurse__isnull=True)
    return Q()


def _alert_counts(whose: Q) -> dict[str, dict[str, int]]:
    """Per kind: actionable and snoozed alerts of the patients shown, and actionable
    alerts of patients with no pump nurse (one aggregate query)."""
    actionable = Q(status__in=ACTIONABLE_STATUSES)
    no_nurse = Q(patient__assigned_nurse__isnull=True)
    alerts = Alert.objects.unresolved()
    if whose:  # one nurse's list reads her alerts and the unassigned ones, not everyone's
        alerts = alerts.filter(whose | no_nurse)
    rows = (
        alerts.on_watched_pumps()
        .values("kind")
        .annotate(
            actionable=Count("pk", filter=whose & actionable),
            snoozed=Count("pk", filter=whose & Q(status=AlertStatus.SNOOZED)),
            unassigned=Count("pk", filter=no_nurse & actionable),
        )
        .order_by()
    )
    return {row.pop("kind"): row for row in rows}


# What an alert row shows: the columns of 25 rows a group, not every field.
ALERT_ROW_FIELDS = (
    "kind",
    "status",
    "version",
    "urgency",
    "due_on",
    "patient_id",
    "pump_id",
    "acknowledged_by_id",
    *PATIENT_ROW_FIELDS,
    "pump__patient_id",
    "pump__serial_number",
    "acknowledged_by__username",
    "acknowledged_by__first_name",
    "acknowledged_by__last_name",
)


def _alert_rows(whose: Q, page_rows: dict[str, tuple[int, int]]) -> dict[str, list[Alert]]:
    """One page of each kind's actionable alerts, by urgency, date and record, in one query:
    each alert is numbered within its kind and only the numbers of that kind's page are kept.
    ``page_rows``: kind → (first row, end row), counted from 0.

    The numbering runs over the bare alerts (a kind's urgency is its partition: an integer
    sorts faster than the kind's name); only the rows kept are joined to their patient,
    pump and nurse.
    """
    if not page_rows:
        return {}
    on_page = Q()
    for kind, (start, end) in page_rows.items():
        on_page |= Q(urgency=rules.URGENCY[kind], row_in_kind__gt=start, row_in_kind__lte=end)
    page_ids = (
        Alert.objects.actionable()
        .on_watched_pumps()
        .filter(whose, kind__in=list(page_rows))
        .annotate(row_in_kind=Window(RowNumber(), partition_by=F("urgency"), order_by=ALERT_ORDER))
        .filter(on_page)
        .values("pk")
    )
    alerts = (
        # actionable() again: the planner then reads the unresolved alerts by status, not every alert ever raised.
        Alert.objects.actionable()
        .filter(pk__in=page_ids)
        .select_related("patient", "patient__assigned_nurse", "pump", "acknowledged_by")
        .only(*ALERT_ROW_FIELDS)
        .order_by(*ALERT_ORDER)
    )
    rows: dict[str, list[Alert]] = {kind: [] for kind in page_rows}
    for alert in alerts:
        rows[alert.kind].append(alert)
    return rows


def worklist(
    *,
    today: datetime.date,
    nurse_id: int | None,
    unassigned: bool = False,
    pages: Mapping[str, int] | None = None,
    page_size: int = GROUP_PAGE_SIZE,
) -> Worklist:
    """Today's and this week's refills and titration visits (``pumps.selectors.nurse_worklist``),
    and the actionable alerts grouped by kind, most urgent kind first (``rules.KINDS_BY_URGENCY``).

    Every group has its count and one page of rows, so the page stays small at any
    caseload, in a fixed number of queries: one aggregate for the alert counts, one
    query for every group's page of rows, and the pumps app's own (at most four).

    ``nurse_id`` keeps that nurse's patients, ``unassigned`` the patients with no pump
    nurse (whose alerts nobody's own list shows: their count is always given);
    ``pages`` names the page each group shows (``{"refill_overdue": 2, "refills": 3}``).
    """
    pages = pages or {}
    pumps = nurse_worklist(today=today, nurse_id=nurse_id, unassigned=unassigned, pages=pages, page_size=page_size)
    whose = _whose_alerts(nurse_id, unassigned)
    counts = _alert_counts(whose)
    totals = {kind: counts.get(kind, {}).get("actionable", 0) for kind in rules.KINDS_BY_URGENCY}
    slices = {kind: page_slice(pages.get(kind, 1), total, page_size) for kind, total in totals.items()}
    rows = _alert_rows(whose, {kind: (start, end) for kind, (_n, start, end) in slices.items() if totals[kind]})
    labels = dict(AlertKind.choices)
    groups = [
        GroupPage(kind, labels[kind], totals[kind], slices[kind][0], page_size, rows.get(kind, []))
        for kind in rules.KINDS_BY_URGENCY
    ]
    return Worklist(
        today=today,
        pumps=pumps,
        groups=groups,
        snoozed_count=sum(row["snoozed"] for row in counts.values()),
        unassigned_count=sum(row["unassigned"] for row in counts.values()),
    )


# --------------------------------------------------------------------------
# The administrator's dashboard
# --------------------------------------------------------------------------


def quarter_start(on: datetime.date) -> datetime.date:
    return datetime.date(on.year, 3 * ((on.month - 1) // 3) + 1, 1)


@dataclass(frozen=True)
class OnTimeRefills:
    """Refills done on time in a quarter.

    A refill is on time when it was done on or before the refill-due date in force just
    before it: the ``refill_due_on`` recorded with the pump's latest earlier record, i.e.
    the latest dose change since the previous refill if there was one (a dose change
    moves the due date), otherwise the previous refill. First fills at implant have no
    due date and are not counted.
    """

    start_on: datetime.date
    end_on: datetime.date
    total: int
    on_time: int

    @property
    def percent(self) -> Decimal | None:
        if not self.total:
            return None
        return (Decimal(100) * self.on_time / self.total).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def refills_on_time(*, as_of: datetime.date) -> OnTimeRefills:
    """Refills this quarter (from its first day to ``as_of``) and how many were on time. One query."""
    start_on = quarter_start(as_of)
    earlier_refills = Refill.objects.filter(pump=OuterRef("pump"), voided_at__isnull=True).filter(
        Q(refilled_on__lt=OuterRef("refilled_on")) | Q(refilled_on=OuterRef("refilled_on"), pk__lt=OuterRef("pk"))
    )
    earlier_refills = earlier_refills.order_by("-refilled_on", "-pk")
    changes_since = DoseChange.objects.filter(
        pump=OuterRef("pump"),
        voided_at__isnull=True,
        changed_on__gte=OuterRef("previous_refilled_on"),
        changed_on__lt=OuterRef("refilled_on"),
    ).order_by("-changed_on", "-pk")
    refills = (
        Refill.objects.filter(voided_at__isnull=True, refilled_on__gte=start_on, refilled_on__lte=as_of)
        .annotate(
            previous_refilled_on=Subquery(earlier_refills.values("refilled_on")[:1]),
            previous_due_on=Subquery(earlier_refills.values("refill_due_on")[:1]),
        )
        .annotate(changed_due_on=Subquery(changes_since.values("refill_due_on")[:1]))
        .filter(previous_refilled_on__isnull=False)
        .values_list("refilled_on", "previous_due_on", "changed_due_on")
    )
    total = on_time = 0
    for refilled_on, previous_due_on, changed_due_on in refills:
        due_on = changed_due_on or previous_due_on
        if due_on is None:
            continue
        total += 1
        on_time += refilled_on <= due_on
    return OnTimeRefills(start_on=start_on, end_on=as_of, total=total, on_time=on_time)


@dataclass(frozen=True)
class ProgrammerCheckedRefills:
    """Refills at the pump this quarter (first fills at implant aside) carrying the programmer's numbers."""

    start_on: datetime.date
    end_on: datetime.date
    total: int
    checked: int

    @property
    def percent(self) -> Decimal | None:
        if not self.total:
            return None
        return (Decimal(100) * self.checked / self.total).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def refills_checked_against_programmer(*, as_of: datetime.date) -> ProgrammerCheckedRefills:
    """The share of this quarter's refills checked against the programmer (issue 13). One query."""
    start_on = quarter_start(as_of)
    given = (
        Q(programmer_alarm_date__isnull=False)
        | Q(programmer_reservoir_volume_ml__isnull=False)
        | Q(programmer_daily_dose_mcg__isnull=False)
    )
    counts = Refill.objects.filter(
        voided_at__isnull=True, is_first_fill=False, refilled_on__gte=start_on, refilled_on__lte=as_of
    ).aggregate(total=Count("pk"), checked=Count("pk", filter=given))
    return ProgrammerCheckedRefills(start_on, as_of, counts["total"], counts["checked"])


@dataclass
class Dashboard:
    as_of: datetime.date
    caseload: list[tuple[str, str, int]]  # (stage, label, patients)
    caseload_total: int
    refills: OnTimeRefills
    alerts_by_kind: list[dict[str, Any]]  # kind, label, open, acknowledged, snoozed
    failed_notifications: int
    open_safety_notices: list[Any]  # devices.selectors.OpenNotice: notices with pumps not yet addressed
    programmer_checks: ProgrammerCheckedRefills | None = None


def dashboard(*, as_of: datetime.date) -> Dashboard:
    """Caseload by pathway stage, refills on time this quarter, alerts not yet resolved by kind,
    open safety notices, refills checked against the programmer. A fixed number of queries
    (six; nine with an open safety notice)."""
    stage_counts = dict(
        Patient.objects.active().values_list("pathway_stage").annotate(n=Count("pk")).values_list("pathway_stage", "n")
    )
    caseload = [(stage, label, stage_counts.get(stage, 0)) for stage, label in PathwayStage.choices]
    counts: dict[tuple[str, str], int] = {
        (kind, status): n
        for kind, status, n in Alert.objects.unresolved()
        .values_list("kind", "status")
        .annotate(n=Count("pk"))
        .values_list("kind", "status", "n")
    }
    alerts_by_kind = [
        {
            "kind": kind,
            "label": label,
            **{status: counts.get((kind, status), 0) for status in ("open", "acknowledged", "snoozed")},
        }
        for kind, label in alert_kinds()
    ]
    return Dashboard(
        as_of=as_of,
        caseload=caseload,
        caseload_total=sum(stage_counts.values()),
        refills=refills_on_time(as_of=as_of),
        alerts_by_kind=alerts_by_kind,
        failed_notifications=Notification.objects.filter(status=NotificationStatus.FAILED).count(),
        open_safety_notices=_open_safety_notices(),
        programmer_checks=refills_checked_against_programmer(as_of=as_of),
    )


def _open_safety_notices() -> list[Any]:
    """Open device safety notices with unaddressed pumps (one query, four with any open notice)."""
    # Imported here: ``alerts`` does not import the apps that build on it at load time.
    from devices.selectors import open_notices_with_unaddressed_pumps

    return open_notices_with_unaddressed_pumps()
