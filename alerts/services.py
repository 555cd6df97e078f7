"""Every write with rules for alerts: the scan, the per-pump refresh, acknowledge and snooze.

The scan is set-based, for reads and writes, one chunk of pump ids at a time: a fixed
number of reads per chunk (the candidate pumps by their stored, indexed columns; the
latest flagged refills; the alerts not yet resolved), a pure plan of the changes
(``alerts.scan_plan``) and, only when it has changes, the alerts locked and read again,
then one bulk update and one insert of the new alerts with their history rows
(``alerts.bulk_writes``), each history row carrying the system user and a reason (spec
section 3 allows bulk writes that keep history; never ``.update()`` without it).
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from alerts import rules
from alerts.bulk_writes import History, insert_rows
from alerts.models import Alert, AlertKind, AlertStatus
from alerts.notifications import immediate_queue_many, notifications_send_soon
from alerts.scan_plan import (
    CHANGE_REASON_MAX_CHARS,
    AlertKey,
    CurrentAlert,
    ScanPlan,
    WantedAlert,
    plan_scan,
)
from alerts.sources import PumpRow, RowSource, row_sources
from pumps.models import Pump, Refill
from spasticity.audit import record_save
from spasticity.range_query import RangeQuery
from spasticity.roles import PERMS

logger = logging.getLogger(__name__)

SYSTEM_USERNAME = "itb-system"


def system_user() -> User:
    """The named user that jobs act as, so the audit says "itb-system" rather than nobody.

    Created on first use (a transactional test's flush or a fresh database has none);
    it cannot sign in.
    """
    user, created = User.objects.get_or_create(
        username=SYSTEM_USERNAME,
        defaults={"first_name": "ITB", "last_name": "alert scan (system)", "is_active": False},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@dataclass
class ScanResult:
    """What one scan changed, by kind. Running the scan again at once gives all zeros."""

    as_of: datetime.date
    raised: Counter[str] = field(default_factory=Counter)
    resolved: Counter[str] = field(default_factory=Counter)
    reopened: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: int = 0
    chunks: int = 0
    new_alert_ids: list[int] = field(default_factory=list)
    notification_ids: list[int] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return (
            sum(self.raised.values())
            + sum(self.resolved.values())
            + sum(self.reopened.values())
            + sum(self.updated.values())
        )

    def add_plan(self, plan: ScanPlan) -> None:
        counts = plan.counts()
        self.raised.update(counts["raised"])
        self.resolved.update(counts["resolved"])
        self.reopened.update(counts["reopened"])
        self.updated.update(counts["updated"])
        self.unchanged += plan.unchanged

    def merge(self, other: ScanResult) -> None:
        for mine, theirs in (
            (self.raised, other.raised),
            (self.resolved, other.resolved),
            (self.reopened, other.reopened),
            (self.updated, other.updated),
        ):
            mine.update(theirs)
        self.unchanged += other.unchanged
        self.chunks += other.chunks
        self.new_alert_ids.extend(other.new_alert_ids)
        self.notification_ids.extend(other.notification_ids)

    def totals(self) -> dict[str, int]:
        """The counts a job run stores (``alerts.job_runs``)."""
        return {
            "raised": sum(self.raised.values()),
            "resolved": sum(self.resolved.values()),
            "reopened": sum(self.reopened.values()),
            "updated": sum(self.updated.values()),
            "unchanged": self.unchanged,
            "notifications": len(self.notification_ids),
        }

    def summary(self) -> str:
        def fmt(counter: Counter[str]) -> str:
            return ", ".join(f"{kind} {n}" for kind, n in sorted(counter.items())) or "none"

        return (
            f"Alert scan as of {self.as_of:%Y-%m-%d}: raised {fmt(self.raised)}; resolved {fmt(self.resolved)}; "
            f"reopened {fmt(self.reopened)}; updated {fmt(self.updated)}; unchanged {self.unchanged}."
        )


# --------------------------------------------------------------------------
# Chunks of pumps
# --------------------------------------------------------------------------

PumpRange = tuple[int, int]  # pump ids lo <= id < hi
ALL_PUMPS: PumpRange = (0, 2**63 - 1)  # every id a bigint primary key can hold
# The first key of the scan's Postgres advisory locks (the second is the chunk number):
# an arbitrary constant so that no other advisory lock can collide with ours.
SCAN_LOCK_NAMESPACE = 7301


def scan_chunk_size() -> int:
    return int(settings.CLINIC["SCAN_CHUNK_PUMPS"])


def chunk_range(chunk: int) -> PumpRange:
    """Chunk ``n`` holds the pump ids ``[n × size, (n + 1) × size)``.

    Fixed-width id ranges (not "every 2,000th pump") so that two scans started at
    different moments still cut the caseload at the same places, and so take the same
    advisory lock for the same pumps.
    """
    size = scan_chunk_size()
    return chunk * size, (chunk + 1) * size


def chunk_of(pump_id: int) -> int:
    return pump_id // scan_chunk_size()


def pump_chunks() -> list[int]:
    """The chunks that hold any pump, in order. One query.

    Every pump counts, not only the watched ones: an explanted or voided pump may
    still have open alerts for the scan to resolve.
    """
    # order_by(): without it the model's ordering joins the DISTINCT and every pump comes back.
    chunks = Pump.objects.annotate(chunk=F("pk") / scan_chunk_size()).order_by().values_list("chunk", flat=True)
    return sorted(chunks.distinct())


def _lock_chunk(chunk: int) -> None:
    """Hold the chunk's advisory lock until the transaction ends.

    Two scans (or a scan and a refill's own refresh) of the same pumps take turns: the
    second one reads what the first one wrote, so nothing is raised, resolved or
    emailed twice. SQLite (the demo) has one writer at a time anyway.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SCAN_LOCK_NAMESPACE, chunk])


