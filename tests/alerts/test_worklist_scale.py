"""The nurse's worklist stays small and fast at any caseload (issue 10): the alerts grouped by
kind, most urgent first, each group with its count and one page of rows; whose patients in
``?who=``; the same queries for 3 pumps as for 40."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts import rules
from alerts.selectors import worklist
from spasticity.lists import GROUP_PAGE_SIZE
from spasticity.roles import Role
from spasticity.timeutil import clinic_today
from tests.alerts.conftest import bulk_alerts, bulk_pumps
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def add_overdue(count: int, *, nurse: User | None) -> list:
    """``count`` pumps a day past their refill-due date, each with its open ``refill_overdue`` alert."""
    today = clinic_today()
    pumps = bulk_pumps(
        count,
        nurse=nurse,
        refill_due_on=today - dt.timedelta(days=1),
        alarm_date=today + dt.timedelta(days=6),
        next_visit_on=today + dt.timedelta(days=2),
    )
    bulk_alerts(pumps, kind=rules.REFILL_OVERDUE, due_on=today - dt.timedelta(days=1), raised_on=today)
    return pumps


def add_past_alarm(count: int, *, nurse: User | None) -> list:
    today = clinic_today()
    pumps = bulk_pumps(
        count, nurse=nurse, refill_due_on=today - dt.timedelta(days=9), alarm_date=today - dt.timedelta(days=2)
    )
    bulk_alerts(pumps, kind=rules.PAST_ALARM_DATE, due_on=today - dt.timedelta(days=2), raised_on=today)
    return pumps


def get_worklist(client, **params) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("alerts:worklist"), params)
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def groups_shown(html: str) -> list[str]:
    return re.findall(r'<tbody id="group-[a-z_]+" data-group="([a-z_]+)"', html)


def test_the_worklist_makes_the_same_queries_for_3_and_40_pumps_of_each_kind(client_as, nurse):
    client = client_as(nurse)
    add_overdue(3, nurse=nurse)
    add_past_alarm(3, nurse=nurse)
    small_html, small = get_worklist(client)
    add_overdue(37, nurse=nurse)
    add_past_alarm(37, nurse=nurse)
    large_html, large = get_worklist(client)

    assert small == large
    assert small_html.count('data-alert-kind="refill_overdue"') == 3
    # 40 of each kind: the count says 40, the page shows the first 25 of each group.
    assert large_html.count('data-alert-kind="refill_overdue"') == GROUP_PAGE_SIZE
    assert large_html.count('data-alert-kind="past_alarm_date"') == GROUP_PAGE_SIZE
    assert "1–25 of 40" in large_html
    # 40 refills due this week and 40 visits this week: one page of each.
    refills = large_html.split('data-testid="worklist-refills"')[1].split("</table>")[0]
    assert refills.count("<tr>") - 1 == GROUP_PAGE_SIZE  # less the header row


def test_the_groups_follow_the_kinds_urgency_and_every_kind_shows_its_count(client_as, nurse):
    add_overdue(2, nurse=nurse)
    add_past_alarm(1, nurse=nurse)
    html, _ = get_worklist(client_as(nurse))

    assert groups_shown(html) == [rules.PAST_ALARM_DATE, rules.REFILL_OVERDUE]
    counts = html.split('data-testid="worklist-alert-counts"')[1].split("</ul>")[0]
    shown = re.findall(r'data-kind="([a-z_]+)">.*?<span class="badge[^"]*">(\d+)</span>', counts)
    expected = {"past_alarm_date": "1", "refill_overdue": "2"}
    assert shown == [(kind, expected.get(kind, "0")) for kind in rules.KINDS_BY_URGENCY]


def test_each_group_pages_on_its_own_and_the_links_keep_the_filter_and_the_other_pages(client_as, nurse):
    overdue = add_overdue(30, nurse=nurse)
    add_past_alarm(30, nurse=nurse)
    client = client_as(nurse)

    html, _ = get_worklist(client, who="all", page_past_alarm_date="2")

    assert html.count('data-alert-kind="past_alarm_date"') == 5  # 26 to 30
    assert html.count('data-alert-kind="refill_overdue"') == GROUP_PAGE_SIZE  # still its first page
    assert "26–30 of 30" in html
    # The next page of the overdue group keeps ?who=all and the past-alarm group's page.
    next_overdue = re.search(r'data-testid="pager-refill_overdue">.*?href="([^"]+)" rel="next"', html, re.S)
    assert next_overdue is not None
    link = next_overdue.group(1).replace("&amp;", "&")
    assert link == "?who=all&page_past_alarm_date=2&page_refill_overdue=2#group-refill_overdue"
    second, _ = get_worklist(client, who="all", page_past_alarm_date="2", page_refill_overdue="2")
    # Sorted by date then record: the second page is the overdue alerts 26 to 30, no overlap.
    ids = [int(pk) for pk in re.findall(r'data-alert-kind="refill_overdue"><td><a href="/alerts/(\d+)/"', second)]
    assert len(ids) == 5 and set(ids).isdisjoint(
        int(pk) for pk in re.findall(r'data-alert-kind="refill_overdue"><td><a href="/alerts/(\d+)/"', html)
    )
    assert {pump.pk for pump in overdue}  # the pumps exist


@pytest.mark.parametrize("page", ["99", "0", "-1", "two", "1" * 30])
def test_a_page_number_past_the_end_or_not_a_number_shows_a_real_page(client_as, nurse, page):
    add_overdue(30, nurse=nurse)
    html, _ = get_worklist(client_as(nurse), page_refill_overdue=page)
    expected = "26–30 of 30" if page == "99" else "1–25 of 30"
    assert expected in html


def test_a_nurse_starts_on_her_own_patients_and_sees_how_many_alerts_nobody_owns(client_as, nurse):
    colleague = UserFactory(role=Role.PUMP_NURSE)
    add_overdue(2, nurse=nurse)
    add_overdue(3, nurse=colleague)
    add_past_alarm(1, nurse=None)  # a patient with no pump nurse: nobody's "mine" shows it
    client = client_as(nurse)

    mine, _ = get_worklist(client)
    assert mine.count('data-alert-kind="refill_overdue"') == 2
    assert 'data-alert-kind="past_alarm_date"' not in mine
    assert re.search(r'data-testid="unassigned-count">1</span>', mine)  # the badge on "Unassigned"
    assert 'aria-current="page">My patients' in mine

    unassigned, _ = get_worklist(client, who="unassigned")
    assert unassigned.count("data-alert-kind=") == 1 and 'data-alert-kind="past_alarm_date"' in unassigned

    everyone, _ = get_worklist(client, who="all")
    assert everyone.count('data-alert-kind="refill_overdue"') == 5
    assert everyone.count('data-alert-kind="past_alarm_date"') == 1


def test_other_roles_start_on_everyone_and_have_no_mine_button(client_as, doctor, nurse):
    add_overdue(2, nurse=nurse)
    html, _ = get_worklist(client_as(doctor))
    assert html.count('data-alert-kind="refill_overdue"') == 2
    assert "My patients" not in html.split('data-testid="who-filter"')[1].split("</div>")[0]
    assert 'aria-current="page">All nurses' in html


def test_the_refills_and_visits_on_the_worklist_are_filtered_and_paged_the_same_way(client_as, nurse):
    colleague = UserFactory(role=Role.PUMP_NURSE)
    add_overdue(27, nurse=nurse)
    add_overdue(4, nurse=colleague)
    client = client_as(nurse)

    html, _ = get_worklist(client, page_refills="2")
    refills = html.split('data-testid="worklist-refills"')[1].split("</table>")[0]
    assert refills.count("<tr>") - 1 == 2  # refills 26 and 27 of her 27
    assert "26–27 of 27" in html

    everyone, _ = get_worklist(client, who="all")
    assert "1–25 of 31" in everyone.split('id="group-refills"')[1]


def test_the_selector_pages_each_kind_by_date_then_record(nurse):
    today = clinic_today()
    add_overdue(30, nurse=nurse)
    first = worklist(today=today, nurse_id=nurse.pk)
    second = worklist(today=today, nurse_id=nurse.pk, pages={rules.REFILL_OVERDUE: 2})

    [group] = [g for g in first.groups if g.key == rules.REFILL_OVERDUE]
    [group_2] = [g for g in second.groups if g.key == rules.REFILL_OVERDUE]
    assert (group.total, group.number, len(group.rows)) == (30, 1, 25)
    assert (group_2.total, group_2.number, len(group_2.rows)) == (30, 2, 5)
    ordered = [(a.due_on, a.pk) for a in group.rows + group_2.rows]
    assert ordered == sorted(ordered) and len(set(ordered)) == 30
    assert first.alert_count == 30 and first.unassigned_count == 0


def test_the_previous_link_of_a_second_page_goes_back_to_the_first(client_as, nurse):
    add_overdue(30, nurse=nurse)
    html, _ = get_worklist(client_as(nurse), page_refill_overdue="2")
    previous = re.search(r'data-testid="pager-refill_overdue">.*?href="([^"]+)" rel="prev"', html, re.S)
    assert previous is not None and previous.group(1) == "?#group-refill_overdue"


def test_a_row_acknowledges_its_alert_through_the_pages_one_form_and_comes_back_to_the_same_page(client_as, nurse):
    [pump] = add_overdue(1, nurse=nurse)
    client = client_as(nurse)
    html, _ = get_worklist(client, who="all")
    form = re.search(r'<form id="worklist-acknowledge" method="post"[^>]*>(.*?)</form>', html, re.S)
    alerts_section = html.split('id="alerts-heading"')[1].split("</section>")[0]
    assert form is not None and alerts_section.count('name="csrfmiddlewaretoken"') == 1
    button = re.search(r'form="worklist-acknowledge" formaction="([^"]+)" name="version" value="(\d+)"', html)
    assert button is not None
    next_url = re.search(r'name="next" value="([^"]+)"', form.group(1)).group(1).replace("&amp;", "&")

    response = client.post(button.group(1), {"version": button.group(2), "next": next_url})

    assert response.status_code == 302 and response["Location"] == "/alerts/worklist/?who=all"
    alert = pump.alerts.get()
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", nurse)


def test_the_nurse_home_shows_a_home_page_of_each_group_and_the_worklist_a_full_one(client_as):
    """The home is a glance (``HOME_PAGE_SIZE`` rows a group, like every home list); the worklist
    page keeps its ``GROUP_PAGE_SIZE``. Both give the group's whole count and page on."""
    from spasticity.home_views import HOME_PAGE_SIZE

    nurse = UserFactory(role=Role.PUMP_NURSE)
    add_overdue(GROUP_PAGE_SIZE + 1, nurse=nurse)
    client = client_as(nurse)
    overdue_rows = r'<tr data-alert-kind="refill_overdue">'
    home = client.get(reverse("home")).content.decode()
    page, _queries = get_worklist(client)
    assert len(re.findall(overdue_rows, home)) == HOME_PAGE_SIZE < GROUP_PAGE_SIZE
    assert len(re.findall(overdue_rows, page)) == GROUP_PAGE_SIZE
    for html in (home, page):
        assert f"</span> {GROUP_PAGE_SIZE + 1}</span>" in html  # the group's count, not its page's
    second = client.get(reverse("home"), {"page_refill_overdue": 2}).content.decode()
    assert len(re.findall(overdue_rows, second)) == HOME_PAGE_SIZE
