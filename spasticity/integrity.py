"""A database constraint that refused a save, as the field message a person can act on.

Validators check uniqueness before saving, but two saves that arrive together both pass
them and the database refuses the second INSERT with an IntegrityError. The API (through
``spasticity.api_errors``) and the pages (``AuditedEditMixin``) both turn it into a
ValidationError on the field the violated constraint guards, found by the constraint's
name in a small registry: named constraints, plus every ``unique=True`` field under the
name PostgreSQL gives it (``<table>_<column>_key``).
"""

from __future__ import annotations

import functools
import logging
from typing import NamedTuple

from django.apps import apps
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError
from django.utils.text import capfirst

logger = logging.getLogger(__name__)

CLASH_MESSAGE = "This clashes with a record saved at the same moment; please check and try again."


class Clash(NamedTuple):
    field: str
    message: str


NAMED_CONSTRAINTS: dict[str, Clash] = {
    "pump_serial_unique_when_not_voided": Clash("serial_number", "A pump with this serial number is already recorded."),
    "one_implanted_pump_per_patient": Clash(
        "patient", "This patient already has an implanted pump: explant or replace it first."
    ),
    "one_booked_refill_per_pump": Clash("pump", "This pump already has a refill booked: change or cancel that one."),
}


@functools.cache
def unique_field_constraints() -> dict[str, Clash]:
    """``<table>_<column>_key`` → the field and its "already exists" message, for every unique field."""
    clashes: dict[str, Clash] = {}
    for model in apps.get_models():
        opts = model._meta
        for field in opts.local_fields:
            if field.unique and not field.primary_key:
                message = field.error_messages["unique"] % {
                    "model_name": capfirst(opts.verbose_name),
                    "field_label": capfirst(field.verbose_name),
                }
                clashes[f"{opts.db_table}_{field.column}_key"] = Clash(field.name, str(message))
    return clashes


def constraint_name(error: IntegrityError) -> str | None:
    """The violated constraint's name, as PostgreSQL reports it (None on other databases)."""
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def integrity_validation_error(error: IntegrityError) -> ValidationError:
    """The IntegrityError as ``ValidationError({field: [message]})``; unknown ones on the whole record."""
    name = constraint_name(error)
    clash = NAMED_CONSTRAINTS.get(name or "") or unique_field_constraints().get(name or "")
    if clash is None:
        # Still a 400 for the person, but a constraint we cannot name may be a bug: keep it visible.
        logger.warning("Unmapped integrity error (constraint %r): %s", name, error)
        clash = Clash(NON_FIELD_ERRORS, CLASH_MESSAGE)
    return ValidationError({clash.field: [clash.message]})
