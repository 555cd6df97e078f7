"""Pump pages. Thin: every rule lives in the services and selectors, every number in ``dosing``."""

from __future__ import annotations

import datetime
from dataclasses import asdict
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from access_log.models import AccessChannel
from access_log.recording import record_access_to
from patients.models import Patient
from pumps import pdf, selectors, services
from pumps.forms import (
    CatheterRevisionForm,
    DoseChangeForm,
    ExplantForm,
    ImplantForm,
    NurseChoiceForm,
    PumpEditForm,
    PumpFollowUpForm,
    PumpModelForm,
    RefillForm,
    ReplaceForm,
    SecondCheckForm,
)
from pumps.models import DoseChange, Pump, PumpModel, Refill, Surgery
from spasticity.lists import ALL, WHO_CHOICES, Whose, chosen_nurse, page_numbers, whose
from spasticity.roles import PERMS, Role, roles_of
from spasticity.timeutil import clinic_today
from spasticity.views import AuditedCreateView, AuditedUpdateView

SCHEDULE_DEFAULT_DAYS = 28


# --------------------------------------------------------------------------
# Reading pages
# --------------------------------------------------------------------------


def pump_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        page = selectors.pump_page(pk, today=clinic_today())
    except Pump.DoesNotExist as error:
        raise Http404 from error
    record_access_to(request, page.pump, channel=AccessChannel.PAGE)
    return render(request, "pumps/pump_detail.html", {"page": page, "pump": page.pump, "today": clinic_today()})


def _chosen_nurse_id(request: HttpRequest, form: NurseChoiceForm) -> int | None:
    """The nurse whose list to show: the one chosen, else the signed-in nurse, else everyone."""
    if form.is_bound and form.is_valid() and form.cleaned_data["nurse"]:
        return int(form.cleaned_data["nurse"].pk)
    if "nurse" not in request.GET and Role.PUMP_NURSE in roles_of(request.user):
        return int(request.user.pk)  # type: ignore[arg-type]
    return None


def _chosen_whose(request: HttpRequest, form: NurseChoiceForm, *, is_nurse: bool) -> Whose:
    """Whose pumps today's list shows: the nurse picked by name, else ``?who=`` (a nurse's own
    patients by default, everyone's for the other roles; "All nurses" in the form is ``all``)."""
    user_id = int(request.user.pk)  # type: ignore[arg-type]
    if form.is_bound and form.is_valid() and form.cleaned_data["nurse"]:
        return chosen_nurse(int(form.cleaned_data["nurse"].pk), user_id=user_id)
    value = request.GET.get("who") or (ALL if "nurse" in request.GET else None)
    return whose(value, user_id=user_id, is_nurse=is_nurse)


def nurse_today(request: HttpRequest) -> HttpResponse:
    """A pump nurse's day: refills and titration visits due today and this week, in sections
    with their counts, one page each (``?page_refills=N``, ``?page_visits=N``, ``?page_no_projection=N``).
    ``?who=mine|unassigned|all`` or ``?nurse=<id>`` says whose patients."""
    is_nurse = Role.PUMP_NURSE in roles_of(request.user)
    who = _chosen_whose(request, NurseChoiceForm(request.GET or None), is_nurse=is_nurse)
    worklist = selectors.nurse_worklist(
        today=clinic_today(),
        nurse_id=who.nurse_id,
        unassigned=who.unassigned,
        pages=page_numbers(request.GET, selectors.SECTION_KEYS),
    )
    context = {
        "worklist": worklist,
        "form": NurseChoiceForm(initial={"nurse": who.nurse_id}),
        "nurse_id": who.nurse_id,
        "who": who.who,
        "who_choices": WHO_CHOICES,
        "is_nurse": is_nurse,
    }
    return render(request, "pumps/nurse_today.html", context)


