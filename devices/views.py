"""MRI and safety-notice pages. Thin: the services hold the rules, the selectors the reads."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from access_log.models import AccessChannel
from access_log.recording import record_access_to
from devices import selectors, services
from devices.forms import AcknowledgeForm, MriFollowUpForm, MriScanForm, SafetyNoticeForm
from devices.models import MriScan, SafetyNotice
from pumps.models import Pump
from spasticity.roles import PERMS
from spasticity.timeutil import clinic_today
from spasticity.views import AuditedCreateView, AuditedUpdateView


def mri_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scan = get_object_or_404(MriScan.objects.select_related("pump__model", "patient", "follow_up_recorded_by"), pk=pk)
    record_access_to(request, scan, channel=AccessChannel.PAGE)
    context = {
        "scan": scan,
        "answer": selectors.mri_follow_up_answer(scan),
        "follow_up_form": MriFollowUpForm(instance=scan),
        "today": clinic_today(),
    }
    return render(request, "devices/mri_detail.html", context)


class MriCreateView(AuditedCreateView):
    model = MriScan
    form_class = MriScanForm
    permission_required = PERMS.RECORD_MRI
    template_name = "devices/mri_form.html"
    page_title = "Record an MRI scan"

    def get_pump(self) -> Pump:
        if not hasattr(self, "_pump"):
            self._pump = get_object_or_404(Pump.objects.select_related("model", "patient"), pk=self.kwargs["pump_pk"])
        return self._pump

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "procedure": self.get_pump().model.mri_procedure}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "pump": self.get_pump()}

    def save_record(self, form: MriScanForm) -> None:  # type: ignore[override]
        form.instance = services.mri_record(
            pump=self.get_pump(),
            by=self.request.user,
            scanned_on=form.cleaned_data["scanned_on"],
            checklist=form.checklist(),
            today=clinic_today(),
        )

    def get_success_url(self) -> str:
        return reverse("devices:mri_detail", args=[self.object.pk])


class MriFollowUpView(AuditedUpdateView):
    model = MriScan
    form_class = MriFollowUpForm
    permission_required = PERMS.RECORD_MRI
    page_title = "Record the MRI follow-up"

    def save_record(self, form: MriFollowUpForm) -> None:  # type: ignore[override]
        data = form.cleaned_data
        form.instance = services.mri_record_follow_up(
            MriScan.objects.get(pk=form.instance.pk),
            by=self.request.user,
            interrogated_after_scan=bool(data.get("interrogated_after_scan")),
            motor_restart_confirmed=bool(data.get("motor_restart_confirmed")),
            note=data.get("follow_up_note", ""),
            expected_version=form.expected_version,
            today=clinic_today(),
        )

    def get_success_url(self) -> str:
        return reverse("devices:mri_detail", args=[self.object.pk])


# --------------------------------------------------------------------------
# Safety notices
# --------------------------------------------------------------------------


def notice_list(request: HttpRequest) -> HttpResponse:
    notices = list(SafetyNotice.objects.select_related("pump_model").order_by("-issued_on", "-pk"))
    affected = selectors.notices_affected_pumps(notices)
    rows = [
        (notice, len(affected[notice.pk]), sum(not row.addressed for row in affected[notice.pk])) for notice in notices
    ]
    return render(request, "devices/notice_list.html", {"rows": rows})


def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(SafetyNotice.objects.select_related("pump_model"), pk=pk)
    context = {
        "notice": notice,
        "affected": selectors.notice_affected_pumps(notice),
        "form": AcknowledgeForm(initial={"patient_informed_on": clinic_today()}),
    }
    return render(request, "devices/notice_detail.html", context)


class NoticeCreateView(AuditedCreateView):
    model = SafetyNotice
    form_class = SafetyNoticeForm
    permission_required = PERMS.MANAGE_SAFETY_NOTICE
    page_title = "Record a device safety notice"

    def save_record(self, form: SafetyNoticeForm) -> None:  # type: ignore[override]
        services.safety_notice_save(form.instance, by=self.request.user)

    def get_success_url(self) -> str:
        return reverse("devices:notice_detail", args=[self.object.pk])


class NoticeUpdateView(AuditedUpdateView):
    model = SafetyNotice
    form_class = SafetyNoticeForm
    permission_required = PERMS.MANAGE_SAFETY_NOTICE
    page_title = "Edit the safety notice"

    def save_record(self, form: SafetyNoticeForm) -> None:  # type: ignore[override]
        services.safety_notice_save(
            form.instance, by=self.request.user, expected_version=form.expected_version, reason=form.change_reason_text
        )

    def get_success_url(self) -> str:
        return reverse("devices:notice_detail", args=[self.object.pk])


@require_POST
@permission_required(PERMS.MANAGE_SAFETY_NOTICE, raise_exception=True)
def notice_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(SafetyNotice, pk=pk)
    form = AcknowledgeForm(request.POST)
    if form.is_valid():
        try:
            with transaction.atomic():
                services.safety_notice_acknowledge(
                    notice,
                    pump=get_object_or_404(Pump, pk=form.cleaned_data["pump"]),
                    by=request.user,
                    patient_informed_on=form.cleaned_data["patient_informed_on"],
                    action_taken=form.cleaned_data["action_taken"],
                )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "Acknowledgement recorded.")
    else:
        messages.error(request, " ".join(str(m) for errors in form.errors.values() for m in errors))
    return redirect("devices:notice_detail", pk=notice.pk)


def pump_mri_scans(request: HttpRequest, pump_pk: int) -> HttpResponse:
    pump = get_object_or_404(Pump.objects.select_related("model", "patient"), pk=pump_pk)
    context = {"pump": pump, "scans": selectors.mri_scans_of_pump(pump.pk), "today": clinic_today()}
    return render(request, "devices/pump_mri_scans.html", context)
