"""Where the bookings show: the "not booked" list, today's list and the worklist, the titration
schedule and the after-visit summary (the pump and after-refill pages: ``test_pages``).

The pumps here are due around the real today (``tests.alerts.conftest.bulk_pumps``), so the
pages, which read the clinic's today, list them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from appointments.models import Appointment
from appointments.services import appointment_book
from pumps import pdf
from pumps.models import Pump
from spasticity.lists import GROUP_PAGE_SIZE
from spasticity.roles import Role
from spasticity.timeutil import clinic_today
from tests.alerts.conftest import bulk_pumps
from tests.appointments.conftest import at
from tests.factories import PumpFactory, RefillFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/appointments/not-booked/"


def days(n: int) -> dt.date:
    return clinic_today() + dt.timedelta(days=n)


def due(count: int, *, nurse: Any = None, in_days: int = 10, alarm_in_days: int | None = None) -> list[Pump]:
    return bulk_pumps(
        count,
        nurse=nurse,
        refill_due_on=days(in_days),
        alarm_date=days(alarm_in_days if alarm_in_days is not None else in_days + 7),
    )


def book(pump: Pump, day: dt.date, by: Any, *, kind: str = "refill", hour: int = 10, place: str = "clinic"):
    appointment = Appointment(patient=pump.patient, pump=pump, kind=kind, starts_at=at(day, hour), place=place)
    return appointment_book(appointment, staff=[by], by=by)


def get(client, url: str, **params) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def listed(html: str) -> set[int]:
    table = html.split('data-testid="not-booked"')[1].split("</table>")[0] if 'data-testid="not-booked"' in html else ""
    return {int(pk) for pk in re.findall(r'<tr data-pump="(\d+)"', table)}


# --------------------------------------------------------------------------
# The "not booked" list
# --------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PUMP_NURSE, Role.REHAB_DOCTOR, Role.ADMINISTRATOR])
def test_the_people_who_book_see_the_not_booked_list(client_as, role):
    assert client_as(UserFactory(role=role)).get(URL).status_code == 200


@pytest.mark.parametrize("role", [Role.PHYSICAL_THERAPIST, Role.NEUROSURGEON])
def test_the_other_roles_are_refused_the_not_booked_list(client_as, role):
    assert client_as(UserFactory(role=role)).get(URL).status_code == 403


def test_the_list_shows_a_nurses_unbooked_pumps_due_within_30_days_with_a_book_button(client_as, nurse):
    colleague = UserFactory(role=Role.PUMP_NURSE)
    unbooked, booked = due(2, nurse=nurse)
    [overdue] = due(1, nurse=nurse, in_days=-2, alarm_in_days=5)
    [past_alarm] = due(1, nurse=nurse, in_days=-9, alarm_in_days=-2)  # needs the refill now, cannot be booked
    [later] = due(1, nurse=nurse, in_days=31)
    [theirs] = due(1, nurse=colleague)
    book(booked, days(5), nurse)

    mine, _ = get(client_as(nurse), URL)
    everyone, _ = get(client_as(nurse), URL, who="all")

    assert listed(mine) == {unbooked.pk, overdue.pk}
    assert listed(everyone) == {unbooked.pk, overdue.pk, theirs.pk}
    assert past_alarm.pk not in listed(everyone) and later.pk not in listed(everyone)
    button = f'href="/appointments/new/?pump={unbooked.pk}&amp;kind=refill"'
    assert button in mine
    # The button opens the booking form prefilled for that pump's refill.
    form = client_as(nurse).get(f"/appointments/new/?pump={unbooked.pk}&kind=refill")
    assert form.status_code == 200 and form.context["form"].initial["pump"] == unbooked.pk


def test_a_doctor_starts_on_everyones_list(client_as, nurse, doctor):
    pumps = due(2, nurse=nurse)
    html, _ = get(client_as(doctor), URL)
    assert listed(html) == {pump.pk for pump in pumps}


def test_the_list_pages_with_the_same_queries_for_3_and_40_pumps(client_as, nurse):
    client = client_as(nurse)
    due(3, nurse=nurse)
    small_html, small = get(client, URL)
    due(37, nurse=nurse)
    large_html, large = get(client, URL)
    second_html, second = get(client, URL, page_not_booked=2)

    assert small == large == second
    assert len(listed(small_html)) == 3
    assert len(listed(large_html)) == GROUP_PAGE_SIZE
    assert len(listed(second_html)) == 40 - GROUP_PAGE_SIZE
    assert listed(large_html).isdisjoint(listed(second_html))


# --------------------------------------------------------------------------
# Today's list and the worklist
# --------------------------------------------------------------------------


@pytest.mark.parametrize("url", [reverse("pumps:today"), reverse("alerts:worklist")])
def test_the_lists_show_the_booked_refill_or_not_booked_with_the_same_queries_for_3_and_40(client_as, nurse, url):
    client = client_as(nurse)
    pumps = due(3, nurse=nurse, in_days=3)
    home = book(pumps[0], days(2), nurse, hour=14, place="home")
    small_html, small = get(client, url, who="mine")
    more = due(37, nurse=nurse, in_days=3)
    for pump in more[:10]:
        book(pump, days(1), nurse)
    _large_html, large = get(client, url, who="mine")

    assert small == large
    assert f'data-booked="{home.pk}"' in small_html
    assert f"{home.local_starts_at:%Y-%m-%d} 14:00" in small_html and "home visit" in small_html
    assert small_html.count('data-booked=""') == 2  # the two unbooked pumps say "not booked"
    assert "not booked" in small_html


def test_a_refill_booked_this_week_puts_the_pump_on_todays_list(client_as, nurse):
    [pump] = due(1, nurse=nurse, in_days=12)  # due after this week: not listed for its date
    row = f'<tr data-pump="{pump.pk}"'
    assert row not in get(client_as(nurse), reverse("pumps:today"))[0]
    booked = book(pump, days(0), nurse, hour=23)

    html, _ = get(client_as(nurse), reverse("pumps:today"))

    assert row in html and f'data-booked="{booked.pk}"' in html
    assert html.split(row)[1].split("</tr>")[0].count("Today") == 1  # booked today: its status says so


# --------------------------------------------------------------------------
# The titration schedule and the after-visit summary
# --------------------------------------------------------------------------


def test_the_titration_schedule_shows_the_booked_titration_and_refill_appointments(client_as, nurse, administrator):
    [pump] = due(1, nurse=nurse, in_days=10)
    Pump.objects.filter(pk=pump.pk).update(next_visit_on=days(4))  # a bare date noted at the last visit
    titration = book(pump, days(5), nurse, kind="titration", hour=11)
    refill = book(pump, days(8), nurse, place="home")

    response = client_as(administrator).get(reverse("pumps:schedule"))

    [schedule] = response.context["schedules"]
    rows = [(row.kind, row.on, row.appointment) for row in schedule.rows]
    assert rows == [
        ("titration_booked", days(5), titration),  # the booking replaces the bare next-visit date
        ("refill_booked", days(8), refill),
        ("refill_due", days(10), None),
    ]
    html = response.content.decode()
    assert "Titration visit booked</a> 11:00, clinic" in html and "Refill booked</a> 10:00, home visit" in html


def test_the_after_visit_summary_names_the_booked_refill_or_says_not_booked(monkeypatch, surgeon, nurse):
    monkeypatch.setattr(pdf, "render_pdf", lambda template, context: render_to_string(template, context).encode())
    pump = PumpFactory(by=surgeon)
    refill = RefillFactory(pump=pump, refilled_on=dt.date(2024, 3, 15), by=nurse)
    pump.refresh_from_db()

    not_booked = pdf.refill_summary(refill).decode()
    appointment = Appointment(
        patient=pump.patient,
        pump=pump,
        kind="refill",
        starts_at=at(pump.refill_due_on - dt.timedelta(days=3), 9, 30),
        place="home",
    )
    appointment_book(appointment, staff=[nurse], by=nurse)
    booked = pdf.refill_summary(refill).decode()

    assert "not booked yet" in not_booked
    day = pump.refill_due_on - dt.timedelta(days=3)
    assert f"{day:%A} {day.day} {day:%B %Y} at 09:30" in booked and "home visit" in booked
