"""Alert pages, the nurse worklist, the dashboard and the report pages. Thin: rules live in
services, selectors and ``alerts.reports``."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from access_log.models import AccessChannel
from access_log.recording import record_report_access
from alerts import reports, rules, selectors, services
from alerts.forms import AcknowledgeForm, AlertFilterForm, BatteryReportForm, OverdueRefillsForm, SnoozeForm
from alerts.job_runs import jobs_status
from alerts.jobs import task_enqueue
from alerts.models import Alert
from alerts.notifications import notifications_failed
from pumps.selectors import SECTION_KEYS
from spasticity.lists import GROUP_PAGE_SIZE, WHO_CHOICES, page_numbers, whose
from spasticity.params import parse_date_param, parse_days_param
from spasticity.redirects import safe_next_url
from spasticity.roles import PERMS, Role, roles_of
from spasticity.timeutil import clinic_today

ALERTS_PER_PAGE = 50


# --------------------------------------------------------------------------
# Worklist and alerts
# --------------------------------------------------------------------------


WORKLIST_GROUPS = [*rules.KINDS_BY_URGENCY, *SECTION_KEYS]


def worklist_context(request: HttpRequest, *, page_size: int = GROUP_PAGE_SIZE) -> dict[str, Any]:
    """The worklist's data for this request: the worklist page and the nurse's home both show it.
    ``?who=mine|unassigned|all`` (a nurse starts on ``mine``, others on ``all``);
    ``?page_<group>=N`` pages one group (an alert kind, ``refills``, ``visits``) of ``page_size`` rows."""
    is_nurse = Role.PUMP_NURSE in roles_of(request.user)
    who = whose(request.GET.get("who"), user_id=int(request.user.pk), is_nurse=is_nurse)  # type: ignore[arg-type]
    data = selectors.worklist(
        today=clinic_today(),
        nurse_id=who.nurse_id,
        unassigned=who.unassigned,
        pages=page_numbers(request.GET, WORKLIST_GROUPS),
        page_size=page_size,
    )
    return {"worklist": data, "who": who.who, "who_choices": WHO_CHOICES, "is_nurse": is_nurse}


def worklist(request: HttpRequest) -> HttpResponse:
    """The nurse's refills, visits and alerts, grouped by urgency with their counts, one page per
    group (her home page, ``spasticity.home_views``, shows the same with action buttons)."""
    return render(request, "alerts/worklist.html", worklist_context(request))


def alert_list(request: HttpRequest) -> HttpResponse:
    form = AlertFilterForm(request.GET or None)
    filters: dict[str, Any] = {"status": "actionable"}
    if form.is_bound and form.is_valid():
        nurse = form.cleaned_data["nurse"]
        filters = {
            "status": form.cleaned_data["status"],
            "kind": form.cleaned_data["kind"],
            "nurse_id": nurse.pk if nurse else None,
        }
    page = Paginator(selectors.alert_list(**filters), ALERTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "alerts/alert_list.html", {"form": form, "page": page, "query": query.urlencode()})


def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(
        Alert.objects.select_related("patient", "patient__assigned_nurse", "pump", "acknowledged_by", "snoozed_by"),
        pk=pk,
    )
    today = clinic_today()
    latest = services.alert_snooze_latest(alert, today=today)
    context = {
        "alert": alert,
        "acknowledge_form": AcknowledgeForm(initial={"version": alert.version}),
        "snooze_form": SnoozeForm(initial={"version": alert.version}, latest=latest),
        "can_snooze": latest is not None,
        "today": today,
    }
    return render(request, "alerts/alert_detail.html", context)


@require_POST
@permission_required(PERMS.HANDLE_ALERT, raise_exception=True)
def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(Alert, pk=pk)
    form = AcknowledgeForm(request.POST)
    form.is_valid()
    try:
        services.alert_acknowledge(
            alert,
            by=request.user,
            expected_version=form.cleaned_data.get("version"),
            note=form.cleaned_data.get("note", ""),
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{alert.get_kind_display()} acknowledged.")
    return HttpResponseRedirect(safe_next_url(request, reverse("alerts:detail", args=[alert.pk])))


@permission_required(PERMS.HANDLE_ALERT, raise_exception=True)
def alert_snooze(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(Alert.objects.select_related("patient", "pump"), pk=pk)
    today = clinic_today()
    latest = services.alert_snooze_latest(alert, today=today)
    form = SnoozeForm(request.POST or None, initial={"version": alert.version}, latest=latest)
    if request.method == "POST" and form.is_valid():
        try:
            services.alert_snooze(
                alert,
                by=request.user,
                until=form.cleaned_data["snoozed_until"],
                reason=form.cleaned_data["snooze_reason"],
                today=today,
                expected_version=form.cleaned_data.get("version"),
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields and field != "version" else None, message)
        else:
            messages.success(request, f"{alert.get_kind_display()} snoozed until {form.cleaned_data['snoozed_until']}.")
            return HttpResponseRedirect(safe_next_url(request, reverse("alerts:detail", args=[alert.pk])))
    status = 400 if request.method == "POST" else 200
    next_url = safe_next_url(request, "")
    context = {"alert": alert, "form": form, "next_url": next_url, "can_snooze": latest is not None}
    return render(request, "alerts/alert_snooze.html", context, status=status)


# --------------------------------------------------------------------------
# The dashboard, jobs and the outbox
# --------------------------------------------------------------------------


def dashboard(request: HttpRequest) -> HttpResponse:
    """Administrators' overview (every role may read it, as every role runs every report)."""
    context = {"dashboard": selectors.dashboard(as_of=clinic_today()), "jobs": jobs_status(now=timezone.now())}
    return render(request, "alerts/dashboard.html", context)