# --------------------------------------------------------------------------
# What should be open (reads only)
# --------------------------------------------------------------------------


# What the alert rules read of a pump row (``_dated_alerts_wanted``); row sources read them too.
PUMP_COLUMNS = ("pk", "patient_id", "implanted_on", "refill_due_on", "alarm_date", "battery_end_of_service_on")


def _thresholds() -> tuple[int, int]:
    clinic = settings.CLINIC
    return int(clinic["REFILL_DUE_SOON_DAYS"]), int(clinic["BATTERY_WARNING_DAYS"])


@dataclass(frozen=True)
class ScanQueries:
    """The scan's three reads of a chunk, built and compiled once for a scan on ``as_of``.

    Compiling them (the watched filter and every row source's subqueries) took longer
    than PostgreSQL took to run them, once per chunk; now a scan of many chunks compiles
    them once (``spasticity.range_query``) and each chunk only binds its bounds. That helps
    the in-process scan (``alert_scan``: ``run_alert_scan``, the benchmark); the daily job's
    Celery tasks run one chunk each, and each compiles its own.
    """

    as_of: datetime.date
    thresholds: tuple[int, int]  # (due-soon days, battery warning days) the candidates' SQL was built with
    candidates: RangeQuery  # watched pumps that may need an alert, with the sources' values
    flagged_refills: RangeQuery  # each watched pump's latest refill, when its delivery check was flagged
    unresolved: RangeQuery  # the unresolved alerts, unlocked


def scan_queries(as_of: datetime.date) -> ScanQueries:
    return ScanQueries(
        as_of=as_of,
        thresholds=_thresholds(),
        candidates=RangeQuery.compile(_candidate_pumps(as_of), field="pk"),
        flagged_refills=RangeQuery.compile(_latest_flagged_refills(), field="pump_id"),
        unresolved=RangeQuery.compile(_unresolved_alert_values(), field="pump_id"),
    )


def alerts_wanted(
    *, as_of: datetime.date, pumps: PumpRange | None = None, queries: ScanQueries | None = None
) -> dict[AlertKey, WantedAlert]:
    """The alerts that should be open on ``as_of``, keyed by (pump id, kind). Two queries.

    1. Watched pumps (``Pump.objects.watched()``: implanted, not voided, patient not
       voided) with no projection, or whose stored dates fall inside a threshold:
       refill due within the due-soon window (or past), alarm date passed, or battery
       end of service within the warning window; and the pumps any row source
       (``alerts.sources``) may alert on, with that source's values beside them.
    2. Each watched pump's latest refill (not voided), when its delivery check was
       flagged (or not assessable): a ``delivery_deviation``. A later refill within
       range answers it.

    ``pumps``: an id range (every pump when None); ``queries``: the scan's reads, compiled
    once for all its chunks (``scan_queries``; compiled here when not given).
    """
    queries = queries or scan_queries(as_of)
    # The SQL holds the thresholds' dates for that day: the rows must be judged by the same ones.
    if queries.as_of != as_of or queries.thresholds != _thresholds():
        raise ValueError(
            f"The scan's reads were compiled for {queries.as_of} with thresholds {queries.thresholds}, "
            f"not {as_of} with {_thresholds()}."
        )
    pumps = pumps or ALL_PUMPS
    thresholds = queries.thresholds
    sources = row_sources()
    wanted: dict[AlertKey, WantedAlert] = {}
    for row in queries.candidates.rows(*pumps):
        wanted |= _row_alerts_wanted(row, as_of=as_of, thresholds=thresholds, sources=sources)
    for refill_id, pump_id, patient_id, refilled_on in queries.flagged_refills.tuples(*pumps):
        wanted |= _delivery_alert_wanted(pump_id, patient_id, refill_id, refilled_on)
    return wanted


