"""Putting a task on the queue without letting a broker outage break the page.

Pages and services ask for background work through ``task_enqueue``: it publishes with
no retries and a short connection timeout (``CELERY_BROKER_CONNECTION_TIMEOUT``). If
Redis is down it logs the failure and returns False; the caller tells the user, runs the
work itself, or leaves it to the periodic jobs.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def task_enqueue(task: Any, *args: Any, **kwargs: Any) -> bool:
    """``task.apply_async(args, kwargs)``; False (and an error in the log) when the broker is down."""
    try:
        task.apply_async(args=args, kwargs=kwargs, retry=False)
    except Exception:  # kombu OperationalError, ConnectionError, timeouts…: never fail the page
        logger.exception("Could not queue %s: the job broker is unreachable", getattr(task, "name", task))
        return False
    return True
