"""Patient and referral pages. Thin: rules live in services and selectors."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from access_log.models import AccessChannel
from access_log.recording import record_access_to
from patients import selectors, services
from patients.forms import (
    CaregiverForm,
    OralMedicineForm,
    PatientFilterForm,
    PatientForm,
    ReferralDecisionForm,
    ReferralForm,
)
from patients.models import Caregiver, OralMedicine, Patient, Referral
from patients.pathway import derive_stage, pathway_facts
from spasticity.clinic import stage_rules
from spasticity.roles import PERMS
from spasticity.timeutil import clinic_today
from spasticity.views import AuditedCreateView, AuditedUpdateView

PATIENTS_PER_PAGE = 25


def patient_list(request: HttpRequest) -> HttpResponse:
    form = PatientFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_valid():
        nurse = form.cleaned_data["nurse"]
        filters = {
            "q": form.cleaned_data["q"],
            "stage": form.cleaned_data["stage"],
            "diagnosis": form.cleaned_data["diagnosis"],
            "nurse_id": nurse.pk if nurse else None,
        }
    page = Paginator(selectors.patient_list(**filters), PATIENTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "patients/patient_list.html", {"form": form, "page": page, "query": query.urlencode()})


def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        patient = selectors.patient_detail(pk)
    except Patient.DoesNotExist as error:
        raise Http404 from error
    record_access_to(request, patient, channel=AccessChannel.PAGE)
    live_stage = derive_stage(pathway_facts(patient.pk), today=clinic_today(), rules=stage_rules())
    context = {
        "patient": patient,
        "stage": live_stage,
        "timeline": selectors.patient_timeline(patient),
        "caregivers": [c for c in patient.caregivers.all() if not c.is_voided],
        "medicines": [m for m in patient.oral_medicines.all() if not m.is_voided],
        "referrals": list(patient.referrals.all()),
    }
    return render(request, "patients/patient_detail.html", context)


class PatientCreateView(AuditedCreateView):
    model = Patient
    form_class = PatientForm
    permission_required = PERMS.EDIT_PATIENT
    page_title = "New patient"

    def save_record(self, form: PatientForm) -> None:
        services.patient_save(form.instance, by=self.request.user)


class PatientUpdateView(AuditedUpdateView):
    model = Patient
    form_class = PatientForm
    permission_required = PERMS.EDIT_PATIENT
    page_title = "Edit patient"

    def save_record(self, form: PatientForm) -> None:
        services.patient_save(
            form.instance, by=self.request.user, expected_version=form.expected_version, reason=form.change_reason_text
        )


class PatientChildMixin:
    """Create views for records that belong to a patient (caregiver, medicine, referral)."""

    kwargs: dict[str, Any]

    def get_patient(self) -> Patient:
        return get_object_or_404(Patient, pk=self.kwargs["patient_pk"])

    def get_form(self, form_class: Any = None) -> Any:
        form = super().get_form(form_class)  # type: ignore[misc]
        if form.instance.pk is None:
            form.instance.patient = self.get_patient()
        return form

    def get_success_url(self) -> str:
        return reverse("patients:detail", args=[self.object.patient_id])  # type: ignore[attr-defined]


class CaregiverCreateView(PatientChildMixin, AuditedCreateView):
    model = Caregiver
    form_class = CaregiverForm
    permission_required = PERMS.EDIT_PATIENT
    page_title = "Add caregiver"

    def save_record(self, form: CaregiverForm) -> None:
        services.caregiver_save(form.instance, by=self.request.user)


class CaregiverUpdateView(PatientChildMixin, AuditedUpdateView):
    model = Caregiver
    form_class = CaregiverForm
    permission_required = PERMS.EDIT_PATIENT
    page_title = "Edit caregiver"

    def save_record(self, form: CaregiverForm) -> None:
        services.caregiver_save(
            form.instance, by=self.request.user, expected_version=form.expected_version, reason=form.change_reason_text
        )


class OralMedicineCreateView(PatientChildMixin, AuditedCreateView):
    model = OralMedicine
    form_class = OralMedicineForm
    permission_required = PERMS.EDIT_PATIENT_CLINICAL
    page_title = "Add oral anti-spasticity medicine"

    def save_record(self, form: OralMedicineForm) -> None:
        services.oral_medicine_save(form.instance, by=self.request.user)


class OralMedicineUpdateView(PatientChildMixin, AuditedUpdateView):
    model = OralMedicine
    form_class = OralMedicineForm
    permission_required = PERMS.EDIT_PATIENT_CLINICAL
    page_title = "Edit oral medicine and wean plan"

    def save_record(self, form: OralMedicineForm) -> None:
        services.oral_medicine_save(
            form.instance, by=self.request.user, expected_version=form.expected_version, reason=form.change_reason_text
        )


class ReferralCreateView(PatientChildMixin, AuditedCreateView):
    model = Referral
    form_class = ReferralForm
    permission_required = PERMS.MANAGE_REFERRAL
    page_title = "New referral"

    def save_record(self, form: ReferralForm) -> None:
        services.referral_save(form.instance, by=self.request.user)


class ReferralUpdateView(PatientChildMixin, AuditedUpdateView):
    model = Referral
    form_class = ReferralForm
    permission_required = PERMS.MANAGE_REFERRAL
    page_title = "Edit referral"

    def save_record(self, form: ReferralForm) -> None:
        services.referral_save(
            form.instance, by=self.request.user, expected_version=form.expected_version, reason=form.change_reason_text
        )


def referral_inbox(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "new")
    if status not in ("", *Referral.Status.values):
        status = "new"
    page = Paginator(selectors.referral_inbox(status=status), 50).get_page(request.GET.get("page"))
    return render(
        request, "patients/referral_inbox.html", {"page": page, "status": status, "statuses": Referral.Status.choices}
    )


def referral_detail(request: HttpRequest, pk: int) -> HttpResponse:
    referral = get_object_or_404(Referral.objects.select_related("patient", "decided_by"), pk=pk)
    form = ReferralDecisionForm(initial={"version": referral.version})
    return render(request, "patients/referral_detail.html", {"referral": referral, "form": form})


@require_POST
@permission_required(PERMS.MANAGE_REFERRAL, raise_exception=True)
def referral_decide(request: HttpRequest, pk: int) -> HttpResponse:
    referral = get_object_or_404(Referral.objects.select_related("patient"), pk=pk)
    form = ReferralDecisionForm(request.POST)
    if form.is_valid():
        try:
            services.referral_decide(
                referral,
                by=request.user,
                status=form.cleaned_data["status"],
                decline_reason=form.cleaned_data["decline_reason"],
                expected_version=form.cleaned_data["version"],
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields and field != "version" else None, message)
        else:
            messages.success(request, f"Referral {referral.get_status_display().lower()}.")
            return redirect("patients:referral_detail", pk=referral.pk)
    return render(request, "patients/referral_detail.html", {"referral": referral, "form": form}, status=400)
