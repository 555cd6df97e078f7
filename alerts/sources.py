"""Alert kinds decided from other records than the pump's own dates (appointments,
second checks, MRI follow-ups): each app contributes a ``RowSource``.

The scan reads every watched pump it may need to alert on in one query per chunk, and
a write on one pump refreshes that pump's alerts in one query too. A source keeps it
that way: it does not run its own query; it adds a few values to that one pump row
(``annotations``: ``Exists`` or ``Subquery`` expressions on the pump, ``OuterRef("pk")``),
widens the scan's filter to the pumps that may need its kinds (``candidates``), and
then decides from the row alone (``wanted``: pure, so its boundary days are tested
from plain values).

Sources are listed by dotted path in ``SOURCE_PATHS`` so that ``alerts`` does not
import the apps that build on it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db.models import Expression, Q
from django.utils.module_loading import import_string

PumpRow = Mapping[str, Any]  # the pump's stored columns (``alerts.services.PUMP_COLUMNS``) and every annotation


@dataclass(frozen=True)
class RowSource:
    """Alert kinds one app decides from a watched pump's row.

    ``annotations(as_of)``: name → expression, added to the pump row. Names are
        prefixed with the app's name so that two sources never collide.
    ``candidates(as_of)``: the pumps that may need one of ``kinds`` (OR-ed into the
        scan's filter; a pump outside it gets none of them).
    ``wanted(row, as_of)``: kind → the date the alert is about, for the kinds the
        row calls for (only kinds in ``kinds``).
    """

    kinds: tuple[str, ...]
    annotations: Callable[[datetime.date], dict[str, Expression]]
    candidates: Callable[[datetime.date], Q]
    wanted: Callable[[PumpRow, datetime.date], dict[str, datetime.date]]


# Each entry: "app.module.NAME" of a RowSource. Add yours here.
SOURCE_PATHS: tuple[str, ...] = (
    "appointments.alert_source.SOURCE",
    "pumps.second_check_alerts.SOURCE",
    "devices.alert_source.SOURCE",
)


@cache
def row_sources() -> tuple[RowSource, ...]:
    return tuple(import_string(path) for path in SOURCE_PATHS)
