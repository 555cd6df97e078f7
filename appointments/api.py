"""Appointments API (spec section 7). Thin: every save and status change goes through ``appointments.services``.

``GET appointments/?patient=&pump=&staff=&from=&to=&status=`` lists them (``from`` and ``to``
are clinic-local days, inclusive); ``POST`` books; ``PUT``/``PATCH`` change one (with the
version read; a stale one is a 409); ``POST appointments/{id}/cancel/``, ``/no-show/`` and
``/attended/`` move its status. ``starts_at`` is read and written in the clinic's time
zone: a time without an offset is clinic local time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import routers, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from appointments import services
from appointments.models import Appointment, AppointmentStatus, local_start_of_day
from spasticity.api_base import AuditedSerializer, AuditedViewSet
from spasticity.api_filters import ClinicFilterSet, RecordIdFilter
from spasticity.params import BOUNDED_DATE_SCHEMA, bounded_date
from spasticity.roles import PERMS
from spasticity.timeutil import clinic_today


class AppointmentSerializer(AuditedSerializer):
    staff = serializers.PrimaryKeyRelatedField(
        many=True, queryset=User.objects.all(), help_text="One or two staff members (user ids); the first leads"
    )
    starts_at = serializers.DateTimeField(
        help_text="Clinic local time; a time without an offset is read in the clinic's time zone"
    )

    class Meta:
        model = Appointment
        fields = [
            "id",
            "patient",
            "pump",
            "kind",
            "starts_at",
            "duration_minutes",
            "place",
            "staff",
            "status",
            "notes",
            "cancel_reason",
            "confirmation_reason",
            "version",
            "change_reason",
            "voided",
        ]
        read_only_fields = ["status", "cancel_reason"]
        # The one-booked-refill rule lives in the database and the services (a message on ``pump``).
        validators: list[Any] = []


class CancelSerializer(serializers.Serializer):  # type: ignore[type-arg]
    cancel_reason = serializers.CharField(allow_blank=True, help_text="Why the appointment is cancelled (required)")
    version = serializers.IntegerField(required=False, help_text="The appointment's version you read (optional)")


class StatusChangeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    version = serializers.IntegerField(required=False, help_text="The appointment's version you read (optional)")


class LocalDayField(forms.CharField):
    """A ``YYYY-MM-DD`` day between 1900 and 2200 (``spasticity.params``)."""

    def clean(self, value: Any) -> dt.date | None:  # type: ignore[override]
        text = super().clean(value)
        if not text:
            return None
        try:
            return bounded_date(text.strip())
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error


@extend_schema_field(BOUNDED_DATE_SCHEMA)
class LocalDayFilter(django_filters.Filter):
    """Appointments starting on or after (``from``) or on or before (``to``) a clinic-local day."""

    field_class = LocalDayField

    def __init__(self, *, on_or_before: bool, **kwargs: Any) -> None:
        super().__init__(field_name="starts_at", **kwargs)
        self.on_or_before = on_or_before

    def filter(self, qs: Any, value: dt.date | None) -> Any:
        if value is None:
            return qs
        if self.on_or_before:
            return qs.filter(starts_at__lt=local_start_of_day(value + dt.timedelta(days=1)))
        return qs.filter(starts_at__gte=local_start_of_day(value))


class AppointmentFilter(ClinicFilterSet):
    staff = RecordIdFilter(method="filter_staff", label="Staff member's user id (leading or second)")
    status = django_filters.ChoiceFilter(choices=AppointmentStatus.choices)

    class Meta:
        model = Appointment
        fields = ["patient", "pump", "staff", "status"]

    def filter_staff(self, queryset: Any, name: str, value: Any) -> Any:
        return queryset.for_staff(int(value)) if value is not None else queryset


# ``from`` is a Python keyword, so the two day filters are added by name.
AppointmentFilter.base_filters["from"] = LocalDayFilter(on_or_before=False, label="From this clinic-local day")
AppointmentFilter.base_filters["to"] = LocalDayFilter(on_or_before=True, label="Up to this clinic-local day")


class AppointmentViewSet(AuditedViewSet):
    serializer_class = AppointmentSerializer
    write_permission = PERMS.BOOK_APPOINTMENT
    filterset_class = AppointmentFilter

    def get_queryset(self) -> Any:
        return Appointment.objects.select_related("lead_staff", "second_staff").order_by("starts_at", "pk")

    def _save(self, serializer: Any, *, expected_version: int | None) -> None:
        data = dict(serializer.validated_data)
        reason = data.pop("change_reason", "")
        data.pop("version", None)
        staff = data.pop("staff", None)
        appointment: Appointment = serializer.instance or Appointment()
        for field, value in data.items():
            setattr(appointment, field, value)
        by = self.request.user
        with transaction.atomic():
            if appointment.pk is None:
                services.appointment_book(appointment, staff=staff or [], by=by, reason=reason)
            else:
                services.appointment_update(
                    appointment, staff=staff, by=by, expected_version=expected_version, reason=reason
                )
        serializer.instance = appointment

    def _answer(self, appointment: Appointment) -> Response:
        return Response(AppointmentSerializer(self.get_queryset().get(pk=appointment.pk)).data)

    @extend_schema(request=CancelSerializer, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel a booked appointment, with the reason."""
        appointment = self.get_object()
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.appointment_cancel(
            appointment,
            by=request.user,
            reason=body.validated_data["cancel_reason"],
            expected_version=body.validated_data.get("version"),
        )
        return self._answer(appointment)

    @extend_schema(request=StatusChangeSerializer, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request: Request, pk: str | None = None) -> Response:
        """The patient did not come (``no_show``): only once the appointment's start has passed."""
        appointment = self.get_object()
        body = StatusChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.appointment_mark_no_show(
            appointment, by=request.user, now=timezone.now(), expected_version=body.validated_data.get("version")
        )
        return self._answer(appointment)

    @extend_schema(request=StatusChangeSerializer, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def attended(self, request: Request, pk: str | None = None) -> Response:
        """The patient was seen (for visits no record marks: recording a refill or a dose change does it)."""
        appointment = self.get_object()
        body = StatusChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.appointment_mark_attended(
            appointment, by=request.user, today=clinic_today(), expected_version=body.validated_data.get("version")
        )
        return self._answer(appointment)


def register(router: routers.DefaultRouter) -> None:
    router.register("appointments", AppointmentViewSet, basename="appointment")
