"""Pumps API (spec section 5): the catalogue, pumps, replacement, dose changes and refills.

Thin: every save goes through ``pumps.services`` (one transaction, validation with field
messages, the projection recomputed); read-only fields are the stored values the
services computed with ``pumps.dosing``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, routers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from access_log.recording import AccessLoggedMixin
from pumps import services
from pumps.models import Complication, DoseChange, Drug, ObservationSign, Pump, PumpModel, Refill, Surgery
from pumps.services import FillDetails, ProgramDetails, SurgeryDetails
from spasticity.api_base import AuditedSerializer, AuditedViewSet, HistoryMixin, VoidSerializer
from spasticity.api_filters import ClinicFilterSet, RecordIdFilter
from spasticity.audit import void_record
from spasticity.roles import PERMS

# --------------------------------------------------------------------------
# Fields
# --------------------------------------------------------------------------


class FlexStepSerializer(serializers.Serializer):  # type: ignore[type-arg]
    start_time = serializers.CharField(help_text="HH:MM, 24-hour")
    rate_mcg_per_hour = serializers.DecimalField(max_digits=8, decimal_places=3)


@extend_schema_field(FlexStepSerializer(many=True))
class FlexStepsField(serializers.JSONField):
    """Flex steps as given; ``pumps.dosing`` checks them and reports every problem on ``flex_steps``."""


class ProgramInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    mode = serializers.ChoiceField(choices=DoseChange.Mode.choices, default=DoseChange.Mode.SIMPLE_CONTINUOUS)
    daily_dose_mcg = serializers.DecimalField(max_digits=8, decimal_places=2, required=False, allow_null=True)
    flex_steps = FlexStepsField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="Starting dose after implant")
    confirmation_reason = serializers.CharField(required=False, allow_blank=True, default="")

    def details(self, data: dict[str, Any]) -> ProgramDetails:
        return ProgramDetails(**{**data, "flex_steps": data.get("flex_steps") or []})


class FillInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    volume_added_ml = serializers.DecimalField(max_digits=5, decimal_places=2)
    drug = serializers.ChoiceField(choices=Drug.choices)
    concentration_mcg_per_ml = serializers.DecimalField(max_digits=7, decimal_places=2)
    dilution_note = serializers.CharField(required=False, allow_blank=True, default="")
    lot_number = serializers.CharField(max_length=50)


class SurgeryInputMixin(serializers.Serializer):  # type: ignore[type-arg]
    surgeon = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(),
        required=False,
        allow_null=True,
        write_only=True,
    )
    complications = serializers.ListField(
        child=serializers.ChoiceField(choices=Complication.choices), required=False, write_only=True
    )
    complications_other = serializers.CharField(required=False, allow_blank=True, write_only=True)


def _surgery_details(data: dict[str, Any], performed_on: Any) -> SurgeryDetails:
    return SurgeryDetails(
        performed_on=performed_on,
        surgeon=data.pop("surgeon", None),
        complications=data.pop("complications", []),
        complications_other=data.pop("complications_other", ""),
        notes=data.pop("notes", ""),
    )


# --------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------


class PumpModelSerializer(AuditedSerializer):
    reservoir_sizes_ml = serializers.ListField(
        child=serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0), allow_empty=False, min_length=1
    )

    class Meta:
        model = PumpModel
        fields = [
            "id",
            *PumpModel.EDITABLE_FIELDS,
            "version",
            "change_reason",
            "voided",
        ]

    def validate_reservoir_sizes_ml(self, sizes: list[Any]) -> list[int | float]:
        # Stored as JSON numbers: 20, not "20.00".
        return [int(size) if size == size.to_integral_value() else float(size) for size in sizes]


class PumpModelViewSet(AuditedViewSet):
    serializer_class = PumpModelSerializer
    write_permission = PERMS.EDIT_PUMP_CATALOGUE

    def get_queryset(self) -> Any:
        return PumpModel.objects.order_by("manufacturer", "model")

    def save_record(self, instance: PumpModel, *, by: Any, expected_version: int | None, reason: str) -> None:
        services.pump_model_save(instance, by=by, expected_version=expected_version, reason=reason)


# --------------------------------------------------------------------------
# Pumps
# --------------------------------------------------------------------------

PUMP_READ_ONLY = [
    "explanted_on",
    "status",
    "current_mode",
    "current_daily_dose_mcg",
    "current_drug",
    "current_concentration_mcg_per_ml",
    "last_refill_on",
    "alarm_date",
    "refill_due_on",
    "battery_end_of_service_on",
    "next_visit_on",
    "next_refill_appointment_on",
]


class PumpSerializer(SurgeryInputMixin, AuditedSerializer):
    status = serializers.ChoiceField(choices=Pump.Status.choices, read_only=True)
    # A plain string (the drug of the last fill, as in refills' ``drug``), so the schema has one drug enum.
    current_drug = serializers.CharField(read_only=True)
    first_program = ProgramInputSerializer(
        write_only=True, required=False, help_text="Implant only: the starting program (dated on the implant day)"
    )
    first_fill = FillInputSerializer(
        write_only=True, required=False, help_text="Implant only: the first fill (dated on the implant day)"
    )

    class Meta:
        model = Pump
        fields = [
            "id",
            "patient",
            "model",
            "serial_number",
            "reservoir_volume_ml",
            "low_reservoir_alarm_ml",
            "implanted_on",
            "pump_site",
            "catheter_model",
            "catheter_tip_level",
            "off_label_reason",
            "eri_on",
            "temporary_card_given_on",
            "permanent_card_received_on",
            "emergency_card_given_on",
            *PUMP_READ_ONLY,
            "surgeon",
            "complications",
            "complications_other",
            "first_program",
            "first_fill",
            "version",
            "change_reason",
            "voided",
        ]
        read_only_fields = PUMP_READ_ONLY
        # The serial and one-pump rules live in ``pumps.services`` (field-level messages);
        # DRF's own copies of the database constraints would answer on the whole record.
        validators: list[Any] = []

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if self.instance is not None:
            creation_only = {
                "patient",
                "model",
                "first_program",
                "first_fill",
                "surgeon",
                "complications",
                "complications_other",
            }
            changed = {
                name
                for name in creation_only & attrs.keys()
                if not hasattr(self.instance, name) or getattr(self.instance, name) != attrs[name]
            }
            if changed:
                raise serializers.ValidationError(
                    {name: ["Set when the pump is implanted; it cannot be changed here."] for name in sorted(changed)}
                )
        return attrs


class SurgerySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A surgery as recorded (read-only: surgeries are recorded through the pump actions)."""

    voided = serializers.SerializerMethodField()

    class Meta:
        model = Surgery
        fields = [
            "id",
            "patient",
            "pump",
            "replaced_pump",
            "kind",
            "performed_on",
            "surgeon",
            "catheter_revised",
            "complications",
            "complications_other",
            "notes",
            "version",
            "voided",
        ]
        read_only_fields = fields

    def get_voided(self, obj: Surgery) -> bool:
        return obj.is_voided


