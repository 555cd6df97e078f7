"""Turn Django ValidationErrors raised by services, and IntegrityErrors from races, into 400
``{"field": [messages]}``; a stale version into a 409; an oversized body into a 413; and an
API address that matches nothing into a JSON 404.

``spasticity.api_schema`` documents these answers."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from spasticity.audit import STALE_EDIT_MESSAGE, StaleEditError
from spasticity.integrity import integrity_validation_error


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        # Over DATA_UPLOAD_MAX_MEMORY_SIZE: say so in JSON rather than Django's HTML 400.
        return Response({"detail": "The request body is too large."}, status=413)
    if isinstance(exc, StaleEditError):
        # Someone saved the record since the client read it: a conflict, not a bad request.
        set_rollback()
        return Response({"version": [STALE_EDIT_MESSAGE]}, status=409)
    if isinstance(exc, IntegrityError):
        # A unique key or constraint that a concurrent save won: a 400 on the field it guards.
        exc = integrity_validation_error(exc)
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        if hasattr(exc, "error_dict"):
            data = {field: [str(m) for e in errors for m in e.messages] for field, errors in exc.error_dict.items()}
            data = {("non_field_errors" if k == "__all__" else k): v for k, v in data.items()}
        else:
            data = {"non_field_errors": list(exc.messages)}
        return Response(data, status=400)
    return drf_exception_handler(exc, context)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: under ``/api/`` (``/api/v1/pumps/abc/``) a JSON 404 like the API's own; elsewhere the page."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
