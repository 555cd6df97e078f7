"""Reading the access log."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from access_log.models import RecordAccess


def patient_access_log(patient_id: int) -> QuerySet[RecordAccess]:
    """Who has looked at this patient's record, newest first (one query, whatever the number of rows)."""
    return RecordAccess.objects.filter(patient_id=patient_id).select_related("user").order_by("-accessed_at", "-pk")


@dataclass(frozen=True)
class AccessRow:
    """One access as the export shows it."""

    accessed_at: str
    username: str
    full_name: str
    kind: str
    object_id: int | None
    channel: str
    path: str
    remote_addr: str | None
    user_agent: str


EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("When", "accessed_at"),
    ("Username", "username"),
    ("Name", "full_name"),
    ("Record", "kind"),
    ("Record id", "object_id"),
    ("Channel", "channel"),
    ("Path", "path"),
    ("Address", "remote_addr"),
    ("User agent", "user_agent"),
)


def access_rows(accesses: QuerySet[RecordAccess]) -> Iterator[AccessRow]:
    """The rows for the export, in clinic time with the UTC offset (``2026-12-04T09:15:02+00:00``)."""
    for access in accesses.iterator(chunk_size=2000):
        yield AccessRow(
            accessed_at=timezone.localtime(access.accessed_at).isoformat(timespec="seconds"),
            username=access.user.username,
            full_name=access.user.get_full_name(),
            kind=access.kind,
            object_id=access.object_id,
            channel=access.channel,
            path=access.path,
            remote_addr=access.remote_addr,
            user_agent=access.user_agent,
        )


def accesses_older_than(cutoff: datetime.datetime) -> QuerySet[RecordAccess]:
    return RecordAccess.objects.filter(accessed_at__lt=cutoff)