class ExplantSerializer(SurgeryInputMixin):
    performed_on = serializers.DateField()
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class CatheterRevisionSerializer(ExplantSerializer):
    catheter_model = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    catheter_tip_level = serializers.CharField(required=False, allow_blank=True, max_length=20, default="")


class PumpFilter(ClinicFilterSet):
    class Meta:
        model = Pump
        fields = ["patient"]


class ReplaceSerializer(SurgeryInputMixin, serializers.ModelSerializer):  # type: ignore[type-arg]
    performed_on = serializers.DateField()
    catheter_revised = serializers.BooleanField(default=False)
    low_reservoir_alarm_ml = serializers.DecimalField(
        max_digits=4,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text="Left out: a same-model replacement keeps the old pump's alarm volume; another model "
        "takes its default",
    )
    first_program = ProgramInputSerializer(
        required=False, help_text="Without it, the old pump's current program carries over unchanged"
    )
    first_fill = FillInputSerializer(required=False)

    class Meta:
        model = Pump
        fields = [
            "model",
            "serial_number",
            "reservoir_volume_ml",
            "low_reservoir_alarm_ml",
            "pump_site",
            "catheter_model",
            "catheter_tip_level",
            "off_label_reason",
            "performed_on",
            "surgeon",
            "complications",
            "complications_other",
            "catheter_revised",
            "first_program",
            "first_fill",
        ]