def _candidate_pumps(as_of: datetime.date) -> QuerySet[Pump, dict[str, Any]]:
    """Watched pumps whose stored dates or row sources may call for an alert on ``as_of``, as values.

    No projection, refill due within the due-soon window (or past), alarm date passed,
    battery end of service within the warning window, or a row source's own candidates.
    """
    due_soon_days, battery_days = _thresholds()
    sources = row_sources()
    may_need_alert = (
        Q(alarm_date__isnull=True)
        | Q(refill_due_on__lte=as_of + datetime.timedelta(days=due_soon_days))
        | Q(alarm_date__lt=as_of)
        | Q(battery_end_of_service_on__lte=as_of + datetime.timedelta(days=battery_days))
    )
    for source in sources:
        may_need_alert |= source.candidates(as_of)
    annotations = _source_annotations(sources, as_of)
    candidates = Pump.objects.watched().filter(may_need_alert).annotate(**annotations)
    # order_by(): the rows are keyed by pump, so the model's default ordering would only add a sort.
    return candidates.order_by().values(*PUMP_COLUMNS, *annotations)


def alerts_wanted_for_pump(pump_id: int, *, as_of: datetime.date) -> dict[AlertKey, WantedAlert]:
    """``alerts_wanted`` for one pump, in one query: its stored dates with its latest refill beside them.

    What a write on one pump refreshes. No threshold filter in SQL: for one row,
    ``rules.pump_alert_conditions`` and the row sources alone decide (the scan's
    filter only skips rows for which they would return nothing).
    """
    sources = row_sources()
    latest = _latest_refill(OuterRef("pk"))
    annotations = _source_annotations(sources, as_of) | {
        "latest_refill_id": Subquery(latest.values("pk")[:1]),
        "latest_refill_flag": Subquery(latest.values("delivery_flag")[:1]),
        "latest_refilled_on": Subquery(latest.values("refilled_on")[:1]),
    }
    row = Pump.objects.watched().filter(pk=pump_id).annotate(**annotations).values(*PUMP_COLUMNS, *annotations).first()
    if row is None:  # not watched: nothing is wanted, every open alert resolves
        return {}
    wanted = _row_alerts_wanted(row, as_of=as_of, thresholds=_thresholds(), sources=sources)
    if row["latest_refill_id"] is not None and row["latest_refill_flag"] != Refill.DeliveryFlag.NONE:
        wanted |= _delivery_alert_wanted(pump_id, row["patient_id"], row["latest_refill_id"], row["latest_refilled_on"])
    return wanted


def _source_annotations(sources: tuple[RowSource, ...], as_of: datetime.date) -> dict[str, Any]:
    annotations: dict[str, Any] = {}
    for source in sources:
        annotations |= source.annotations(as_of)
    return annotations


def _row_alerts_wanted(
    row: PumpRow, *, as_of: datetime.date, thresholds: tuple[int, int], sources: tuple[RowSource, ...]
) -> dict[AlertKey, WantedAlert]:
    """Every alert one watched pump's row calls for: its dated alerts and each source's."""
    pump_id, patient_id = row["pk"], row["patient_id"]
    wanted = _dated_alerts_wanted(row, as_of=as_of, thresholds=thresholds)
    for source in sources:
        for kind, due_on in source.wanted(row, as_of).items():
            wanted[(pump_id, kind)] = WantedAlert(pump_id, patient_id, kind, due_on)
    return wanted


