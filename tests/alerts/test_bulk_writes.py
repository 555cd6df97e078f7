"""The scan's set-based writes: one statement for the alerts and their history, the outbox rows
written without their text (rendered when sent), and a scan that changes nothing locks nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.bulk_writes import History, insert_rows
from alerts.models import Alert, Notification
from alerts.notifications import notifications_send_pending
from alerts.rules import URGENCY
from alerts.services import alert_scan, system_user
from spasticity.roles import Role
from tests.alerts.conftest import bulk_pumps
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2024, 6, 10)  # bulk_pumps: due 06-08, alarm 06-15, so refill_overdue
PAST_ALARM = {"refill_due_on": dt.date(2024, 5, 1), "alarm_date": dt.date(2024, 5, 8)}
# What a row and its history row must agree on (the rest are ids and timestamps).
COMPARED = ("kind", "status", "urgency", "due_on", "raised_on", "version", "void_reason", "resolution", "refill_id")


def insert_alerts(pumps, *, by, reason: str) -> list[tuple]:
    kind = "refill_overdue"
    rows = {
        "pump_id": [pump.pk for pump in pumps],
        "patient_id": [pump.patient_id for pump in pumps],
        "kind": [kind] * len(pumps),
        "urgency": [URGENCY[kind]] * len(pumps),
        "due_on": [dt.date(2024, 6, 8)] * len(pumps),
        "refill_id": [None] * len(pumps),
    }
    now = timezone.now()
    return insert_rows(
        Alert,
        rows,
        constants={"raised_on": AS_OF},
        now=now,
        returning=("id", "pump_id"),
        history=History(by=by, reason=reason, at=now),
    )


def written(pumps) -> list[tuple]:
    """Each pump's alert and its history rows, without ids and timestamps, in pump order."""
    out = []
    for pump in sorted(pumps, key=lambda p: p.pk):
        alert = Alert.objects.get(pump=pump)
        history = list(alert.history.values_list("history_type", "history_user__username", "history_change_reason"))
        stored = alert.history.values(*COMPARED).get()
        out.append(
            (
                tuple(getattr(alert, name) for name in COMPARED),
                stored == {n: getattr(alert, n) for n in COMPARED},
                history,
            )
        )
    return out


def test_one_statement_writes_the_rows_and_a_history_row_each_as_the_orm_path_does(monkeypatch):
    by = system_user()
    sql_pumps, orm_pumps = bulk_pumps(3), bulk_pumps(3)

    with CaptureQueriesContext(connection) as queries:
        returned = insert_alerts(sql_pumps, by=by, reason="Raised by the test")
    monkeypatch.setattr(connection, "vendor", "sqlite")  # the demo's path: bulk_create_with_history
    insert_alerts(orm_pumps, by=by, reason="Raised by the test")
    monkeypatch.undo()

    assert len(queries) == 1
    assert sorted(pump_id for _id, pump_id in returned) == sorted(pump.pk for pump in sql_pumps)
    assert written(sql_pumps) == written(orm_pumps)
    first_row, history_equals_row, history = written(sql_pumps)[0]
    assert first_row[:5] == ("refill_overdue", "open", URGENCY["refill_overdue"], dt.date(2024, 6, 8), AS_OF)
    assert history_equals_row and history == [("+", "itb-system", "Raised by the test")]


def test_a_required_column_left_out_is_refused_before_anything_is_written():
    pumps = bulk_pumps(1)
    with pytest.raises(ValueError, match=r"Alert\.due_on needs a value"):
        insert_rows(
            Alert,
            {"pump_id": [pumps[0].pk], "patient_id": [pumps[0].patient_id], "kind": ["refill_overdue"]},
            constants={"raised_on": AS_OF, "urgency": 3},
            now=timezone.now(),
        )
    with pytest.raises(ValueError, match="one value per row"):
        insert_rows(Alert, {"pump_id": [1, 2], "kind": ["refill_overdue"]}, constants={}, now=timezone.now())
    assert not Alert.objects.exists()


def test_the_first_scan_gives_every_alert_one_history_row_equal_to_the_row(nurse):
    bulk_pumps(5, nurse=nurse)
    bulk_pumps(4, nurse=nurse, **PAST_ALARM)
    alert_scan(as_of=AS_OF, by=system_user())

    for alert in Alert.objects.all():
        (row,) = alert.history.all()
        assert (row.history_type, row.history_user.username) == ("+", "itb-system")
        assert row.history_change_reason == "Raised by the alert scan as of 2024-06-10"
        assert {name: getattr(row, name) for name in COMPARED} == {name: getattr(alert, name) for name in COMPARED}
        assert (row.pump_id, row.patient_id, row.created_at) == (alert.pump_id, alert.patient_id, alert.created_at)
    assert Alert.objects.filter(kind__in=["refill_overdue", "past_alarm_date"]).count() == 9


def test_an_immediate_email_is_queued_once_per_recipient_and_written_out_when_sent(nurse):
    second = UserFactory(username="nurse_nolan", first_name="Noor", last_name="Nolan", role=Role.PUMP_NURSE)
    (mine,) = bulk_pumps(1, nurse=nurse, **PAST_ALARM)
    (nobodys,) = bulk_pumps(1, nurse=None, **PAST_ALARM)  # no pump nurse: every pump nurse is told

    alert_scan(as_of=AS_OF, by=system_user())
    queued = Notification.objects.filter(kind="immediate")
    assert sorted(queued.values_list("dedupe_key", flat=True)) == sorted(
        f"immediate:{Alert.objects.get(pump=pump).pk}:{user.pk}"
        for pump, user in [(mine, nurse), (nobodys, nurse), (nobodys, second)]
    )
    assert set(queued.values_list("status", "body")) == {("pending", "")}
    assert all(row.alerts.get().pump_id in (mine.pk, nobodys.pk) for row in queued)
    assert (
        queued.get(recipient=second).subject
        == f"URGENT: pump past its alarm date, {nobodys.patient.mrn} (pump {nobodys.serial_number})"
    )

    assert notifications_send_pending().sent == 3
    assert len(mail.outbox) == 3
    for message in mail.outbox:
        row = Notification.objects.get(subject=message.subject, to_email=message.to[0])
        assert row.body == message.body and "baclofen withdrawal" in message.body
    assert alert_scan(as_of=AS_OF, by=system_user()).notification_ids == []  # never twice


def test_a_scan_that_changes_nothing_locks_no_alert_and_one_that_changes_something_does(nurse):
    by = system_user()
    bulk_pumps(3, nurse=nurse)
    alert_scan(as_of=AS_OF, by=by)

    with CaptureQueriesContext(connection) as quiet:
        assert alert_scan(as_of=AS_OF, by=by).changes == 0
    with CaptureQueriesContext(connection) as moving:
        assert (
            alert_scan(as_of=AS_OF + dt.timedelta(days=6), by=by).raised["past_alarm_date"] == 3
        )  # overdue → past alarm
    assert not [q for q in quiet.captured_queries if "FOR UPDATE" in q["sql"] and "alerts_alert" in q["sql"]]
    assert [q for q in moving.captured_queries if "FOR UPDATE" in q["sql"] and "alerts_alert" in q["sql"]]
