"""The appointments API (spec section 7): the refill rules reach it as field errors, status actions, filters, roles."""

from __future__ import annotations

import datetime as dt

import pytest

from appointments.models import Appointment
from tests.appointments.conftest import ALARM_ON, DUE_ON, at
from tests.factories import PatientFactory, PumpFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/appointments/"


def body(pump, starts_at: str, *staff, **fields) -> dict:
    return {
        "patient": pump.patient_id,
        "pump": pump.pk,
        "kind": "refill",
        "starts_at": starts_at,
        "duration_minutes": 30,
        "place": "clinic",
        "staff": [user.pk for user in staff],
        **fields,
    }


def test_a_refill_booked_inside_the_window_is_201_in_clinic_local_time(api_as, nurse, doctor, pump):
    response = api_as(nurse).post(URL, body(pump, "2024-06-03T10:00:00", nurse, doctor), format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    # No offset given: read as London time (BST in June), and written back with its offset.
    assert data["starts_at"] == "2024-06-03T10:00:00+01:00"
    assert (data["status"], data["staff"], data["version"]) == ("booked", [nurse.pk, doctor.pk], 1)
    assert Appointment.objects.get().starts_at == at(dt.date(2024, 6, 3))


def test_a_refill_after_refill_due_on_without_a_reason_is_400_on_starts_at(api_as, nurse, pump):
    client = api_as(nurse)

    refused = client.post(URL, body(pump, "2024-06-10T10:00:00", nurse), format="json")
    accepted = client.post(
        URL, body(pump, "2024-06-10T10:00:00", nurse, confirmation_reason="School trip until the 9th"), format="json"
    )

    assert refused.status_code == 400
    assert list(refused.json()) == ["starts_at"]
    assert "refill-due date (2024-06-08)" in refused.json()["starts_at"][0]
    assert accepted.status_code == 201


def test_a_refill_on_the_alarm_date_is_400_on_starts_at(api_as, nurse, pump):
    response = api_as(nurse).post(
        URL, body(pump, f"{ALARM_ON}T09:00:00", nurse, confirmation_reason="Only day possible"), format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["starts_at"]
    assert not Appointment.objects.exists()


def test_a_start_in_the_past_is_accepted(api_as, nurse, pump):
    # Entered after the fact (the pump's dates are in 2024): the API accepts it; the page warns.
    assert api_as(nurse).post(URL, body(pump, "2024-05-30T14:30:00+01:00", nurse), format="json").status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"staff": []}, "staff"),
        ({"staff": "many"}, "staff"),
        ({"kind": "massage"}, "kind"),
        ({"place": "moon"}, "place"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": 100000}, "duration_minutes"),
        ({"starts_at": "9999-12-31T23:59:59-12:00"}, "starts_at"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"pump": None}, "pump"),
        ({"patient": 999999}, "patient"),
    ],
)
def test_bad_input_is_a_400_on_its_field(api_as, nurse, pump, change, field):
    response = api_as(nurse).post(URL, {**body(pump, "2024-06-03T10:00:00", nurse), **change}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_three_staff_or_the_same_person_twice_is_a_400_on_staff(api_as, nurse, doctor, administrator, pump):
    client = api_as(nurse)
    three = client.post(URL, body(pump, "2024-06-03T10:00:00", nurse, doctor, administrator), format="json")
    twice = client.post(URL, body(pump, "2024-06-03T10:00:00", nurse, nurse), format="json")
    assert (three.status_code, list(three.json())) == (400, ["staff"])
    assert (twice.status_code, list(twice.json())) == (400, ["staff"])


def test_a_second_booked_refill_is_a_400_on_pump(api_as, nurse, pump):
    client = api_as(nurse)
    assert client.post(URL, body(pump, "2024-06-03T10:00:00", nurse), format="json").status_code == 201
    again = client.post(URL, body(pump, "2024-06-04T10:00:00", nurse), format="json")
    assert (again.status_code, list(again.json())) == (400, ["pump"])


@pytest.mark.parametrize("role", ["rehab_doctor", "pump_nurse", "administrator"])
def test_nurses_doctors_and_administrators_book_and_cancel(api_as, personas, nurse, pump, role):
    client = api_as(personas[role])
    created = client.post(URL, body(pump, "2024-06-03T10:00:00", nurse), format="json")
    assert created.status_code == 201
    cancelled = client.post(f"{URL}{created.json()['id']}/cancel/", {"cancel_reason": "Unwell"}, format="json")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")


@pytest.mark.parametrize("role", ["physical_therapist", "neurosurgeon"])
def test_therapists_and_surgeons_read_but_do_not_book_or_cancel(api_as, personas, book, nurse, pump, role):
    appointment = book(pump, at(DUE_ON))
    client = api_as(personas[role])
    assert client.get(URL).json()["count"] == 1
    assert client.post(URL, body(pump, "2024-06-03T10:00:00", nurse), format="json").status_code == 403
    assert client.post(f"{URL}{appointment.pk}/cancel/", {"cancel_reason": "x"}, format="json").status_code == 403
    assert client.post(f"{URL}{appointment.pk}/no-show/", {}, format="json").status_code == 403
    assert Appointment.objects.get().status == "booked"


def test_an_account_without_a_role_reads_nothing(api_as, outsider, book, pump):
    book(pump, at(DUE_ON))
    assert api_as(outsider).get(URL).status_code == 403


def test_cancel_needs_a_reason_and_no_show_needs_the_start_to_have_passed(api_as, nurse, book, pump):
    past = book(pump, at(DUE_ON))
    future = book(pump, at(dt.date(2099, 1, 5)), kind="review")
    client = api_as(nurse)

    no_reason = client.post(f"{URL}{past.pk}/cancel/", {"cancel_reason": ""}, format="json")
    too_early = client.post(f"{URL}{future.pk}/no-show/", {}, format="json")
    missed = client.post(f"{URL}{past.pk}/no-show/", {"version": 1}, format="json")
    cancel_missed = client.post(f"{URL}{past.pk}/cancel/", {"cancel_reason": "Late"}, format="json")

    assert (no_reason.status_code, list(no_reason.json())) == (400, ["cancel_reason"])
    assert (too_early.status_code, list(too_early.json())) == (400, ["starts_at"])
    assert (missed.status_code, missed.json()["status"], missed.json()["version"]) == (200, "no_show", 2)
    assert (cancel_missed.status_code, list(cancel_missed.json())) == (400, ["status"])


def test_a_stale_version_is_a_409_on_update_and_on_the_actions(api_as, nurse, book, pump):
    appointment = book(pump, at(DUE_ON))
    client = api_as(nurse)
    assert (
        client.patch(f"{URL}{appointment.pk}/", {"notes": "Ultrasound", "version": 1}, format="json").status_code == 200
    )

    stale_patch = client.patch(f"{URL}{appointment.pk}/", {"notes": "Other", "version": 1}, format="json")
    stale_cancel = client.post(f"{URL}{appointment.pk}/cancel/", {"cancel_reason": "x", "version": 1}, format="json")
    no_version = client.patch(f"{URL}{appointment.pk}/", {"notes": "Other"}, format="json")

    assert (stale_patch.status_code, list(stale_patch.json())) == (409, ["version"])
    assert stale_cancel.status_code == 409
    assert (no_version.status_code, list(no_version.json())) == (400, ["version"])
    assert Appointment.objects.get().notes == "Ultrasound"


def test_moving_a_refill_past_the_alarm_date_is_a_400_and_status_is_not_writable(api_as, nurse, book, pump):
    appointment = book(pump, at(DUE_ON))
    client = api_as(nurse)
    moved = client.patch(f"{URL}{appointment.pk}/", {"starts_at": f"{ALARM_ON}T10:00", "version": 1}, format="json")
    status = client.patch(f"{URL}{appointment.pk}/", {"status": "attended", "version": 1}, format="json")
    assert (moved.status_code, list(moved.json())) == (400, ["starts_at"])
    assert status.status_code == 200 and status.json()["status"] == "booked"


def test_the_list_filters(api_as, nurse, doctor, book, pump, surgeon):
    other = PumpFactory(patient=PatientFactory(), by=surgeon)
    first = book(pump, at(dt.date(2024, 6, 3)))
    second = book(other, at(dt.date(2024, 6, 5), 23, 30), staff=[doctor, nurse])
    third = book(None, at(dt.date(2024, 6, 7)), kind="review", patient=other.patient, staff=[doctor])
    client = api_as(nurse)

    def ids(query: str) -> list[int]:
        response = client.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids("") == [first.pk, second.pk, third.pk]
    assert ids(f"patient={other.patient_id}") == [second.pk, third.pk]
    assert ids(f"pump={pump.pk}") == [first.pk]
    assert ids(f"staff={nurse.pk}") == [first.pk, second.pk]
    assert ids(f"staff={doctor.pk}") == [second.pk, third.pk]
    # Days are clinic-local: 23:30 on 5 June (BST) is 22:30 UTC, still 5 June.
    assert ids("from=2024-06-05&to=2024-06-05") == [second.pk]
    assert ids("from=2024-06-04") == [second.pk, third.pk]
    assert ids("to=2024-06-04") == [first.pk]
    assert ids("status=booked&staff=999999") == []


@pytest.mark.parametrize("query", ["from=2024-02-30", "to=9999-12-31", "from=yesterday", "status=lost", "staff=1.5"])
def test_a_malformed_filter_is_a_400_naming_it(api_as, nurse, query):
    response = api_as(nurse).get(f"{URL}?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [query.split("=")[0]]