class PumpViewSet(AccessLoggedMixin, AuditedViewSet):
    """``POST`` records an implant (the pump, its implant surgery and, when given, its first
    program and first fill, in one transaction)."""

    serializer_class = PumpSerializer
    write_permission = PERMS.RECORD_SURGERY
    action_permissions = {
        "replace": PERMS.RECORD_SURGERY,
        "explant": PERMS.RECORD_SURGERY,
        "revise_catheter": PERMS.RECORD_SURGERY,
    }
    filterset_class = PumpFilter

    def get_queryset(self) -> Any:
        return Pump.objects.select_related("model").order_by("-implanted_on", "-pk")

    def perform_create(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        for name in ("change_reason", "version"):
            data.pop(name, None)
        program, fill = data.pop("first_program", None), data.pop("first_fill", None)
        surgery = _surgery_details(data, data.get("implanted_on"))
        # None means "not given": the service takes the model's default (Prometra II 3.0 mL).
        data.setdefault("low_reservoir_alarm_ml", None)
        pump = Pump(**data)
        with transaction.atomic():
            services.pump_implant(
                pump,
                by=self.request.user,
                surgery=surgery,
                first_program=ProgramInputSerializer().details(program) if program else None,
                first_fill=FillDetails(**fill) if fill else None,
            )
        serializer.instance = pump

    def save_record(self, instance: Pump, *, by: Any, expected_version: int | None, reason: str) -> None:
        services.pump_update(instance, by=by, expected_version=expected_version, reason=reason)

    @extend_schema(request=ReplaceSerializer, responses={201: PumpSerializer})
    @action(detail=True, methods=["post"])
    def replace(self, request: Request, pk: str | None = None) -> Response:
        """Replace the pump: it is explanted and the new one implanted the same day."""
        old_pump = self.get_object()
        body = ReplaceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        program, fill = data.pop("first_program", None), data.pop("first_fill", None)
        catheter_revised = data.pop("catheter_revised", False)
        surgery = _surgery_details(data, data.pop("performed_on"))
        # None means "not given": the service decides (same model keeps the old pump's volume).
        data.setdefault("low_reservoir_alarm_ml", None)
        new_pump = Pump(**data)
        with transaction.atomic():
            services.pump_replace(
                old_pump,
                new_pump=new_pump,
                by=request.user,
                surgery=surgery,
                catheter_revised=catheter_revised,
                first_program=ProgramInputSerializer().details(program) if program else None,
                first_fill=FillDetails(**fill) if fill else None,
            )
        return Response(PumpSerializer(new_pump, context=self.get_serializer_context()).data, status.HTTP_201_CREATED)

    @extend_schema(request=ExplantSerializer, responses={201: SurgerySerializer})
    @action(detail=True, methods=["post"])
    def explant(self, request: Request, pk: str | None = None) -> Response:
        """Explant the pump (no replacement): it leaves the refill and battery watch."""
        pump = self.get_object()
        body = ExplantSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        with transaction.atomic():
            surgery = services.pump_explant(
                pump, by=request.user, surgery=_surgery_details(data, data.pop("performed_on"))
            )
        return Response(SurgerySerializer(surgery).data, status.HTTP_201_CREATED)

    @extend_schema(request=CatheterRevisionSerializer, responses={201: SurgerySerializer})
    @action(detail=True, methods=["post"], url_path="revise-catheter")
    def revise_catheter(self, request: Request, pk: str | None = None) -> Response:
        """A catheter revision: the pump stays; the catheter model and tip level change when given."""
        pump = self.get_object()
        body = CatheterRevisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        catheter = {name: data.pop(name, "") for name in ("catheter_model", "catheter_tip_level")}
        with transaction.atomic():
            surgery = services.catheter_revision(
                pump, by=request.user, surgery=_surgery_details(data, data.pop("performed_on")), **catheter
            )
        return Response(SurgerySerializer(surgery).data, status.HTTP_201_CREATED)


# --------------------------------------------------------------------------
# Dose changes and refills: created and voided, never edited
# --------------------------------------------------------------------------


class PumpRecordFilter(ClinicFilterSet):
    patient = RecordIdFilter(field_name="pump__patient", label="Patient id")


class DoseChangeFilter(PumpRecordFilter):
    class Meta:
        model = DoseChange
        fields = ["pump", "patient"]


class RefillFilter(PumpRecordFilter):
    class Meta:
        model = Refill
        fields = ["pump", "patient"]


# The programmer's numbers and the second check, on refills and dose changes alike.
PROGRAMMER_FIELDS = ["programmer_alarm_date", "programmer_reservoir_volume_ml", "programmer_daily_dose_mcg"]
SECOND_CHECK_FIELDS = [
    "checked_against_programmer",
    "check_status",
    "second_checked_by",
    "second_checked_at",
    "second_check_note",
]


class ProgrammingCheckSerializerMixin(serializers.Serializer):  # type: ignore[type-arg]
    checked_against_programmer = serializers.BooleanField(
        read_only=True, help_text='False: "not checked against the programmer"'
    )
    second_checked_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)  # type: ignore[var-annotated]


