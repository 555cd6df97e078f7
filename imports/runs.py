"""An import run as a job: the page stores the upload, a worker imports it, the page polls.

The import itself is ``imports.services.caseload_import_file``, the same call the API and the
command make. Progress is kept in the cache, not in the run's row: the import holds one
transaction from the first row to the last, so a row written inside it would stay invisible
to the polling page until the end.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from imports.models import ImportRun
from imports.services import caseload_import_file, require_import_permission

logger = logging.getLogger(__name__)

PROGRESS_EVERY_ROWS = 25
PROGRESS_TTL_S = 6 * 60 * 60
QUEUE_DOWN_MESSAGE = (
    "The job queue could not be reached, so the import did not start and nothing was saved. Try again in a few minutes."
)
FAILED_MESSAGE = "The import stopped on an unexpected error and nothing was saved. The error is in the server log."


def import_run_create(*, by: Any, file_name: str, content: bytes, commit: bool) -> ImportRun:
    """Store an upload as a queued run of ``by``'s and queue its job once the run is committed."""
    require_import_permission(by)
    run = ImportRun.objects.create(owner=by, file_name=file_name[:255], content=content, commit=commit)
    run_id = run.pk
    transaction.on_commit(lambda: _enqueue(run_id), robust=True)
    return run


def _enqueue(run_id: int) -> None:
    from alerts.jobs import task_enqueue
    from imports.tasks import caseload_import_task

    if not task_enqueue(caseload_import_task, run_id):
        ImportRun.objects.filter(pk=run_id, status=ImportRun.Status.QUEUED).update(
            status=ImportRun.Status.FAILED, failure=QUEUE_DOWN_MESSAGE, finished_at=timezone.now()
        )


def import_run_execute(run_id: int, *, today: datetime.date) -> str:
    """Run a queued import (the job's body); returns the run's final status.

    The run is claimed first (queued → running), so a job delivered twice imports once.
    """
    claimed = ImportRun.objects.filter(pk=run_id, status=ImportRun.Status.QUEUED).update(
        status=ImportRun.Status.RUNNING
    )
    if not claimed:
        return ImportRun.objects.filter(pk=run_id).values_list("status", flat=True).first() or "missing"
    run = ImportRun.objects.select_related("owner").get(pk=run_id)
    try:
        result = caseload_import_file(
            run.file_name,
            bytes(run.content),
            by=run.owner,
            commit=run.commit,
            today=today,
            progress=lambda done, total: _progress_save(run_id, done, total),
        )
    except Exception:  # the page must say it stopped rather than poll for ever
        logger.exception("Caseload import run %s failed", run_id)
        _finish(run_id, status=ImportRun.Status.FAILED, failure=FAILED_MESSAGE)
        return ImportRun.Status.FAILED
    _finish(run_id, status=ImportRun.Status.DONE, result=result.as_dict(), total_rows=result.rows)
    return ImportRun.Status.DONE


def _finish(run_id: int, **values: Any) -> None:
    # The upload (a whole caseload of patient details) is not kept once it has been read: the
    # result, with its errors and reconciliation, is what the pages show again.
    ImportRun.objects.filter(pk=run_id).update(finished_at=timezone.now(), content=b"", **values)


def _progress_key(run_id: int) -> str:
    return f"imports:run:{run_id}:progress"


def _progress_save(run_id: int, done: int, total: int) -> None:
    if done % PROGRESS_EVERY_ROWS and done != total:
        return
    try:
        cache.set(_progress_key(run_id), (done, total), PROGRESS_TTL_S)
    except Exception:  # a progress bar is not worth failing an import for
        logger.warning("Could not store the progress of import run %s", run_id, exc_info=True)


def import_run_progress(run: ImportRun) -> tuple[int, int | None]:
    """(rows done, rows in all) of a running import; (0, None) before the first report."""
    if run.status == ImportRun.Status.DONE:
        return run.total_rows or 0, run.total_rows
    try:
        stored = cache.get(_progress_key(run.pk))
    except Exception:
        stored = None
    return (int(stored[0]), int(stored[1])) if stored else (0, None)
