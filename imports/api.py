"""``/api/v1/imports/caseload/``: the caseload import over the API (spec sections 5 and 8). Thin:
the rules live in ``imports.services``.

* ``GET imports/caseload/template/``: the CSV template (the header row).
* ``POST imports/caseload/`` (multipart ``file``, ``dry_run`` default true): 200 with the result,
  or 400 with the same body when a commit was refused (nothing saved). An upload that cannot be
  read at all (no file, a body that is not multipart) answers 400 in the same shape, with the
  problem on ``file`` or ``dry_run``, so that a client reads one kind of answer.
* A commit runs in the request, so it is kept small: a clean sheet of more than
  ``API_COMMIT_MAX_ROWS`` rows answers 413 in the same shape (nothing saved, the dry run's
  reconciliation included). Jobs never hold a request: a larger sheet is committed from the
  import page, which queues it as a job and polls it (``imports.runs``). Dry runs have no such
  limit: 5,000 rows are checked in seconds.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import parsers, renderers, serializers
from rest_framework.exceptions import ParseError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imports.parsing import MAX_FILE_BYTES, template_csv
from imports.services import CREATED_KINDS, IMPORT_REFUSED, ImportResult, caseload_import_file
from spasticity.roles import PERMS, roles_of
from spasticity.timeutil import clinic_today

TEMPLATE_FILE_NAME = "caseload-template.csv"
# A commit records each row through the services: measured 0.23 s a row on the development
# machine, so 50 rows hold a web worker about 12 s (gunicorn gives a request 60 s).
API_COMMIT_MAX_ROWS = 50


class ImportPermission(BasePermission):
    """Rehab doctors and pump nurses (``import_caseload``); everyone else 403, anonymous 401."""

    message = IMPORT_REFUSED

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and roles_of(user) and user.has_perm(PERMS.IMPORT_CASELOAD))


class CaseloadUploadSerializer(serializers.Serializer):  # type: ignore[type-arg]
    file = serializers.FileField(help_text="The caseload sheet: .csv (UTF-8) or .xlsx, header in row 1")
    dry_run = serializers.BooleanField(default=True, help_text="true (default): check and report, save nothing")


class ImportErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    row = serializers.IntegerField(allow_null=True, help_text="Spreadsheet row (header = 1); empty for the file")
    field = serializers.CharField(allow_null=True, help_text="The column; empty for the row as a whole")
    message = serializers.CharField()


class ReconciliationSerializer(serializers.Serializer):  # type: ignore[type-arg]
    row = serializers.IntegerField()
    mrn = serializers.CharField()
    serial_number = serializers.CharField()
    stated_alarm_date = serializers.DateField(allow_null=True)
    computed_alarm_date = serializers.DateField(allow_null=True)
    difference_days = serializers.IntegerField(allow_null=True, help_text="stated − computed; > 0: the sheet is late")
    stated_refill_due_on = serializers.DateField(allow_null=True)
    computed_refill_due_on = serializers.DateField(allow_null=True)
    refill_due_difference_days = serializers.IntegerField(allow_null=True)


class CreatedSerializer(serializers.Serializer):  # type: ignore[type-arg]
    patients = serializers.IntegerField()
    pumps = serializers.IntegerField()
    dose_changes = serializers.IntegerField()
    refills = serializers.IntegerField()


class ImportResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    dry_run = serializers.BooleanField()
    rows = serializers.IntegerField(help_text="Data rows read (blank lines are not rows)")
    created = CreatedSerializer(help_text="What was (or, in a dry run, would be) created; zero on a refused commit")
    errors = ImportErrorSerializer(many=True)  # type: ignore[assignment]
    reconciliation = ReconciliationSerializer(many=True)


def upload_problem(field: str, message: str, *, dry_run: bool = True) -> dict[str, Any]:
    """An upload that was not imported at all, in the result's shape."""
    return {
        "dry_run": dry_run,
        "rows": 0,
        "created": dict.fromkeys(CREATED_KINDS, 0),
        "errors": [{"row": None, "field": field, "message": message}],
        "reconciliation": [],
    }


class CaseloadImportView(APIView):
    permission_classes = [ImportPermission]
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    @extend_schema(
        operation_id="imports_caseload_create",
        request={"multipart/form-data": CaseloadUploadSerializer},
        responses={
            200: ImportResultSerializer,
            400: OpenApiResponse(
                ImportResultSerializer,
                description="A commit refused because of errors (nothing saved), or an upload that could not be read.",
            ),
            413: OpenApiResponse(
                ImportResultSerializer,
                description=f"A clean commit of more than {API_COMMIT_MAX_ROWS} rows, refused (nothing saved): "
                "commit it from the import page, which runs it as a job.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        try:
            data = request.data
        except ParseError as error:
            return Response(upload_problem("file", f"The upload could not be read: {error.detail}"), status=400)
        upload = CaseloadUploadSerializer(data=data)
        if not upload.is_valid():
            field, messages = next(iter(dict(upload.errors).items()))
            sent = data.get("dry_run", "") if isinstance(data, dict) else ""
            dry_run = str(sent).lower() not in serializers.BooleanField.FALSE_VALUES
            return Response(upload_problem(str(field), str(messages[0]), dry_run=dry_run), status=400)
        file = upload.validated_data["file"]
        result = caseload_import_file(
            str(file.name),
            file.read(MAX_FILE_BYTES + 1),  # one byte more than allowed, so an oversized file is refused
            by=request.user,
            commit=not upload.validated_data["dry_run"],
            today=clinic_today(),
            max_commit_rows=API_COMMIT_MAX_ROWS,
        )
        return Response(result.as_dict(), status=_status_of(result))


def _status_of(result: ImportResult) -> int:
    if result.too_large_to_commit:
        return 413
    return 400 if result.refused else 200


class CSVTextRenderer(renderers.BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        return data


class CaseloadTemplateView(APIView):
    permission_classes = [ImportPermission]
    renderer_classes = [renderers.JSONRenderer, CSVTextRenderer]

    def handle_exception(self, exc: Exception) -> Response:
        # A refusal is not a spreadsheet: it answers JSON, as documented.
        self.request.accepted_renderer = renderers.JSONRenderer()
        self.request.accepted_media_type = renderers.JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(
        operation_id="imports_caseload_template",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The header row of the template")},
    )
    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(template_csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{TEMPLATE_FILE_NAME}"'
        return response


def urlpatterns() -> list[Any]:
    from django.urls import path

    return [
        path("imports/caseload/template/", CaseloadTemplateView.as_view(), name="api_caseload_template"),
        path("imports/caseload/", CaseloadImportView.as_view(), name="api_caseload_import"),
    ]
