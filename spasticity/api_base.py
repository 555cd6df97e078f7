"""Shared API pieces: audited viewsets with history, voiding and optimistic concurrency."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from spasticity.audit import void_record
from spasticity.history import history_entries


class HistoryEntrySerializer(serializers.Serializer):  # type: ignore[type-arg]
    history_date = serializers.DateTimeField()
    history_user = serializers.CharField(allow_null=True)
    history_type = serializers.CharField()
    changed_fields = serializers.ListField(child=serializers.CharField())
    history_change_reason = serializers.CharField(allow_null=True)


class VoidSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = serializers.CharField()


class AuditedSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """Adds ``version`` (required when updating) and an optional ``change_reason``."""

    version = serializers.IntegerField(
        required=False,
        help_text="The version you read: required when updating (a stale one is a 409), not when creating",
    )
    change_reason = serializers.CharField(required=False, write_only=True, allow_blank=True, max_length=200)
    voided = serializers.SerializerMethodField()

    def get_voided(self, obj: Any) -> bool:
        return bool(obj.voided_at)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None and attrs.get("version") is None:
            raise serializers.ValidationError(
                {"version": ["Send the version you read, so that a stale update cannot overwrite a newer one."]}
            )
        return super().validate(attrs)


class HistoryMixin:
    """``GET <resource>/{id}/history/``: the record's history, newest first, as a plain list.

    Not paginated and not filtered: the list filters (``?patient=``) are for the collection, and
    applied to ``get_object`` they would hide the record itself.
    """

    @extend_schema(responses=HistoryEntrySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def history(self, request: Request, pk: str | None = None) -> Response:
        """The record's history, newest first: who changed what, when and why."""
        entries = history_entries(self.get_object())  # type: ignore[attr-defined]
        return Response(HistoryEntrySerializer(entries, many=True).data)


class AuditedViewSet(
    HistoryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """List, read, create, update (never delete), plus ``history`` and ``void`` actions.

    Subclasses implement ``save_record(instance, *, by, expected_version, reason)``
    by calling their app's service; a stale version answers 409 (``spasticity.api_errors``).
    """

    write_permission: str = ""
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def save_record(self, instance: Any, *, by: Any, expected_version: int | None, reason: str) -> None:
        raise NotImplementedError

    def perform_create(self, serializer: Any) -> None:
        self._save(serializer, expected_version=None)

    def perform_update(self, serializer: Any) -> None:
        self._save(serializer, expected_version=serializer.validated_data.get("version"))

    def _save(self, serializer: Any, *, expected_version: int | None) -> None:
        data = dict(serializer.validated_data)
        reason = data.pop("change_reason", "")
        data.pop("version", None)
        instance = serializer.instance or serializer.Meta.model()
        for field, value in data.items():
            setattr(instance, field, value)
        with transaction.atomic():
            self.save_record(instance, by=self.request.user, expected_version=expected_version, reason=reason)
        serializer.instance = instance

    @extend_schema(
        request=VoidSerializer,
        responses={200: inline_serializer("Voided", {"voided": serializers.BooleanField()})},
    )
    @action(detail=True, methods=["post"])
    def void(self, request: Request, pk: str | None = None) -> Response:
        record = self.get_object()
        body = VoidSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        void_record(record, by=request.user, reason=body.validated_data["reason"])
        return Response({"voided": True})
