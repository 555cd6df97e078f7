"""Turn Django ValidationErrors raised by services, and IntegrityErrors from races, into 400
``{"field": [messages]}``; an oversized body into a 413."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from spasticity.integrity import integrity_validation_error


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        # Over DATA_UPLOAD_MAX_MEMORY_SIZE: say so in JSON rather than Django's HTML 400.
        return Response({"detail": "The request body is too large."}, status=413)
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