def titration_schedule(request: HttpRequest) -> HttpResponse:
    """Upcoming titration visits and refills per pump nurse."""
    form = NurseChoiceForm(request.GET or None)
    nurse_id = _chosen_nurse_id(request, form) if form.is_bound else None
    start_on = clinic_today()
    end_on = start_on + datetime.timedelta(days=SCHEDULE_DEFAULT_DAYS - 1)
    schedules = selectors.titration_schedule(start_on=start_on, end_on=end_on, nurse_id=nurse_id)
    context = {"schedules": schedules, "form": form, "start_on": start_on, "end_on": end_on}
    return render(request, "pumps/titration_schedule.html", context)


def pump_model_list(request: HttpRequest) -> HttpResponse:
    return render(request, "pumps/pump_model_list.html", {"pump_models": PumpModel.objects.active()})


def _second_check_context(request: HttpRequest, record: DoseChange | Refill) -> dict[str, Any]:
    """Whether the signed-in user may make the second check here (the service decides again on POST)."""
    author_id = services.record_author_id(record)
    eligible = (
        record.awaits_second_check
        and not record.is_voided
        and request.user.has_perm(record.WRITE_PERMISSION)
        and author_id != request.user.pk
    )
    return {"can_second_check": eligible, "is_author": author_id == request.user.pk}


def dose_change_detail(request: HttpRequest, pk: int) -> HttpResponse:
    change = get_object_or_404(
        DoseChange.objects.select_related("pump__model", "pump__patient", "second_checked_by"), pk=pk
    )
    record_access_to(request, change, channel=AccessChannel.PAGE)
    visit = selectors.projection_after_visit(change.pump, visit_on=change.changed_on)
    context = {"change": change, "record": change, "pump": change.pump, "visit": visit}
    context |= _second_check_context(request, change)
    return render(request, "pumps/dose_change_detail.html", context)


def refill_detail(request: HttpRequest, pk: int) -> HttpResponse:
    refill = get_object_or_404(
        Refill.objects.select_related("pump__model", "pump__patient", "second_checked_by"), pk=pk
    )
    record_access_to(request, refill, channel=AccessChannel.PAGE)
    visit = selectors.projection_after_visit(refill.pump, visit_on=refill.refilled_on)
    context = {
        "refill": refill,
        "record": refill,
        "pump": refill.pump,
        "visit": visit,
        "previous_fill": selectors.previous_fill(refill),
    }
    context |= _second_check_context(request, refill)
    return render(request, "pumps/refill_detail.html", context)


