"""Today's pump list stays small and fast at any caseload (issue 10): sections (no alarm date,
refills, titration visits) with their counts by status, most urgent first, one page each;
whose patients in ``?who=`` or ``?nurse=``; the same queries for 3 pumps as for 40."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts.overdue import overdue_status
from pumps.selectors import nurse_worklist
from spasticity.lists import GROUP_PAGE_SIZE
from spasticity.roles import Role
from spasticity.timeutil import clinic_today
from tests.alerts.conftest import bulk_pumps
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def days(n: int) -> dt.date:
    return clinic_today() + dt.timedelta(days=n)


def add_due(count: int, *, nurse, due_in_days: int = 0, visit_in_days: int | None = 1) -> list:
    """``count`` pumps with a refill due in ``due_in_days`` (alarm a week later) and a visit."""
    return bulk_pumps(
        count,
        nurse=nurse,
        refill_due_on=days(due_in_days),
        alarm_date=days(due_in_days + 7),
        next_visit_on=days(visit_in_days) if visit_in_days is not None else None,
    )


def get_today(client, **params) -> tuple[str, int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("pumps:today"), params)
    assert response.status_code == 200
    return response.content.decode(), len(queries), response.context["worklist"]


def table_rows(html: str, testid: str) -> int:
    return html.split(f'data-testid="{testid}"')[1].split("</table>")[0].count("<tr data-pump=")


def test_todays_list_makes_the_same_queries_for_3_and_40_pumps(client_as, nurse):
    client = client_as(nurse)
    add_due(3, nurse=nurse)
    bulk_pumps(3, nurse=nurse, refill_due_on=None, alarm_date=None)  # no projection
    small_html, small, _ = get_today(client)
    add_due(37, nurse=nurse)
    bulk_pumps(37, nurse=nurse, refill_due_on=None, alarm_date=None)
    large_html, large, worklist = get_today(client)

    assert small == large
    assert table_rows(small_html, "today-refills") == 3
    assert table_rows(large_html, "today-refills") == GROUP_PAGE_SIZE
    assert table_rows(large_html, "today-visits") == GROUP_PAGE_SIZE
    assert large_html.split('data-testid="today-no-projection"')[1].split("</ul>")[0].count("<li") == GROUP_PAGE_SIZE
    assert [(s.key, s.total) for s in worklist.sections] == [("no_projection", 40), ("refills", 40), ("visits", 40)]


def test_each_pump_gets_the_status_of_the_one_classifier_on_every_boundary_day(nurse):
    today = clinic_today()
    cases = {
        # name: (refill_due_on, alarm_date, booked refill, next visit) → (refill status, visit status)
        "past alarm": ((-8, -1, None, None), ("past_alarm", None)),
        "alarm today": ((-7, 0, None, None), ("overdue", None)),
        "due yesterday": ((-1, 6, None, None), ("overdue", None)),
        "due today": ((0, 7, None, None), ("today", None)),
        "booked today": ((30, 37, 0, None), ("today", None)),
        "due at week end": ((6, 13, None, None), ("this_week", None)),
        "booked this week": ((30, 37, 3, None), ("this_week", None)),
        "due next week": ((7, 14, None, None), (None, None)),
        "visit missed": ((60, 67, None, -1), (None, "missed")),
        "visit today": ((60, 67, None, 0), (None, "today")),
        "visit at week end": ((60, 67, None, 6), (None, "this_week")),
        "visit next week": ((60, 67, None, 7), (None, None)),
    }
    serials = {}
    for name, ((due, alarm, booked, visit), _expected) in cases.items():
        [pump] = bulk_pumps(
            1,
            nurse=nurse,
            refill_due_on=days(due),
            alarm_date=days(alarm),
            next_refill_appointment_on=days(booked) if booked is not None else None,
            next_visit_on=days(visit) if visit is not None else None,
        )
        serials[pump.serial_number] = name

    worklist = nurse_worklist(today=today, nurse_id=nurse.pk)

    refills = {serials[item.pump.serial_number]: item.status for item in worklist.refills}
    visits = {serials[item.pump.serial_number]: item.status for item in worklist.visits}
    assert refills == {name: expected[0] for name, (_d, expected) in cases.items() if expected[0]}
    assert visits == {name: expected[1] for name, (_d, expected) in cases.items() if expected[1]}
    for item in worklist.refills:  # past alarm and overdue mean what the scan and the reports mean
        pump = item.pump
        python_status = overdue_status(as_of=today, refill_due_on=pump.refill_due_on, alarm_date=pump.alarm_date)
        assert (item.status in ("past_alarm", "overdue")) == (python_status is not None)
        if python_status:
            assert item.status == python_status
    # Most urgent first; the counts by status add up to the section.
    ranks = {"past_alarm": 0, "overdue": 2, "missed": 3, "today": 4, "this_week": 5}
    assert [ranks[item.status] for item in worklist.refills] == sorted(ranks[item.status] for item in worklist.refills)
    assert dict(worklist.refill_section.counts) == {"past_alarm": 1, "overdue": 2, "today": 2, "this_week": 2}
    assert dict(worklist.visit_section.counts) == {"missed": 1, "today": 1, "this_week": 1}


def test_each_section_pages_on_its_own_and_the_links_keep_the_chosen_nurse(client_as, doctor, nurse):
    add_due(30, nurse=nurse)
    client = client_as(doctor)

    html, _, worklist = get_today(client, nurse=str(nurse.pk), page_refills="2")

    assert table_rows(html, "today-refills") == 5
    assert table_rows(html, "today-visits") == GROUP_PAGE_SIZE
    assert worklist.refill_section.number == 2 and worklist.visit_section.number == 1
    next_visits = re.search(r'data-testid="pager-visits">.*?href="([^"]+)" rel="next"', html, re.S)
    assert next_visits is not None
    assert next_visits.group(1).replace("&amp;", "&") == f"?nurse={nurse.pk}&page_refills=2&page_visits=2#group-visits"
    assert f'<option value="{nurse.pk}" selected>' in html


def test_whose_patients_mine_by_default_unassigned_all_or_a_nurse_by_name(client_as, nurse, doctor):
    colleague = UserFactory(role=Role.PUMP_NURSE)
    add_due(2, nurse=nurse)
    add_due(3, nurse=colleague)
    add_due(4, nurse=None)

    def refills(user, **params) -> int:
        return get_today(client_as(user), **params)[2].refill_section.total

    assert refills(nurse) == 2
    assert refills(nurse, who="unassigned") == 4
    assert refills(nurse, who="all") == 9
    assert refills(nurse, nurse="") == 9  # "All nurses" in the form
    assert refills(nurse, nurse=str(colleague.pk)) == 3
    assert refills(doctor) == 9  # other roles start on everyone's
    assert refills(doctor, who="mine") == 0  # a doctor is nobody's pump nurse
    html, _, _ = get_today(client_as(nurse), who="unassigned")
    assert 'aria-current="page">Unassigned' in html


def test_the_sections_show_their_counts_by_status(client_as, nurse):
    add_due(2, nurse=nurse, due_in_days=-1, visit_in_days=None)  # overdue
    add_due(1, nurse=nurse, due_in_days=3, visit_in_days=0)  # this week, visit today
    html, _, _ = get_today(client_as(nurse))
    refill_counts = html.split('data-testid="counts-refills"')[1].split("</ul>")[0]
    assert re.findall(r'">([A-Za-z ]+)</span> (\d+)</li>', refill_counts) == [("Overdue", "2"), ("This week", "1")]
    visit_counts = html.split('data-testid="counts-visits"')[1].split("</ul>")[0]
    assert re.findall(r'">([A-Za-z ]+)</span> (\d+)</li>', visit_counts) == [("Today", "1")]


def test_paging_each_section_walks_the_same_rows_as_one_long_page_with_pumps_in_two_sections(nurse):
    """Walking refills and visits five at a time, both at once, gives each whole section in
    order, and a pump due for a refill and a visit is on both."""
    add_due(7, nurse=nurse, due_in_days=-2, visit_in_days=-1)  # overdue, visit missed
    add_due(6, nurse=nurse, due_in_days=0, visit_in_days=3)  # due today, visit this week
    add_due(4, nurse=nurse, due_in_days=4, visit_in_days=None)  # this week, no visit
    add_due(3, nurse=nurse, due_in_days=30, visit_in_days=0)  # a visit only
    bulk_pumps(2, nurse=nurse, refill_due_on=None, alarm_date=None)  # no projection
    today = clinic_today()
    whole = nurse_worklist(today=today, nurse_id=nurse.pk, page_size=100)
    expected = {section.key: [item.pump.pk for item in section.rows] for section in whole.sections}
    assert {key: len(pks) for key, pks in expected.items()} == {"no_projection": 2, "refills": 17, "visits": 16}
    assert set(expected["refills"]) & set(expected["visits"])  # pumps in both sections
    walked: dict[str, list[int]] = {key: [] for key in expected}
    for number in range(1, 5):
        page = nurse_worklist(today=today, nurse_id=nurse.pk, page_size=5, pages=dict.fromkeys(expected, number))
        for section in page.sections:
            if section.number == number:  # past its last page a section shows its last page again
                walked[section.key] += [item.pump.pk for item in section.rows]
    assert walked == expected
    statuses = [item.status for item in whole.refill_section.rows]
    assert statuses == sorted(statuses, key=["past_alarm", "overdue", "today", "this_week"].index)
