"""Every write with rules for alerts: the scan, the per-pump refresh, acknowledge and snooze.

The scan is set-based: a fixed number of reads whatever the number of pumps (the
candidate pumps by their stored, indexed columns; the latest flagged refills; the
alerts not yet resolved), then one audited save per alert that changes. Nothing is
written with ``.update()`` or in bulk: alerts are audited records (spec section 3).
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
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from alerts import rules
from alerts.models import Alert, AlertKind, AlertStatus
from alerts.notifications import immediate_queue, notifications_send_soon
from pumps.models import Pump, Refill
from spasticity.audit import audited_save, record_save
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


@dataclass(frozen=True)
class WantedAlert:
    pump_id: int
    patient_id: int
    kind: str
    due_on: datetime.date
    refill_id: int | None = None


@dataclass
class ScanResult:
    """What one scan changed, by kind. Running the scan again at once gives all zeros."""

    as_of: datetime.date
    raised: Counter[str] = field(default_factory=Counter)
    resolved: Counter[str] = field(default_factory=Counter)
    reopened: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: int = 0
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

    def summary(self) -> str:
        def fmt(counter: Counter[str]) -> str:
            return ", ".join(f"{kind} {n}" for kind, n in sorted(counter.items())) or "none"

        return (
            f"Alert scan as of {self.as_of:%Y-%m-%d}: raised {fmt(self.raised)}; resolved {fmt(self.resolved)}; "
            f"reopened {fmt(self.reopened)}; updated {fmt(self.updated)}; unchanged {self.unchanged}."
        )


# --------------------------------------------------------------------------
# What should be open (reads only)
# --------------------------------------------------------------------------


def _thresholds() -> tuple[int, int]:
    clinic = settings.CLINIC
    return int(clinic["REFILL_DUE_SOON_DAYS"]), int(clinic["BATTERY_WARNING_DAYS"])


def alerts_wanted(*, as_of: datetime.date, pump_ids: list[int] | None = None) -> dict[tuple[int, str], WantedAlert]:
    """The alerts that should be open on ``as_of``, keyed by (pump id, kind). Two queries.

    1. Watched pumps (``Pump.objects.watched()``: implanted, not voided, patient not
       voided) with no projection, or whose stored dates fall inside a threshold:
       refill due within the due-soon window (or past), alarm date passed, or battery
       end of service within the warning window.
    2. Each watched pump's latest refill (not voided), when its delivery check was
       flagged (or not assessable): a ``delivery_deviation``. A later refill within
       range answers it.
    """
    due_soon_days, battery_days = _thresholds()
    pumps = Pump.objects.watched().filter(
        Q(alarm_date__isnull=True)
        | Q(refill_due_on__lte=as_of + datetime.timedelta(days=due_soon_days))
        | Q(alarm_date__lt=as_of)
        | Q(battery_end_of_service_on__lte=as_of + datetime.timedelta(days=battery_days))
    )
    if pump_ids is not None:
        pumps = pumps.filter(pk__in=pump_ids)
    wanted: dict[tuple[int, str], WantedAlert] = {}
    rows = pumps.values_list(
        "pk", "patient_id", "implanted_on", "refill_due_on", "alarm_date", "battery_end_of_service_on"
    )
    for pump_id, patient_id, implanted_on, refill_due_on, alarm_date, battery_eos in rows:
        conditions = rules.pump_alert_conditions(
            as_of=as_of,
            refill_due_on=refill_due_on,
            alarm_date=alarm_date,
            battery_end_of_service_on=battery_eos,
            due_soon_days=due_soon_days,
            battery_warning_days=battery_days,
        )
        for kind, due_on in conditions.items():
            wanted[(pump_id, kind)] = WantedAlert(pump_id, patient_id, kind, due_on or implanted_on)
    for refill_id, pump_id, patient_id, refilled_on in _latest_flagged_refills(pump_ids):
        key = (pump_id, rules.DELIVERY_DEVIATION)
        wanted[key] = WantedAlert(pump_id, patient_id, rules.DELIVERY_DEVIATION, refilled_on, refill_id)
    return wanted


def _latest_flagged_refills(pump_ids: list[int] | None) -> list[tuple[int, int, int, datetime.date]]:
    latest = (
        Refill.objects.filter(pump=OuterRef("pump"), voided_at__isnull=True)
        .order_by("-refilled_on", "-pk")
        .values("pk")[:1]
    )
    refills = Refill.objects.filter(pk=Subquery(latest), pump__in=Pump.objects.watched()).exclude(
        delivery_flag=Refill.DeliveryFlag.NONE
    )
    if pump_ids is not None:
        refills = refills.filter(pump_id__in=pump_ids)
    return list(refills.values_list("pk", "pump_id", "pump__patient_id", "refilled_on"))


# --------------------------------------------------------------------------
# Reconciling (one audited save per change)
# --------------------------------------------------------------------------


def alert_scan(*, as_of: datetime.date, by: Any) -> ScanResult:
    """Bring every pump's alerts in line with its stored dates on ``as_of``.

    1. Read what should be open (``alerts_wanted``) and what is (one query).
    2. Resolve the alerts that no longer apply (a refill moved the dates, the pump was
       replaced or explanted, a later refill was within range).
    3. Reopen snoozed alerts whose snooze ended before ``as_of``; keep ``due_on``
       (and a deviation's refill) current.
    4. Raise the missing ones; each new ``past_alarm_date`` also queues an immediate
       email in the outbox, in the same transaction as the alert.

    Each change is its own transaction, so one bad row cannot hold back every other
    pump's alerts; the scan is idempotent, so the next run finishes the job.
    """
    return _reconcile(as_of=as_of, by=by, pump_ids=None)


def alerts_refresh_for_pump(pump: Pump, *, as_of: datetime.date | None = None, by: Any) -> ScanResult:
    """The scan for one pump, run by the pumps services in the same transaction as a refill,
    dose change, replacement or explant, so that what it answers is resolved at once.

    Any immediate email it queues is sent after the commit (by a worker; if the broker is
    down the periodic retry sends it).
    """
    from spasticity.timeutil import clinic_today

    result = _reconcile(as_of=as_of or clinic_today(), by=by, pump_ids=[pump.pk])
    if result.notification_ids:
        notifications_send_soon()
    return result


def _reconcile(*, as_of: datetime.date, by: Any, pump_ids: list[int] | None) -> ScanResult:
    result = ScanResult(as_of=as_of)
    wanted = alerts_wanted(as_of=as_of, pump_ids=pump_ids)
    existing_alerts = Alert.objects.unresolved().select_related("pump", "patient")
    if pump_ids is not None:
        existing_alerts = existing_alerts.filter(pump_id__in=pump_ids)
    existing = {(alert.pump_id, alert.kind): alert for alert in existing_alerts}
    for key, alert in existing.items():
        want = wanted.get(key)
        if want is None or (want.refill_id is not None and want.refill_id != alert.refill_id):
            _resolve(alert, as_of=as_of, by=by, reason=_resolution(alert, want))
            result.resolved[alert.kind] += 1
        elif not _refresh(alert, want, as_of=as_of, by=by, result=result):
            result.unchanged += 1
    for key, want in wanted.items():
        # Missing, or just resolved because a newer flagged refill replaces it.
        alert = existing.get(key)
        if alert is None or alert.status == AlertStatus.RESOLVED:
            _raise(want, as_of=as_of, by=by, result=result)
    if result.changes:
        logger.info(result.summary())
    return result


def _resolution(alert: Alert, want: WantedAlert | None) -> str:
    pump = alert.pump
    if pump.is_voided:
        return "The pump record was voided."
    if alert.patient.is_voided:
        return "The patient record was voided."
    if pump.explanted_on:
        return f"The pump was explanted (or replaced) on {pump.explanted_on:%Y-%m-%d}."
    if want is not None:
        return f"A later refill on {want.due_on:%Y-%m-%d} was also flagged: see the new alert."
    return {
        rules.PAST_ALARM_DATE: "The pump was refilled or its alarm date moved: no longer past it.",
        rules.PROJECTION_MISSING: "The pump now has an active program and fill: its alarm date is known.",
        rules.REFILL_OVERDUE: "The pump was refilled or its refill-due date moved: no longer overdue.",
        rules.REFILL_DUE_SOON: "The refill-due date is no longer within the due-soon window.",
        rules.BATTERY_END_OF_LIFE: "End of service is no longer within the warning window.",
        rules.DELIVERY_DEVIATION: "A later refill was within the expected delivery range.",
    }.get(alert.kind, "No longer applies.")


def _resolve(alert: Alert, *, as_of: datetime.date, by: Any, reason: str) -> None:
    with transaction.atomic():
        alert.status = AlertStatus.RESOLVED
        alert.resolved_on = as_of
        alert.resolved_at = timezone.now()
        alert.resolution = reason[:200]
        audited_save(alert, by=by, reason=f"Resolved: {reason}"[:100])


def _refresh(alert: Alert, want: WantedAlert, *, as_of: datetime.date, by: Any, result: ScanResult) -> bool:
    """Reopen an expired snooze and keep the alert's date current; False when nothing moved."""
    reasons = []
    if alert.status == AlertStatus.SNOOZED and alert.snoozed_until is not None and alert.snoozed_until < as_of:
        alert.status = AlertStatus.OPEN
        reasons.append(f"Snooze ended on {alert.snoozed_until:%Y-%m-%d}: reopened")
        result.reopened[alert.kind] += 1
    if alert.due_on != want.due_on:
        reasons.append(f"Date moved from {alert.due_on:%Y-%m-%d} to {want.due_on:%Y-%m-%d}")
        alert.due_on = want.due_on
        result.updated[alert.kind] += 1
    if not reasons:
        return False
    with transaction.atomic():
        audited_save(alert, by=by, reason="; ".join(reasons)[:100])
    return True


def _raise(want: WantedAlert, *, as_of: datetime.date, by: Any, result: ScanResult) -> None:
    alert = Alert(
        kind=want.kind,
        pump_id=want.pump_id,
        patient_id=want.patient_id,
        due_on=want.due_on,
        urgency=rules.URGENCY[want.kind],
        raised_on=as_of,
        refill_id=want.refill_id,
    )
    try:
        with transaction.atomic():
            audited_save(alert, by=by, reason=f"Raised by the alert scan as of {as_of:%Y-%m-%d}")
            if want.kind == rules.PAST_ALARM_DATE:
                result.notification_ids.extend(immediate_queue(alert, as_of=as_of))
    except (IntegrityError, ValidationError) as error:
        # Another scan raised the same alert a moment ago: the constraint kept it single.
        logger.info("Alert %s for pump %s already raised: %s", want.kind, want.pump_id, error)
        return
    result.raised[want.kind] += 1
    result.new_alert_ids.append(alert.pk)


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
