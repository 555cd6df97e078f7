"""A real Celery worker on Redis (not eager mode) runs the fanned-out scan and the digest.

The worker runs in a thread of this process with its own database connection, so the
test data must be committed (``transaction=True``), and the locmem outbox it writes to
is the one this test reads. Redis DB 5 is the broker and DB 6 the result store: this
suite's own, so no other worker takes these tasks.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.core import mail

from alerts.models import Alert, JobRun, Notification
from alerts.tasks import alert_scan_task, nurse_digest_task
from tests.alerts.conftest import celery_connected_to
from tests.factories import PatientFactory, PumpFactory

BROKER_URL = "redis://127.0.0.1:6379/5"
RESULT_BACKEND = "redis://127.0.0.1:6379/6"

pytestmark = [pytest.mark.celery_worker]


@pytest.fixture(scope="module")
def celery_worker_live(django_db_blocker) -> Iterator[None]:
    import celery.contrib.testing.tasks  # noqa: F401  registers celery.ping for the ping check

    for url in (BROKER_URL, RESULT_BACKEND):
        redis.Redis.from_url(url).flushdb()  # leftovers of an interrupted run
    with (
        celery_connected_to(BROKER_URL, RESULT_BACKEND) as app,
        django_db_blocker.unblock(),
        start_worker(app, pool="solo", perform_ping_check=True, shutdown_timeout=10),
    ):
        yield


# A chunk that meets a database blip retries after 30 s (``alerts.tasks.RETRY_ON``): the wait
# allows one retry, so a loaded CI machine does not fail a run that does finish.
def wait_for_run(run_id: int, timeout_s: float = 90) -> JobRun:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = JobRun.objects.get(pk=run_id)
        if run.is_finished:
            return run
        time.sleep(0.1)
    raise AssertionError(f"the scan's chunks did not all finish within {timeout_s} s: {run.chunks_done}")


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_fanned_out_scan_and_the_digest(celery_worker_live, nurse, surgeon, settings):
    settings.CLINIC = {**settings.CLINIC, "SCAN_CHUNK_PUMPS": 1}  # one pump id per chunk: several chunks
    past_alarm = PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon)  # alarm 2024-06-15
    due_soon = PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon, implanted_on=dt.date(2024, 2, 1))
    quiet = PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon, implanted_on=dt.date(2024, 5, 1))

    fanned_out = alert_scan_task.delay(as_of="2024-06-16").get(timeout=30)

    assert fanned_out["chunks"] == 3
    run = wait_for_run(fanned_out["run"])
    assert sorted(run.chunks_done) == sorted(p.pk for p in (past_alarm, due_soon, quiet))
    assert (run.counts["raised"], run.counts["resolved"], run.counts["notifications"]) == (2, 0, 1)
    assert {(a.pump_id, a.kind, a.status) for a in Alert.objects.all()} == {
        (past_alarm.pk, "past_alarm_date", "open"),
        (due_soon.pk, "refill_due_soon", "open"),
    }
    assert Alert.objects.get(pump=past_alarm).history.get().history_user.username == "itb-system"
    immediate = Notification.objects.get(kind="immediate")
    for _ in range(50):  # the chunk's task sends it right after its commit
        immediate.refresh_from_db()
        if immediate.status == "sent":
            break
        time.sleep(0.1)
    assert (immediate.status, immediate.attempts) == ("sent", 1)

    digested = nurse_digest_task.delay(as_of="2024-06-16").get(timeout=30)

    assert digested == {"queued": 1, "sent": 1, "failed": 0}
    digest = Notification.objects.get(kind="digest")
    assert (digest.dedupe_key, digest.status, digest.recipient) == (f"digest:{nurse.pk}:2024-06-16", "sent", nurse)
    assert set(digest.alerts.values_list("kind", flat=True)) == {"past_alarm_date", "refill_due_soon"}
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["URGENT", "Pump alerts for 16 Jun 2024"]
    assert all(m.to == [nurse.email] for m in mail.outbox)

    # A second delivery of the digest (acks_late redelivery, a retry) sends nothing more.
    assert nurse_digest_task.delay(as_of="2024-06-16").get(timeout=30) == {"queued": 0, "sent": 0, "failed": 0}
    assert len(mail.outbox) == 2


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_fanned_out_projections_refresh(celery_worker_live, nurse, surgeon, settings):
    from pumps.models import Pump
    from pumps.tasks import projections_refresh_task

    settings.CLINIC = {**settings.CLINIC, "SCAN_CHUNK_PUMPS": 1}  # one pump id per chunk: several chunks
    pumps = [PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon) for _ in range(3)]
    drifted = pumps[1]
    # A stored date that no longer matches the records (a data fix gone wrong, say).
    Pump.objects.filter(pk=drifted.pk).update(alarm_date=dt.date(2030, 1, 1))

    fanned_out = projections_refresh_task.delay().get(timeout=30)

    assert fanned_out["chunks"] == 3
    run = wait_for_run(fanned_out["run"])
    assert (run.job, sorted(run.chunks_done), run.counts) == (
        "projections_refresh",
        sorted(p.pk for p in pumps),
        {"moved": 1},
    )
    drifted.refresh_from_db()
    assert drifted.alarm_date == dt.date(2024, 6, 15)
    assert drifted.history.first().history_change_reason == "Recomputed after a catalogue change"
