"""What the pump's records do to its bookings: a refill or a dose change marks its booking attended
(in the same transaction, in few statements); an explant, a replacement or a voided record
cancels the bookings nobody can keep, with the reason audited.

The pump (``tests.appointments.conftest``): implanted 2024-01-15, refill due 2024-06-08.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial

import pytest
from django.core.exceptions import ValidationError

from appointments.models import Appointment
from pumps import services as pump_services
from pumps.models import Pump
from pumps.services import SurgeryDetails, pump_explant, pump_replace
from spasticity.audit import void_record
from tests.appointments.conftest import at
from tests.factories import DoseChangeFactory, PatientFactory, RefillFactory
from tests.pumps.test_pump_api import refill_body
from tests.pumps.test_write_query_counts import (
    ANSWERED_BOOKING_STATEMENTS,
    BRACKET,
    REFILL_STATEMENTS,
    SHORT,
    assert_count,
    due_day,
    pump_with_history,
    refill_kwargs,
    statements,
    warm,
)

pytestmark = pytest.mark.django_db
D = dt.date


def status(appointment: Appointment) -> str:
    return Appointment.objects.get(pk=appointment.pk).status


# --------------------------------------------------------------------------
# A visit answers its booking
# --------------------------------------------------------------------------


def test_recording_the_refill_through_the_api_marks_the_appointment_attended(api_as, pump, book, nurse):
    booked = book(pump, at(D(2024, 3, 15), 14, 0))

    response = api_as(nurse).post("/api/v1/refills/", refill_body(pump, refilled_on="2024-03-15"), format="json")

    assert response.status_code == 201, response.json()
    assert status(booked) == "attended"
    latest = Appointment.objects.get(pk=booked.pk).history.first()
    assert latest.history_user == nurse and "refill recorded on 2024-03-15" in latest.history_change_reason


def test_a_refill_marks_the_latest_booking_on_or_before_its_day_and_no_later_one(pump, book, nurse):
    earlier = book(pump, at(D(2024, 3, 1)))  # never marked
    titration = book(pump, at(D(2024, 3, 10)), kind="titration")

    RefillFactory(pump=pump, refilled_on=D(2024, 2, 20), by=nurse)
    assert status(earlier) == "booked"  # after the refill's day: still to come

    RefillFactory(pump=pump, refilled_on=D(2024, 4, 15), by=nurse)
    assert status(earlier) == "attended"
    assert status(titration) == "booked"  # a refill answers a refill booking only


def test_a_dose_change_marks_its_titration_visit_attended(pump, book, nurse):
    refill = book(pump, at(D(2024, 2, 1)))
    titration = book(pump, at(D(2024, 2, 1), 11, 0), kind="titration")

    DoseChangeFactory(pump=pump, changed_on=D(2024, 2, 1), by=nurse)

    assert (status(titration), status(refill)) == ("attended", "booked")


def test_a_refused_refill_leaves_the_booking_booked(pump, book, nurse):
    booked = book(pump, at(D(2024, 3, 15)))
    with pytest.raises(ValidationError) as refused:  # more than the reservoir holds
        RefillFactory(pump=pump, refilled_on=D(2024, 3, 15), volume_added_ml=Decimal("400"), by=nurse)
    assert "volume_added_ml" in refused.value.message_dict
    assert status(booked) == "booked"


def test_a_refill_that_answers_its_booking_takes_three_statements_more(surgeon, nurse, settings):
    # Monthly refills are always due within 30 days; a week keeps the alerts as counted (see the pumps test).
    settings.CLINIC = {**settings.CLINIC, "REFILL_NOT_BOOKED_DAYS": 7}
    pump = pump_with_history(SHORT, surgeon=surgeon, nurse=warm(nurse))
    day = due_day(pump)
    booked = Appointment(
        patient=pump.patient,
        pump=pump,
        kind="refill",
        starts_at=at(day, 9, 0),
        confirmation_reason="Booked late, after the refill-due date",
    )
    from appointments.services import appointment_book

    appointment_book(booked, staff=[nurse], by=nurse, today=day)
    pump = Pump.objects.get(pk=pump.pk)

    sqls = statements(partial(pump_services.refill_record, **refill_kwargs(pump, nurse, day)))

    assert_count(sqls, REFILL_STATEMENTS + ANSWERED_BOOKING_STATEMENTS + BRACKET)
    assert status(booked) == "attended"


# --------------------------------------------------------------------------
# Bookings nobody can keep
# --------------------------------------------------------------------------


def test_an_explant_cancels_the_pumps_bookings_from_that_day_on(pump, book, nurse, surgeon):
    before = book(pump, at(D(2024, 2, 28)))
    after = book(pump, at(D(2024, 3, 5)), kind="titration")
    review = book(None, at(D(2024, 3, 6)), kind="review", patient=pump.patient)  # about the patient: kept

    pump_explant(pump, by=surgeon, surgery=SurgeryDetails(performed_on=D(2024, 3, 1)), today=D(2024, 3, 1))

    assert (status(before), status(after), status(review)) == ("booked", "cancelled", "booked")
    cancelled = Appointment.objects.get(pk=after.pk)
    assert cancelled.cancel_reason == f"Pump {pump.serial_number} came out on 2024-03-01."
    last = cancelled.history.first()
    assert last.history_user == surgeon and last.history_change_reason.startswith("Cancelled: Pump")


def test_a_replacement_cancels_the_old_pumps_refill_and_voiding_it_books_nothing_again(pump, book, surgeon, doctor):
    booked = book(pump, at(D(2024, 5, 30)))
    new = pump_replace(
        pump,
        new_pump=Pump(model=pump.model, serial_number="NEW-0001", reservoir_volume_ml=Decimal(40)),
        by=surgeon,
        surgery=SurgeryDetails(performed_on=D(2024, 5, 1)),
        today=D(2024, 5, 1),
    )
    assert status(booked) == "cancelled"

    void_record(new, by=doctor, reason="Replacement entered on the wrong patient")

    pump.refresh_from_db()
    assert pump.explanted_on is None  # back in
    assert status(booked) == "cancelled"  # not rebooked: the nurse books anew
    assert not Appointment.objects.booked().filter(pump=pump).exists()


def test_voiding_a_pump_cancels_its_bookings(pump, book, doctor):
    booked = book(pump, at(D(2024, 5, 30)))
    void_record(pump, by=doctor, reason="Entered twice")
    cancelled = Appointment.objects.get(pk=booked.pk)
    assert cancelled.status == "cancelled" and "was voided" in cancelled.cancel_reason


def test_voiding_a_patient_cancels_their_bookings(book, nurse, doctor):
    patient = PatientFactory(assigned_nurse=nurse)
    review = book(None, at(D(2024, 5, 30)), kind="review", patient=patient)
    other = book(None, at(D(2024, 5, 30)), kind="review", patient=PatientFactory())

    void_record(patient, by=doctor, reason="Duplicate record")

    assert (status(review), status(other)) == ("cancelled", "booked")
    assert Appointment.objects.get(pk=review.pk).history.first().history_user == doctor


def test_a_refused_patient_void_cancels_nothing(pump, book, doctor):
    booked = book(pump, at(D(2024, 5, 30)))
    with pytest.raises(ValidationError, match="implanted"):
        void_record(pump.patient, by=doctor, reason="Duplicate record")
    assert status(booked) == "booked"
