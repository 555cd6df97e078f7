"""Readable history entries for any audited record (who, when, what changed, why)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class HistoryEntry:
    history_date: datetime
    history_user: str | None
    history_type: str
    changed_fields: list[str]
    changes: list[FieldChange]
    history_change_reason: str | None


def history_entries(record: Any) -> list[HistoryEntry]:
    """Newest first; each entry lists the fields that changed against the one before it."""
    rows = list(record.history.select_related("history_user").order_by("-history_date", "-history_id"))
    entries = []
    for index, row in enumerate(rows):
        previous = rows[index + 1] if index + 1 < len(rows) else None
        changes = _changes(row, previous)
        entries.append(
            HistoryEntry(
                history_date=row.history_date,
                history_user=row.history_user.username if row.history_user else None,
                history_type=row.history_type,
                changed_fields=[change.field for change in changes],
                changes=changes,
                history_change_reason=row.history_change_reason,
            )
        )
    return entries


def _changes(row: Any, previous: Any) -> list[FieldChange]:
    if previous is None:
        return []
    delta = row.diff_against(previous, excluded_fields=["updated_at", "version"])
    return [FieldChange(change.field, change.old, change.new) for change in delta.changes]
