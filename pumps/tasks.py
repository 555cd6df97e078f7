"""Celery wrappers of a few lines for the pumps app."""

from __future__ import annotations

from typing import Any

from celery import group, shared_task
from django.db import DatabaseError

from spasticity.timeutil import clinic_today

RETRY_ON = (DatabaseError, ConnectionError)
# One chunk (CLINIC["SCAN_CHUNK_PUMPS"] pump ids) recomputes only the pumps that drifted:
# seconds at most. The limits are for a database that is stuck.
CHUNK_SOFT_LIMIT_S, CHUNK_HARD_LIMIT_S = 240, 300


@shared_task(
    bind=True,
    name="pumps.projections_refresh",
    autoretry_for=RETRY_ON,
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
    soft_time_limit=1500,
    time_limit=1800,
)
def projections_refresh_task(self: Any, model_id: int | None = None) -> dict[str, int]:
    """Recompute the pumps whose stored dates drifted (after a catalogue edit, or daily at 05:55).

    On a worker it records the run (``alerts.job_runs``) and queues one task per chunk
    of pump ids as a Celery group, so more workers finish it sooner. Called in process
    (a test, ``.apply()``), it recomputes every pump here.
    """
    from alerts.job_runs import JOB_PROJECTIONS_REFRESH, job_run_start
    from alerts.services import pump_chunks, system_user
    from alerts.tasks import _in_process
    from pumps.services import pumps_refresh_projections

    if _in_process(self):
        return {"moved": pumps_refresh_projections(by=system_user(), model_id=model_id, today=clinic_today())}
    chunks = pump_chunks()
    run = job_run_start(JOB_PROJECTIONS_REFRESH, as_of=clinic_today(), chunks=chunks)
    group(projections_refresh_chunk_task.s(run.pk, chunk, model_id) for chunk in chunks).apply_async()
    return {"run": run.pk, "chunks": len(chunks)}


@shared_task(
    name="pumps.projections_refresh_chunk",
    autoretry_for=RETRY_ON,
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
    soft_time_limit=CHUNK_SOFT_LIMIT_S,
    time_limit=CHUNK_HARD_LIMIT_S,
)
def projections_refresh_chunk_task(run_id: int, chunk: int, model_id: int | None = None) -> dict[str, int]:
    """One chunk of the refresh. Each pump is its own transaction, so a retried chunk only
    finds the pumps that are still drifting; the chunk is counted once in its run."""
    from alerts.job_runs import job_run_chunk_done
    from alerts.services import chunk_range, system_user
    from pumps.services import pumps_refresh_projections

    moved = pumps_refresh_projections(
        by=system_user(), model_id=model_id, today=clinic_today(), pump_ids=chunk_range(chunk)
    )
    job_run_chunk_done(run_id, chunk=chunk, counts={"moved": moved})
    return {"moved": moved}