def _dated_alerts_wanted(
    row: PumpRow, *, as_of: datetime.date, thresholds: tuple[int, int]
) -> dict[AlertKey, WantedAlert]:
    """The refill and battery alerts one watched pump's row (``PUMP_COLUMNS``) calls for."""
    pump_id, patient_id, implanted_on, refill_due_on, alarm_date, battery_eos = (row[name] for name in PUMP_COLUMNS)
    due_soon_days, battery_days = thresholds
    conditions = rules.pump_alert_conditions(
        as_of=as_of,
        refill_due_on=refill_due_on,
        alarm_date=alarm_date,
        battery_end_of_service_on=battery_eos,
        due_soon_days=due_soon_days,
        battery_warning_days=battery_days,
    )
    return {
        (pump_id, kind): WantedAlert(pump_id, patient_id, kind, due_on or implanted_on)
        for kind, due_on in conditions.items()
    }


def _delivery_alert_wanted(
    pump_id: int, patient_id: int, refill_id: int, refilled_on: datetime.date
) -> dict[AlertKey, WantedAlert]:
    """A watched pump whose latest refill's delivery check was flagged (or not assessable)."""
    key = (pump_id, rules.DELIVERY_DEVIATION)
    return {key: WantedAlert(pump_id, patient_id, rules.DELIVERY_DEVIATION, refilled_on, refill_id)}


def _latest_refill(pump: Any) -> QuerySet[Refill]:
    """A pump's latest refill that is not voided (``pump``: the pump, or an ``OuterRef`` to it)."""
    return Refill.objects.filter(pump=pump, voided_at__isnull=True).order_by("-refilled_on", "-pk")


def _latest_flagged_refills() -> QuerySet[Refill, tuple[Any, ...]]:
    """Each watched pump's latest refill when its delivery check was flagged: (refill, pump, patient, date)."""
    latest = _latest_refill(OuterRef("pump")).values("pk")[:1]
    refills = Refill.objects.filter(pk=Subquery(latest), pump__in=Pump.objects.watched()).exclude(
        delivery_flag=Refill.DeliveryFlag.NONE
    )
    return refills.values_list("pk", "pump_id", "pump__patient_id", "refilled_on")


def _unresolved_alert_values() -> QuerySet[Alert, tuple[Any, ...]]:
    """Unresolved alerts as the plain values ``_row_as_current`` reads."""
    return Alert.objects.unresolved().values_list(
        "pk",
        "pump_id",
        "kind",
        "status",
        "due_on",
        "snoozed_until",
        "refill_id",
        "pump__voided_at",
        "patient__voided_at",
        "pump__explanted_on",
    )


def _unresolved_alerts(pumps: PumpRange, queries: ScanQueries) -> dict[AlertKey, CurrentAlert]:
    """The range's unresolved alerts as plain values, without a lock (one query): what the scan plans from first."""
    return {(row[1], row[2]): _row_as_current(row) for row in queries.unresolved.tuples(*pumps)}


def _row_as_current(row: tuple[Any, ...]) -> CurrentAlert:
    (
        alert_id,
        pump_id,
        kind,
        status,
        due_on,
        snoozed_until,
        refill_id,
        pump_voided_at,
        patient_voided_at,
        explanted_on,
    ) = row
    return CurrentAlert(
        alert_id=alert_id,
        pump_id=pump_id,
        kind=kind,
        status=status,
        due_on=due_on,
        snoozed_until=snoozed_until,
        refill_id=refill_id,
        pump_voided=pump_voided_at is not None,
        patient_voided=patient_voided_at is not None,
        pump_explanted_on=explanted_on,
    )


def _locked_unresolved_alerts(pumps: PumpRange) -> dict[AlertKey, Alert]:
    """The range's unresolved alerts, read fresh under a row lock (one query).

    ``select_for_update`` waits for anyone acknowledging or snoozing one of them and
    then returns the row as they committed it, so the scan never writes back a stale
    copy over their change. Only the alert rows are locked (``of=self``).
    """
    alerts = (
        Alert.objects.unresolved()
        .filter(pump_id__gte=pumps[0], pump_id__lt=pumps[1])
        .select_for_update(of=("self",))
        .annotate(
            pump_voided_at=F("pump__voided_at"),
            pump_explanted_on=F("pump__explanted_on"),
            patient_voided_at=F("patient__voided_at"),
        )
    )
    return {(alert.pump_id, alert.kind): alert for alert in alerts}


