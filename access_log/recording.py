"""Writing the access log: one INSERT per record opened, and nothing else.

Every entry point that shows a patient's record calls this module *before* it shows
the record (a page renders, a PDF is built, an API response is serialized). Logging
first means a failed insert fails the request: nobody sees a record unlogged.

What is logged:
* the record pages (patient, pump, trial, refill, dose change) and their history pages;
* an API read of one of those records (``retrieve``, ``history`` and other detail
  actions) through ``AccessLoggedMixin``;
* the printouts (after-visit summaries, emergency card);
* the report downloads (CSV from the page, CSV or JSON from the API): one row per
  download, with its query string, not one row per patient listed. A report lists up to
  the whole caseload; a row per patient would write thousands of rows for one click. The
  reports are reproducible for a past date from the records, so the stored query says
  which patients that download listed.
* the FHIR exports: a patient's Bundle or transfer summary (an API read or a PDF of the
  patient), and the bulk export of the whole caseload (``record_bulk_export``). A bulk
  export copies each patient's whole record out of the clinic, so, unlike a report, it
  writes a row per patient (one INSERT per batch): "who has looked at this record" finds it.

Lists and search pages are not logged: they show a line per patient, not the record.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework.permissions import SAFE_METHODS

from access_log.models import PATH_MAX_LENGTH, USER_AGENT_MAX_LENGTH, AccessChannel, AccessKind, RecordAccess

# The records whose opening is logged: model label → (kind, how a record names its patient).
SUBJECTS: dict[str, tuple[AccessKind, Callable[[Any], int]]] = {
    "patients.patient": (AccessKind.PATIENT, lambda record: record.pk),
    "pumps.pump": (AccessKind.PUMP, lambda record: record.patient_id),
    "trials.trial": (AccessKind.TRIAL, lambda record: record.patient_id),
    # Callers load the pump with the record (select_related), so this reads no row.
    "pumps.refill": (AccessKind.REFILL, lambda record: record.pump.patient_id),
    "pumps.dosechange": (AccessKind.DOSE_CHANGE, lambda record: record.pump.patient_id),
}


def record_access(
    request: HttpRequest, *, patient_id: int | None, kind: str, object_id: int | None, channel: str
) -> RecordAccess | None:
    """Log that ``request.user`` opened a record (one INSERT). Anonymous requests log nothing."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return RecordAccess.objects.create(
        user_id=user.pk,
        patient_id=patient_id,
        kind=kind,
        object_id=object_id,
        channel=channel,
        path=request.get_full_path()[:PATH_MAX_LENGTH],
        remote_addr=client_address(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX_LENGTH],
    )


def record_access_to(request: HttpRequest, record: Any, *, channel: str) -> RecordAccess | None:
    """Log the opening of ``record`` if it is one of the ``SUBJECTS``; other records log nothing."""
    subject = SUBJECTS.get(record._meta.label_lower)
    if subject is None:
        return None
    kind, patient_of = subject
    return record_access(request, patient_id=patient_of(record), kind=kind, object_id=record.pk, channel=channel)


def record_report_access(request: HttpRequest, *, channel: str) -> RecordAccess | None:
    """Log a report download: no single patient, the query string says what it listed."""
    return record_access(request, patient_id=None, kind=AccessKind.REPORT, object_id=None, channel=channel)


def record_bulk_export(user: Any, patient_ids: Sequence[int], *, command: str) -> list[RecordAccess]:
    """Log that ``user`` exported these patients' records with ``command`` (one INSERT for the lot)."""
    return RecordAccess.objects.bulk_create(
        RecordAccess(
            user_id=user.pk,
            patient_id=patient_id,
            kind=AccessKind.PATIENT,
            object_id=patient_id,
            channel=AccessChannel.NDJSON,
            path=command[:PATH_MAX_LENGTH],
        )
        for patient_id in patient_ids
    )


def client_address(request: HttpRequest) -> str | None:
    """The address the request came from.

    ``REMOTE_ADDR`` unless ``TRUSTED_PROXY_COUNT`` reverse proxies stand in front of the
    app; then the address the outermost trusted proxy saw, which is the entry that many
    places from the right of ``X-Forwarded-For``. Entries further left are whatever the
    client sent and are never believed. Anything that is not an IP address is stored empty.
    """
    address = request.META.get("REMOTE_ADDR", "")
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if proxies > 0:
        forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


class AccessLoggedMixin:
    """For a DRF viewset: each read of one record (``retrieve``, ``history``, …) is logged.

    The row is written as the record is fetched, after the permission checks and before
    the response is built; writes are already in the record's history and are not logged.
    """

    request: Any

    def get_object(self) -> Any:
        record = super().get_object()  # type: ignore[misc]
        if self.request.method in SAFE_METHODS:
            record_access_to(self.request, record, channel=AccessChannel.API)
        return record
