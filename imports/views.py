"""The caseload import pages: upload, progress (polled with htmx), result and its CSV downloads.

Thin: the upload becomes a run (``imports.runs``), whose job calls the same import as the API
and the command. A run is its owner's: another user's run is not found.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render

from imports.api import TEMPLATE_FILE_NAME
from imports.forms import CaseloadUploadForm
from imports.models import ImportRun
from imports.parsing import template_csv
from imports.runs import import_run_create, import_run_progress
from imports.services import errors_csv_rows, reconciliation_csv_rows
from spasticity.params import whole_number
from spasticity.roles import PERMS


@permission_required(PERMS.IMPORT_CASELOAD, raise_exception=True)
def caseload_upload(request: HttpRequest) -> HttpResponse:
    form = CaseloadUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        run = import_run_create(
            by=request.user, file_name=upload.name, content=upload.read(), commit=form.cleaned_data["commit"]
        )
        return HttpResponseRedirect(run.get_absolute_url())
    recent = ImportRun.objects.filter(owner_id=request.user.pk).defer("content", "result")[:5]
    return render(request, "imports/upload.html", {"form": form, "recent": recent, "page_title": "Import a caseload"})


def _run_of(request: HttpRequest) -> ImportRun | None:
    """The ``?run=`` of the signed-in user, or their latest; 404 for an unknown or someone else's run."""
    runs = ImportRun.objects.filter(owner_id=request.user.pk).defer("content")
    wanted = request.GET.get("run", "")
    if not wanted:
        return runs.first()
    if (pk := whole_number(wanted)) is None:
        raise Http404("No such import run.")
    run = runs.filter(pk=pk).first()
    if run is None:
        raise Http404("No such import run.")
    return run


@permission_required(PERMS.IMPORT_CASELOAD, raise_exception=True)
def run_result(request: HttpRequest) -> HttpResponse:
    run = _run_of(request)
    if run is None:
        return redirect("imports:caseload")
    return render(request, "imports/result.html", _result_context(run))


@permission_required(PERMS.IMPORT_CASELOAD, raise_exception=True)
def run_progress(request: HttpRequest) -> HttpResponse:
    """The polled part of the result page; once the run has finished, htmx reloads the page."""
    run = _run_of(request)
    if run is None:
        return redirect("imports:caseload")
    response = render(request, "imports/_progress.html", _result_context(run))
    if run.is_finished and request.headers.get("HX-Request"):
        response["HX-Redirect"] = run.get_absolute_url()
    return response


def _result_context(run: ImportRun) -> dict[str, Any]:
    done, total = import_run_progress(run)
    percent = int(100 * done / total) if total else 0
    return {
        "run": run,
        "result": run.result or {},
        "done": done,
        "total": total,
        "percent": percent,
        "page_title": f"Import of {run.file_name}",
    }


def _csv_response(rows: Iterable[list[Any]], file_name: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    writer = csv.writer(response)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return response


def _download_name(run: ImportRun | None, what: str) -> str:
    stem = run.file_name.rsplit(".", 1)[0] if run else "import"
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in stem)[:80] or "import"
    return f"{safe}-{what}.csv"


@permission_required(PERMS.IMPORT_CASELOAD, raise_exception=True)
def run_errors_csv(request: HttpRequest) -> HttpResponse:
    run = _run_of(request)
    result = (run.result or {}) if run else {}
    return _csv_response(errors_csv_rows(result), _download_name(run, "errors"))


@permission_required(PERMS.IMPORT_CASELOAD, raise_exception=True)
def run_reconciliation_csv(request: HttpRequest) -> HttpResponse:
    run = _run_of(request)
    result = (run.result or {}) if run else {}
    return _csv_response(reconciliation_csv_rows(result), _download_name(run, "reconciliation"))


@permission_required(PERMS.IMPORT_CASELOAD, raise_exception=True)
def template_download(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{TEMPLATE_FILE_NAME}"'
    return response
