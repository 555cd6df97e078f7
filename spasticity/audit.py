"""Writes to audited records: who, why, and no silent overwrite.

Every service that writes a clinical record goes through ``audited_save`` so that the
history row carries the acting user and the reason, and through ``check_version`` so
that a save based on a stale copy is refused (optimistic concurrency, as in Opal).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import ForeignKey
from django.utils import timezone

from spasticity.models import ClinicalRecord

STALE_EDIT_MESSAGE = (
    "Someone else saved this record after you opened it. "
    "Your changes were not saved: reload the page to see their version, then apply your change again."
)


class StaleEditError(ValidationError):
    """The record changed since the editor loaded it."""

    def __init__(self) -> None:
        super().__init__({"version": [STALE_EDIT_MESSAGE]})


# The cause of every write in a block (e.g. "Imported from caseload.csv"), put before each reason.
_reason_source: ContextVar[str] = ContextVar("audit_reason_source", default="")


@contextmanager
def change_reasons_from(source: str) -> Iterator[None]:
    """Inside this block every history row's reason starts with ``source``.

    The caseload import calls the ordinary services, which give their own reasons
    ("First fill"); the history must also say the row came from the import, so the reason
    becomes "Imported from caseload.csv: First fill".
    """
    token = _reason_source.set(source)
    try:
        yield
    finally:
        _reason_source.reset(token)


def _with_source(reason: str) -> str:
    source = _reason_source.get()
    if not source or reason.startswith(source):
        return reason
    return f"{source}: {reason}" if reason else source


def loaded_relations(record: ClinicalRecord) -> set[str]:
    """The record's foreign keys given as objects read from (or saved to) the database.

    ``full_clean`` would look each one up again to check that it exists. These need no
    lookup: the object came from the database, nothing is ever deleted from under it
    (clinical rows are voided, every foreign key is PROTECT) and the database's own
    foreign key refuses a dangling id anyway. A relation given only as an id (from input)
    is still looked up, for its field message.
    """
    names = set()
    for field in type(record)._meta.concrete_fields:
        if not isinstance(field, ForeignKey) or field.remote_field.limit_choices_to or not field.is_cached(record):
            continue
        related = field.get_cached_value(record)
        if related is not None and related.pk is not None and not related._state.adding:
            names.add(field.name)
    return names


def validate_record(
    record: ClinicalRecord, *, exclude: Collection[str] = (), validate_constraints: bool = True
) -> None:
    """``record.full_clean()``, without looking up again the relations already loaded.

    The same checks in the same order as Django's ``full_clean``: the fields, the model's
    ``clean``, then uniqueness and constraints for the fields that passed. Only the
    existence lookup of a loaded relation (``loaded_relations``) is left out; its
    uniqueness and constraints are still checked (one implanted pump per patient).
    """
    excluded = set(exclude)
    errors = _collect({}, record.clean_fields, exclude=excluded | loaded_relations(record))
    errors = _collect(errors, record.clean)
    excluded |= {name for name in errors if name != NON_FIELD_ERRORS}
    errors = _collect(errors, record.validate_unique, exclude=excluded)
    if validate_constraints:
        excluded |= {name for name in errors if name != NON_FIELD_ERRORS}
        errors = _collect(errors, record.validate_constraints, exclude=excluded)
    if errors:
        raise ValidationError(errors)


def _collect(errors: dict[str, Any], check: Callable[..., None], **kwargs: Any) -> dict[str, Any]:
    try:
        check(**kwargs)
    except ValidationError as error:
        return error.update_error_dict(errors)  # type: ignore[no-any-return]
    return errors


def audited_save(
    record: ClinicalRecord,
    *,
    by: Any,
    reason: str = "",
    bump_version: bool = True,
    update_fields: Collection[str] | None = None,
) -> None:
    """Save ``record`` with its history row attributed to ``by`` and explained by ``reason``.

    The record is checked first (``validate_record``: its fields, the model's ``clean``,
    uniqueness and constraints). ``update_fields``: only these columns are written, so
    only they are checked (the model's ``clean`` still runs); the rest of the row is as
    the caller read it in this transaction (a pump's recomputed dates, a voiding).
    ``updated_at``, and ``version`` when bumped, are written too.
    """
    record._history_user = by  # type: ignore[attr-defined]
    record._change_reason = _with_source(reason) or None  # type: ignore[attr-defined]
    if bump_version and record.pk is not None:
        record.version += 1
    written = None
    unwritten: set[str] = set()
    if update_fields is not None:
        written = {*update_fields, "updated_at", *(("version",) if bump_version else ())}
        unwritten = {
            field.name
            for field in type(record)._meta.concrete_fields
            if field.name not in written and field.attname not in written
        }
    validate_record(record, exclude=unwritten)
    record.save(update_fields=written)


def check_version(record: ClinicalRecord, expected_version: int | None) -> None:
    """Refuse a save made from a stale copy. Call inside a transaction.

    The row is locked so that two saves that arrive together are serialised, and the
    second one sees the first one's version.
    """
    if expected_version is None or record.pk is None:
        return
    current = type(record).objects.select_for_update().only("version").get(pk=record.pk)
    if current.version != expected_version:
        raise StaleEditError()


# Hooks run after a record of the given model is voided, in the same transaction, so that
# values derived from it (e.g. a pump's stored alarm date) are recomputed at once. A hook
# may raise ValidationError to refuse the voiding; nothing is then saved.
AfterVoidHook = Callable[[ClinicalRecord, Any], None]
AFTER_VOID_HOOKS: dict[type[ClinicalRecord], list[AfterVoidHook]] = {}


def register_after_void(model: type[ClinicalRecord], hook: AfterVoidHook) -> None:
    """Apps call this from ``AppConfig.ready``; ``hook(record, by)`` runs after each voiding."""
    hooks = AFTER_VOID_HOOKS.setdefault(model, [])
    if hook not in hooks:
        hooks.append(hook)


def void_permission_check(record: ClinicalRecord, *, by: Any) -> None:
    """Refuse (``PermissionDenied``) a user whose role may not void this kind of record.

    The rule lives here, in the service, so that the page, the API and any future caller
    cannot disagree: a patient or a trial is the rehab doctor's to void (spec section 1).
    """
    required = type(record).void_permission()
    if not required or by is None or not by.has_perm(required):
        raise PermissionDenied(f"Your role may not void a {type(record)._meta.verbose_name}.")


# What voiding changes on the record itself (restored on the object when a void is refused).
VOID_STATE_FIELDS = ("voided_at", "voided_by_id", "void_reason", "version")


@transaction.atomic
def void_record(record: ClinicalRecord, *, by: Any, reason: str) -> None:
    """Void a clinical record: it stays in the database and in every history.

    1. The user's role must allow voiding this kind of record.
    2. A reason is required, and a record is voided once.
    3. The after-void hooks re-derive what the record fed, or refuse (and nothing is saved).
    """
    void_permission_check(record, by=by)
    if not reason.strip():
        raise ValidationError({"void_reason": ["Say why this record is being voided."]})
    if record.is_voided:
        raise ValidationError({"void_reason": ["This record is already voided."]})
    before = {name: getattr(record, name) for name in VOID_STATE_FIELDS}
    record.voided_at = timezone.now()
    record.voided_by = by
    record.void_reason = reason.strip()
    try:
        # Only the voiding is written: the record's content stays as it was recorded.
        audited_save(record, by=by, reason=f"Voided: {reason.strip()}", update_fields=VOID_STATE_FIELDS)
        for hook in AFTER_VOID_HOOKS.get(type(record), []):
            hook(record, by)
    except Exception:
        # The transaction rolls the row back; put the caller's object back too, so a
        # refused void never leaves a record that looks voided in memory.
        for name, value in before.items():
            setattr(record, name, value)
        raise


def record_save(record: ClinicalRecord, *, by: Any, expected_version: int | None = None, reason: str = "") -> None:
    """The one way a form or endpoint saves a clinical record: version-checked and audited.

    Must run inside a transaction (services are ``@transaction.atomic``).
    """
    check_version(record, expected_version)
    audited_save(record, by=by, reason=reason)