@require_POST
def second_check(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """A colleague's second check from the record's page: agree, or disagree with a note."""
    record: DoseChange | Refill = (
        get_object_or_404(Refill, pk=pk) if kind == "refills" else get_object_or_404(DoseChange, pk=pk)
    )
    _require(request, record.WRITE_PERMISSION)
    form = SecondCheckForm(request.POST)
    if form.is_valid():
        try:
            services.second_check_record(
                record,
                by=request.user,
                agrees=form.cleaned_data["verdict"] == "agree",
                note=form.cleaned_data["note"],
                expected_version=form.cleaned_data["version"],
            )
        except ValidationError as error:
            for messages_of_field in error.message_dict.values():
                for message in messages_of_field:
                    messages.error(request, message)
        else:
            messages.success(request, "Second check recorded.")
    else:
        messages.error(request, "Choose whether you agree; a disagreement needs a note.")
    return redirect(record.get_absolute_url())


# --------------------------------------------------------------------------
# Printouts
# --------------------------------------------------------------------------


def dose_change_summary_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    change = get_object_or_404(DoseChange.objects.select_related("pump__model", "pump__patient"), pk=pk)
    record_access_to(request, change, channel=AccessChannel.PDF)
    return pdf.pdf_response(pdf.dose_change_summary(change), f"after-visit-summary-{change.changed_on:%Y-%m-%d}.pdf")


def refill_summary_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    refill = get_object_or_404(Refill.objects.select_related("pump__model", "pump__patient"), pk=pk)
    record_access_to(request, refill, channel=AccessChannel.PDF)
    return pdf.pdf_response(pdf.refill_summary(refill), f"after-visit-summary-{refill.refilled_on:%Y-%m-%d}.pdf")


def emergency_card_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    pump = get_object_or_404(Pump.objects.select_related("model", "patient"), pk=pk)
    record_access_to(request, pump, channel=AccessChannel.PDF)
    return pdf.pdf_response(pdf.emergency_card(pump), f"pump-emergency-card-{pump.serial_number}.pdf")


# --------------------------------------------------------------------------
# Surgery
# --------------------------------------------------------------------------


class PumpChildMixin:
    """Views about one pump: loads it and returns to its page."""

    kwargs: dict[str, Any]
    request: HttpRequest

    def get_pump(self) -> Pump:
        if not hasattr(self, "_pump"):
            self._pump = get_object_or_404(Pump.objects.select_related("model", "patient"), pk=self.kwargs["pump_pk"])
        return self._pump

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        context["pump"] = self.get_pump()
        return context

    def get_success_url(self) -> str:
        return reverse("pumps:detail", args=[self.get_pump().pk])


class ImplantView(AuditedCreateView):
    model = Pump
    form_class = ImplantForm
    permission_required = PERMS.RECORD_SURGERY
    template_name = "pumps/implant_form.html"
    page_title = "Record a pump implant"

    def get_patient(self) -> Patient:
        if not hasattr(self, "_patient"):
            self._patient = get_object_or_404(Patient, pk=self.kwargs["patient_pk"])
        return self._patient

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        self.trial_bolus_mcg, suggested = selectors.suggested_starting_dose_mcg(self.get_patient().pk)
        kwargs.update(user=self.request.user, suggested_dose_mcg=suggested)
        return kwargs

    def get_form(self, form_class: Any = None) -> Any:
        form = super().get_form(form_class)
        form.instance.patient = self.get_patient()
        return form

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(patient=self.get_patient(), trial_bolus_mcg=getattr(self, "trial_bolus_mcg", None))
        return context

    def save_record(self, form: ImplantForm) -> None:  # type: ignore[override]
        services.pump_implant(
            form.instance,
            by=self.request.user,
            surgery=form.surgery_details(form.cleaned_data["implanted_on"]),
            first_program=form.program_details(),
            first_fill=form.fill_details(),
        )

    def get_success_url(self) -> str:
        return reverse("pumps:detail", args=[self.object.pk])


class ReplaceView(PumpChildMixin, AuditedCreateView):
    model = Pump
    form_class = ReplaceForm
    permission_required = PERMS.RECORD_SURGERY
    template_name = "pumps/surgery_form.html"
    page_title = "Record a pump replacement"

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        old = self.get_pump()
        kwargs["user"] = self.request.user
        kwargs.setdefault("initial", {}).update(
            model=old.model_id,
            reservoir_volume_ml=old.reservoir_volume_ml,
            low_reservoir_alarm_ml=old.low_reservoir_alarm_ml,
            pump_site=old.pump_site,
            drug=old.current_drug or None,
            concentration_mcg_per_ml=old.current_concentration_mcg_per_ml,
        )
        return kwargs

    def save_record(self, form: ReplaceForm) -> None:  # type: ignore[override]
        performed_on = form.cleaned_data["performed_on"]
        form.instance = services.pump_replace(
            self.get_pump(),
            new_pump=form.instance,
            by=self.request.user,
            surgery=form.surgery_details(performed_on),
            catheter_revised=form.cleaned_data["catheter_revised"],
            first_fill=form.fill_details(),
        )

    def get_success_url(self) -> str:
        return reverse("pumps:detail", args=[self.object.pk])


class CatheterRevisionView(PumpChildMixin, AuditedCreateView):
    model = Surgery
    form_class = CatheterRevisionForm
    permission_required = PERMS.RECORD_SURGERY
    template_name = "pumps/surgery_form.html"
    page_title = "Record a catheter revision"

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "user": self.request.user}

    def save_record(self, form: CatheterRevisionForm) -> None:  # type: ignore[override]
        form.instance = services.catheter_revision(
            self.get_pump(),
            by=self.request.user,
            surgery=form.surgery_details(form.cleaned_data["performed_on"]),
            catheter_model=form.cleaned_data["catheter_model"],
            catheter_tip_level=form.cleaned_data["catheter_tip_level"],
        )


