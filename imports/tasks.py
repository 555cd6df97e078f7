"""Celery wrapper of a few lines for the caseload import."""

from __future__ import annotations

from celery import shared_task

from spasticity.timeutil import clinic_today


# A commit records each row through the services: 0.12 to 0.25 s a row on the development
# machine, so a 5,000-row commit takes 10 to 20 minutes (its dry run, seconds).
@shared_task(name="imports.caseload_import", soft_time_limit=3300, time_limit=3600)
def caseload_import_task(run_id: int) -> str:
    """Import a stored upload (``imports.runs.import_run_execute``); returns the run's status."""
    from imports.runs import import_run_execute

    return import_run_execute(run_id, today=clinic_today())
