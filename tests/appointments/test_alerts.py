"""The appointment alert kinds (``appointments.alert_source``): the pure rule on boundary days, the scan on
fixed dates, the refresh that each booking action runs, and the worklist and digest that show them.

The pump (``tests.appointments.conftest``): refill due 2024-06-08, alarm date 2024-06-15.
"""

from __future__ import annotations

import datetime as dt

import pytest

from alerts import rules
from alerts.models import Alert
from alerts.notifications import digest_alerts_by_nurse, digest_content
from alerts.services import alert_scan, alerts_refresh_for_pump, system_user
from alerts.sources import row_sources
from appointments import services
from appointments.alert_source import SOURCE, appointment_alerts
from appointments.models import Appointment
from tests.appointments.conftest import ALARM_ON, DUE_ON, at
from tests.factories import DoseChangeFactory, RefillFactory

D = dt.date
NOT_BOOKED, MISSED, AFTER_ALARM = rules.REFILL_NOT_BOOKED, rules.APPOINTMENT_MISSED, rules.BOOKING_AFTER_ALARM


def decide(as_of: dt.date, *, booked: dt.date | None = None, missed: dt.date | None = None, **dates):
    values = {"refill_due_on": DUE_ON, "alarm_date": ALARM_ON, **dates}
    return appointment_alerts(as_of=as_of, booked_refill_on=booked, missed_on=missed, within_days=30, **values)


# --------------------------------------------------------------------------
# The rule, from plain values
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "wanted"),
    [
        (D(2024, 5, 9), {NOT_BOOKED: DUE_ON}),  # due in exactly 30 days
        (D(2024, 5, 8), {}),  # 31 days
        (DUE_ON, {NOT_BOOKED: DUE_ON}),
        (D(2024, 6, 10), {NOT_BOOKED: DUE_ON}),  # overdue, still bookable (with a reason): nobody booked
        (ALARM_ON - dt.timedelta(days=1), {NOT_BOOKED: DUE_ON}),
        (ALARM_ON, {}),  # on the alarm date no booking is possible: past_alarm_date asks for the refill now
        (D(2024, 7, 1), {}),
    ],
)
def test_refill_not_booked_by_day_when_nothing_is_booked(as_of, wanted):
    assert decide(as_of) == wanted


@pytest.mark.parametrize(
    ("booked", "wanted"),
    [
        (D(2024, 6, 3), {}),  # booked ahead
        (D(2024, 5, 20), {}),  # booked for today
        (D(2024, 5, 19), {NOT_BOOKED: DUE_ON}),  # a day already past protects nothing
    ],
)
def test_a_booking_answers_refill_not_booked_from_its_day_on(booked, wanted):
    assert decide(D(2024, 5, 20), booked=booked) == wanted


def test_no_projection_or_no_due_date_is_never_refill_not_booked():
    assert decide(D(2024, 6, 1), refill_due_on=None, alarm_date=None) == {}


@pytest.mark.parametrize(
    ("booked", "wanted"),
    [
        (ALARM_ON - dt.timedelta(days=1), {}),
        (ALARM_ON, {AFTER_ALARM: ALARM_ON}),
        (ALARM_ON + dt.timedelta(days=3), {AFTER_ALARM: ALARM_ON}),
    ],
)
def test_booking_after_alarm_from_the_alarm_date_on(booked, wanted):
    assert decide(D(2024, 5, 1), booked=booked) == wanted


def test_a_missed_appointment_is_dated_with_the_missed_day_and_joins_the_other_kinds():
    assert decide(D(2024, 6, 1), missed=D(2024, 5, 28)) == {NOT_BOOKED: DUE_ON, MISSED: D(2024, 5, 28)}


def test_the_source_is_registered_with_its_three_kinds():
    assert SOURCE in row_sources()
    assert set(SOURCE.kinds) == {NOT_BOOKED, MISSED, AFTER_ALARM}
    assert set(SOURCE.kinds) <= set(rules.KINDS_BY_URGENCY)


# --------------------------------------------------------------------------
# The scan on fixed dates
# --------------------------------------------------------------------------


