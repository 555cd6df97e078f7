"""Celery wrapper: the daily refresh of stages that change with time (titration → maintenance)."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from patients.services import patients_refresh_time_dependent_stages
from spasticity.timeutil import clinic_today


@shared_task(
    name="patients.pathway_stages_refresh",
    autoretry_for=(DatabaseError, ConnectionError),
    retry_backoff=30,
    max_retries=5,
)
def pathway_stages_refresh_task() -> int:
    from alerts.services import system_user

    return patients_refresh_time_dependent_stages(today=clinic_today(), by=system_user())