def _as_current(alert: Alert) -> CurrentAlert:
    return CurrentAlert(
        alert_id=alert.pk,
        pump_id=alert.pump_id,
        kind=alert.kind,
        status=alert.status,
        due_on=alert.due_on,
        snoozed_until=alert.snoozed_until,
        refill_id=alert.refill_id,
        pump_voided=alert.pump_voided_at is not None,  # type: ignore[attr-defined]
        patient_voided=alert.patient_voided_at is not None,  # type: ignore[attr-defined]
        pump_explanted_on=alert.pump_explanted_on,  # type: ignore[attr-defined]
    )


# --------------------------------------------------------------------------
# Reconciling: plan, then apply in bulk with one history row per change
# --------------------------------------------------------------------------


def alert_scan(*, as_of: datetime.date, by: Any) -> ScanResult:
    """Bring every pump's alerts in line with its stored dates on ``as_of``, chunk by chunk.

    Each chunk is its own transaction (``alert_scan_chunk``), so one bad chunk cannot
    hold back every other pump's alerts; the scan is idempotent, so the next run
    finishes the job. The run is recorded (``alerts.job_runs``) like the daily job's.
    The daily job fans the same chunks out across workers (``alerts.tasks``).
    """
    from alerts.job_runs import JOB_ALERT_SCAN, job_run_chunk_done, job_run_start

    chunks = pump_chunks()
    run = job_run_start(JOB_ALERT_SCAN, as_of=as_of, chunks=chunks)
    result = ScanResult(as_of=as_of)
    queries = scan_queries(as_of)
    for chunk in chunks:
        with transaction.atomic():
            part = alert_scan_chunk(chunk, as_of=as_of, by=by, queries=queries)
            job_run_chunk_done(run.pk, chunk=chunk, counts=part.totals())
        result.merge(part)
    if result.changes:
        logger.info(result.summary())
    return result


@transaction.atomic
def alert_scan_chunk(chunk: int, *, as_of: datetime.date, by: Any, queries: ScanQueries | None = None) -> ScanResult:
    """The scan for one chunk of pump ids, in one transaction, in a fixed number of queries.

    1. Take the chunk's advisory lock (another scan of the same pumps waits here).
    2. Read what should be open (``alerts_wanted``) and what is, and plan the changes
       (``alerts.scan_plan.plan_scan``: pure). Nothing to change: done, nothing locked.
    3. Otherwise lock the unresolved alerts, read them again and plan again (``_reconcile``).
    4. Apply the plan: resolutions, reopenings and date moves in one bulk update, new
       alerts and their history rows in one statement (the system user and a reason);
       each new ``past_alarm_date`` queues its immediate email in the outbox.
    """
    _lock_chunk(chunk)
    queries = queries or scan_queries(as_of)
    pumps = chunk_range(chunk)
    wanted = alerts_wanted(as_of=as_of, pumps=pumps, queries=queries)
    return _reconcile(pumps, as_of=as_of, by=by, wanted=wanted, unlocked_read=queries)


def alerts_refresh_for_pump(pump: Pump, *, as_of: datetime.date | None = None, by: Any) -> ScanResult:
    """The scan for one pump, run by the pumps services in the same transaction as a refill,
    dose change, replacement or explant, so that what it answers is resolved at once.

    It takes the pump's chunk lock, so it waits for (and is waited for by) a scan of
    that chunk. Any immediate email it queues is sent after the commit (by a worker; if
    the broker is down the periodic retry sends it).
    """
    from spasticity.timeutil import clinic_today

    as_of = as_of or clinic_today()
    # No savepoint: it belongs to the caller's transaction, and a failure here fails the write.
    with transaction.atomic(savepoint=False):
        _lock_chunk(chunk_of(pump.pk))
        wanted = alerts_wanted_for_pump(pump.pk, as_of=as_of)
        result = _reconcile((pump.pk, pump.pk + 1), as_of=as_of, by=by, wanted=wanted)
    if result.notification_ids:
        notifications_send_soon()
    return result


