"""The whole caseload as FHIR NDJSON, in the shape of a Bulk Data export.

One file per resource type (``Patient.ndjson``, ``Device.ndjson`` ...), one resource per
line, no Bundle. Ids are the same stable ids as in a patient's Bundle, and references are
written as relative ``Type/id`` references, so every one resolves to a line in one of the
files. The clinic and its staff, named by many patients, are written once.
"""

from __future__ import annotations

import copy
import datetime
import json
from collections import Counter
from pathlib import Path
from typing import IO, Any

from patients.models import Patient

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


def caseload_patients() -> Any:
    """The patients exported: every one not voided, in a stable order."""
    return Patient.objects.active().select_related("assigned_doctor", "assigned_nurse").order_by("pk")


def export_caseload(out_dir: Path, *, as_of: datetime.date) -> Counter[str]:
    """Write the caseload's NDJSON files into ``out_dir``; return the count of resources per type.

    1. Each patient's resources are built as for their Bundle (``fhir.patient_resources``).
    2. Their references are rewritten relative (``Type/id``).
    3. Each resource is appended to its type's file, once (shared ones, like the clinic, recur).
    Files of an earlier export in the same folder are replaced, not appended to.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for kind in RESOURCE_TYPES:
        (out_dir / f"{kind}.ndjson").unlink(missing_ok=True)
    files: dict[str, IO[str]] = {}
    written: set[str] = set()
    counts: Counter[str] = Counter()
    try:
        for patient in caseload_patients().iterator(chunk_size=200):
            resources = patient_resources(patient_records(patient), as_of=as_of)
            type_of = {resource["id"]: resource["resourceType"] for resource in resources}
            for resource in resources:
                if resource["id"] in written:
                    continue
                written.add(resource["id"])
                kind = resource["resourceType"]
                if kind not in files:
                    files[kind] = (out_dir / f"{kind}.ndjson").open("w", encoding="utf-8")
                line = json.dumps(relative_references(resource, type_of), separators=(",", ":"), ensure_ascii=False)
                files[kind].write(line + "\n")
                counts[kind] += 1
    finally:
        for handle in files.values():
            handle.close()
    return counts
