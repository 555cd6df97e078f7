"""Appointment pages and the staff calendar feed. Thin: the rules are in the services and selectors."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from appointments import calendar, schedule, selectors, services
from appointments.forms import AppointmentForm, CancelForm, StatusChangeForm, WeekForm
from appointments.models import Appointment, AppointmentKind, AppointmentPlace, CalendarFeed
from patients.models import Patient
from pumps.models import Pump
from spasticity.access import holds_role
from spasticity.audit import StaleEditError
from spasticity.lists import WHO_CHOICES, page_numbers, whose
from spasticity.params import whole_number
from spasticity.roles import PERMS, Role, roles_of
from spasticity.timeutil import clinic_today
from spasticity.views import AuditedCreateView, AuditedUpdateView

DEFAULT_START = dt.time(10, 0)
DEFAULT_DURATION_MINUTES = 30


def week_url(day: dt.date, staff_id: int | None) -> str:
    query = {"day": day.isoformat(), **({"staff": str(staff_id)} if staff_id else {})}
    return f"{reverse('appointments:week')}?{urlencode(query)}"


# --------------------------------------------------------------------------
# Booking and changing
# --------------------------------------------------------------------------


class AppointmentFormMixin:
    """What the booking and the edit pages share: the patient, the pump's window, the form's ``now``."""

    request: HttpRequest

    def get_patient(self) -> Patient:
        raise NotImplementedError

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = super().get_form_kwargs()  # type: ignore[misc]
        return {**kwargs, "patient": self.get_patient(), "now": timezone.now()}

    def window_pump(self, form: AppointmentForm) -> Pump | None:
        value = form["pump"].value()
        pumps = {pump.pk: pump for pump in form.fields["pump"].queryset}  # type: ignore[attr-defined]
        try:
            return pumps.get(int(value)) if value else None
        except (TypeError, ValueError):
            return None

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        pump = self.window_pump(context["form"])
        context.update(
            patient=self.get_patient(),
            pump=pump,
            window=schedule.refill_window(pump.refill_due_on, window_days=services.refill_window_days())
            if pump
            else None,
        )
        return context

    def get_success_url(self) -> str:
        appointment: Appointment = self.object  # type: ignore[attr-defined]
        return week_url(appointment.starts_on, appointment.lead_staff_id)


class AppointmentCreateView(AppointmentFormMixin, AuditedCreateView):
    """``/appointments/new/?pump=<id>&kind=refill`` (or ``?patient=<id>``): prefilled so that booking
    the next refill from the pump or the after-refill page is one more click."""

    model = Appointment
    form_class = AppointmentForm
    permission_required = PERMS.BOOK_APPOINTMENT
    template_name = "appointments/appointment_form.html"
    page_title = "Book an appointment"

    def get_pump(self) -> Pump | None:
        pump_id = self.request.GET.get("pump", "")
        if not pump_id:
            return None
        if (pk := whole_number(pump_id)) is None:
            raise Http404("No such pump.")
        return get_object_or_404(Pump.objects.select_related("patient"), pk=pk)

    def get_patient(self) -> Patient:
        if not hasattr(self, "_patient"):
            pump = self.get_pump()
            patient_id = self.request.GET.get("patient", "")
            if pump is not None:
                self._patient = pump.patient
            elif (pk := whole_number(patient_id)) is not None:
                self._patient = get_object_or_404(Patient, pk=pk)
            else:
                raise Http404("No such patient.")
        return self._patient

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._says_whom(request) or super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._says_whom(request) or super().post(request, *args, **kwargs)

    def _says_whom(self, request: HttpRequest) -> HttpResponse | None:
        """A 400 when the address names neither a patient nor a pump (the form books for one patient)."""
        if request.GET.get("pump") or request.GET.get("patient"):
            return None
        messages.error(request, "Book an appointment from the patient's page or the pump's page.")
        return render(request, "base.html", {"page_title": "Whose appointment?"}, status=400)

    def get_initial(self) -> dict[str, Any]:
        pump = self.get_pump()
        kind = self.request.GET.get("kind") or (AppointmentKind.REFILL if pump else AppointmentKind.REVIEW)
        kind = kind if kind in AppointmentKind.values else AppointmentKind.REVIEW
        today = clinic_today()
        day = None
        if pump is not None and kind == AppointmentKind.REFILL:
            window = schedule.refill_window(pump.refill_due_on, window_days=services.refill_window_days())
            day = schedule.suggested_refill_day(window, today=today)
        day = day or today + dt.timedelta(days=1)
        lead: Any = self.get_patient().assigned_nurse
        if not holds_role(lead, Role.PUMP_NURSE):
            lead = self.request.user if roles_of(self.request.user) else None
        return {
            "kind": kind,
            "pump": pump.pk if pump else None,
            "starts_at": timezone.make_aware(dt.datetime.combine(day, DEFAULT_START)),
            "duration_minutes": DEFAULT_DURATION_MINUTES,
            "place": AppointmentPlace.CLINIC,
            "lead_staff": lead.pk if lead else None,
        }

    def save_record(self, form: AppointmentForm) -> None:  # type: ignore[override]
        services.appointment_book(form.instance, staff=form.staff(), by=self.request.user)


class AppointmentUpdateView(AppointmentFormMixin, AuditedUpdateView):
    model = Appointment
    form_class = AppointmentForm
    permission_required = PERMS.BOOK_APPOINTMENT
    template_name = "appointments/appointment_form.html"
    page_title = "Change an appointment"

    def get_queryset(self) -> Any:
        return Appointment.objects.select_related("patient", "pump")

    def get_patient(self) -> Patient:
        appointment: Appointment = self.object
        return appointment.patient

    def save_record(self, form: AppointmentForm) -> None:  # type: ignore[override]
        services.appointment_update(
            form.instance,
            staff=form.staff(),
            by=self.request.user,
            expected_version=form.expected_version,
            reason=form.change_reason_text,
        )


# --------------------------------------------------------------------------
# One appointment and its status changes
# --------------------------------------------------------------------------


def appointment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = get_object_or_404(
        Appointment.objects.select_related("patient", "pump", "lead_staff", "second_staff"), pk=pk
    )
    reminders = appointment.reminders.select_related("caregiver", "notification").order_by("-pk")
    context = {
        "appointment": appointment,
        "reminders": reminders,
        "cancel_form": CancelForm(initial={"version": appointment.version}),
        "start_passed": appointment.starts_at <= timezone.now(),
        "day_reached": appointment.starts_on <= clinic_today(),
    }
    return render(request, "appointments/appointment_detail.html", context)


def _status_change(request: HttpRequest, pk: int, change: Any, done: str) -> HttpResponse:
    if not request.user.has_perm(PERMS.BOOK_APPOINTMENT):
        raise PermissionDenied
    appointment = get_object_or_404(Appointment, pk=pk)
    form = StatusChangeForm(request.POST)
    version = form.cleaned_data.get("version") if form.is_valid() else None
    try:
        with transaction.atomic():
            change(appointment, version)
    except StaleEditError:
        messages.error(request, "Someone changed this appointment after you opened it: nothing was saved. Look again.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return redirect("appointments:detail", pk=pk)


@require_POST
def appointment_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    reason = request.POST.get("cancel_reason", "")

    def change(appointment: Appointment, version: int | None) -> None:
        services.appointment_cancel(appointment, by=request.user, reason=reason, expected_version=version)

    return _status_change(request, pk, change, "Appointment cancelled.")


@require_POST
def appointment_no_show(request: HttpRequest, pk: int) -> HttpResponse:
    def change(appointment: Appointment, version: int | None) -> None:
        services.appointment_mark_no_show(appointment, by=request.user, now=timezone.now(), expected_version=version)

    return _status_change(request, pk, change, "Marked as not attended.")


@require_POST
def appointment_attended(request: HttpRequest, pk: int) -> HttpResponse:
    def change(appointment: Appointment, version: int | None) -> None:
        services.appointment_mark_attended(appointment, by=request.user, today=clinic_today(), expected_version=version)

    return _status_change(request, pk, change, "Marked as attended.")


# --------------------------------------------------------------------------
# The week and the day
# --------------------------------------------------------------------------


def _days_view(request: HttpRequest, *, days: int) -> HttpResponse:
    form = WeekForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "appointments/week.html", {"form": form, "days": []}, status=400)
    data = form.cleaned_data if form.is_bound else {}
    day = data.get("day") or clinic_today()
    first = day - dt.timedelta(days=day.weekday()) if days == 7 else day
    last = first + dt.timedelta(days=days - 1)
    staff = data.get("staff")
    if staff is None and "staff" not in request.GET and Role.PUMP_NURSE in roles_of(request.user):
        staff = request.user  # a nurse starts on her own week
    staff_id = int(staff.pk) if staff is not None else None
    rows = selectors.appointments_between(first_day=first, last_day=last, staff_id=staff_id)
    dates = [first + dt.timedelta(days=n) for n in range(days)]
    by_day = [(date, [row for row in rows if row.starts_on == date]) for date in dates]
    step = dt.timedelta(days=days)
    context = {
        "form": WeekForm(initial={"day": day, "staff": staff_id}),
        "days": by_day,
        "first": first,
        "last": last,
        "staff": staff,
        "is_week": days == 7,
        "previous_url": _days_url(request, first - step, staff_id),
        "next_url": _days_url(request, first + step, staff_id),
        "today": clinic_today(),
    }
    return render(request, "appointments/week.html", context)


def _days_url(request: HttpRequest, day: dt.date, staff_id: int | None) -> str:
    query = {"day": day.isoformat(), "staff": str(staff_id) if staff_id else ""}
    return f"{request.path}?{urlencode(query)}"


@require_GET
def appointment_week(request: HttpRequest) -> HttpResponse:
    """The week (Monday to Sunday) around ``?day=``, of ``?staff=`` (a nurse's own by default; empty: everyone)."""
    return _days_view(request, days=7)


@require_GET
def appointment_day(request: HttpRequest) -> HttpResponse:
    return _days_view(request, days=1)


# --------------------------------------------------------------------------
# Refills not booked
# --------------------------------------------------------------------------


@require_GET
def not_booked(request: HttpRequest) -> HttpResponse:
    """``/appointments/not-booked/?who=mine|unassigned|all&page_not_booked=N``: the watched pumps due
    within ``CLINIC["REFILL_NOT_BOOKED_DAYS"]`` with no refill booked, each with its Book button.
    For the people who book (nurses, doctors, administrators); a nurse starts on her own patients."""
    if not request.user.has_perm(PERMS.BOOK_APPOINTMENT):
        raise PermissionDenied
    is_nurse = Role.PUMP_NURSE in roles_of(request.user)
    who = whose(request.GET.get("who"), user_id=int(request.user.pk or 0), is_nurse=is_nurse)
    within_days = int(settings.CLINIC["REFILL_NOT_BOOKED_DAYS"])
    today = clinic_today()
    group = selectors.not_booked_page(
        as_of=today,
        within_days=within_days,
        nurse_id=who.nurse_id,
        unassigned=who.unassigned,
        page=page_numbers(request.GET, ["not_booked"])["not_booked"],
    )
    context = {
        "group": group,
        "today": today,
        "within_days": within_days,
        "who": who.who,
        "who_choices": WHO_CHOICES,
        "is_nurse": is_nurse,
    }
    return render(request, "appointments/not_booked.html", context)


# --------------------------------------------------------------------------
# The calendar feed
# --------------------------------------------------------------------------


def calendar_link(request: HttpRequest) -> HttpResponse:
    """The signed-in staff member's feed: make a new address (shown once) or revoke it."""
    if not roles_of(request.user):
        raise PermissionDenied
    user = request.user
    feed_url = None
    if request.method == "POST":
        now = timezone.now()
        if request.POST.get("action") == "revoke":
            revoked = calendar.calendar_feed_revoke(user, now=now)  # type: ignore[arg-type]
            messages.success(request, "Calendar address revoked." if revoked else "There was no address to revoke.")
            return redirect("appointments:calendar")
        token = calendar.calendar_feed_issue(user, now=now)  # type: ignore[arg-type]
        feed_url = request.build_absolute_uri(reverse("calendar_feed", args=[token]))
    feed = CalendarFeed.objects.filter(user_id=int(user.pk or 0)).first()
    return render(request, "appointments/calendar_link.html", {"feed": feed, "feed_url": feed_url})


@login_not_required
@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """``GET /calendar/<token>.ics``: the token is the key (calendar apps send no sign-in)."""
    now = timezone.now()
    user = calendar.calendar_feed_user(token, now=now)
    if user is None:
        raise Http404("No such calendar.")
    response = HttpResponse(calendar.calendar_ics(user, now=now), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="appointments.ics"'
    return response
