"""Alerts and report endpoints (spec section 5). Thin: writes go through the services,
reports through the same selectors as the pages."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, renderers, routers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access_log.models import AccessChannel
from access_log.recording import record_report_access
from alerts import reports, services
from alerts.models import Alert
from spasticity.api_base import HistoryMixin
from spasticity.api_renderers import FastJSONRenderer
from spasticity.audit import STALE_EDIT_MESSAGE, StaleEditError
from spasticity.params import BoundedDateField, WindowDaysField
from spasticity.roles import PERMS
from spasticity.timeutil import clinic_today


class AlertSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)  # type: ignore[var-annotated]
    snoozed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)  # type: ignore[var-annotated]

    class Meta:
        model = Alert
        fields = [
            "id",
            "kind",
            "pump",
            "patient",
            "status",
            "due_on",
            "urgency",
            "raised_on",
            "refill",
            "acknowledged_by",
            "acknowledged_at",
            "snoozed_by",
            "snoozed_until",
            "snooze_reason",
            "resolved_on",
            "resolution",
            "version",
        ]
        read_only_fields = fields


class AcknowledgeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    version = serializers.IntegerField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=100)


class SnoozeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    snoozed_until = serializers.DateField()
    reason = serializers.CharField(max_length=500)
    version = serializers.IntegerField(required=False)


class AlertViewSet(HistoryMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Alerts are raised and resolved by the scan; people acknowledge and snooze them.

    No ``void`` action: alerts are never voided (``alerts.services.alert_refuse_void``).
    """

    serializer_class = AlertSerializer
    filterset_fields = ["patient", "pump", "status", "kind"]
    action_permissions = {"acknowledge": PERMS.HANDLE_ALERT, "snooze": PERMS.HANDLE_ALERT}

    def get_queryset(self) -> Any:
        return Alert.objects.filter(voided_at__isnull=True).select_related("acknowledged_by", "snoozed_by").by_urgency()

    def _stale(self) -> Response:
        return Response({"version": [STALE_EDIT_MESSAGE]}, status=status.HTTP_409_CONFLICT)

    @extend_schema(request=AcknowledgeSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        body = AcknowledgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            alert = services.alert_acknowledge(
                self.get_object(),
                by=request.user,
                expected_version=body.validated_data.get("version"),
                note=body.validated_data.get("note", ""),
            )
        except StaleEditError:
            return self._stale()
        return Response(AlertSerializer(alert).data)

    @extend_schema(request=SnoozeSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def snooze(self, request: Request, pk: str | None = None) -> Response:
        body = SnoozeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            alert = services.alert_snooze(
                self.get_object(),
                by=request.user,
                until=body.validated_data["snoozed_until"],
                reason=body.validated_data["reason"],
                today=clinic_today(),
                expected_version=body.validated_data.get("version"),
            )
        except StaleEditError:
            return self._stale()
        return Response(AlertSerializer(alert).data)


# --------------------------------------------------------------------------
# Reports: JSON {"as_of", "results"} or, with ?format=csv, the report's CSV
# --------------------------------------------------------------------------


class CSVRenderer(renderers.BaseRenderer):
    """Lets content negotiation accept ``?format=csv`` / ``Accept: text/csv``; the view writes the CSV."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        return data if isinstance(data, (str, bytes)) else str(data)


class ReportQuery(serializers.Serializer):  # type: ignore[type-arg]
    as_of = BoundedDateField(required=False)


class OverdueRefillsQuery(ReportQuery):
    nurse = serializers.IntegerField(required=False)
    diagnosis = serializers.CharField(required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=[s for s, _ in reports.OVERDUE_STATUSES], required=False)
    booked = serializers.ChoiceField(
        choices=[value for value, _ in reports.BOOKED_CHOICES],
        required=False,
        help_text="yes: pumps with a booked refill appointment; no: pumps without one",
    )


class BatteryQuery(ReportQuery):
    within_days = WindowDaysField(required=False)


# The row serializers document the reports in the OpenAPI schema; the views send the
# selectors' plain dicts, which already have these keys (tests/alerts/test_reports_scale.py checks).
class OverdueRefillRowSerializer(serializers.Serializer):  # type: ignore[type-arg]
    patient = serializers.IntegerField()
    patient_name = serializers.CharField()
    mrn = serializers.CharField()
    pump = serializers.IntegerField()
    serial_number = serializers.CharField()
    pump_nurse = serializers.CharField()
    last_refill_on = serializers.DateField(allow_null=True)
    refill_due_on = serializers.DateField(allow_null=True)
    alarm_date = serializers.DateField(allow_null=True)
    days_overdue = serializers.IntegerField(allow_null=True, help_text="Empty for a pump with no projection")
    status = serializers.ChoiceField(choices=[s for s, _ in reports.OVERDUE_STATUSES])
    booked_on = serializers.DateField(
        allow_null=True, help_text="The day of the pump's booked refill appointment; empty when none is booked"
    )
    status_label = serializers.CharField(help_text='The status as people read it, e.g. "Past alarm date"')
    caregiver_phones = serializers.CharField(
        allow_blank=True,
        help_text='"Name (relationship): phone" for each caregiver, legal guardians first, "; " between',
    )


class BatteryRowSerializer(serializers.Serializer):  # type: ignore[type-arg]
    patient = serializers.IntegerField()
    patient_name = serializers.CharField()
    mrn = serializers.CharField()
    pump = serializers.IntegerField()
    serial_number = serializers.CharField()
    pump_model = serializers.CharField()
    pump_nurse = serializers.CharField()
    implanted_on = serializers.DateField()
    eri_on = serializers.DateField(allow_null=True)
    battery_end_of_service_on = serializers.DateField()
    days_left = serializers.IntegerField()


class ReportView(APIView):
    renderer_classes = [FastJSONRenderer, renderers.BrowsableAPIRenderer, CSVRenderer]
    pagination_class = None
    query_class: type[serializers.Serializer] = ReportQuery  # type: ignore[type-arg]
    row_serializer: type[serializers.Serializer] = OverdueRefillRowSerializer  # type: ignore[type-arg]
    columns: tuple[tuple[str, str], ...] = ()
    name_in_file = "report"

    def rows(self, query: dict[str, Any], as_of: datetime.date, today: datetime.date) -> list[dict[str, Any]]:
        raise NotImplementedError

    def handle_exception(self, exc: Exception) -> Response:
        # A refusal is not a spreadsheet: it answers JSON, as documented, even when the CSV was asked for.
        self.request.accepted_renderer = renderers.JSONRenderer()
        self.request.accepted_media_type = renderers.JSONRenderer.media_type
        return super().handle_exception(exc)

    def get(self, request: Request) -> Any:
        # A QueryDict, so that DRF reads an empty parameter (?as_of=) as an absent one, as the list filters do.
        params = request.query_params.copy()
        params.pop("format", None)
        query = self.query_class(data=params)
        query.is_valid(raise_exception=True)
        today = clinic_today()
        as_of = query.validated_data.get("as_of") or today
        rows = self.rows(query.validated_data, as_of, today)
        is_csv = request.accepted_renderer.format == "csv"
        record_report_access(request, channel=AccessChannel.CSV if is_csv else AccessChannel.API)
        if is_csv:
            response = StreamingHttpResponse(
                reports.csv_lines(rows, self.columns), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="{self.name_in_file}-{as_of:%Y-%m-%d}.csv"'
            return response
        # The selector's rows are already the API's columns (``row_serializer`` documents
        # them in the schema): serialising 20,000 rows field by field costs more than the query.
        return Response({"as_of": as_of, "results": rows})


def _report_schema(row_serializer: Any, query: Any) -> Any:
    return extend_schema(
        parameters=[
            query,
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"], description="csv gives the CSV"),
        ],
        responses=inline_serializer(
            f"{row_serializer.__name__.removesuffix('RowSerializer')}Report",
            {"as_of": serializers.DateField(), "results": row_serializer(many=True)},
        ),
    )


class OverdueRefillsReport(ReportView):
    """``GET reports/overdue-refills/?as_of=YYYY-MM-DD[&nurse=&diagnosis=&status=&booked=yes|no][&format=csv]``."""

    query_class = OverdueRefillsQuery
    row_serializer = OverdueRefillRowSerializer
    columns = reports.OVERDUE_CSV_COLUMNS
    name_in_file = "overdue-refills"

    def rows(self, query: dict[str, Any], as_of: datetime.date, today: datetime.date) -> list[dict[str, Any]]:
        return reports.overdue_refills(
            as_of=as_of,
            today=today,
            nurse_id=query.get("nurse"),
            diagnosis=query.get("diagnosis", ""),
            status=query.get("status", ""),
            booked=query.get("booked", ""),
        )

    @_report_schema(OverdueRefillRowSerializer, OverdueRefillsQuery)
    def get(self, request: Request) -> Any:
        return super().get(request)


class BatteryEndOfLifeReport(ReportView):
    """``GET reports/battery-end-of-life/?as_of=YYYY-MM-DD&within_days=180[&format=csv]``."""

    query_class = BatteryQuery
    row_serializer = BatteryRowSerializer
    columns = reports.BATTERY_COLUMNS
    name_in_file = "battery-end-of-life"

    def rows(self, query: dict[str, Any], as_of: datetime.date, today: datetime.date) -> list[dict[str, Any]]:
        within_days = query.get("within_days")
        if within_days is None:
            within_days = int(settings.CLINIC["BATTERY_WARNING_DAYS"])
        return reports.battery_end_of_life(as_of=as_of, within_days=within_days, today=today)

    @_report_schema(BatteryRowSerializer, BatteryQuery)
    def get(self, request: Request) -> Any:
        return super().get(request)


def register(router: routers.BaseRouter) -> None:
    router.register("alerts", AlertViewSet, basename="alert")


def report_urlpatterns() -> list[Any]:
    from django.urls import path

    return [
        path("reports/overdue-refills/", OverdueRefillsReport.as_view(), name="api_report_overdue_refills"),
        path("reports/battery-end-of-life/", BatteryEndOfLifeReport.as_view(), name="api_report_battery"),
    ]
