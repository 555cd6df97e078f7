"""Which alerts a pump needs on a date, and how urgent each kind is (pure: no Django).

The scan (``alerts.services.alert_scan``) reads the pump's stored columns and asks
``pump_alert_conditions`` which refill and battery alerts should be open; it is kept
pure so that every boundary day can be tested from plain dates.

Urgency, most urgent first (a lower rank sorts first everywhere: worklist, digest, API):

1. ``past_alarm_date``: the reservoir has reached its alarm volume, so the child may be
   days from running dry and from baclofen withdrawal. The only kind that also sends an
   immediate email.
2. ``refill_overdue``: past the refill-due date, still before the alarm date.
3. ``battery_end_of_life``: the pump stops at end of service; a replacement needs a
   surgical slot, so it ranks above the delivery and planning alerts.
4. ``delivery_deviation``: a refill found more or less drug delivered than projected
   (a possible catheter or pump problem to review).
5. ``refill_due_soon``: a refill to book within the next 14 days.
"""

from __future__ import annotations

from datetime import date, timedelta

PAST_ALARM_DATE = "past_alarm_date"
REFILL_OVERDUE = "refill_overdue"
BATTERY_END_OF_LIFE = "battery_end_of_life"
DELIVERY_DEVIATION = "delivery_deviation"
REFILL_DUE_SOON = "refill_due_soon"

URGENCY: dict[str, int] = {
    PAST_ALARM_DATE: 1,
    REFILL_OVERDUE: 2,
    BATTERY_END_OF_LIFE: 3,
    DELIVERY_DEVIATION: 4,
    REFILL_DUE_SOON: 5,
}
KINDS_BY_URGENCY: tuple[str, ...] = tuple(sorted(URGENCY, key=URGENCY.__getitem__))


def pump_alert_conditions(
    *,
    as_of: date,
    refill_due_on: date | None,
    alarm_date: date | None,
    battery_end_of_service_on: date | None,
    due_soon_days: int,
    battery_warning_days: int,
) -> dict[str, date]:
    """The refill and battery alerts an implanted pump needs on ``as_of``, with the date each is about.

    1. Past the alarm date (``as_of > alarm_date``): ``past_alarm_date``. It supersedes
       ``refill_overdue`` (the refill-due date always comes before the alarm date), so
       the nurse sees one alert with the real urgency rather than two.
    2. Otherwise past the refill-due date (``as_of > refill_due_on``): ``refill_overdue``.
    3. Otherwise due today or within ``due_soon_days``: ``refill_due_soon``.
    4. Independently, end of service on or before ``as_of + battery_warning_days``
       (including an end of service already passed): ``battery_end_of_life``.
    """
    wanted: dict[str, date] = {}
    if alarm_date is not None and as_of > alarm_date:
        wanted[PAST_ALARM_DATE] = alarm_date
    elif refill_due_on is not None and as_of > refill_due_on:
        wanted[REFILL_OVERDUE] = refill_due_on
    elif refill_due_on is not None and refill_due_on <= as_of + timedelta(days=due_soon_days):
        wanted[REFILL_DUE_SOON] = refill_due_on
    if battery_end_of_service_on is not None and battery_end_of_service_on <= as_of + timedelta(
        days=battery_warning_days
    ):
        wanted[BATTERY_END_OF_LIFE] = battery_end_of_service_on
    return wanted
