"""The booking rules, called on the services directly (the API and page tests check they reach them)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from appointments import services
from appointments.models import Appointment
from spasticity.audit import StaleEditError, void_record
from spasticity.integrity import integrity_validation_error
from tests.appointments.conftest import ALARM_ON, DUE_ON, WINDOW_OPENS, at
from tests.factories import PatientFactory, PumpFactory, UserFactory

pytestmark = pytest.mark.django_db


def messages(error: ValidationError) -> dict[str, list[str]]:
    return error.message_dict


# --------------------------------------------------------------------------
# The refill window
# --------------------------------------------------------------------------


def test_a_refill_inside_the_window_is_booked_with_its_history(pump, book, nurse):
    appointment = book(pump, at(WINDOW_OPENS + dt.timedelta(days=3)))
    appointment.refresh_from_db()
    assert (appointment.status, appointment.lead_staff, appointment.second_staff) == ("booked", nurse, None)
    entry = appointment.history.get()
    assert (entry.history_user, entry.history_change_reason) == (nurse, "Booked")


def test_a_refill_after_the_due_date_needs_a_confirmation_reason(pump, book):
    with pytest.raises(ValidationError) as refused:
        book(pump, at(DUE_ON + dt.timedelta(days=2)))
    assert list(messages(refused.value)) == ["starts_at"]
    assert "after the pump's refill-due date (2024-06-08)" in messages(refused.value)["starts_at"][0]
    assert "2024-05-25 and 2024-06-08" in messages(refused.value)["starts_at"][0]

    booked = book(pump, at(DUE_ON + dt.timedelta(days=2)), confirmation_reason="Family away until the 10th")
    assert booked.confirmation_reason == "Family away until the 10th"


@pytest.mark.parametrize("day", [ALARM_ON, ALARM_ON + dt.timedelta(days=10)])
def test_a_refill_on_or_after_the_alarm_date_is_refused_even_with_a_reason(pump, book, day):
    with pytest.raises(ValidationError) as refused:
        book(pump, at(day, 8), confirmation_reason="Only day the family can come")
    assert list(messages(refused.value)) == ["starts_at"]
    assert "on or after the pump's alarm date (2024-06-15)" in messages(refused.value)["starts_at"][0]
    assert not Appointment.objects.exists()


def test_the_day_is_the_clinic_local_day_not_the_utc_one(pump, book):
    # 00:30 on the alarm day in London is 23:30 UTC the day before: still the alarm day.
    with pytest.raises(ValidationError):
        book(pump, at(ALARM_ON, 0, 30))
    assert book(pump, at(ALARM_ON - dt.timedelta(days=1), 23, 30), confirmation_reason="Late clinic").pk


def test_other_kinds_ignore_the_refill_window(pump, book):
    assert book(pump, at(ALARM_ON + dt.timedelta(days=30)), kind="titration").status == "booked"
    assert book(None, at(ALARM_ON), kind="review", patient=pump.patient).pump is None


# --------------------------------------------------------------------------
# What a booking must name
# --------------------------------------------------------------------------


def test_a_refill_must_name_a_pump_of_this_patient(pump, book, surgeon):
    with pytest.raises(ValidationError) as no_pump:
        book(None, at(DUE_ON), patient=pump.patient)
    other = PumpFactory(by=surgeon)
    with pytest.raises(ValidationError) as other_patients:
        book(other, at(DUE_ON), patient=pump.patient)
    assert messages(no_pump.value) == {"pump": ["A refill is about a pump: choose the pump."]}
    assert messages(other_patients.value) == {"pump": ["This pump is another patient's."]}


def test_staff_is_one_or_two_active_clinic_staff(pump, book, nurse, doctor, administrator):
    outsider = UserFactory()
    gone = UserFactory(role="pump_nurse", is_active=False)
    cases = {
        "none": [],
        "three": [nurse, doctor, administrator],
        "twice": [nurse, nurse],
        "no role": [nurse, outsider],
        "inactive": [gone],
    }
    for label, staff in cases.items():
        with pytest.raises(ValidationError) as refused:
            appointment = Appointment(patient=pump.patient, pump=pump, kind="refill", starts_at=at(DUE_ON))
            services.appointment_book(appointment, staff=staff, by=nurse)
        assert list(messages(refused.value)) == ["staff"], label
    two = book(pump, at(DUE_ON), staff=[nurse, doctor])
    assert two.staff == [nurse, doctor]


def test_nothing_is_booked_for_a_voided_patient_or_an_explanted_pump(book, doctor, surgeon):
    patient = PatientFactory()
    void_record(patient, by=doctor, reason="Registered twice")
    with pytest.raises(ValidationError) as voided:
        book(None, at(DUE_ON), kind="review", patient=patient)
    assert list(messages(voided.value)) == ["patient"]

    pump = PumpFactory(by=surgeon)
    from pumps.services import SurgeryDetails, pump_explant

    pump_explant(pump, by=surgeon, surgery=SurgeryDetails(performed_on=dt.date(2024, 3, 1)))
    with pytest.raises(ValidationError) as explanted:
        book(pump, at(DUE_ON), kind="titration")
    assert messages(explanted.value) == {"pump": ["This pump was explanted on 2024-03-01."]}


def test_a_pump_has_one_booked_refill_and_a_race_is_a_message_on_pump(pump, book, nurse):
    first = book(pump, at(DUE_ON))
    with pytest.raises(ValidationError) as second:
        book(pump, at(DUE_ON - dt.timedelta(days=1)))
    assert messages(second.value) == {
        "pump": ["This pump already has a refill booked on 2024-06-08 10:00: change or cancel that one."]
    }
    # Two bookings racing past that check: the database refuses the second, with a message on the pump.
    with pytest.raises(IntegrityError) as race, transaction.atomic():
        Appointment.objects.create(
            patient=pump.patient,
            pump=pump,
            kind="refill",
            starts_at=at(DUE_ON - dt.timedelta(days=2)),
            lead_staff=nurse,
        )
    assert integrity_validation_error(race.value).message_dict == {
        "pump": ["This pump already has a refill booked: change or cancel that one."]
    }
    # Once the first is cancelled, the next refill can be booked.
    services.appointment_cancel(first, by=nurse, reason="Moved to a home visit")
    assert book(pump, at(DUE_ON - dt.timedelta(days=1)), place="home").status == "booked"


@pytest.mark.parametrize("role", ["physical_therapist", "neurosurgeon", "outsider"])
def test_only_nurses_doctors_and_administrators_book(pump, book, personas, role):
    with pytest.raises(PermissionDenied):
        book(pump, at(DUE_ON), by=personas[role])


@pytest.mark.parametrize("role", ["rehab_doctor", "pump_nurse", "administrator"])
def test_nurses_doctors_and_administrators_book_and_cancel(pump, book, personas, role):
    appointment = book(pump, at(DUE_ON), by=personas[role])
    services.appointment_cancel(appointment, by=personas[role], reason="Family moved the date")
    assert Appointment.objects.get().status == "cancelled"


# --------------------------------------------------------------------------
# Changes
# --------------------------------------------------------------------------


def test_moving_a_refill_checks_the_window_again_but_a_note_does_not(pump, book, nurse):
    appointment = book(pump, at(DUE_ON))
    appointment.starts_at = at(ALARM_ON)
    with pytest.raises(ValidationError) as refused:
        services.appointment_update(appointment, by=nurse, expected_version=1)
    assert list(messages(refused.value)) == ["starts_at"]

    # The pump's dates move under a booking (a dose change): a note still saves.
    appointment = Appointment.objects.get()
    type(pump).objects.filter(pk=pump.pk).update(alarm_date=DUE_ON - dt.timedelta(days=3))
    appointment.notes = "Bring the ultrasound"
    services.appointment_update(appointment, by=nurse, expected_version=1)
    assert Appointment.objects.get().version == 2


def test_a_stale_change_is_refused(pump, book, nurse):
    appointment = book(pump, at(DUE_ON))
    services.appointment_update(appointment, by=nurse, expected_version=1, reason="Note")
    stale = Appointment.objects.get()
    stale.version = 1
    with pytest.raises(StaleEditError):
        services.appointment_cancel(stale, by=nurse, reason="Moved", expected_version=1)


def test_a_cancelled_appointment_is_not_moved_and_cannot_move_patient(pump, book, nurse):
    appointment = book(pump, at(DUE_ON))
    services.appointment_cancel(appointment, by=nurse, reason="Unwell")
    appointment.starts_at = at(DUE_ON - dt.timedelta(days=1))
    with pytest.raises(ValidationError) as moved:
        services.appointment_update(appointment, by=nurse, expected_version=2)
    assert messages(moved.value) == {"starts_at": ["This appointment is cancelled: book a new one."]}
    appointment = Appointment.objects.get()
    appointment.patient = PatientFactory()
    with pytest.raises(ValidationError) as other_patient:
        services.appointment_update(appointment, by=nurse, expected_version=2)
    assert list(messages(other_patient.value)) == ["patient"]


# --------------------------------------------------------------------------
# Status changes
# --------------------------------------------------------------------------


def test_cancelling_needs_a_reason_and_happens_once(pump, book, nurse):
    appointment = book(pump, at(DUE_ON))
    with pytest.raises(ValidationError) as no_reason:
        services.appointment_cancel(appointment, by=nurse, reason="  ")
    assert list(messages(no_reason.value)) == ["cancel_reason"]
    services.appointment_cancel(appointment, by=nurse, reason="Family on holiday")
    with pytest.raises(ValidationError) as again:
        services.appointment_cancel(appointment, by=nurse, reason="Again")
    assert messages(again.value) == {"status": ["This appointment is cancelled: only a booked one can be cancelled."]}
    history = [entry.history_change_reason for entry in Appointment.objects.get().history.all()]
    assert history == ["Cancelled: Family on holiday", "Booked"]


def test_a_no_show_needs_the_start_to_have_passed(pump, book, nurse):
    appointment = book(pump, at(DUE_ON))
    with pytest.raises(ValidationError) as early:
        services.appointment_mark_no_show(appointment, by=nurse, now=at(DUE_ON, 9, 59))
    assert list(messages(early.value)) == ["starts_at"]
    services.appointment_mark_no_show(appointment, by=nurse, now=at(DUE_ON, 10, 0))
    assert Appointment.objects.get().status == "no_show"


def test_attended_is_not_before_the_appointments_day(pump, book, nurse):
    appointment = book(pump, at(DUE_ON))
    with pytest.raises(ValidationError):
        services.appointment_mark_attended(appointment, by=nurse, today=DUE_ON - dt.timedelta(days=1))
    services.appointment_mark_attended(appointment, by=nurse, today=DUE_ON)
    assert Appointment.objects.get().status == "attended"


def test_a_recorded_visit_marks_the_latest_booking_on_or_before_its_day_attended(pump, book, nurse):
    earlier = book(pump, at(dt.date(2024, 3, 1)), kind="titration")
    on_the_day = book(pump, at(dt.date(2024, 3, 8), 16), kind="titration")
    later = book(pump, at(dt.date(2024, 3, 15)), kind="titration")
    refill = book(pump, at(dt.date(2024, 3, 8)))

    marked = services.appointment_mark_attended_for(pump=pump, kind="titration", on_date=dt.date(2024, 3, 8), by=nurse)

    assert marked == on_the_day
    statuses = dict(Appointment.objects.values_list("pk", "status"))
    assert statuses == {earlier.pk: "booked", on_the_day.pk: "attended", later.pk: "booked", refill.pk: "booked"}
    assert Appointment.objects.get(pk=on_the_day.pk).history.first().history_change_reason == (
        "Attended: titration visit recorded on 2024-03-08"
    )
    assert (
        services.appointment_mark_attended_for(pump=pump, kind="refill", on_date=dt.date(2024, 3, 7), by=nurse) is None
    )