def open_kinds(pump) -> dict[str, dt.date]:
    """The pump's unresolved appointment alerts (its refill alerts, e.g. due soon, are not these tests')."""
    alerts = Alert.objects.unresolved().filter(pump=pump, kind__in=[NOT_BOOKED, MISSED, AFTER_ALARM])
    return dict(alerts.values_list("kind", "due_on"))


@pytest.mark.django_db
def test_a_scan_on_fixed_dates_raises_and_resolves_refill_not_booked(pump, book, nurse):
    system = system_user()

    alert_scan(as_of=D(2024, 5, 8), by=system)
    assert NOT_BOOKED not in open_kinds(pump)  # due in 31 days

    alert_scan(as_of=D(2024, 5, 9), by=system)
    assert open_kinds(pump)[NOT_BOOKED] == DUE_ON  # due in 30 days

    booked = book(pump, at(D(2024, 6, 3)), today=D(2024, 5, 9))
    assert NOT_BOOKED not in open_kinds(pump)  # resolved by the booking itself, in its transaction
    alert = Alert.objects.get(pump=pump, kind=NOT_BOOKED)
    assert alert.status == "resolved" and "booked" in alert.resolution

    alert_scan(as_of=D(2024, 5, 10), by=system)
    assert NOT_BOOKED not in open_kinds(pump)

    services.appointment_cancel(booked, by=nurse, reason="Family moving house", today=D(2024, 5, 11))
    assert open_kinds(pump)[NOT_BOOKED] == DUE_ON  # raised again at once

    book(pump, at(D(2024, 5, 20)), today=D(2024, 5, 12))
    alert_scan(as_of=D(2024, 5, 20), by=system)
    assert NOT_BOOKED not in open_kinds(pump)
    alert_scan(as_of=D(2024, 5, 21), by=system)  # the booked day passed and nobody marked it
    assert open_kinds(pump)[NOT_BOOKED] == DUE_ON
    assert alert_scan(as_of=D(2024, 5, 21), by=system).changes == 0


@pytest.mark.django_db
def test_a_missed_refill_raises_appointment_missed_until_a_new_booking_answers_it(pump, book, nurse):
    missed = book(pump, at(D(2024, 5, 28)))

    services.appointment_mark_no_show(missed, by=nurse, now=at(D(2024, 5, 29)))
    assert open_kinds(pump) == {MISSED: D(2024, 5, 28), NOT_BOOKED: DUE_ON}
    alert_scan(as_of=D(2024, 5, 30), by=system_user())
    assert open_kinds(pump)[MISSED] == D(2024, 5, 28)  # stays

    book(pump, at(D(2024, 6, 4)), today=D(2024, 5, 30))
    assert open_kinds(pump) == {}


@pytest.mark.django_db
def test_a_missed_refill_is_answered_by_the_refill(pump, book, nurse):
    missed = book(pump, at(D(2024, 5, 28)))
    services.appointment_mark_no_show(missed, by=nurse, now=at(D(2024, 5, 29)))

    RefillFactory(pump=pump, refilled_on=D(2024, 5, 30), by=nurse, today=D(2024, 5, 30))

    assert MISSED not in open_kinds(pump)


@pytest.mark.django_db
def test_a_dose_change_that_moves_the_alarm_before_the_booking_raises_booking_after_alarm(pump, book, nurse):
    booked = book(pump, at(D(2024, 6, 7)), today=D(2024, 5, 1))
    assert open_kinds(pump) == {}

    # Twice the dose from 2024-05-01: the reservoir runs down to its alarm volume weeks earlier.
    DoseChangeFactory(
        pump=pump,
        changed_on=D(2024, 5, 1),
        daily_dose_mcg="1000",
        confirmation_reason="Agreed at the MDT",
        by=nurse,
        today=D(2024, 5, 1),
    )
    pump.refresh_from_db()
    assert pump.alarm_date is not None and pump.alarm_date <= booked.starts_on
    assert open_kinds(pump)[AFTER_ALARM] == pump.alarm_date

    services.appointment_cancel(booked, by=nurse, reason="Too late now", today=D(2024, 5, 2))
    assert AFTER_ALARM not in open_kinds(pump)


