"""Celery wrappers of a few lines for the pumps app."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from spasticity.timeutil import clinic_today

RETRY_ON = (DatabaseError, ConnectionError)


@shared_task(
    name="pumps.projections_refresh",
    autoretry_for=RETRY_ON,
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
    soft_time_limit=1500,
    time_limit=1800,
)
def projections_refresh_task(model_id: int | None = None) -> dict[str, int]:
    """Recompute the pumps whose stored dates drifted (after a catalogue edit, or daily at 05:55)."""
    from alerts.services import system_user
    from pumps.services import pumps_refresh_projections

    moved = pumps_refresh_projections(by=system_user(), model_id=model_id, today=clinic_today())
    return {"moved": moved}
