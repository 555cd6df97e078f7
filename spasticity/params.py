"""Query parameters: the one definition of a date (and a window of days) the API and the pages accept.

No clinical question needs a date before 1900 or after 2200, and a report run "as of
9999-12-31" overflows as soon as it adds a window of days to it; so every date query
parameter is held to that range, and a value outside it is refused with a message that
names the parameter (a 400 on the API and on pages) rather than a 500.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2200, 12, 31)
MAX_WINDOW_DAYS = 3650

DATE_FORMAT_MESSAGE = "Give a real date as YYYY-MM-DD."
DATE_RANGE_MESSAGE = f"Give a date between {EARLIEST_DATE:%Y-%m-%d} and {LATEST_DATE:%Y-%m-%d}."
WINDOW_MESSAGE = f"Give a whole number of days from 0 to {MAX_WINDOW_DAYS}."

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The range as the API schema states it (years 1900 to 2200), so that a client can tell which
# dates are accepted: a ``format: date`` alone would promise every year from 0001 to 9999.
BOUNDED_DATE_SCHEMA = {
    "type": "string",
    "format": "date",
    "pattern": r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-[0-9]{2}-[0-9]{2}$",
}
_DAYS = re.compile(r"[0-9]{1,5}")
# A whole number typed by hand (an id, a page): ASCII digits only. str.isdigit() also takes
# "²" or "١", which int() refuses (a 500) or reads as another number.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")


def whole_number(text: str) -> int | None:
    """``text`` as a non-negative whole number when it is one in ASCII digits (up to 18), else None."""
    return int(text) if _WHOLE_NUMBER.fullmatch(text) else None


def bounded_date(value: str) -> dt.date:
    """``YYYY-MM-DD`` within the range, else ValueError with the message to show."""
    if not _ISO_DATE.fullmatch(value):
        raise ValueError(DATE_FORMAT_MESSAGE)
    try:
        parsed = dt.date.fromisoformat(value)
    except ValueError as error:  # 2024-02-30, year 0000
        raise ValueError(DATE_FORMAT_MESSAGE) from error
    if not EARLIEST_DATE <= parsed <= LATEST_DATE:
        raise ValueError(DATE_RANGE_MESSAGE)
    return parsed


def parse_date_param(value: str | None, field: str) -> dt.date | None:
    """A date query parameter; None when absent or blank; else ``ValidationError({field: [message]})``."""
    if not value or not value.strip():
        return None
    try:
        return bounded_date(value.strip())
    except ValueError as error:
        raise ValidationError({field: [str(error)]}) from error


def parse_days_param(value: str | None, field: str) -> int | None:
    """A window of days (0 to 3650); None when absent or blank; else ``ValidationError({field: [message]})``."""
    if not value or not value.strip():
        return None
    if not _DAYS.fullmatch(value.strip()) or int(value) > MAX_WINDOW_DAYS:
        raise ValidationError({field: [WINDOW_MESSAGE]})
    return int(value)


@extend_schema_field(BOUNDED_DATE_SCHEMA)
class BoundedDateField(serializers.DateField):
    """A DRF date field held to the same range as every other date parameter."""

    def to_internal_value(self, value: Any) -> dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = value.isoformat()
        if not isinstance(value, str):
            raise serializers.ValidationError(DATE_FORMAT_MESSAGE)
        try:
            return bounded_date(value.strip())
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from error


class WindowDaysField(serializers.IntegerField):
    """A DRF count of days from 0 to 3650 (a report's look-ahead window)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_WINDOW_DAYS)
        super().__init__(**kwargs)
