"""``GET patients/{id}/fhir/`` and ``GET patients/{id}/fhir/transfer-summary/`` (spec sections 5 and 8).

Every role reads every patient, so every role can export (``RolePermission`` lets any
clinic role read). Each export is an opening of the patient's record: it is written to
the access log before the Bundle is built. A voided patient is not exported (404).

The Bundle is answered as ``application/fhir+json`` and errors as ``application/json``
(as everywhere in the API, and as the schema documents), whatever the client accepts:
a FHIR client sends ``Accept: application/fhir+json`` and must not be refused with a 406.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from access_log.models import AccessChannel
from access_log.recording import record_access_to
from patients.models import Patient
from spasticity.timeutil import clinic_today

from .document import transfer_document
from .fhir import Resource, patient_bundle
from .selectors import patient_records, transfer_summary

FHIR_JSON = "application/fhir+json"


class JSONErrorsNegotiation(BaseContentNegotiation):
    """One answer whatever the ``Accept`` header: the Bundle in FHIR JSON, an error in JSON."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


def fhir_response(resource: Resource) -> HttpResponse:
    return HttpResponse(json.dumps(resource, ensure_ascii=False), content_type=FHIR_JSON)


class PatientFhirView(GenericAPIView):  # type: ignore[type-arg]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONErrorsNegotiation
    filter_backends: list[Any] = []
    pagination_class = None

    def get_queryset(self) -> Any:
        return Patient.objects.active().select_related("assigned_doctor", "assigned_nurse")

    def opened_patient(self) -> Patient:
        patient: Patient = self.get_object()
        record_access_to(self.request, patient, channel=AccessChannel.API)
        return patient


class PatientBundleView(PatientFhirView):
    @extend_schema(
        operation_id="patients_fhir_retrieve",
        summary="The patient's pump record as a FHIR R4 Bundle (collection)",
        responses={(200, FHIR_JSON): OpenApiResponse(OpenApiTypes.OBJECT, description="A FHIR R4 Bundle")},
        tags=["patients"],
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        """Patient, devices, surgery, dose programs, refills, tone scores, goals and open alerts."""
        records = patient_records(self.opened_patient())
        return fhir_response(patient_bundle(records, as_of=clinic_today(), timestamp=timezone.now()))


class TransferDocumentView(PatientFhirView):
    @extend_schema(
        operation_id="patients_fhir_transfer_summary_retrieve",
        summary="The transfer-of-care summary as a FHIR R4 document Bundle",
        responses={(200, FHIR_JSON): OpenApiResponse(OpenApiTypes.OBJECT, description="A FHIR R4 document Bundle")},
        tags=["patients"],
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        """A Composition (International Patient Summary sections) followed by the resources it cites."""
        summary = transfer_summary(patient_records(self.opened_patient()), prepared_on=clinic_today())
        return fhir_response(transfer_document(summary, timestamp=timezone.now()))


def urlpatterns() -> list[Any]:
    from django.urls import path

    return [
        path("patients/<int:pk>/fhir/", PatientBundleView.as_view(), name="api_patient_fhir"),
        path(
            "patients/<int:pk>/fhir/transfer-summary/",
            TransferDocumentView.as_view(),
            name="api_patient_fhir_transfer_summary",
        ),
    ]
