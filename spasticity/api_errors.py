"""Turn Django ValidationErrors raised by services into 400 ``{"field": [messages]}``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            data = {field: [str(m) for e in errors for m in e.messages] for field, errors in exc.error_dict.items()}
            data = {("non_field_errors" if k == "__all__" else k): v for k, v in data.items()}
        else:
            data = {"non_field_errors": list(exc.messages)}
        return Response(data, status=400)
    return drf_exception_handler(exc, context)
