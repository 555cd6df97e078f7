"""Readable history entries for any audited record (who, when, what changed, why).

A change reads as a clinician would say it: the field's label ("Signed by", not
``signed_by``), choices by their labels, people by their full names, yes/no, dates, and
JSON lists in words. A JSON field ``things`` is put in words by the model's own
``thing_labels()`` when it has one (``Trial.adverse_event_labels``,
``Surgery.complication_labels``, ``Refill.observation_sign_labels``), so the history and
the record's page say the same thing.
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone
from django.utils.text import capfirst

HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}
NOT_SHOWN = ["updated_at", "version"]
CODE = re.compile(r"[a-z]+(_[a-z]+)*")


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any
    # What the page shows: the field's label and the values in words.
    label: str = ""


@dataclass(frozen=True)
class HistoryEntry:
    history_date: datetime.datetime
    history_user: str | None
    history_type: str
    changed_fields: list[str]
    changes: list[FieldChange]
    history_change_reason: str | None
    # The person's full name (``history_user`` stays the username, as the API gives it).
    who: str | None = None


def history_entries(record: Any) -> list[HistoryEntry]:
    """Newest first; each entry lists the fields that changed against the one before it."""
    rows = list(record.history.select_related("history_user").order_by("-history_date", "-history_id"))
    deltas = [
        (row, rows[index + 1], row.diff_against(rows[index + 1], excluded_fields=NOT_SHOWN).changes)
        for index, row in enumerate(rows[:-1])
    ]
    names = _related_names(type(record), [change for _, _, changes in deltas for change in changes])
    changes_of = {row.pk: _changes(type(record), row, previous, changes, names) for row, previous, changes in deltas}
    return [
        HistoryEntry(
            history_date=row.history_date,
            history_user=row.history_user.username if row.history_user else None,
            history_type=row.history_type,
            changed_fields=[change.field for change in changes_of.get(row.pk, [])],
            changes=changes_of.get(row.pk, []),
            history_change_reason=row.history_change_reason,
            who=_person(row.history_user) if row.history_user else None,
        )
        for row in rows
    ]


def _changes(model: type[models.Model], row: Any, previous: Any, changes: list[Any], names: Any) -> list[FieldChange]:
    result = []
    for change in changes:
        field = model._meta.get_field(change.field)
        result.append(
            FieldChange(
                change.field,
                _in_words(field, change.old, previous, names),
                _in_words(field, change.new, row, names),
                label=str(capfirst(getattr(field, "verbose_name", change.field))),
            )
        )
    return result


def _in_words(field: Any, value: Any, row: Any, names: dict[Any, dict[Any, str]]) -> str:
    """One value as the record's page would show it ("" for nothing)."""
    if value is None or value == "" or value == [] or value == {}:
        return ""
    if field.is_relation:
        return names[field.related_model].get(value, str(value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if getattr(field, "flatchoices", None):
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, datetime.datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return f"{local:%Y-%m-%d %H:%M}"
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(field, models.JSONField):
        return _json_in_words(field.name, value, row)
    return str(value)


def _json_in_words(name: str, value: Any, row: Any) -> str:
    labels = getattr(row.instance, f"{name.removesuffix('s')}_labels", None) if name else None
    if callable(labels):
        # The model's own words, from the record as it was in this row.
        return ", ".join(str(label) for label in labels())
    if isinstance(value, dict):
        return _entry_in_words(value)
    if isinstance(value, list):
        return "; ".join(_json_in_words("", item, row) for item in value)
    # A stored code ("headache", "none_observed") in words; a serial or a lot number as typed.
    return _humanised(value) if isinstance(value, str) and CODE.fullmatch(value) else str(value)


def _entry_in_words(entry: dict[str, Any]) -> str:
    """{"kind": "headache", "severity": "mild"} → "Headache (mild)"; without a kind, "Key: value, …"."""
    if "kind" in entry:
        details = [str(item) for key, item in entry.items() if key != "kind" and item not in ("", None)]
        kind = _json_in_words("", entry["kind"], None)
        return f"{kind} ({', '.join(details)})" if details else kind
    return ", ".join(f"{_humanised(key)}: {item}" for key, item in entry.items())


def _humanised(code: str) -> str:
    """A stored code in words: "lumbar_puncture" → "Lumbar puncture"."""
    return str(capfirst(code.replace("_", " ")))


def _related_names(model: type[models.Model], changes: list[Any]) -> dict[Any, dict[Any, str]]:
    """Every related record the changes name, by model and key: one query per related model."""
    wanted: dict[Any, set[Any]] = defaultdict(set)
    for change in changes:
        field = model._meta.get_field(change.field)
        if field.is_relation and field.related_model is not None:
            wanted[field.related_model].update(value for value in (change.old, change.new) if value is not None)
    names: dict[Any, dict[Any, str]] = defaultdict(dict)
    for related, keys in wanted.items():
        shown = _person if related is get_user_model() else str
        names[related] = {obj.pk: shown(obj) for obj in related._default_manager.filter(pk__in=keys)}
    return names


def _person(user: Any) -> str:
    return str(user.get_full_name() or user.username)
