"""Which alerts a pump needs on a date, and how urgent each kind is (pure: no Django).

The scan (``alerts.services.alert_scan``) reads the pump's stored columns and asks
``pump_alert_conditions`` which refill and battery alerts should be open; it is kept
pure so that every boundary day can be tested from plain dates.

Urgency, most urgent first (a lower rank sorts first everywhere: worklist, digest, API).
Ranks are spaced by tens so that a new kind slots in without renumbering stored alerts.

10. ``past_alarm_date``: the reservoir has reached its alarm volume, so the child may be
    days from running dry and from baclofen withdrawal. The only kind that also sends an
    immediate email.
15. ``projection_missing``: a pump in a patient with no active program or no active
    fill, so nobody knows when it runs dry: nothing else can warn about it.
20. ``refill_overdue``: past the refill-due date, still before the alarm date.
30. ``battery_end_of_life``: the pump stops at end of service; a replacement needs a
    surgical slot, so it ranks above the delivery and planning alerts.
40. ``delivery_deviation``: a refill found more or less drug delivered than projected
    (a possible catheter or pump problem to review), or came after the projected empty
    day (the pump may have run dry).
50. ``refill_due_soon``: a refill to book within the next 14 days.
"""

from __future__ import annotations

from datetime import date, timedelta

from alerts.overdue import NO_PROJECTION, OVERDUE, PAST_ALARM, overdue_status

PAST_ALARM_DATE = "past_alarm_date"
PROJECTION_MISSING = "projection_missing"
REFILL_OVERDUE = "refill_overdue"
BATTERY_END_OF_LIFE = "battery_end_of_life"
DELIVERY_DEVIATION = "delivery_deviation"
REFILL_DUE_SOON = "refill_due_soon"

URGENCY: dict[str, int] = {
    PAST_ALARM_DATE: 10,
    PROJECTION_MISSING: 15,
    REFILL_OVERDUE: 20,
    BATTERY_END_OF_LIFE: 30,
    DELIVERY_DEVIATION: 40,
    REFILL_DUE_SOON: 50,
}
KINDS_BY_URGENCY: tuple[str, ...] = tuple(sorted(URGENCY, key=URGENCY.__getitem__))
# Withdrawal risk: never snoozed, only acknowledged with a note (spec "Alerts and jobs").
UNSNOOZABLE_KINDS: frozenset[str] = frozenset({PAST_ALARM_DATE})


def pump_alert_conditions(
    *,
    as_of: date,
    refill_due_on: date | None,
    alarm_date: date | None,
    battery_end_of_service_on: date | None,
    due_soon_days: int,
    battery_warning_days: int,
) -> dict[str, date | None]:
    """The refill and battery alerts a watched pump needs on ``as_of``, with the date each is about.

    1. The refill status from ``alerts.overdue.overdue_status`` (the one classifier the
       reports use too): no projection (no alarm date) gives ``projection_missing``;
       past the alarm date gives ``past_alarm_date``, which supersedes
       ``refill_overdue`` (the refill-due date always comes before the alarm date), so
       the nurse sees one alert with the real urgency rather than two; past the
       refill-due date gives ``refill_overdue``.
    2. Otherwise due today or within ``due_soon_days``: ``refill_due_soon``.
    3. Independently, end of service on or before ``as_of + battery_warning_days``
       (including an end of service already passed): ``battery_end_of_life``.
    ``projection_missing`` has no date of its own (None): the scan dates it with the
    pump's implant.
    """
    wanted: dict[str, date | None] = {}
    status = overdue_status(as_of=as_of, refill_due_on=refill_due_on, alarm_date=alarm_date)
    if status == NO_PROJECTION:
        wanted[PROJECTION_MISSING] = None
    elif status == PAST_ALARM:
        wanted[PAST_ALARM_DATE] = alarm_date
    elif status == OVERDUE:
        wanted[REFILL_OVERDUE] = refill_due_on
    elif refill_due_on is not None and refill_due_on <= as_of + timedelta(days=due_soon_days):
        wanted[REFILL_DUE_SOON] = refill_due_on
    if battery_end_of_service_on is not None and battery_end_of_service_on <= as_of + timedelta(
        days=battery_warning_days
    ):
        wanted[BATTERY_END_OF_LIFE] = battery_end_of_service_on
    return wanted
