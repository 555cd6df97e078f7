"""Devices API: MRI scans (``mri-scans``) and safety notices (``safety-notices``).

Thin: every save goes through ``devices.services``; the affected pumps of a notice come from
``devices.selectors``. Versions guard edits (a stale one is a 409), errors are per field.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, routers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from access_log.recording import AccessLoggedMixin
from devices import selectors, services
from devices.models import MriScan, SafetyNotice, SafetyNoticePump
from devices.services import MriChecklist
from pumps.models import Pump
from spasticity.api_base import AuditedSerializer, AuditedViewSet, HistoryMixin, VoidSerializer
from spasticity.api_filters import ClinicFilterSet
from spasticity.audit import void_record
from spasticity.roles import PERMS

# --------------------------------------------------------------------------
# MRI scans
# --------------------------------------------------------------------------

MRI_READ_ONLY = ["patient", "procedure", "follow_up_recorded_at", "follow_up_recorded_by", "follow_up_due_on"]


class MriScanSerializer(AuditedSerializer):
    follow_up_due_on = serializers.DateField(read_only=True)
    # A plain string: the catalogue's ``mri_procedure`` is the one enum of these values in the schema.
    procedure = serializers.CharField(read_only=True, help_text="The pump model's MRI procedure when scanned")
    follow_up_recorded_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = MriScan
        fields = [
            "id",
            "pump",
            "patient",
            "scanned_on",
            "field_strength_tesla",
            "procedure",
            "emptied_before_scan",
            "volume_removed_ml",
            "field_strength_confirmed",
            "interrogated_after_scan",
            "motor_restart_confirmed",
            "notes",
            "follow_up_due_on",
            "follow_up_recorded_at",
            "follow_up_recorded_by",
            "follow_up_note",
            "version",
            "change_reason",
            "voided",
        ]
        read_only_fields = [*MRI_READ_ONLY, "follow_up_note"]


class MriFollowUpSerializer(serializers.Serializer):  # type: ignore[type-arg]
    interrogated_after_scan = serializers.BooleanField()
    motor_restart_confirmed = serializers.BooleanField()
    note = serializers.CharField(required=False, allow_blank=True, default="")
    version = serializers.IntegerField(help_text="The version you read (a stale one is a 409)")


class MriScanFilter(ClinicFilterSet):
    class Meta:
        model = MriScan
        fields = ["pump", "patient"]


class MriScanViewSet(AccessLoggedMixin, AuditedViewSet):
    """``POST`` records a scan with its model's checklist; ``POST {id}/follow-up/`` the SynchroMed follow-up."""

    serializer_class = MriScanSerializer
    write_permission = PERMS.RECORD_MRI
    action_permissions = {"follow_up": PERMS.RECORD_MRI}
    filterset_class = MriScanFilter
    # A dated clinical event: corrected by voiding and recording again.
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> Any:
        return MriScan.objects.select_related("follow_up_recorded_by").order_by("-scanned_on", "-pk")

    def perform_create(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        for name in ("change_reason", "version"):
            data.pop(name, None)
        pump, scanned_on = data.pop("pump"), data.pop("scanned_on")
        with transaction.atomic():
            serializer.instance = services.mri_record(
                pump=pump, by=self.request.user, scanned_on=scanned_on, checklist=MriChecklist(**data)
            )

    @extend_schema(request=MriFollowUpSerializer, responses={200: MriScanSerializer})
    @action(detail=True, methods=["post"], url_path="follow-up")
    def follow_up(self, request: Request, pk: str | None = None) -> Response:
        """The follow-up of a SynchroMed scan: the pump interrogated, the motor restarted."""
        scan = self.get_object()
        body = MriFollowUpSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        with transaction.atomic():
            scan = services.mri_record_follow_up(
                scan,
                by=request.user,
                interrogated_after_scan=data["interrogated_after_scan"],
                motor_restart_confirmed=data["motor_restart_confirmed"],
                note=data["note"],
                expected_version=data["version"],
            )
        return Response(MriScanSerializer(scan, context=self.get_serializer_context()).data)


# --------------------------------------------------------------------------
# Safety notices
# --------------------------------------------------------------------------


class SafetyNoticeSerializer(AuditedSerializer):
    serial_numbers = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, help_text="Affected serials (optional)"
    )
    lot_numbers = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, help_text="Affected drug lots (optional)"
    )

    class Meta:
        model = SafetyNotice
        fields = [
            "id",
            *SafetyNotice.EDITABLE_FIELDS,
            "version",
            "change_reason",
            "voided",
        ]


