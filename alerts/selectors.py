"""Every read with rules for alerts: the alert list, the nurse worklist, the dashboard."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, OuterRef, Q, Subquery

from alerts.models import Alert, AlertQuerySet, AlertStatus, Notification, NotificationStatus
from alerts.services import alert_kinds
from patients.models import PathwayStage, Patient
from pumps.models import DoseChange, Refill
from pumps.selectors import NurseWorklist, nurse_worklist


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
    """The nurse's day: the pumps app's refills and visits, and the alerts to act on."""

    today: datetime.date
    pumps: NurseWorklist
    alerts: list[Alert]
    snoozed_count: int


def worklist(*, today: datetime.date, nurse_id: int | None) -> Worklist:
    """Today's and this week's refills and titration visits (``pumps.selectors.nurse_worklist``),
    and the actionable alerts by urgency. A fixed number of queries (three).

    With a nurse, the alerts are those of her patients and of patients with no pump
    nurse (nobody else would see them); the refills and visits are her patients'.
    """
    pumps = nurse_worklist(today=today, nurse_id=nurse_id)
    unresolved = list(alert_list(status="unresolved", nurse_id=nurse_id, include_unassigned=True).on_watched_pumps())
    actionable = [alert for alert in unresolved if alert.status != AlertStatus.SNOOZED]
    actionable.sort(key=lambda alert: (alert.urgency, alert.due_on, alert.pk))
    return Worklist(today=today, pumps=pumps, alerts=actionable, snoozed_count=len(unresolved) - len(actionable))


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


@dataclass
class Dashboard:
    as_of: datetime.date
    caseload: list[tuple[str, str, int]]  # (stage, label, patients)
    caseload_total: int
    refills: OnTimeRefills
    alerts_by_kind: list[dict[str, Any]]  # kind, label, open, acknowledged, snoozed
    failed_notifications: int


def dashboard(*, as_of: datetime.date) -> Dashboard:
    """Caseload by pathway stage, refills on time this quarter, alerts not yet resolved by kind.
    A fixed number of queries (four)."""
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
    )
