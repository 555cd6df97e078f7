"""``{% patient_banner record %}``: who a page is about, at the top of every patient-scoped page."""

from __future__ import annotations

from typing import Any

from django import template

from patients.selectors import patient_banner as banner_of
from patients.selectors import patient_id_of
from spasticity.timeutil import clinic_today

register = template.Library()


@register.inclusion_tag("patients/partials/patient_banner.html")
def patient_banner(record: Any) -> dict[str, Any]:
    """The banner of the patient a record belongs to (a patient, a pump, a trial, a refill…,
    or a patient id): one query. Nothing for a record about no patient."""
    patient_id = record if isinstance(record, int) else patient_id_of(record)
    if patient_id is None:
        return {"banner": None}
    return {"banner": banner_of(patient_id, today=clinic_today())}