class ExplantView(PumpChildMixin, AuditedCreateView):
    model = Surgery
    form_class = ExplantForm
    permission_required = PERMS.RECORD_SURGERY
    template_name = "pumps/surgery_form.html"
    page_title = "Record an explant"

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "user": self.request.user}

    def save_record(self, form: ExplantForm) -> None:  # type: ignore[override]
        form.instance = services.pump_explant(
            self.get_pump(), by=self.request.user, surgery=form.surgery_details(form.cleaned_data["performed_on"])
        )


class PumpUpdateView(AuditedUpdateView):
    model = Pump
    form_class: type[Any] = PumpEditForm
    permission_required = PERMS.RECORD_SURGERY
    page_title = "Edit pump details"

    def save_record(self, form: PumpEditForm) -> None:  # type: ignore[override]
        services.pump_update(
            form.instance, by=self.request.user, expected_version=form.expected_version, reason=form.change_reason_text
        )


class PumpFollowUpView(PumpUpdateView):
    """Interrogation findings and cards, for the pump team (nurses and doctors)."""

    form_class = PumpFollowUpForm
    permission_required = PERMS.RECORD_REFILL
    page_title = "Interrogation, alarm volume and cards"


# --------------------------------------------------------------------------
# Titration visits and refills
# --------------------------------------------------------------------------


class DoseChangeCreateView(PumpChildMixin, AuditedCreateView):
    model = DoseChange
    form_class = DoseChangeForm
    permission_required = PERMS.CHANGE_DOSE
    template_name = "pumps/dose_change_form.html"
    page_title = "Titration visit: new dose program"

    def get_initial(self) -> dict[str, Any]:
        pump = self.get_pump()
        current = pump.dose_changes.active().order_by("-changed_on", "-pk").first()
        initial: dict[str, Any] = {"changed_on": clinic_today()}
        if current is not None:
            initial.update(mode=current.mode, daily_dose_mcg=current.daily_dose_mcg, flex_steps=current.flex_steps)
        return initial

    def get_form(self, form_class: Any = None) -> Any:
        form = super().get_form(form_class)
        form.instance.pump = self.get_pump()
        return form

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        pump = self.get_pump()
        context["current_program"] = pump.dose_changes.active().order_by("-changed_on", "-pk").first()
        return context

    def save_record(self, form: DoseChangeForm) -> None:  # type: ignore[override]
        program = form.program_details()
        form.instance = services.dose_change_record(
            pump=self.get_pump(),
            by=self.request.user,
            changed_on=form.cleaned_data["changed_on"],
            retyped_daily_dose_mcg=form.cleaned_data.get("retyped_daily_dose_mcg"),
            # The page's hard stop: a large change is typed twice.
            require_retyped_dose=True,
            **asdict(program),
        )

    def get_success_url(self) -> str:
        return reverse("pumps:dose_change_detail", args=[self.object.pk])