class SecondCheckSerializer(serializers.Serializer):  # type: ignore[type-arg]
    agrees = serializers.BooleanField(help_text="false: the checker disagrees (an urgent alert is raised)")
    note = serializers.CharField(required=False, allow_blank=True, default="", help_text="Required to disagree")
    version = serializers.IntegerField(required=False, help_text="The version read: a stale one answers 409")


class SecondCheckMixin:
    """``POST {id}/second-check/``: a colleague's independent check (``services.second_check_record``)."""

    serializer_class: Any
    get_object: Any
    get_serializer_context: Any

    @extend_schema(request=SecondCheckSerializer)
    @action(detail=True, methods=["post"], url_path="second-check")
    def second_check(self, request: Request, pk: str | None = None) -> Response:
        record = self.get_object()
        body = SecondCheckSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            checked = services.second_check_record(
                record,
                by=request.user,
                agrees=body.validated_data["agrees"],
                note=body.validated_data["note"],
                expected_version=body.validated_data.get("version"),
            )
        return Response(self.serializer_class(checked, context=self.get_serializer_context()).data)


class DoseChangeSerializer(ProgrammingCheckSerializerMixin, AuditedSerializer):
    flex_steps = FlexStepsField(required=False)
    daily_dose_mcg = serializers.DecimalField(
        max_digits=8,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text="Given for simple_continuous; computed from the steps (and returned) for flex",
    )

    class Meta:
        model = DoseChange
        fields = [
            "id",
            "pump",
            "changed_on",
            "mode",
            "daily_dose_mcg",
            "flex_steps",
            "reason",
            "confirmation_reason",
            "side_effects",
            "tone_notes",
            "next_visit_on",
            "change_percent",
            "alarm_date",
            "refill_due_on",
            *PROGRAMMER_FIELDS,
            *SECOND_CHECK_FIELDS,
            "version",
            "change_reason",
            "voided",
        ]
        read_only_fields = ["change_percent", "alarm_date", "refill_due_on", *SECOND_CHECK_FIELDS]


