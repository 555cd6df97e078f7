"""Set-based inserts for the jobs that write thousands of rows: one statement per table.

``bulk_create`` (and ``bulk_create_with_history`` on top of it) builds a model instance per
row, and for an audited model a historical instance too, then prepares and binds every value
of both in Python. At 20,000 pumps that was about half of the first alert scan. On
PostgreSQL ``insert_rows`` writes the same rows with one ``INSERT … SELECT FROM unnest(…)``:
only the columns that vary from row to row travel as arrays, the rest are one value each
(the model's defaults, ``auto_now`` columns, the caller's constants).

For an audited model the same statement writes the history (``history=``): a data-modifying
``WITH`` feeds the inserted rows, as stored, to an ``INSERT`` into the history table, each
with its user, reason, date and type ``+``. So every row still has its one history row
(spec section 3 allows bulk writes that keep one history row per change; never one without).

Other databases (SQLite, the demo) take ``bulk_create`` / ``bulk_create_with_history``:
the same rows, built the slow way. ``tests/alerts/test_bulk_writes.py`` checks that the
two paths write the same rows and history.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, models
from simple_history.utils import bulk_create_with_history

# The history model's own columns (simple-history); every other column copies the record's.
_HISTORY_COLUMNS = frozenset({"history_id", "history_date", "history_change_reason", "history_type", "history_user_id"})


@dataclass(frozen=True)
class History:
    """Who and why, for the one history row each inserted row gets."""

    by: Any
    reason: str
    at: datetime.datetime


def insert_rows(
    model: type[models.Model],
    rows: Mapping[str, Sequence[Any]],
    *,
    constants: Mapping[str, Any],
    now: datetime.datetime,
    returning: Sequence[str] = ("id",),
    history: History | None = None,
) -> list[tuple[Any, ...]]:
    """Insert one row per index of ``rows`` (attname → one value per row); returns ``returning`` of each.

    1. Every concrete field but the primary key gets its value from ``rows``, else from
       ``constants``, else ``now`` for ``auto_now``/``auto_now_add``, else the field's
       default; a required field with none of these is a programming error.
    2. ``rows`` hold database values already (ints, strings, dates, None): they are not
       prepared field by field, which is the point.
    3. With ``history``, each row's history row is written in the same statement.
    The order of the returned tuples is not the order of ``rows``: match them by a column.
    """
    lengths = {len(values) for values in rows.values()}
    if len(lengths) != 1:
        raise ValueError(f"insert_rows: every column needs one value per row, got lengths {sorted(lengths)}")
    if not lengths.pop():
        return []
    if history is not None and not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        history = None
    if connection.vendor != "postgresql":
        return _insert_with_orm(model, rows, constants=constants, returning=returning, history=history)
    sql, params = _insert_sql(model, rows, constants=constants, now=now, returning=returning, history=history)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def _value_columns(
    model: type[models.Model], rows: Mapping[str, Sequence[Any]], constants: Mapping[str, Any], now: datetime.datetime
) -> tuple[list[str], list[str], list[Any]]:
    """The table's columns, the SELECT expression of each (``t.<column>`` or a cast parameter) and the parameters."""
    columns, expressions, params = [], [], []
    quote = connection.ops.quote_name
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        column = quote(str(field.column))
        columns.append(column)
        if field.attname in rows:
            expressions.append(f"t.{column}")
            continue
        value = _single_value(model, field, constants, now)
        expressions.append(f"%s::{field.db_type(connection)}")
        params.append(field.get_db_prep_save(value, connection))
    return columns, expressions, params


def _single_value(model: type[models.Model], field: Any, constants: Mapping[str, Any], now: datetime.datetime) -> Any:
    if field.attname in constants:
        return constants[field.attname]
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    value = field.get_default()
    if value is None and not field.null:
        raise ValueError(f"insert_rows: {model.__name__}.{field.attname} needs a value")
    return value


def _insert_sql(
    model: type[models.Model],
    rows: Mapping[str, Sequence[Any]],
    *,
    constants: Mapping[str, Any],
    now: datetime.datetime,
    returning: Sequence[str],
    history: History | None,
) -> tuple[str, list[Any]]:
    quote = connection.ops.quote_name
    meta = model._meta
    varying = [_by_attname(model, attname) for attname in rows]
    unnest = ", ".join(f"%s::{field.db_type(connection)}[]" for field in varying)
    names = ", ".join(quote(field.column) for field in varying)
    params: list[Any] = [list(values) for values in rows.values()]
    columns, expressions, constant_params = _value_columns(model, rows, constants, now)
    params += constant_params
    table = quote(meta.db_table)
    sql = (
        f"WITH t AS (SELECT * FROM unnest({unnest}) AS t({names})), "  # noqa: S608 (names from the model)
        f"new AS (INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(expressions)} FROM t RETURNING *)"
    )
    if history is not None:
        history_sql, history_params = _history_sql(model, history)
        sql += f", history AS ({history_sql})"
        params += history_params
    returned = ", ".join(quote(_by_attname(model, attname).column) for attname in returning)
    return f"{sql} SELECT {returned} FROM new", params  # noqa: S608


def _history_sql(model: type[models.Model], history: History) -> tuple[str, list[Any]]:
    """``INSERT INTO <history table> … SELECT <the row as stored>, <when, why, how, who> FROM new``."""
    quote = connection.ops.quote_name
    history_model = model.history.model  # type: ignore[attr-defined]
    tracked = [quote(field.column) for field in history_model.tracked_fields]
    extra = {field.column for field in history_model._meta.concrete_fields} - _HISTORY_COLUMNS
    unknown = extra - {field.column for field in history_model.tracked_fields}
    if unknown:  # a history column this statement would leave empty (a custom history field)
        raise ValueError(f"insert_rows: {history_model.__name__} has columns it cannot fill: {sorted(unknown)}")
    sql = (
        f"INSERT INTO {quote(history_model._meta.db_table)} "  # noqa: S608 (names from the model)
        f"({', '.join(tracked)}, history_date, history_change_reason, history_type, history_user_id) "
        f"SELECT {', '.join(f'new.{column}' for column in tracked)}, %s, %s, '+', %s FROM new"
    )
    return sql, [history.at, history.reason, getattr(history.by, "pk", None)]


def _by_attname(model: type[models.Model], attname: str) -> Any:
    for field in model._meta.concrete_fields:
        if field.attname == attname:
            return field
    raise ValueError(f"insert_rows: {model.__name__} has no column {attname!r}")


def _insert_with_orm(
    model: type[models.Model],
    rows: Mapping[str, Sequence[Any]],
    *,
    constants: Mapping[str, Any],
    returning: Sequence[str],
    history: History | None,
) -> list[tuple[Any, ...]]:
    """The same rows through ``bulk_create`` (with history: ``bulk_create_with_history``)."""
    count = len(next(iter(rows.values())))
    objects = [model(**constants, **{attname: values[i] for attname, values in rows.items()}) for i in range(count)]
    if history is None:
        created = model._default_manager.bulk_create(objects)
    else:
        created = bulk_create_with_history(
            objects,
            model,
            default_user=history.by,
            default_change_reason=history.reason,
            default_date=history.at,
        )
    return [tuple(getattr(obj, attname) for attname in returning) for obj in created]