class RefillCreateView(PumpChildMixin, AuditedCreateView):
    model = Refill
    form_class = RefillForm
    permission_required = PERMS.RECORD_REFILL
    template_name = "pumps/refill_form.html"
    page_title = "Refill"

    def last_refill(self) -> Refill | None:
        return self.get_pump().refills.active().order_by("-refilled_on", "-pk").first()

    def get_initial(self) -> dict[str, Any]:
        """Prefilled from the last refill: drug, concentration, dilution and volume."""
        initial: dict[str, Any] = {"refilled_on": clinic_today()}
        last = self.last_refill()
        if last is not None:
            initial.update(
                drug=last.drug,
                concentration_mcg_per_ml=last.concentration_mcg_per_ml,
                dilution_note=last.dilution_note,
                volume_added_ml=last.volume_added_ml,
            )
        return initial

    def get_form(self, form_class: Any = None) -> Any:
        form = super().get_form(form_class)
        form.instance.pump = self.get_pump()
        return form

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["last_refill"] = self.last_refill()
        return context

    def save_record(self, form: RefillForm) -> None:  # type: ignore[override]
        data = {name: form.cleaned_data[name] for name in RefillForm.Meta.fields}
        form.instance = services.refill_record(pump=self.get_pump(), by=self.request.user, **data)

    def get_success_url(self) -> str:
        return reverse("pumps:refill_detail", args=[self.object.pk])


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


@require_POST
def dose_change_preview(request: HttpRequest, pump_pk: int) -> HttpResponse:
    """htmx: the daily dose, change %, confirmation need and new dates of the program being typed,
    with what is still missing or typed wrong (the whole error area is replaced each time)."""
    _require(request, PERMS.CHANGE_DOSE)
    pump = get_object_or_404(Pump.objects.select_related("model"), pk=pump_pk)
    form = DoseChangeForm(request.POST, instance=DoseChange(pump=pump))
    draft = None
    if form.preview_ready():  # the model's clean computes a flex program's daily dose
        program = form.program_details()
        draft = services.dose_change_preview(
            pump=pump,
            changed_on=form.cleaned_data["changed_on"],
            program=program,
            retyped_daily_dose_mcg=form.cleaned_data.get("retyped_daily_dose_mcg"),
            require_retyped_dose=True,  # the page's hard stop, as its save
        )
    return render(request, "pumps/partials/dose_preview.html", _preview_context(pump, form, draft))


@require_POST
def refill_preview(request: HttpRequest, pump_pk: int) -> HttpResponse:
    """htmx: the delivery check and the new dates of the refill being typed, before it is saved,
    with what is still missing or typed wrong (the whole error area is replaced each time)."""
    _require(request, PERMS.RECORD_REFILL)
    pump = get_object_or_404(Pump.objects.select_related("model"), pk=pump_pk)
    form = RefillForm(request.POST, instance=Refill(pump=pump))
    draft = None
    if form.preview_ready():
        fill = form.fill_details()
        draft = services.refill_preview(pump=pump, refilled_on=form.cleaned_data["refilled_on"], fill=fill)
    return render(request, "pumps/partials/refill_preview.html", _preview_context(pump, form, draft))


def _preview_context(
    pump: Pump, form: DoseChangeForm | RefillForm, draft: services.DoseChangeDraft | services.RefillDraft | None
) -> dict[str, Any]:
    state = form.preview_state(draft.errors, draft.still_needed) if draft else form.preview_state()
    return {"pump": pump, "draft": draft, "preview": state, "today": clinic_today()}


# --------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------


class PumpModelCreateView(AuditedCreateView):
    model = PumpModel
    form_class = PumpModelForm
    permission_required = PERMS.EDIT_PUMP_CATALOGUE
    page_title = "New pump model"

    def save_record(self, form: PumpModelForm) -> None:  # type: ignore[override]
        services.pump_model_save(form.instance, by=self.request.user)

    def get_success_url(self) -> str:
        return reverse("pumps:catalogue")


class PumpModelUpdateView(AuditedUpdateView):
    model = PumpModel
    form_class = PumpModelForm
    permission_required = PERMS.EDIT_PUMP_CATALOGUE
    page_title = "Edit pump model"

    def save_record(self, form: PumpModelForm) -> None:  # type: ignore[override]
        services.pump_model_save(
            form.instance, by=self.request.user, expected_version=form.expected_version, reason=form.change_reason_text
        )

    def get_success_url(self) -> str:
        return reverse("pumps:catalogue")