class AcknowledgementSerializer(AuditedSerializer):
    acknowledged_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = SafetyNoticePump
        fields = [
            "id",
            "notice",
            "pump",
            "patient_informed_on",
            "action_taken",
            "acknowledged_by",
            "acknowledged_at",
            "version",
            "voided",
        ]
        read_only_fields = ["notice", "acknowledged_at"]


class NoticeAcknowledgeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    pump = serializers.PrimaryKeyRelatedField(queryset=Pump.objects.all())
    patient_informed_on = serializers.DateField()
    action_taken = serializers.CharField()


class AffectedPumpSerializer(serializers.Serializer):  # type: ignore[type-arg]
    pump = serializers.IntegerField(source="pump.pk")
    serial_number = serializers.CharField(source="pump.serial_number")
    patient = serializers.IntegerField(source="pump.patient_id")
    addressed = serializers.BooleanField()
    acknowledgement = AcknowledgementSerializer(allow_null=True)


class SafetyNoticeViewSet(AuditedViewSet):
    """Notices; ``GET {id}/pumps/`` lists exactly the affected pumps; ``POST {id}/acknowledge/`` one pump."""

    serializer_class = SafetyNoticeSerializer
    write_permission = PERMS.MANAGE_SAFETY_NOTICE
    action_permissions = {"acknowledge": PERMS.MANAGE_SAFETY_NOTICE}

    def get_queryset(self) -> Any:
        return SafetyNotice.objects.order_by("-issued_on", "-pk")

    def save_record(self, instance: SafetyNotice, *, by: Any, expected_version: int | None, reason: str) -> None:
        services.safety_notice_save(instance, by=by, expected_version=expected_version, reason=reason)

    @extend_schema(responses=AffectedPumpSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def pumps(self, request: Request, pk: str | None = None) -> Response:
        """Exactly the pumps the notice affects, each with its acknowledgement (or null)."""
        rows = selectors.notice_affected_pumps(self.get_object())
        return Response(AffectedPumpSerializer(rows, many=True).data)

    @extend_schema(request=NoticeAcknowledgeSerializer, responses={201: AcknowledgementSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        """For one affected pump: the patient was informed on a date, and the action taken."""
        notice = self.get_object()
        body = NoticeAcknowledgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            ack = services.safety_notice_acknowledge(notice, by=request.user, **body.validated_data)
        return Response(AcknowledgementSerializer(ack).data, status.HTTP_201_CREATED)


class AcknowledgementViewSet(
    HistoryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """Acknowledgements, read and voided here (a mistaken one is voided and recorded again)."""

    serializer_class = AcknowledgementSerializer
    write_permission = PERMS.MANAGE_SAFETY_NOTICE

    def get_queryset(self) -> Any:
        return SafetyNoticePump.objects.select_related("acknowledged_by").order_by("notice", "pump")

    @extend_schema(request=VoidSerializer, responses={200: AcknowledgementSerializer})
    @action(detail=True, methods=["post"])
    def void(self, request: Request, pk: str | None = None) -> Response:
        ack = self.get_object()
        body = VoidSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        void_record(ack, by=request.user, reason=body.validated_data["reason"])
        return Response(AcknowledgementSerializer(ack).data)


def register(router: routers.DefaultRouter) -> None:
    router.register("mri-scans", MriScanViewSet, basename="mri-scan")
    router.register("safety-notices", SafetyNoticeViewSet, basename="safety-notice")
    router.register("safety-notice-pumps", AcknowledgementViewSet, basename="safety-notice-pump")
