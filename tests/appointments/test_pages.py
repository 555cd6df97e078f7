"""The pages: the prefilled booking form, the past-start warning, the week view, the pump and refill pages, roles."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from appointments import services
from appointments.models import Appointment
from spasticity.timeutil import clinic_today
from tests.appointments.conftest import at
from tests.factories import PatientFactory, PumpFactory, RefillFactory

pytestmark = pytest.mark.django_db

TODAY = clinic_today()


@pytest.fixture
def recent_pump(nurse, surgeon):
    """Implanted 20 days ago (worked example): refill due in 125 days, alarm in 132."""
    patient = PatientFactory(given_name="Maya", family_name="Okafor", assigned_nurse=nurse)
    return PumpFactory(patient=patient, by=surgeon, implanted_on=TODAY - dt.timedelta(days=20), today=TODAY)


def form_data(response) -> dict[str, str]:
    """What the browser would send back from the page as rendered (inputs, selects, textareas)."""
    html = response.content.decode()
    data = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html):
        data[name] = value
    for name, options in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        selected = re.search(r'<option value="([^"]*)"[^>]*selected', options)
        data[name] = selected.group(1) if selected else ""
    data.pop("past_start_confirmed", None)
    return data


def test_the_booking_form_suggests_the_window_and_a_day_inside_it(client_as, nurse, recent_pump):
    response = client_as(nurse).get(reverse("appointments:create") + f"?pump={recent_pump.pk}&kind=refill")

    assert response.status_code == 200
    window = response.context["window"]
    assert (window.opens_on, window.closes_on) == (
        recent_pump.refill_due_on - dt.timedelta(days=14),
        recent_pump.refill_due_on,
    )
    initial = response.context["form"].initial
    suggested = initial["starts_at"].date()
    assert window.opens_on <= suggested <= window.closes_on and suggested.weekday() < 5
    assert (initial["kind"], initial["pump"], initial["lead_staff"]) == ("refill", recent_pump.pk, nurse.pk)
    page = response.content.decode()
    assert f"{recent_pump.alarm_date:%Y-%m-%d}" in page and 'data-testid="refill-window"' in page


def test_booking_as_prefilled_saves_and_shows_on_the_week_and_the_pump_page(client_as, nurse, recent_pump):
    client = client_as(nurse)
    url = reverse("appointments:create") + f"?pump={recent_pump.pk}&kind=refill"

    response = client.post(url, form_data(client.get(url)), follow=True)

    appointment = Appointment.objects.get()
    assert (appointment.kind, appointment.pump, appointment.lead_staff, appointment.status) == (
        "refill",
        recent_pump,
        nurse,
        "booked",
    )
    assert response.redirect_chain[-1][0].startswith(reverse("appointments:week"))
    assert 'data-testid="appointment-row"' in response.content.decode()
    pump_page = client.get(reverse("pumps:detail", args=[recent_pump.pk])).content.decode()
    assert f"{appointment.local_starts_at:%Y-%m-%d %H:%M}" in pump_page
    assert "not booked" not in pump_page


def test_the_pump_and_refill_pages_say_not_booked_and_offer_the_booking(client_as, nurse, recent_pump):
    refill = RefillFactory(pump=recent_pump, refilled_on=TODAY, by=nurse, aspirated_volume_ml=Decimal("35"))
    client = client_as(nurse)
    book_url = reverse("appointments:create") + f"?pump={recent_pump.pk}&amp;kind=refill"
    for page in (reverse("pumps:detail", args=[recent_pump.pk]), reverse("pumps:refill_detail", args=[refill.pk])):
        html = client.get(page).content.decode()
        assert "not booked" in html and book_url in html, page


def test_a_start_in_the_past_is_warned_about_and_saved_once_confirmed(client_as, nurse):
    patient = PatientFactory()
    client = client_as(nurse)
    url = reverse("appointments:create") + f"?patient={patient.pk}"
    data = {
        "kind": "review",
        "starts_at_0": f"{TODAY - dt.timedelta(days=2):%Y-%m-%d}",
        "starts_at_1": "11:00",
        "duration_minutes": "30",
        "place": "phone",
        "lead_staff": str(nurse.pk),
    }

    warned = client.post(url, data)
    saved = client.post(url, {**data, "past_start_confirmed": "on"})

    assert warned.status_code == 200 and "This start is in the past" in warned.content.decode()
    assert 'data-testid="start-warning"' in warned.content.decode()
    assert saved.status_code == 302
    assert Appointment.objects.get().starts_at == at(TODAY - dt.timedelta(days=2), 11)


def test_the_refill_rules_reach_the_form_on_the_start(client_as, nurse, recent_pump):
    client = client_as(nurse)
    url = reverse("appointments:create") + f"?pump={recent_pump.pk}&kind=refill"
    data = {**form_data(client.get(url)), "starts_at_0": f"{recent_pump.alarm_date:%Y-%m-%d}"}

    response = client.post(url, data)

    assert response.status_code == 200
    assert "on or after the pump&#x27;s alarm date" in response.content.decode()
    assert response.context["form"].errors["starts_at"]
    assert not Appointment.objects.exists()


@pytest.mark.parametrize("role", ["physical_therapist", "neurosurgeon"])
def test_therapists_and_surgeons_see_the_week_but_do_not_book_or_cancel(client_as, personas, book, pump, role):
    appointment = book(pump, at(dt.date(2024, 6, 3)))
    client = client_as(personas[role])
    assert client.get(reverse("appointments:week") + "?day=2024-06-03").status_code == 200
    assert client.get(reverse("appointments:create") + f"?pump={pump.pk}").status_code == 403
    assert client.post(reverse("appointments:cancel", args=[appointment.pk]), {"cancel_reason": "x"}).status_code == 403
    assert client.post(reverse("appointments:no_show", args=[appointment.pk])).status_code == 403
    assert Appointment.objects.get().status == "booked"


def test_an_account_without_a_role_sees_no_appointment_page(client_as, outsider):
    assert client_as(outsider).get(reverse("appointments:week")).status_code == 403


def test_the_nurse_cancels_and_marks_a_no_show_from_the_page(client_as, nurse, book, pump):
    past = book(pump, at(dt.date(2024, 6, 3)))
    other = book(pump, at(dt.date(2024, 6, 4)), kind="titration")
    client = client_as(nurse)

    client.post(reverse("appointments:no_show", args=[past.pk]), {"version": "1"})
    refused = client.post(reverse("appointments:cancel", args=[other.pk]), {"cancel_reason": ""}, follow=True)
    client.post(reverse("appointments:cancel", args=[other.pk]), {"cancel_reason": "Poorly", "version": "1"})

    assert "Say why the appointment is cancelled." in refused.content.decode()
    assert dict(Appointment.objects.values_list("pk", "status")) == {past.pk: "no_show", other.pk: "cancelled"}


def test_the_week_shows_patient_pump_place_and_alarm_date_and_starts_on_the_nurses_own(
    client_as, nurse, doctor, book, pump
):
    mine = book(pump, at(dt.date(2024, 6, 5), 14), place="home")
    services.appointment_book(
        Appointment(patient=PatientFactory(), kind="review", starts_at=at(dt.date(2024, 6, 5), 9)),
        staff=[doctor],
        by=doctor,
    )

    response = client_as(nurse).get(reverse("appointments:week") + "?day=2024-06-06")
    html = response.content.decode()

    rows = [row for _, rows in response.context["days"] for row in rows]
    assert rows == [mine]
    assert response.context["first"] == dt.date(2024, 6, 3)  # the Monday
    for shown in ("14:00", "OKAFOR, Maya", pump.serial_number, "Home visit", "2024-06-15"):
        assert shown in html
    everyone = client_as(nurse).get(reverse("appointments:week") + "?day=2024-06-06&staff=")
    assert len([row for _, rows in everyone.context["days"] for row in rows]) == 2
    day = client_as(nurse).get(reverse("appointments:day") + "?day=2024-06-05")
    assert [row for _, rows in day.context["days"] for row in rows] == [mine]


@pytest.mark.parametrize("query", ["day=2024-02-30", "day=9999-01-01", "staff=abc"])
def test_a_bad_week_parameter_is_a_400(client_as, nurse, query):
    assert client_as(nurse).get(reverse("appointments:week") + f"?{query}").status_code == 400


def test_a_caregiver_who_wants_email_reminders_needs_an_email_address(client_as, nurse):
    patient = PatientFactory()
    url = reverse("patients:caregiver_create", args=[patient.pk])
    data = {"name": "Grace", "relationship": "mother", "phone": "07700 900123", "preferred_contact": "email"}

    refused = client_as(nurse).post(url, data)
    saved = client_as(nurse).post(url, {**data, "email": "grace@example.org"})

    assert refused.status_code == 200
    assert refused.context["form"].errors["email"] == ["Give an email address to send reminders by email."]
    assert saved.status_code == 302
    assert patient.caregivers.get().preferred_contact == "email"