@require_POST
@permission_required(PERMS.HANDLE_ALERT, raise_exception=True)
def run_scan_now(request: HttpRequest) -> HttpResponse:
    from alerts.tasks import alert_scan_task

    # Never run here, even when the queue is down: a whole caseload's scan would hold the
    # request (and a gunicorn worker) for minutes. Clinical saves refresh their own pump's
    # alerts, and the daily scan runs once the queue is back.
    if task_enqueue(alert_scan_task):
        messages.success(request, "The alert scan is queued; the counts update when it has run.")
    else:
        messages.warning(
            request,
            "The alert scan could not be queued: the job queue is not reachable (the failure is logged). "
            "Alerts from today's clinical saves are already up to date; try again later.",
        )
    return HttpResponseRedirect(safe_next_url(request, reverse("alerts:dashboard")))


@require_POST
@permission_required(PERMS.HANDLE_ALERT, raise_exception=True)
def send_digest_now(request: HttpRequest) -> HttpResponse:
    from alerts.tasks import nurse_digest_task

    if task_enqueue(nurse_digest_task):
        messages.success(request, "Today's digest is queued (each nurse gets it once a day).")
    else:
        messages.warning(
            request,
            "Today's digest could not be queued: the job queue is not reachable (the failure is logged). "
            "It was not sent; try again later.",
        )
    return HttpResponseRedirect(safe_next_url(request, reverse("alerts:dashboard")))


@permission_required(PERMS.HANDLE_ALERT, raise_exception=True)
def failed_notifications(request: HttpRequest) -> HttpResponse:
    from alerts.notifications import MAX_ATTEMPTS

    return render(
        request,
        "alerts/notifications_failed.html",
        {"notifications": notifications_failed(), "max_attempts": MAX_ATTEMPTS},
    )


# --------------------------------------------------------------------------
# Reports: the page, the CSV and the print view call the same selector
# --------------------------------------------------------------------------


def reports_index(request: HttpRequest) -> HttpResponse:
    return render(request, "alerts/reports_index.html", {"today": clinic_today()})


def _csv_response(request: HttpRequest, lines: Iterable[str], filename: str) -> StreamingHttpResponse:
    """The report's CSV, streamed line by line (the rows are already read: the query runs before the first byte)."""
    record_report_access(request, channel=AccessChannel.CSV)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


REPORT_ROWS_PER_PAGE = 50


