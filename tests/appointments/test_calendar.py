"""Each staff member's private ICS feed (spec section 7): parsed back with icalendar."""

from __future__ import annotations

import datetime as dt

import icalendar
import pytest
from django.urls import reverse

from appointments import calendar, services
from appointments.models import CalendarFeed
from tests.appointments.conftest import LONDON, at
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# British Summer Time starts on Sunday 28 March 2027: 10:00 is 10:00 GMT before, 09:00 UTC after.
BEFORE_DST, AFTER_DST = dt.date(2027, 3, 26), dt.date(2027, 3, 29)


def feed_url(token: str) -> str:
    return reverse("calendar_feed", args=[token])


def events(content: bytes) -> dict[str, icalendar.Event]:
    parsed = icalendar.Calendar.from_ical(content)
    return {str(event["SUMMARY"]): event for event in parsed.walk("VEVENT")}


@pytest.fixture
def token(nurse) -> str:
    from django.utils import timezone

    return calendar.calendar_feed_issue(nurse, now=timezone.now())


def test_the_feed_parses_and_keeps_local_times_across_a_daylight_saving_change(client, token, book, pump, nurse):
    book(None, at(BEFORE_DST), kind="review", patient=pump.patient)
    book(pump, at(AFTER_DST), kind="titration", place="home")

    response = client.get(feed_url(token))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    parsed = icalendar.Calendar.from_ical(response.content)
    assert [tz["TZID"] for tz in parsed.walk("VTIMEZONE")] == ["Europe/London"]
    by_summary = events(response.content)
    mrn = pump.patient.mrn
    review, titration = by_summary[f"Review: {mrn} (M.O.)"], by_summary[f"Titration visit: {mrn} (M.O.)"]
    for event, day in ((review, BEFORE_DST), (titration, AFTER_DST)):
        start = event.decoded("DTSTART")
        assert start.tzinfo is not None and str(start.tzinfo) == "Europe/London"
        assert (start.date(), start.hour, start.minute) == (day, 10, 0)
        assert event.decoded("DTEND") - start == dt.timedelta(minutes=30)
    assert review.decoded("DTSTART").utcoffset() == dt.timedelta(0)
    assert titration.decoded("DTSTART").utcoffset() == dt.timedelta(hours=1)
    assert titration.decoded("DTSTART").astimezone(dt.UTC).hour == 9
    assert str(titration["LOCATION"]) == "Home visit"
    assert f"Pump {pump.serial_number}, alarm date 2024-06-15" in str(titration["DESCRIPTION"])
    # The TZID is on the line itself, as Outlook needs it.
    assert b"DTSTART;TZID=Europe/London:20270329T100000" in response.content


def test_an_edit_keeps_the_uid_and_a_cancellation_says_cancelled(client, token, book, pump, nurse):
    appointment = book(None, at(BEFORE_DST), kind="review", patient=pump.patient)
    before = next(iter(events(client.get(feed_url(token)).content).values()))

    appointment.starts_at = at(BEFORE_DST, 14)
    services.appointment_update(appointment, by=nurse, expected_version=1)
    services.appointment_cancel(appointment, by=nurse, reason="Family moving house")
    after = next(iter(events(client.get(feed_url(token)).content).values()))

    assert str(after["UID"]) == str(before["UID"]) == f"appointment-{appointment.pk}@itb-clinic.example"
    assert (str(before["STATUS"]), str(after["STATUS"])) == ("CONFIRMED", "CANCELLED")
    assert (int(before["SEQUENCE"]), int(after["SEQUENCE"])) == (1, 3)
    assert after.decoded("DTSTART").hour == 14


def test_the_feed_holds_only_the_staff_members_own_appointments(client, token, book, pump, nurse, doctor):
    book(None, at(BEFORE_DST), kind="review", patient=pump.patient, staff=[doctor, nurse])
    book(None, at(AFTER_DST), kind="review", patient=pump.patient, staff=[doctor])
    assert len(events(client.get(feed_url(token)).content)) == 1


def test_a_revoked_or_replaced_token_gets_404_and_so_does_a_made_up_one(client, client_as, token, nurse):
    assert client.get(feed_url(token)).status_code == 200
    page = client_as(nurse)

    page.post(reverse("appointments:calendar"), {"action": "issue"})
    assert client.get(feed_url(token)).status_code == 404  # replaced

    response = page.post(reverse("appointments:calendar"), {"action": "issue"})
    new_url = response.context["feed_url"]
    assert client.get(new_url).status_code == 200
    page.post(reverse("appointments:calendar"), {"action": "revoke"})
    assert client.get(new_url).status_code == 404  # revoked
    assert client.get(feed_url("not-a-token")).status_code == 404


def test_a_deactivated_account_or_one_without_a_role_has_no_feed(client, nurse, token):
    nurse.is_active = False
    nurse.save()
    assert client.get(feed_url(token)).status_code == 404
    from django.utils import timezone

    roleless = UserFactory()
    assert client.get(feed_url(calendar.calendar_feed_issue(roleless, now=timezone.now()))).status_code == 404


def test_only_the_tokens_hash_is_stored_and_the_address_is_shown_once(client_as, nurse):
    page = client_as(nurse)
    made = page.post(reverse("appointments:calendar"), {"action": "issue"})
    url = made.context["feed_url"]
    token = url.rsplit("/", 1)[1].removesuffix(".ics")

    feed = CalendarFeed.objects.get(user=nurse)
    assert feed.token_sha256 == calendar.token_sha256(token) and token not in feed.token_sha256
    assert url.startswith("http://testserver/calendar/") and url in made.content.decode()
    assert token not in page.get(reverse("appointments:calendar")).content.decode()


def test_an_end_in_the_hour_the_clocks_go_back_is_written_in_utc_so_it_keeps_its_length(nurse, book, pump):
    from django.utils import timezone

    # 01:30 BST for an hour ends at the second 01:30 (GMT): as a London wall time it would read as the first.
    book(None, at(dt.date(2027, 10, 31), 1, 30), kind="review", patient=pump.patient, duration_minutes=60)
    event = next(iter(events(calendar.calendar_ics(nurse, now=timezone.now())).values()))
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert str(start.tzinfo) == "Europe/London" and end.utcoffset() == dt.timedelta(0)
    assert end.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(hours=1)
    assert end.astimezone(LONDON).strftime("%H:%M %Z") == "01:30 GMT"
