"""The scan at scale: chunked, bulk writes with history, a fixed number of statements per chunk,
and safe against people working (and other scans running) at the same time."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from alerts.job_runs import JOB_ALERT_SCAN, last_run
from alerts.models import Alert, JobRun, Notification
from alerts.services import alert_acknowledge, alert_scan, alert_scan_chunk, pump_chunks, system_user
from tests.alerts.conftest import ALARM_ON, DUE_ON, bulk_alerts, bulk_pumps

AS_OF = dt.date(2024, 6, 10)  # after DUE_ON (2024-06-08), before ALARM_ON (2024-06-15): refill_overdue


@pytest.fixture
def one_chunk(settings):
    settings.CLINIC = {**settings.CLINIC, "SCAN_CHUNK_PUMPS": 10_000_000}


def statements(run) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        result = run()
    return len(queries), result


@pytest.mark.django_db
def test_a_scan_chunk_runs_the_same_number_of_statements_for_10_and_1000_pumps(one_chunk):
    by = system_user()
    bulk_pumps(10)
    first_few, result = statements(lambda: alert_scan_chunk(0, as_of=AS_OF, by=by))
    assert result.raised["refill_overdue"] == 10
    again_few, result = statements(lambda: alert_scan_chunk(0, as_of=AS_OF, by=by))
    assert result.changes == 0

    more = bulk_pumps(990)
    first_more, result = statements(lambda: alert_scan_chunk(0, as_of=AS_OF, by=by))
    assert result.raised["refill_overdue"] == 990 and len(more) == 990
    again_more, result = statements(lambda: alert_scan_chunk(0, as_of=AS_OF, by=by))
    assert result.changes == 0

    assert first_few == first_more
    assert again_few == again_more


@pytest.mark.django_db
def test_a_first_scan_of_2000_pumps_writes_alerts_and_history_in_at_most_20_statements_per_chunk(one_chunk, nurse):
    # Half are overdue, half past their alarm date (each past-alarm alert queues an immediate email).
    bulk_pumps(1000, nurse=nurse)
    bulk_pumps(1000, nurse=nurse, refill_due_on=dt.date(2024, 5, 1), alarm_date=dt.date(2024, 5, 8))
    by = system_user()
    count, result = statements(lambda: alert_scan(as_of=AS_OF, by=by))
    assert result.chunks == 1
    assert dict(result.raised) == {"refill_overdue": 1000, "past_alarm_date": 1000}
    assert Notification.objects.filter(kind="immediate").count() == 1000
    assert Notification.alerts.through.objects.count() == 1000
    assert count <= 20 + 2  # the chunk, plus finding the chunks and recording the run

    history = Alert.history.filter(history_type="+")
    assert history.count() == Alert.objects.count() == 2000
    assert set(history.values_list("history_user__username", "history_change_reason").distinct()) == {
        ("itb-system", "Raised by the alert scan as of 2024-06-10")
    }


@pytest.mark.django_db
def test_resolutions_and_date_moves_keep_one_history_row_each_with_its_reason(one_chunk):
    by = system_user()
    answered = bulk_pumps(3, refill_due_on=dt.date(2024, 9, 1), alarm_date=dt.date(2024, 9, 8))
    moved = bulk_pumps(2, refill_due_on=dt.date(2024, 6, 5), alarm_date=ALARM_ON)
    bulk_alerts(answered + moved, kind="refill_overdue", due_on=DUE_ON, raised_on=dt.date(2024, 6, 9))

    result = alert_scan(as_of=AS_OF, by=by)

    assert (result.resolved["refill_overdue"], result.updated["refill_overdue"]) == (3, 2)
    for pump in answered:
        alert = Alert.objects.get(pump=pump)
        assert (alert.status, alert.resolved_on, alert.version) == ("resolved", AS_OF, 2)
        row = alert.history.get()
        assert row.history_user == by and row.history_change_reason.startswith("Resolved: The pump was refilled")
    for pump in moved:
        alert = Alert.objects.get(pump=pump)
        assert (alert.status, alert.due_on) == ("open", dt.date(2024, 6, 5))
        assert alert.history.get().history_change_reason == "Date moved from 2024-06-08 to 2024-06-05"


@pytest.mark.django_db
def test_a_scan_in_chunks_changes_what_a_one_chunk_scan_does_and_records_its_run(settings, nurse):
    # Each past-alarm alert emails the patient's pump nurse.
    pumps = bulk_pumps(40, nurse=nurse) + bulk_pumps(
        20, nurse=nurse, refill_due_on=dt.date(2024, 5, 1), alarm_date=dt.date(2024, 5, 8)
    )
    settings.CLINIC = {**settings.CLINIC, "SCAN_CHUNK_PUMPS": 7}
    chunks = pump_chunks()
    assert chunks == sorted({pump.pk // 7 for pump in pumps}) and len(chunks) >= 8

    result = alert_scan(as_of=AS_OF, by=system_user())

    assert result.chunks == len(chunks)
    assert dict(result.raised) == {"refill_overdue": 40, "past_alarm_date": 20}
    run = last_run(JOB_ALERT_SCAN)
    assert run is not None and run.is_finished and run.as_of == AS_OF
    assert (run.chunks_total, sorted(run.chunks_done)) == (len(chunks), chunks)
    assert (run.counts["raised"], run.counts["notifications"]) == (60, 20)
    assert alert_scan(as_of=AS_OF, by=system_user()).changes == 0


# --------------------------------------------------------------------------
# People and scans at the same time (two real connections)
# --------------------------------------------------------------------------


def in_thread(target, errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except BaseException as error:  # surfaced by the test
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_an_acknowledgement_made_while_the_scan_runs_survives_it(one_chunk, nurse):
    (pump,) = bulk_pumps(1, nurse=nurse, refill_due_on=dt.date(2024, 6, 5))  # the scan will move the date
    (alert,) = bulk_alerts([pump], kind="refill_overdue", due_on=DUE_ON, raised_on=dt.date(2024, 6, 9))
    acknowledged = threading.Barrier(2)
    errors: list[BaseException] = []
    scan_started_at: list[float] = []

    def nurse_acknowledges() -> None:
        with transaction.atomic():
            alert_acknowledge(alert, by=nurse, note="Calling the family")
            acknowledged.wait(timeout=10)
            time.sleep(0.5)  # the scan is now waiting for this row; commit only then

    def scan() -> None:
        acknowledged.wait(timeout=10)
        scan_started_at.append(time.monotonic())
        alert_scan(as_of=AS_OF, by=system_user())

    threads = [in_thread(nurse_acknowledges, errors), in_thread(scan, errors)]
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by, alert.due_on) == ("acknowledged", nurse, dt.date(2024, 6, 5))
    history = list(alert.history.order_by("history_date").values_list("history_user__username", "status", "due_on"))
    assert history == [
        (nurse.username, "acknowledged", DUE_ON),
        ("itb-system", "acknowledged", dt.date(2024, 6, 5)),
    ]


@pytest.mark.django_db(transaction=True)
def test_two_scans_started_together_raise_resolve_and_email_each_alert_once(settings, nurse):
    settings.CLINIC = {**settings.CLINIC, "SCAN_CHUNK_PUMPS": 5}
    bulk_pumps(12, nurse=nurse)  # overdue: raised
    bulk_pumps(6, nurse=nurse, refill_due_on=dt.date(2024, 5, 1), alarm_date=dt.date(2024, 5, 8))  # past alarm
    answered = bulk_pumps(4, nurse=nurse, refill_due_on=dt.date(2024, 9, 1), alarm_date=dt.date(2024, 9, 8))
    bulk_alerts(answered, kind="refill_overdue", due_on=DUE_ON, raised_on=dt.date(2024, 6, 9))  # resolved
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    results = []

    def scan() -> None:
        start.wait(timeout=10)
        results.append(alert_scan(as_of=AS_OF, by=system_user()))

    threads = [in_thread(scan, errors), in_thread(scan, errors)]
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(sum(r.raised.values()) for r in results) == 18
    assert sum(sum(r.resolved.values()) for r in results) == 4
    assert Alert.objects.unresolved().count() == 18
    assert Alert.history.filter(history_type="+").count() == 18
    assert Alert.history.filter(history_change_reason__startswith="Resolved").count() == 4
    assert Notification.objects.filter(kind="immediate").count() == 6
    assert JobRun.objects.filter(job=JOB_ALERT_SCAN, finished_at__isnull=False).count() == 2
