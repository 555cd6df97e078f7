"""What the pages and, later, the alert scan read: each one query, on fixed dates."""

from __future__ import annotations

import datetime as dt

import pytest

from appointments import selectors, services
from appointments.models import Appointment
from pumps.models import Pump
from spasticity.audit import void_record
from tests.appointments.conftest import ALARM_ON, DUE_ON, at
from tests.factories import DoseChangeFactory, PatientFactory, PumpFactory, RefillFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pumps(nurse, surgeon) -> list[Pump]:
    return [PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon) for _ in range(3)]


def test_the_pumps_booked_refill_and_the_bulk_version_for_lists(pumps, book, nurse, django_assert_num_queries):
    first, second, _unbooked = pumps
    refill = book(first, at(DUE_ON))
    book(first, at(DUE_ON), kind="titration")
    cancelled = book(second, at(DUE_ON))
    services.appointment_cancel(cancelled, by=nurse, reason="Unwell")

    with django_assert_num_queries(1):
        assert selectors.booked_refill(first) == refill
    assert selectors.booked_refill(second) is None
    with django_assert_num_queries(1):
        by_pump = selectors.booked_refills_by_pump([pump.pk for pump in pumps])
    assert by_pump == {first.pk: refill}


def test_the_booked_refill_can_be_annotated_on_a_pump_list(pumps, book):
    book(pumps[0], at(DUE_ON, 9, 15))
    rows = dict(
        Pump.objects.filter(pk__in=[pump.pk for pump in pumps])
        .annotate(booked_at=selectors.booked_refill_starts_at())
        .values_list("pk", "booked_at")
    )
    assert rows == {pumps[0].pk: at(DUE_ON, 9, 15), pumps[1].pk: None, pumps[2].pk: None}


def test_refill_not_booked_lists_watched_pumps_due_within_the_days_with_no_refill_booked_ahead(
    pumps, book, django_assert_num_queries
):
    booked_ahead, booked_in_the_past, nothing = pumps
    book(booked_ahead, at(DUE_ON))
    book(booked_in_the_past, at(dt.date(2024, 5, 1)))  # never marked: protects nothing by 2024-05-20
    # Due earlier and already overdue on the day: listed too (nothing booked).
    overdue = PumpFactory(patient=PatientFactory())
    Pump.objects.filter(pk=overdue.pk).update(refill_due_on=dt.date(2024, 5, 10))
    as_of = dt.date(2024, 5, 20)  # due 2024-06-08: 19 days ahead

    with django_assert_num_queries(1):
        within_30 = list(selectors.refill_not_booked_pumps(as_of=as_of, within_days=30))
    within_10 = list(selectors.refill_not_booked_pumps(as_of=as_of, within_days=10))
    chunk = list(selectors.refill_not_booked_pumps(as_of=as_of, within_days=30, pump_ids=[nothing.pk]))

    assert within_30 == [overdue, booked_in_the_past, nothing]
    assert within_10 == [overdue]
    assert chunk == [nothing]


def test_an_explanted_pump_or_a_voided_patient_is_not_watched(pumps, doctor, surgeon):
    from pumps.services import SurgeryDetails, pump_explant

    explanted, voided, watched = pumps
    pump_explant(explanted, by=surgeon, surgery=SurgeryDetails(performed_on=dt.date(2024, 3, 1)))
    Pump.objects.filter(pk=voided.pk).update(explanted_on=None)
    voided.patient.voided_at = voided.patient.created_at
    voided.patient.save(update_fields=["voided_at"])

    found = list(selectors.refill_not_booked_pumps(as_of=dt.date(2024, 5, 20), within_days=30))

    assert found == [watched]


def test_a_missed_refill_stays_unanswered_until_a_new_booking_or_a_refill(
    pumps, book, nurse, django_assert_num_queries
):
    rebooked, refilled, waiting = pumps
    missed = {}
    for pump in pumps:
        missed[pump.pk] = book(pump, at(dt.date(2024, 5, 28)))
        services.appointment_mark_no_show(missed[pump.pk], by=nurse, now=at(dt.date(2024, 5, 29)))
    book(rebooked, at(dt.date(2024, 6, 3)))
    RefillFactory(pump=refilled, refilled_on=dt.date(2024, 5, 30), by=nurse)

    with django_assert_num_queries(1):
        unanswered = list(selectors.no_shows_unanswered())

    assert unanswered == [missed[waiting.pk]]
    assert list(selectors.no_shows_unanswered(pump_ids=[rebooked.pk])) == []


def test_a_refill_before_the_missed_day_does_not_answer_it(pumps, book, nurse):
    pump = pumps[0]
    RefillFactory(pump=pump, refilled_on=dt.date(2024, 5, 1), by=nurse)
    missed = book(pump, at(dt.date(2024, 5, 28)), confirmation_reason="Whatever the new dates")
    services.appointment_mark_no_show(missed, by=nurse, now=at(dt.date(2024, 5, 29)))
    assert list(selectors.no_shows_unanswered()) == [missed]


def test_a_missed_titration_visit_is_answered_by_a_dose_change(pumps, book, nurse):
    pump = pumps[0]
    missed = book(pump, at(dt.date(2024, 2, 1)), kind="titration")
    services.appointment_mark_no_show(missed, by=nurse, now=at(dt.date(2024, 2, 2)))
    assert list(selectors.no_shows_unanswered()) == [missed]
    DoseChangeFactory(pump=pump, changed_on=dt.date(2024, 2, 5), by=nurse)
    assert list(selectors.no_shows_unanswered()) == []


def test_a_booking_that_falls_on_or_after_a_moved_alarm_date_is_listed(pumps, book, django_assert_num_queries):
    late, fine, titration_only = pumps
    book(late, at(DUE_ON))
    book(fine, at(DUE_ON - dt.timedelta(days=5)))
    book(titration_only, at(ALARM_ON + dt.timedelta(days=5)), kind="titration")
    # A dose increase brings the alarm forward after the bookings were made.
    Pump.objects.filter(pk__in=[late.pk, fine.pk, titration_only.pk]).update(alarm_date=DUE_ON)

    with django_assert_num_queries(1):
        after_alarm = list(selectors.bookings_after_alarm())

    assert [appointment.pump for appointment in after_alarm] == [late]


def test_the_week_lists_a_staff_members_appointments_in_one_query(
    pumps, book, nurse, doctor, django_assert_num_queries
):
    mine = book(pumps[0], at(dt.date(2024, 6, 3), 9), staff=[doctor, nurse])
    book(pumps[1], at(dt.date(2024, 6, 4)), staff=[doctor])
    book(pumps[2], at(dt.date(2024, 6, 10)), kind="review")  # next week
    voided = book(pumps[2], at(dt.date(2024, 6, 4), 11), kind="review")
    void_record(voided, by=nurse, reason="Booked twice")

    with django_assert_num_queries(1):
        week = selectors.appointments_between(
            first_day=dt.date(2024, 6, 3), last_day=dt.date(2024, 6, 9), staff_id=nurse.pk
        )
        names = [(a.patient.mrn, a.pump.serial_number, a.lead_staff.username) for a in week]

    assert [appointment.pk for appointment in week] == [mine.pk]
    assert names == [(mine.patient.mrn, mine.pump.serial_number, doctor.username)]
    assert Appointment.objects.count() == 4
