"""The whole caseload as FHIR NDJSON, in the shape of a Bulk Data export.

One file per resource type (``Patient.ndjson``, ``Device.ndjson`` ...), one resource per
line, no Bundle. Ids are the same stable ids as in a patient's Bundle, and references are
written as relative ``Type/id`` references, so every one resolves to a line in one of the
files. The clinic and its staff, named by many patients, are written once.

Every role may export, as every role reads every patient; the export is written to the
access log as one row per patient, each batch logged before it is written (as a page logs
before it renders).
"""

from __future__ import annotations

import copy
import datetime
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import PermissionDenied

from access_log.recording import record_bulk_export
from patients.models import Patient
from spasticity.access import holds_role
from spasticity.roles import Role

from .fhir import RESOURCE_TYPES, Resource, patient_resources
from .selectors import patient_records

URN_UUID = "urn:uuid:"


def relative_references(resource: Resource, type_of: dict[str, str]) -> Resource:
    """A copy of ``resource`` whose ``urn:uuid:<id>`` references read ``<Type>/<id>``."""

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: _relative(value, type_of) if key == "reference" and isinstance(value, str) else rewrite(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    return rewrite(copy.deepcopy(resource))  # type: ignore[no-any-return]


def _relative(value: str, type_of: dict[str, str]) -> str:
    if not value.startswith(URN_UUID):
        return value
    resource_id = value.removeprefix(URN_UUID)
    return f"{type_of[resource_id]}/{resource_id}"


PATIENTS_PER_BATCH = 200


def caseload_patients() -> Any:
    """The patients exported: every one not voided, in a stable order."""
    return Patient.objects.active().select_related("assigned_doctor", "assigned_nurse").order_by("pk")


def _batches(patients: Iterable[Patient], size: int) -> Iterator[list[Patient]]:
    batch: list[Patient] = []
    for patient in patients:
        batch.append(patient)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _NdjsonFiles:
    """The open files of one export: one per resource type, each resource written once."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.files: dict[str, IO[str]] = {}
        self.written: set[str] = set()
        self.counts: Counter[str] = Counter()

    def write(self, resources: list[Resource]) -> None:
        """One patient's resources, references made relative; those already written (the clinic ...) are skipped."""
        type_of = {resource["id"]: resource["resourceType"] for resource in resources}
        for resource in resources:
            if resource["id"] in self.written:
                continue
            self.written.add(resource["id"])
            kind = resource["resourceType"]
            line = json.dumps(relative_references(resource, type_of), separators=(",", ":"), ensure_ascii=False)
            self._file(kind).write(line + "\n")
            self.counts[kind] += 1

    def _file(self, kind: str) -> IO[str]:
        if kind not in self.files:
            self.files[kind] = (self.out_dir / f"{kind}.ndjson").open("w", encoding="utf-8")
        return self.files[kind]

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()


def export_caseload(out_dir: Path, *, as_of: datetime.date, by: Any, command: str) -> Counter[str]:
    """Write the caseload's NDJSON files into ``out_dir`` for ``by``; return the count of resources per type.

    1. Each batch of patients is written to the access log as exported by ``by`` with ``command``.
    2. Each patient's resources are built as for their Bundle (``fhir.patient_resources``).
    3. Each resource is appended to its type's file, references made relative (``Type/id``), once.
    Files of an earlier export in the same folder are replaced, not appended to.
    """
    if not holds_role(by, *Role):
        raise PermissionDenied("Only the clinic's staff export the caseload: the account has no role.")
    out_dir.mkdir(parents=True, exist_ok=True)
    for kind in RESOURCE_TYPES:
        (out_dir / f"{kind}.ndjson").unlink(missing_ok=True)
    files = _NdjsonFiles(out_dir)
    try:
        for batch in _batches(caseload_patients().iterator(chunk_size=PATIENTS_PER_BATCH), PATIENTS_PER_BATCH):
            record_bulk_export(by, [patient.pk for patient in batch], command=command)
            for patient in batch:
                files.write(patient_resources(patient_records(patient), as_of=as_of))
    finally:
        files.close()
    return files.counts
