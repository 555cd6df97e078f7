"""The nurse worklist (her home page) and the administrators' dashboard."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts.models import Alert
from alerts.selectors import dashboard, refills_on_time
from alerts.services import alert_acknowledge, alert_scan, alert_snooze, system_user
from spasticity.timeutil import clinic_today
from tests.alerts.conftest import bulk_alerts, bulk_pumps
from tests.factories import DoseChangeFactory, PatientFactory, PumpFactory, RefillFactory

pytestmark = pytest.mark.django_db


def nav_items(html: str) -> set[str]:
    return set(re.findall(r'data-nav="([^"]+)"', html))


@pytest.mark.parametrize(
    ("role", "home_section"),
    [
        # The nurse's home at / holds the worklist itself (alerts by urgency, mine/all/unassigned).
        ("pump_nurse", "worklist-alerts"),
        # The administrator's home links to the dashboard, which stays a page of its own.
        ("administrator", "admin-dashboard"),
        ("rehab_doctor", "trials-to-sign"),
        ("physical_therapist", "trials-to-score"),
        ("neurosurgeon", "awaiting-implant"),
    ],
)
def test_each_role_lands_on_its_home_page(client_as, personas, role, home_section):
    response = client_as(personas[role]).get(reverse("home"))
    assert response.status_code == 200
    assert f'data-testid="{home_section}"' in response.content.decode()


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        # The worklist left the navigation: the nurse's home is the worklist, and the doctor's
        # home links to it ("More pages").
        ("pump_nurse", {"alerts", "reports"}, {"worklist", "dashboard"}),
        ("rehab_doctor", {"alerts", "reports"}, {"worklist", "dashboard"}),
        ("administrator", {"alerts", "reports", "dashboard"}, {"worklist"}),
        ("physical_therapist", {"alerts", "reports"}, {"worklist", "dashboard"}),
    ],
)
def test_the_navigation_shows_the_alert_pages_by_role(client_as, personas, role, shown, hidden):
    items = nav_items(client_as(personas[role]).get(reverse("reports:index")).content.decode())
    assert shown <= items and not (hidden & items)


def test_the_worklist_shows_todays_work_and_the_alerts_by_urgency(client_as, nurse, doctor, surgeon):
    today = clinic_today()
    # Implanted 152 days before today's alarm: past its alarm date by 3 days.
    past = PumpFactory(
        patient=PatientFactory(family_name="Okafor", assigned_nurse=nurse),
        by=surgeon,
        implanted_on=today - dt.timedelta(days=155),
    )
    due = PumpFactory(
        patient=PatientFactory(family_name="Lee", assigned_nurse=nurse),
        by=surgeon,
        implanted_on=today - dt.timedelta(days=143),
    )
    titrating = PumpFactory(
        patient=PatientFactory(family_name="Silva", assigned_nurse=nurse),
        by=surgeon,
        implanted_on=today - dt.timedelta(days=10),
    )
    DoseChangeFactory(
        pump=titrating,
        by=nurse,
        changed_on=today - dt.timedelta(days=3),
        daily_dose_mcg=Decimal("550"),
        next_visit_on=today,
    )
    others = PumpFactory(
        patient=PatientFactory(family_name="Zed", assigned_nurse=doctor),
        by=surgeon,
        implanted_on=today - dt.timedelta(days=160),
    )
    alert_scan(as_of=today, by=system_user())
    snoozed = Alert.objects.get(pump=due)
    alert_snooze(snoozed, by=nurse, until=today + dt.timedelta(days=2), reason="Booked", today=today)

    html = client_as(nurse).get(reverse("alerts:worklist")).content.decode()

    alerts_table = html.split('data-testid="worklist-alerts"')[1].split("</table>")[0]
    assert "Okafor".upper() in alerts_table and "ZED" not in alerts_table  # mine only
    assert "1 snoozed alert hidden" in html
    refills = html.split('data-testid="worklist-refills"')[1].split("</table>")[0]
    assert refills.index("OKAFOR") < refills.index("LEE")  # past alarm first
    visits = html.split('data-testid="worklist-visits"')[1].split("</table>")[0]
    assert "SILVA" in visits and "Today" in visits
    assert f'href="{reverse("pumps:detail", args=[past.pk])}"' in html  # one click to the pump

    everyone = client_as(nurse).get(reverse("alerts:worklist"), {"who": "all"}).content.decode()
    assert "ZED" in everyone.split('data-testid="worklist-alerts"')[1].split("</table>")[0]
    assert others.pk


def worklist_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("alerts:worklist"))
    assert response.status_code == 200
    return len(queries)


def test_the_worklist_keeps_a_fixed_number_of_queries_for_10_and_1000_pumps(client_as, nurse):
    today = clinic_today()
    client = client_as(nurse)

    def add(count: int) -> None:
        pumps = bulk_pumps(
            count,
            nurse=nurse,
            refill_due_on=today - dt.timedelta(days=1),
            alarm_date=today + dt.timedelta(days=6),
            next_visit_on=today,
        )
        bulk_alerts(pumps, kind="refill_overdue", due_on=today - dt.timedelta(days=1), raised_on=today)

    add(10)
    small = worklist_queries(client)
    add(990)
    large = worklist_queries(client)
    html = client.get(reverse("alerts:worklist")).content.decode()
    # One page of each group (issue 10): the count says 1000, the page shows the first 25.
    assert html.count('data-alert-kind="refill_overdue"') == 25
    assert 'data-kind="refill_overdue"><a href="#group-refill_overdue">Refill overdue</a>' in html
    assert "1–25 of 1000" in html
    # session, user, roles, permissions…; the pumps' counts and two sections (and the refill page's
    # booked appointments, issue 12); the alerts' counts and rows. No session save: at most once a minute.
    assert small == large == 13


def test_refills_on_time_compare_each_refill_with_the_due_date_in_force_before_it(nurse, surgeon):
    pump = PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon)  # due 2024-06-08
    # Q2 2024: refilled on 2024-06-05, on time (due 2024-06-08).
    RefillFactory(
        pump=pump,
        by=nurse,
        refilled_on=dt.date(2024, 6, 5),
        aspirated_volume_ml=Decimal("4.00"),
        today=dt.date(2024, 6, 5),
    )
    # That fill is due 2024-10-26 (alarm 11-02 less 7); a dose change on 2024-07-01 to 1000 mcg/day
    # brings it forward, and the refill on 2024-09-20 is late against the new date.
    DoseChangeFactory(
        pump=pump,
        by=nurse,
        changed_on=dt.date(2024, 7, 1),
        daily_dose_mcg=Decimal("1000"),
        confirmation_reason="Doubling on purpose",
        today=dt.date(2024, 7, 1),
    )
    pump.refresh_from_db()
    moved_due_on = pump.refill_due_on
    assert moved_due_on < dt.date(2024, 9, 20)
    RefillFactory(
        pump=pump,
        by=nurse,
        refilled_on=dt.date(2024, 9, 20),
        aspirated_volume_ml=Decimal("0.5"),
        today=dt.date(2024, 9, 20),
    )

    q2 = refills_on_time(as_of=dt.date(2024, 6, 30))
    q3 = refills_on_time(as_of=dt.date(2024, 9, 30))

    assert (q2.start_on, q2.total, q2.on_time, q2.percent) == (dt.date(2024, 4, 1), 1, 1, Decimal("100.0"))
    assert (q3.start_on, q3.total, q3.on_time, q3.percent) == (dt.date(2024, 7, 1), 1, 0, Decimal("0.0"))
    assert refills_on_time(as_of=dt.date(2024, 3, 31)).percent is None  # only the first fill: nothing to count


def test_the_dashboard_counts_the_caseload_refills_on_time_and_alerts_by_kind(client_as, administrator, nurse, surgeon):
    for _ in range(2):
        PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon)
    PatientFactory()
    alert_scan(as_of=dt.date(2024, 6, 16), by=system_user())
    alert_acknowledge(Alert.objects.first(), by=nurse, note="Family called")  # past alarm date: a note is required

    data = dashboard(as_of=clinic_today())
    stages = {stage: n for stage, _label, n in data.caseload}
    assert stages["referred"] == 1 and stages["maintenance"] + stages["titration"] == 2 and data.caseload_total == 3
    kinds = {row["kind"]: row for row in data.alerts_by_kind}
    assert (kinds["past_alarm_date"]["open"], kinds["past_alarm_date"]["acknowledged"]) == (1, 1)
    assert list(kinds) == [  # every kind, most urgent first
        "past_alarm_date",
        "projection_missing",
        "mri_follow_up_missing",
        "second_check_disagreed",
        "refill_overdue",
        "appointment_missed",
        "second_check_missing",
        "booking_after_alarm",
        "battery_end_of_life",
        "delivery_deviation",
        "refill_not_booked",
        "refill_due_soon",
    ]

    client = client_as(administrator)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("alerts:dashboard")).content.decode()
    assert 'data-testid="refills-on-time"' in html and "Run the alert scan now" in html
    # session, user, roles, permissions…, six for the dashboard (issue 13: open safety notices, and
    # the share of refills checked against the programmer), three for the jobs. No session save (once a minute).
    assert len(queries) == 15