class DoseChangeViewSet(SecondCheckMixin, AccessLoggedMixin, AuditedViewSet):
    serializer_class = DoseChangeSerializer
    write_permission = PERMS.CHANGE_DOSE
    action_permissions = {"second_check": PERMS.CHANGE_DOSE}
    filterset_class = DoseChangeFilter
    # A dose program is a dated clinical event: corrected by voiding and recording again.
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> Any:
        return DoseChange.objects.select_related("pump").order_by("-changed_on", "-pk")

    def perform_create(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        for name in ("change_reason", "version"):
            data.pop(name, None)
        given_dose = data.get("daily_dose_mcg")
        is_flex = data.get("mode") == DoseChange.Mode.FLEX
        if is_flex:
            data["daily_dose_mcg"] = None
        with transaction.atomic():
            change = services.dose_change_record(by=self.request.user, **data)
            if is_flex and given_dose is not None and given_dose != change.daily_dose_mcg:
                raise ValidationError(
                    {
                        "daily_dose_mcg": [
                            f"The flex steps add up to {change.daily_dose_mcg.normalize():f} mcg/day, not "
                            f"{given_dose.normalize():f}: leave daily_dose_mcg out for a flex program."
                        ]
                    }
                )
        serializer.instance = change


class RefillSerializer(ProgrammingCheckSerializerMixin, AuditedSerializer):
    delivery_note = serializers.CharField(read_only=True, help_text="Says when the pump may have run dry")
    observation_signs = serializers.ListField(
        child=serializers.ChoiceField(choices=ObservationSign.choices),
        required=False,
        help_text='Signs seen while observing after the refill, or ["none_observed"]',
    )

    class Meta:
        model = Refill
        fields = [
            "id",
            "pump",
            "refilled_on",
            "aspirated_volume_ml",
            "volume_added_ml",
            "drug",
            "concentration_mcg_per_ml",
            "dilution_note",
            "lot_number",
            "reservoir_port_access_confirmed",
            "concentration_reprogrammed_confirmed",
            "pump_running_confirmed",
            "observation_minutes",
            "observation_signs",
            "next_refill_appointment_on",
            *PROGRAMMER_FIELDS,
            "is_first_fill",
            "expected_delivered_ml",
            "actual_delivered_ml",
            "expected_residual_ml",
            "delivery_deviation_percent",
            "delivery_flag",
            "delivery_note",
            "alarm_date",
            "refill_due_on",
            *SECOND_CHECK_FIELDS,
            "version",
            "change_reason",
            "voided",
        ]
        read_only_fields = [
            "delivery_note",
            "is_first_fill",
            "expected_delivered_ml",
            "actual_delivered_ml",
            "expected_residual_ml",
            "delivery_deviation_percent",
            "delivery_flag",
            "alarm_date",
            "refill_due_on",
            *SECOND_CHECK_FIELDS,
        ]


class RefillViewSet(SecondCheckMixin, AccessLoggedMixin, AuditedViewSet):
    serializer_class = RefillSerializer
    write_permission = PERMS.RECORD_REFILL
    action_permissions = {"second_check": PERMS.RECORD_REFILL}
    filterset_class = RefillFilter
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> Any:
        return Refill.objects.select_related("pump").order_by("-refilled_on", "-pk")

    def perform_create(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        for name in ("change_reason", "version"):
            data.pop(name, None)
        with transaction.atomic():
            serializer.instance = services.refill_record(by=self.request.user, **data)


# --------------------------------------------------------------------------
# Surgeries: recorded through the pump actions, listed and voided here
# --------------------------------------------------------------------------


class SurgeryFilter(ClinicFilterSet):
    class Meta:
        model = Surgery
        fields = ["pump", "patient"]


class SurgeryViewSet(HistoryMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """``GET surgeries/?pump=&patient=``; ``POST surgeries/{id}/void/`` re-derives what the surgery fed
    (voiding an explant puts the pump back in; voiding a revision restores the catheter)."""

    serializer_class = SurgerySerializer
    filterset_class = SurgeryFilter
    write_permission = PERMS.RECORD_SURGERY

    def get_queryset(self) -> Any:
        return Surgery.objects.order_by("-performed_on", "-pk")

    @extend_schema(request=VoidSerializer, responses={200: SurgerySerializer})
    @action(detail=True, methods=["post"])
    def void(self, request: Request, pk: str | None = None) -> Response:
        surgery = self.get_object()
        body = VoidSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        void_record(surgery, by=request.user, reason=body.validated_data["reason"])
        return Response(SurgerySerializer(surgery).data)


def register(router: routers.DefaultRouter) -> None:
    router.register("pump-models", PumpModelViewSet, basename="pump-model")
    router.register("pumps", PumpViewSet, basename="pump")
    router.register("dose-changes", DoseChangeViewSet, basename="dose-change")
    router.register("refills", RefillViewSet, basename="refill")
    router.register("surgeries", SurgeryViewSet, basename="surgery")
