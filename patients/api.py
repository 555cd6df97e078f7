"""Patients and referrals API (spec section 5). Thin: saves go through the services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import routers, serializers

from access_log.recording import AccessLoggedMixin
from patients import services
from patients.models import Patient, Referral
from patients.search import patient_search
from spasticity.api_base import AuditedSerializer, AuditedViewSet
from spasticity.roles import PERMS


class PatientSerializer(AuditedSerializer):
    class Meta:
        model = Patient
        fields = [
            "id",
            "mrn",
            "given_name",
            "family_name",
            "birth_date",
            "sex",
            "diagnosis",
            "gmfcs_level",
            "weight_kg",
            "height_cm",
            "assigned_doctor",
            "assigned_nurse",
            "reliable_transport",
            "travel_burden",
            "plans_to_move",
            "pathway_stage",
            "version",
            "change_reason",
            "voided",
        ]
        read_only_fields = ["pathway_stage"]


class ReferralSerializer(AuditedSerializer):
    class Meta:
        model = Referral
        fields = [
            "id",
            "patient",
            "received_on",
            "referring_clinician",
            "referring_service",
            "reason",
            "status",
            "decline_reason",
            "decided_on",
            "version",
            "change_reason",
            "voided",
        ]
        read_only_fields = ["decided_on"]


class PatientSearchSerializer(serializers.Serializer):
    """``?q=``: the patient list page's search (patients.search), same words, same matches."""

    q = serializers.CharField(required=False, allow_blank=True, max_length=200)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "q",
                str,
                description="MRN or name; every word must match, accents and case ignored (sian finds Siân)",
            )
        ]
    )
)
class PatientViewSet(AccessLoggedMixin, AuditedViewSet):
    serializer_class = PatientSerializer
    write_permission = PERMS.EDIT_PATIENT
    action_permissions = {"void": PERMS.VOID_PATIENT}
    filterset_fields = ["diagnosis", "pathway_stage", "assigned_nurse"]

    def get_queryset(self) -> Any:
        patients = Patient.objects.order_by("family_name", "given_name", "pk")
        if self.action == "list":
            search = PatientSearchSerializer(data=self.request.query_params)
            search.is_valid(raise_exception=True)
            patients = patient_search(patients, search.validated_data.get("q", ""))
        return patients

    def save_record(self, instance: Patient, *, by: Any, expected_version: int | None, reason: str) -> None:
        services.patient_save(instance, by=by, expected_version=expected_version, reason=reason)


class ReferralViewSet(AuditedViewSet):
    serializer_class = ReferralSerializer
    write_permission = PERMS.MANAGE_REFERRAL
    filterset_fields = ["patient", "status"]

    def get_queryset(self) -> Any:
        return Referral.objects.order_by("-received_on", "-pk")

    def save_record(self, instance: Referral, *, by: Any, expected_version: int | None, reason: str) -> None:
        if instance.status != Referral.Status.NEW and not instance.decided_on:
            instance.decided_by = by
            from spasticity.timeutil import clinic_today

            instance.decided_on = clinic_today()
        services.referral_save(instance, by=by, expected_version=expected_version, reason=reason)


def register(router: routers.DefaultRouter) -> None:
    router.register("patients", PatientViewSet, basename="patient")
    router.register("referrals", ReferralViewSet, basename="referral")