def _reconcile(
    pumps: PumpRange,
    *,
    as_of: datetime.date,
    by: Any,
    wanted: dict[AlertKey, WantedAlert],
    unlocked_read: ScanQueries | None = None,
) -> ScanResult:
    """Bring the range's alerts in line with what is wanted.

    1. Given ``unlocked_read`` (a chunk of the scan), plan from a plain read of the
       range's unresolved alerts first: most days most chunks change nothing, and locking
       rows writes to every one of them (WAL, and a commit to wait for), so an empty plan
       stops here having written nothing. People's acknowledgements and snoozes never make
       an alert wanted or unwanted, so they cannot turn an empty plan into a needed change.
    2. Otherwise, or when that plan has changes, lock the unresolved alerts and read them
       again (``_locked_unresolved_alerts``: an acknowledgement committed meanwhile is
       seen), plan again from them and apply that plan.
    """
    result = ScanResult(as_of=as_of, chunks=1)
    if unlocked_read is not None:
        unlocked_plan = plan_scan(wanted, _unresolved_alerts(pumps, unlocked_read), as_of=as_of)
        if unlocked_plan.is_empty:
            result.add_plan(unlocked_plan)
            return result
    existing = _locked_unresolved_alerts(pumps)
    plan = plan_scan(wanted, {key: _as_current(alert) for key, alert in existing.items()}, as_of=as_of)
    result.add_plan(plan)
    if plan.is_empty:
        return result
    _apply_changes(plan, {alert.pk: alert for alert in existing.values()}, as_of=as_of, by=by)
    new_alerts = _raise_alerts(plan.raises, as_of=as_of, by=by)
    result.new_alert_ids = [alert_id for alert_id, _kind in new_alerts]
    past_alarm = [alert_id for alert_id, kind in new_alerts if kind == rules.PAST_ALARM_DATE]
    if past_alarm:
        result.notification_ids = immediate_queue_many(past_alarm, as_of=as_of)
    return result


_CHANGED_FIELDS = ["status", "due_on", "resolved_on", "resolved_at", "resolution", "version"]


def _apply_changes(plan: ScanPlan, alerts: dict[int, Alert], *, as_of: datetime.date, by: Any) -> None:
    """Resolutions, reopenings and date moves: one UPDATE and one history INSERT."""
    now = timezone.now()
    changed = []
    for resolution in plan.resolutions:
        alert = alerts[resolution.alert_id]
        alert.status = AlertStatus.RESOLVED
        alert.resolved_on = as_of
        alert.resolved_at = now
        alert.resolution = resolution.reason
        alert._change_reason = f"Resolved: {resolution.reason}"[:CHANGE_REASON_MAX_CHARS]  # type: ignore[attr-defined]
        changed.append(alert)
    for refresh in plan.refreshes:
        alert = alerts[refresh.alert_id]
        if refresh.reopen:
            alert.status = AlertStatus.OPEN
        alert.due_on = refresh.due_on
        alert._change_reason = refresh.reason  # type: ignore[attr-defined]
        changed.append(alert)
    for alert in changed:
        alert.version += 1
        alert._history_user = by  # type: ignore[attr-defined]
    if changed:
        bulk_update_with_history(changed, Alert, _CHANGED_FIELDS, default_user=by)


def _raise_alerts(raises: list[WantedAlert], *, as_of: datetime.date, by: Any) -> list[tuple[int, str]]:
    """New alerts and their history rows, in one statement (``alerts.bulk_writes``); (id, kind) of each.

    Applied after the resolutions (the one-unresolved-alert constraint). A bulk insert skips
    ``Alert.clean()``: the urgency it checks is set here from the kind.
    """
    now = timezone.now()
    reason = f"Raised by the alert scan as of {as_of:%Y-%m-%d}"
    rows: dict[str, list[Any]] = {
        "kind": [want.kind for want in raises],
        "pump_id": [want.pump_id for want in raises],
        "patient_id": [want.patient_id for want in raises],
        "due_on": [want.due_on for want in raises],
        "urgency": [rules.URGENCY[want.kind] for want in raises],
        "refill_id": [want.refill_id for want in raises],
    }
    inserted = insert_rows(
        Alert,
        rows,
        constants={"raised_on": as_of, "status": AlertStatus.OPEN.value},
        now=now,
        returning=("id", "kind"),
        history=History(by=by, reason=reason, at=now),
    )
    return [(alert_id, kind) for alert_id, kind in inserted]


# --------------------------------------------------------------------------
# People handling alerts
# --------------------------------------------------------------------------


