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

Kinds raised from other records than the pump's dates (each has its own source in
``alerts.sources``):

16. ``mri_follow_up_missing``: an MRI with no follow-up recorded within 24 hours: a
    Prometra emptied for the scan and not refilled, or a SynchroMed whose motor restart
    was never confirmed. Either way the pump may be delivering nothing.
17. ``second_check_disagreed``: a second checker disagreed with a refill or dose change
    that is already programmed: the pump may be delivering the wrong dose now.
22. ``appointment_missed``: a family did not come to a booked appointment; it stays
    until a new booking or a refill answers it.
25. ``second_check_missing``: a refill or dose change still waits for its independent
    second check after ``CLINIC["SECOND_CHECK_HOURS"]``.
27. ``booking_after_alarm``: the booked refill now falls on or after the pump's alarm
    date (the pump was refilled or its dose changed since the booking).
45. ``refill_not_booked``: refill due within ``CLINIC["REFILL_NOT_BOOKED_DAYS"]`` with
    no booked refill appointment.
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
MRI_FOLLOW_UP_MISSING = "mri_follow_up_missing"
SECOND_CHECK_DISAGREED = "second_check_disagreed"
APPOINTMENT_MISSED = "appointment_missed"
SECOND_CHECK_MISSING = "second_check_missing"
BOOKING_AFTER_ALARM = "booking_after_alarm"
REFILL_NOT_BOOKED = "refill_not_booked"

URGENCY: dict[str, int] = {
    PAST_ALARM_DATE: 10,
    PROJECTION_MISSING: 15,
    REFILL_OVERDUE: 20,
    BATTERY_END_OF_LIFE: 30,
    DELIVERY_DEVIATION: 40,
    REFILL_DUE_SOON: 50,
    MRI_FOLLOW_UP_MISSING: 16,
    SECOND_CHECK_DISAGREED: 17,
    APPOINTMENT_MISSED: 22,
    SECOND_CHECK_MISSING: 25,
    BOOKING_AFTER_ALARM: 27,
    REFILL_NOT_BOOKED: 45,
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