def _report_context(
    request: HttpRequest, rows: list[dict[str, Any]] | reports.PagedRows, columns: Any, *, paginate: bool
) -> dict[str, Any]:
    """The table of one page of rows (the print view: every row), with the total and the filters for the links.

    ``rows`` may be read a page at a time (``reports.PagedRows``): the paginator's count
    is then the report's total, and only the page shown is read.
    """
    query = request.GET.copy()
    query.pop("page", None)
    page = Paginator(rows, REPORT_ROWS_PER_PAGE).get_page(request.GET.get("page")) if paginate else None
    shown = list(page.object_list if page is not None else rows)
    return {
        "rows": rows,  # every row (read when iterated), for whoever reads the context
        "total": page.paginator.count if page is not None else len(shown),
        "page": page,
        "columns": [label for label, _ in columns],
        "table": list(zip(shown, reports.table(shown, columns), strict=True)),
        "query": query.urlencode(),
    }


REPORT_PARAM_LABELS = {"as_of": "As of", "within_days": "Within (days)"}


def _report_query_refused(request: HttpRequest, *, window: bool = False) -> HttpResponse | None:
    """A 400 page when ``as_of`` (or ``within_days``) is not one every report accepts.

    The forms alone take year 9999, which overflows as soon as a window is added to it;
    ``spasticity.params`` holds the one definition the API uses too.
    """
    try:
        parse_date_param(request.GET.get("as_of"), "as_of")
        if window:
            parse_days_param(request.GET.get("within_days"), "within_days")
    except ValidationError as error:
        for field, field_messages in error.message_dict.items():
            for message in field_messages:
                messages.error(request, f"{REPORT_PARAM_LABELS[field]}: {message}")
        return render(request, "base.html", {"page_title": "Report not run"}, status=400)
    return None


def overdue_refills(request: HttpRequest, variant: str = "page") -> HttpResponseBase:
    if refused := _report_query_refused(request):
        return refused
    form = OverdueRefillsForm(request.GET or None)
    today = clinic_today()
    filters = form.filters(today=today)
    if variant == "csv":  # only the CSV has the caregivers' phones (``reports.OVERDUE_CSV_COLUMNS``)
        rows = reports.overdue_refills(**filters, today=today, caregiver_phones=True)
        return _csv_response(
            request,
            itertools.chain([reports.UTF8_BOM], reports.csv_lines(rows, reports.OVERDUE_CSV_COLUMNS)),
            f"overdue-refills-{filters['as_of']:%Y-%m-%d}.csv",
        )
    context = {"form": form, "filters": filters}
    if variant == "print":
        rows = reports.overdue_refills(**filters, today=today, caregiver_phones=False)
        context |= _report_context(request, rows, reports.OVERDUE_COLUMNS, paginate=False)
        return render(request, "alerts/overdue_refills_print.html", context)
    pages = reports.overdue_refills_pages(**filters, today=today)
    context |= _report_context(request, pages, reports.OVERDUE_COLUMNS, paginate=True)
    return render(request, "alerts/overdue_refills.html", context)


def battery_end_of_life(request: HttpRequest, variant: str = "page") -> HttpResponseBase:
    if refused := _report_query_refused(request, window=True):
        return refused
    form = BatteryReportForm(request.GET or None)
    today = clinic_today()
    filters = form.filters(today=today, default_days=int(settings.CLINIC["BATTERY_WARNING_DAYS"]))
    if variant == "csv":
        return _csv_response(
            request,
            reports.csv_value_lines(
                reports.battery_csv_values(**filters, today=today), [label for label, _key in reports.BATTERY_COLUMNS]
            ),
            f"battery-end-of-life-{filters['as_of']:%Y-%m-%d}.csv",
        )
    context = {"form": form, "filters": filters}
    if variant == "print":
        rows = reports.battery_end_of_life(**filters, today=today)
        context |= _report_context(request, rows, reports.BATTERY_COLUMNS, paginate=False)
        return render(request, "alerts/battery_print.html", context)
    pages = reports.battery_end_of_life_pages(**filters, today=today)
    context |= _report_context(request, pages, reports.BATTERY_COLUMNS, paginate=True)
    return render(request, "alerts/battery.html", context)


def titration_schedule(request: HttpRequest) -> HttpResponse:
    """The titration schedule is the pumps app's page; the reports menu links to it."""
    return redirect("pumps:schedule")