def _locked(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().get(pk=alert.pk)


def _require_alert_handler(by: Any) -> None:
    # The pages and the API check the permission too; the service is the last line (defence in depth).
    if not by.has_perm(PERMS.HANDLE_ALERT):
        raise PermissionDenied("Your role does not handle alerts.")


def max_snooze_days() -> int:
    return int(settings.CLINIC["MAX_SNOOZE_DAYS"])


def alert_snooze_latest(alert: Alert, *, today: datetime.date) -> datetime.date | None:
    """The last day ``alert`` may be snoozed until, or None when its kind is never snoozed.

    A pump past its alarm date is a withdrawal risk: it stays in sight until answered.
    """
    if alert.kind == rules.PAST_ALARM_DATE:
        return None
    return today + datetime.timedelta(days=max_snooze_days())


def _snooze_errors(
    alert: Alert, *, until: datetime.date | None, reason: str, today: datetime.date
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    latest = alert_snooze_latest(alert, today=today)
    if latest is None:
        errors["snoozed_until"] = [
            "A pump past its alarm date (withdrawal risk) cannot be snoozed: acknowledge it with a note; "
            "it stays on the worklist until the pump is refilled."
        ]
    elif until is None:
        errors["snoozed_until"] = ["Give the date until which to snooze this alert."]
    elif until <= today:
        errors["snoozed_until"] = [f"The snooze must end after today ({today:%Y-%m-%d})."]
    elif until > latest:
        errors["snoozed_until"] = [
            f"An alert can be snoozed for at most {max_snooze_days()} days: until {latest:%Y-%m-%d} at the latest."
        ]
    if not reason.strip():
        errors["snooze_reason"] = ["Say why this alert can wait (e.g. refill booked for that date)."]
    return errors


def alert_refuse_void(record: Any, by: Any) -> None:
    """After-void hook for alerts: never voided (spec section 3), so the voiding is refused and rolled back."""
    raise ValidationError(
        {"void_reason": ["Alerts are never voided: the scan resolves them when they no longer apply."]}
    )


@transaction.atomic
def alert_acknowledge(alert: Alert, *, by: Any, expected_version: int | None = None, note: str = "") -> Alert:
    """Someone has taken the alert on. It stays on the worklist until the scan resolves it.

    A pump past its alarm date is acknowledged only with a note saying what is being done.
    """
    _require_alert_handler(by)
    locked = _locked(alert)
    if locked.status == AlertStatus.RESOLVED:
        raise ValidationError({"status": ["This alert is already resolved."]})
    if locked.is_voided:
        raise ValidationError({"status": ["This alert was voided."]})
    if locked.kind == rules.PAST_ALARM_DATE and not note.strip():
        raise ValidationError(
            {"note": ["A pump past its alarm date is acknowledged with a note: say what is being done."]}
        )
    locked.status = AlertStatus.ACKNOWLEDGED
    locked.acknowledged_by = by
    locked.acknowledged_at = timezone.now()
    record_save(locked, by=by, expected_version=expected_version, reason=note.strip() or "Acknowledged")
    return locked


@transaction.atomic
def alert_snooze(
    alert: Alert,
    *,
    by: Any,
    until: datetime.date | None,
    reason: str,
    today: datetime.date,
    expected_version: int | None = None,
) -> Alert:
    """Hide the alert until ``until`` (inclusive), with a reason; the scan reopens it after.

    Never a pump past its alarm date, and never beyond ``CLINIC["MAX_SNOOZE_DAYS"]`` days
    (``alert_snooze_latest``).
    """
    _require_alert_handler(by)
    errors = _snooze_errors(alert, until=until, reason=reason, today=today)
    if errors or until is None:
        raise ValidationError(errors)
    locked = _locked(alert)
    if locked.status == AlertStatus.RESOLVED:
        raise ValidationError({"status": ["This alert is already resolved."]})
    locked.status = AlertStatus.SNOOZED
    locked.snoozed_by = by
    locked.snoozed_until = until
    locked.snooze_reason = reason.strip()
    record_save(locked, by=by, expected_version=expected_version, reason=f"Snoozed until {until:%Y-%m-%d}")
    return locked


def alert_kinds() -> list[tuple[str, str]]:
    """Kinds most urgent first, for filters and the dashboard."""
    labels = dict(AlertKind.choices)
    return [(kind, labels[kind]) for kind in rules.KINDS_BY_URGENCY]
