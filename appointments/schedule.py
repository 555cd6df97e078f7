"""The date rules of booking and reminding, as plain functions (no Django): dates in, answers out.

* A refill is booked in the window ``refill_due_on − window_days`` to ``refill_due_on``.
  After ``refill_due_on`` it needs a confirmation reason; on or after ``alarm_date`` it is
  refused: the reservoir may run dry before the visit (spec section 7).
* The form suggests a weekday inside the window, about a week before the refill is due.
* A family is reminded ``first_days_before`` days before an appointment and on the day
  before; a run that finds an appointment nearer than its first reminder (booked late, or a
  missed daily run) sends the reminder it is now due, never a pile of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

DAY_BEFORE = 1
SATURDAY = 5


@dataclass(frozen=True)
class RefillWindow:
    """The days on which a refill may be booked without a reason."""

    opens_on: dt.date
    closes_on: dt.date  # the refill-due date


def refill_window(refill_due_on: dt.date | None, *, window_days: int) -> RefillWindow | None:
    if refill_due_on is None:
        return None
    return RefillWindow(opens_on=refill_due_on - dt.timedelta(days=window_days), closes_on=refill_due_on)


# Why a refill cannot be booked on a day (the message names the dates; the caller puts it on ``starts_at``).
ON_OR_AFTER_ALARM = "on_or_after_alarm"
AFTER_DUE_WITHOUT_REASON = "after_due_without_reason"


def refill_booking_problem(
    day: dt.date, *, refill_due_on: dt.date | None, alarm_date: dt.date | None, has_reason: bool
) -> str | None:
    """``ON_OR_AFTER_ALARM``, ``AFTER_DUE_WITHOUT_REASON`` or None (the day is fine)."""
    if alarm_date is not None and day >= alarm_date:
        return ON_OR_AFTER_ALARM
    if refill_due_on is not None and day > refill_due_on and not has_reason:
        return AFTER_DUE_WITHOUT_REASON
    return None


def suggested_refill_day(window: RefillWindow | None, *, today: dt.date, lead_days: int = 7) -> dt.date | None:
    """A weekday about ``lead_days`` before the refill is due, inside the window and not before tomorrow.

    When the whole window has passed (the refill is overdue) it is tomorrow: the form then asks
    for the confirmation reason that a booking after the due date needs.
    """
    if window is None:
        return None
    tomorrow = today + dt.timedelta(days=1)
    day = max(window.closes_on - dt.timedelta(days=lead_days), window.opens_on, tomorrow)
    if day > window.closes_on:
        return tomorrow
    # A weekend day moves to the weekday before it, or else after it, within the window; a
    # window with no weekday left keeps the weekend day (home visits happen then too).
    earliest = max(window.opens_on, tomorrow)
    earlier = [day - dt.timedelta(days=n) for n in range(3) if day - dt.timedelta(days=n) >= earliest]
    later = [day + dt.timedelta(days=n) for n in range(1, 3) if day + dt.timedelta(days=n) <= window.closes_on]
    return next((d for d in [*earlier, *later] if d.weekday() < SATURDAY), day)


def reminder_days_before(first_days_before: int) -> tuple[int, ...]:
    """The reminders each appointment gets, furthest first: e.g. (3, 1)."""
    return tuple(sorted({max(first_days_before, DAY_BEFORE), DAY_BEFORE}, reverse=True))


def reminder_due(*, days_until: int, reminders: tuple[int, ...]) -> int | None:
    """Which reminder (its days-before) is due for an appointment ``days_until`` days away, if any.

    The nearest reminder not yet passed: 3 days away → the 3-day one; 2 days away → still the
    3-day one (late); 1 day away → the day-before one; today or past → none.
    """
    if days_until < DAY_BEFORE:
        return None
    due = [days for days in reminders if days >= days_until]
    return min(due) if due else None