@pytest.mark.django_db
def test_marking_attended_refreshes_the_alerts(pump, book, nurse):
    review = book(pump, at(D(2024, 5, 28)), kind="review")
    services.appointment_mark_no_show(review, by=nurse, now=at(D(2024, 5, 29)))
    assert MISSED in open_kinds(pump)
    later = book(pump, at(D(2024, 5, 30)), kind="review", today=D(2024, 5, 29))
    assert MISSED not in open_kinds(pump)  # a later review answers a missed review

    services.appointment_mark_attended(later, by=nurse, today=D(2024, 5, 30))
    assert MISSED not in open_kinds(pump)  # attended still answers it
    assert Appointment.objects.get(pk=later.pk).status == "attended"


@pytest.mark.django_db
def test_moving_a_booking_refreshes_the_alerts(pump, book, nurse):
    booked = book(pump, at(D(2024, 6, 3)), today=D(2024, 5, 20))
    booked.starts_at = at(D(2024, 5, 21))
    services.appointment_update(booked, by=nurse, today=D(2024, 5, 22), reason="Moved earlier")
    # Its day has passed by 2024-05-22: it protects nothing any more.
    assert open_kinds(pump) == {NOT_BOOKED: DUE_ON}


# --------------------------------------------------------------------------
# Through the API, and on the worklist and in the digest
# --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_no_show_through_the_api_raises_appointment_missed(api_as, pump, book, nurse):
    missed = book(pump, at(D(2024, 5, 28)))

    response = api_as(nurse).post(f"/api/v1/appointments/{missed.pk}/no-show/", {}, format="json")

    assert response.status_code == 200, response.json()
    alert = Alert.objects.unresolved().get(pump=pump, kind=MISSED)
    assert (alert.due_on, alert.urgency) == (D(2024, 5, 28), rules.URGENCY[MISSED])


@pytest.mark.django_db
def test_the_worklist_and_the_digest_show_the_new_kinds(client_as, pump, book, nurse):
    missed = book(pump, at(D(2024, 5, 28)))
    services.appointment_mark_no_show(missed, by=nurse, now=at(D(2024, 5, 29)))
    # As of the real today the pump (alarm 2024-06-15) is past its alarm date; as of 2024-05-29 it is not.
    alerts_refresh_for_pump(pump, as_of=D(2024, 5, 29), by=nurse)

    html = client_as(nurse).get("/alerts/worklist/?who=mine").content.decode()
    assert 'data-alert-kind="appointment_missed"' in html
    assert 'data-alert-kind="refill_not_booked"' in html

    alerts = digest_alerts_by_nurse(nurses=[nurse])[nurse.pk]
    kinds = [alert.kind for alert in alerts]
    assert kinds == [MISSED, NOT_BOOKED, rules.REFILL_DUE_SOON]  # most urgent first (22, 45, then 50)
    _subject, body = digest_content(recipient=nurse, as_of=D(2024, 5, 29), alerts=alerts)
    assert "APPOINTMENT MISSED" in body.upper() and "REFILL NOT BOOKED" in body.upper()


# --------------------------------------------------------------------------
# At scale: the source adds values to the scan's one pump query, not queries
# --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_scan_chunk_with_the_appointment_kinds_runs_the_same_statements_for_10_and_500_pumps(settings, nurse):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from alerts.services import alert_scan_chunk
    from tests.alerts.conftest import bulk_pumps

    settings.CLINIC = {**settings.CLINIC, "SCAN_CHUNK_PUMPS": 10_000_000}
    by, as_of = system_user(), D(2024, 6, 1)  # due 2024-06-08: due soon, and not booked

    def scan() -> tuple[int, object]:
        with CaptureQueriesContext(connection) as queries:
            result = alert_scan_chunk(0, as_of=as_of, by=by)
        return len(queries), result

    bulk_pumps(10, nurse=nurse)
    few, result = scan()
    assert result.raised[NOT_BOOKED] == 10
    bulk_pumps(490, nurse=nurse)
    many, result = scan()
    assert result.raised[NOT_BOOKED] == 490 and result.raised[rules.REFILL_DUE_SOON] == 490
    assert few == many
