"""What the alert scan must change, planned from plain values (pure: no Django).

The scan reads two things for a chunk of pumps: the alerts the rules want open
(``WantedAlert``, from the pumps' stored dates) and the alerts that are open now
(``CurrentAlert``, read under a row lock). ``plan_scan`` compares them and returns
every change as data: raise, resolve, reopen, update. ``alerts.services`` then
applies the plan in bulk, with one history row per change.

Keeping the decision pure means every rule of reconciliation is tested from plain
values, and the write path only has to be fast and safe, not clever.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from alerts import rules

# Reasons are stored in the history's change reason (100 characters) and the alert's
# resolution (200 characters).
CHANGE_REASON_MAX_CHARS = 100
RESOLUTION_MAX_CHARS = 200


@dataclass(frozen=True)
class WantedAlert:
    """An alert the rules want open on the scan date."""

    pump_id: int
    patient_id: int
    kind: str
    due_on: datetime.date
    refill_id: int | None = None


@dataclass(frozen=True)
class CurrentAlert:
    """An unresolved alert as stored, with what the resolution message needs to know of its pump."""

    alert_id: int
    pump_id: int
    kind: str
    status: str
    due_on: datetime.date
    snoozed_until: datetime.date | None = None
    refill_id: int | None = None
    pump_voided: bool = False
    patient_voided: bool = False
    pump_explanted_on: datetime.date | None = None


@dataclass(frozen=True)
class Resolution:
    alert_id: int
    kind: str
    reason: str


@dataclass(frozen=True)
class Refresh:
    """An alert that stays open but changes: a snooze that ended, or a date that moved."""

    alert_id: int
    kind: str
    reopen: bool
    due_on: datetime.date
    date_moved: bool
    reason: str


@dataclass
class ScanPlan:
    raises: list[WantedAlert] = field(default_factory=list)
    resolutions: list[Resolution] = field(default_factory=list)
    refreshes: list[Refresh] = field(default_factory=list)
    unchanged: int = 0

    @property
    def is_empty(self) -> bool:
        return not (self.raises or self.resolutions or self.refreshes)

    def counts(self) -> dict[str, Counter[str]]:
        return {
            "raised": Counter(want.kind for want in self.raises),
            "resolved": Counter(resolution.kind for resolution in self.resolutions),
            "reopened": Counter(refresh.kind for refresh in self.refreshes if refresh.reopen),
            "updated": Counter(refresh.kind for refresh in self.refreshes if refresh.date_moved),
        }


AlertKey = tuple[int, str]  # (pump id, kind): at most one unresolved alert each (a database constraint)

_NO_LONGER_APPLIES: dict[str, str] = {
    rules.PAST_ALARM_DATE: "The pump was refilled or its alarm date moved: no longer past it.",
    rules.PROJECTION_MISSING: "The pump now has an active program and fill: its alarm date is known.",
    rules.REFILL_OVERDUE: "The pump was refilled or its refill-due date moved: no longer overdue.",
    rules.REFILL_DUE_SOON: "The refill-due date is no longer within the due-soon window.",
    rules.BATTERY_END_OF_LIFE: "End of service is no longer within the warning window.",
    rules.DELIVERY_DEVIATION: "A later refill was within the expected delivery range.",
    rules.REFILL_NOT_BOOKED: "A refill appointment is booked, or the refill is no longer due within the window.",
    rules.APPOINTMENT_MISSED: "A new appointment was booked or the pump was refilled.",
    rules.BOOKING_AFTER_ALARM: "The booked refill is now before the alarm date, or it was moved or cancelled.",
    rules.SECOND_CHECK_MISSING: "The second check was recorded.",
    rules.SECOND_CHECK_DISAGREED: "The disagreement was answered.",
    rules.MRI_FOLLOW_UP_MISSING: "The MRI follow-up was recorded.",
}


def resolution_reason(current: CurrentAlert, want: WantedAlert | None) -> str:
    """Why an open alert no longer applies, in words a nurse reads on the alert's history."""
    if current.pump_voided:
        return "The pump record was voided."
    if current.patient_voided:
        return "The patient record was voided."
    if current.pump_explanted_on is not None:
        return f"The pump was explanted (or replaced) on {current.pump_explanted_on:%Y-%m-%d}."
    if want is not None:
        return f"A later refill on {want.due_on:%Y-%m-%d} was also flagged: see the new alert."
    return _NO_LONGER_APPLIES.get(current.kind, "No longer applies.")


def _refresh(current: CurrentAlert, want: WantedAlert, *, as_of: datetime.date) -> Refresh | None:
    """Reopen an ended snooze and keep the alert's date current; None when nothing moves."""
    reasons = []
    reopen = current.status == "snoozed" and current.snoozed_until is not None and current.snoozed_until < as_of
    if reopen and current.snoozed_until is not None:
        reasons.append(f"Snooze ended on {current.snoozed_until:%Y-%m-%d}: reopened")
    date_moved = current.due_on != want.due_on
    if date_moved:
        reasons.append(f"Date moved from {current.due_on:%Y-%m-%d} to {want.due_on:%Y-%m-%d}")
    if not reasons:
        return None
    return Refresh(
        alert_id=current.alert_id,
        kind=current.kind,
        reopen=reopen,
        due_on=want.due_on,
        date_moved=date_moved,
        reason="; ".join(reasons)[:CHANGE_REASON_MAX_CHARS],
    )


def plan_scan(
    wanted: Mapping[AlertKey, WantedAlert], current: Mapping[AlertKey, CurrentAlert], *, as_of: datetime.date
) -> ScanPlan:
    """Compare what the rules want open with what is open, for the same set of pumps.

    1. An open alert nobody wants any more is resolved; so is a ``delivery_deviation``
       about an older refill when a newer refill is flagged (the new one is raised).
    2. An open alert still wanted is reopened when its snooze ended before ``as_of``,
       and its date follows the pump's (a refill may move a due date while it is open).
    3. A wanted alert with no open one is raised.

    Resolutions come before raises in the plan, and must be applied first: the new
    deviation alert would otherwise meet the one-open-alert-per-kind constraint.
    """
    plan = ScanPlan()
    for key, alert in current.items():
        want = wanted.get(key)
        if want is None or (want.refill_id is not None and want.refill_id != alert.refill_id):
            reason = resolution_reason(alert, want)
            plan.resolutions.append(Resolution(alert.alert_id, alert.kind, reason[:RESOLUTION_MAX_CHARS]))
            continue
        refresh = _refresh(alert, want, as_of=as_of)
        if refresh is None:
            plan.unchanged += 1
        else:
            plan.refreshes.append(refresh)
    resolved_keys = {(current_alert.pump_id, current_alert.kind) for current_alert in _resolved(plan, current)}
    for key, want in wanted.items():
        if key not in current or key in resolved_keys:
            plan.raises.append(want)
    return plan


def _resolved(plan: ScanPlan, current: Mapping[AlertKey, CurrentAlert]) -> list[CurrentAlert]:
    resolved_ids = {resolution.alert_id for resolution in plan.resolutions}
    return [alert for alert in current.values() if alert.alert_id in resolved_ids]
