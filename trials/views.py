"""Trial and goal pages. Thin: rules live in services and selectors."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from access_log.models import AccessChannel
from access_log.recording import record_access_to
from patients.models import Patient
from spasticity.params import parse_date_param
from spasticity.roles import PERMS
from spasticity.timeutil import clinic_today
from spasticity.views import AuditedCreateView, AuditedUpdateView
from trials import selectors, services
from trials.forms import (
    AddTimepointForm,
    GoalAttainmentDateForm,
    GoalForm,
    GoalReviewForm,
    SignOffForm,
    SpasmCellForm,
    ToneCellForm,
    TrialAmendForm,
    TrialObservationsForm,
    TrialPlanForm,
    cell_field_name,
)
from trials.models import Goal, GoalReview, Trial, TrialOutcome
from trials.services import StaleCellError, ToneCell

INVALID_CELL_STATUS = 422


def _get_trial(pk: int) -> Trial:
    try:
        return selectors.trial_detail(pk)
    except Trial.DoesNotExist as error:
        raise Http404 from error


@require_GET
def trial_day_list(request: HttpRequest) -> HttpResponse:
    """The trials booked for one day (today unless ``?on=YYYY-MM-DD``, within the dates every parameter allows)."""
    try:
        day = parse_date_param(request.GET.get("on"), "on") or clinic_today()
    except ValidationError as error:
        messages.error(request, "Day: " + " ".join(error.messages))
        return render(request, "base.html", {"page_title": "No such day"}, status=400)
    context = {
        "day": day,
        "previous_day": day - dt.timedelta(days=1),
        "next_day": day + dt.timedelta(days=1),
        "is_today": day == clinic_today(),
        "trials": list(selectors.trials_on(day)),
    }
    return render(request, "trials/trial_list.html", context)


def _trial_url(trial: Trial) -> str:
    return reverse("trials:detail", args=[trial.pk])


class TrialCreateView(AuditedCreateView):
    model = Trial
    form_class = TrialPlanForm
    permission_required = PERMS.PLAN_TRIAL
    page_title = "Plan an intrathecal trial"

    def get_patient(self) -> Patient:
        return get_object_or_404(Patient.objects.active(), pk=self.kwargs["patient_pk"])

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        patient = self.get_patient()
        kwargs["suggestion"] = selectors.trial_suggested_bolus(patient, today=clinic_today())
        kwargs["instance"] = Trial(patient=patient, performed_on=clinic_today())
        return kwargs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["page_title"] = f"Plan an intrathecal trial for {self.get_patient()}"
        return context

    def get_success_url(self) -> str:
        return _trial_url(self.object)

    def save_record(self, form: TrialPlanForm) -> None:
        services.trial_plan(form.instance, by=self.request.user)


class TrialUpdateView(AuditedUpdateView):
    model = Trial
    form_class = TrialPlanForm
    permission_required = PERMS.PLAN_TRIAL
    page_title = "Change the trial plan"

    def get_success_url(self) -> str:
        return _trial_url(self.object)

    def save_record(self, form: TrialPlanForm) -> None:
        services.trial_plan(
            form.instance, by=self.request.user, expected_version=form.expected_version, reason=form.change_reason_text
        )


class TrialObservationsView(AuditedUpdateView):
    model = Trial
    form_class = TrialObservationsForm
    permission_required = PERMS.RECORD_TONE
    page_title = "Trial observations"

    def get_success_url(self) -> str:
        return _trial_url(self.object)

    def save_record(self, form: TrialObservationsForm) -> None:
        services.trial_observations_save(
            form.instance, by=self.request.user, expected_version=form.expected_version, reason=form.change_reason_text
        )


def _extra_timepoints(request: HttpRequest) -> tuple[list[int], AddTimepointForm | None]:
    """Timepoints asked for with ``?add=``; an invalid one comes back as a form with its error."""
    extra: list[int] = []
    invalid = None
    for value in request.GET.getlist("add"):
        form = AddTimepointForm({"add": value})
        if form.is_valid():
            extra.append(form.cleaned_data["add"])
        else:
            invalid = form
    return extra, invalid


def trial_page_context(request: HttpRequest, trial: Trial, **extra: Any) -> dict[str, Any]:
    added, invalid_add = _extra_timepoints(request)
    today = clinic_today()
    can_score = request.user.has_perm(PERMS.RECORD_TONE) and not trial.is_signed and not trial.is_voided
    context = {
        "trial": trial,
        "patient": trial.patient,
        "response": trial.response,
        "grid": selectors.trial_grid(trial, added),
        "added_timepoints": added,
        "add_form": invalid_add or AddTimepointForm(),
        "chart": selectors.trial_chart(trial),
        "can_score": can_score,
        "before_trial_day": trial.performed_on > today,
        # When the observations form is on the page, the Sign button submits it (with the
        # outcome and note) so that nothing ticked there is lost; else its own form.
        "sign_form_id": "observations-form" if can_score and trial.performed_on <= today else "sign-off-form",
        "sign_form": SignOffForm(initial={"version": trial.version}),
        "observations_form": TrialObservationsForm(instance=trial),
        "outcome_choices": TrialOutcome.choices,
        "threshold": settings.CLINIC["TRIAL_POSITIVE_THRESHOLD"],
    }
    context.update(extra)
    return context


@require_GET
def trial_detail(request: HttpRequest, pk: int) -> HttpResponse:
    trial = _get_trial(pk)
    record_access_to(request, trial, channel=AccessChannel.PAGE)
    return render(request, "trials/trial_detail.html", trial_page_context(request, trial))


def _cell_response(request: HttpRequest, trial: Trial, context: dict[str, Any], status: int) -> HttpResponse:
    context = {
        "trial": trial,
        "response": trial.response,
        "chart": selectors.trial_chart(trial),
        "threshold": settings.CLINIC["TRIAL_POSITIVE_THRESHOLD"],
        **context,
    }
    context["can_score"] = True
    return render(request, "trials/partials/cell_response.html", context, status=status)


@require_POST
@permission_required(PERMS.RECORD_TONE, raise_exception=True)
def trial_cell(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: save one tone-grid cell; answer the cell and, out of band, the response summary."""
    trial = _get_trial(pk)
    form = ToneCellForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Unknown grid cell.")
    data = form.cleaned_data
    cell = ToneCell(data["muscle_group"], data["side"], data["minutes_after_bolus"], data["mas"])
    error, stale = "", False
    try:
        services.trial_score_set(trial, by=request.user, cell=cell, expected_version=data["version"])
    except StaleCellError as conflict:
        error, stale = " ".join(conflict.messages), True
    except ValidationError as invalid:
        error = " ".join(invalid.messages)
    trial = _get_trial(pk)
    grid_cell = selectors.tone_cell(trial, cell.muscle_group, cell.side, cell.minutes_after_bolus)
    # A refused grade stays in the cell so it can be corrected; after a conflict, show the other edit.
    typed = data["mas"] if error and not stale else grid_cell.mas
    context = {"cell": grid_cell, "typed": typed, "error": error, "kind": "mas"}
    return _cell_response(request, trial, context, INVALID_CELL_STATUS if error else 200)


@require_POST
@permission_required(PERMS.RECORD_TONE, raise_exception=True)
def trial_spasm_cell(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: save the Penn spasm frequency at one timepoint."""
    trial = _get_trial(pk)
    form = SpasmCellForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Unknown grid cell.")
    data = form.cleaned_data
    raw = "".join(str(data["frequency"] or "").split())
    error = ""
    try:
        frequency = int(raw) if raw else None
        services.trial_spasm_score_set(
            trial,
            by=request.user,
            minutes_after_bolus=data["minutes_after_bolus"],
            frequency=frequency,
            expected_version=data["version"],
        )
    except ValueError:
        error = "Penn spasm frequency is 0 to 4."
    except ValidationError as invalid:
        error = " ".join(invalid.messages)
    trial = _get_trial(pk)
    cell = selectors.spasm_cell(trial, data["minutes_after_bolus"])
    typed = raw if error else ("" if cell.frequency is None else str(cell.frequency))
    context = {"cell": cell, "typed": typed, "error": error, "kind": "penn"}
    return _cell_response(request, trial, context, INVALID_CELL_STATUS if error else 200)


@require_POST
@permission_required(PERMS.SIGN_TRIAL, raise_exception=True)
def trial_sign_off(request: HttpRequest, pk: int) -> HttpResponse:
    """Sign the outcome, saving the observations the page's Sign button sent along with it."""
    trial = _get_trial(pk)
    form = SignOffForm(request.POST)
    observations_form = _observations_signed_with(request, form, pk)
    if form.is_valid():
        try:
            services.trial_sign_off(
                trial,
                by=request.user,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
                observations=observations_form.observations() if observations_form else None,
                observations_reason=observations_form.change_reason_text if observations_form else "",
                expected_version=form.cleaned_data["version"],
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"Trial signed {form.cleaned_data['outcome']}.")
            return redirect("trials:detail", pk=pk)
    context = trial_page_context(request, trial, sign_form=form)
    if observations_form is not None:
        context["observations_form"] = observations_form  # what was ticked stays ticked
    return render(request, "trials/trial_detail.html", context, status=400)


def _observations_signed_with(request: HttpRequest, form: SignOffForm, pk: int) -> TrialObservationsForm | None:
    """The observations form posted with the signature, if it was; an invalid one refuses the signature."""
    form.is_valid()
    if not form.cleaned_data.get("with_observations"):
        return None
    observations_form = TrialObservationsForm(request.POST, instance=Trial.objects.get(pk=pk))
    if not observations_form.is_valid():
        form.add_error(None, "Correct the observations first: nothing was saved and the trial is not signed.")
    return observations_form


def _add_errors(form: Any, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.message_dict.items():
        target = field if field in form.fields and field != "version" else None
        for message in errors:
            form.add_error(target, message)


@permission_required(PERMS.SIGN_TRIAL, raise_exception=True)
def trial_amend(request: HttpRequest, pk: int) -> HttpResponse:
    """A doctor corrects a signed trial: fields and grades, with a reason."""
    trial = _get_trial(pk)
    if not trial.is_signed:
        return redirect("trials:detail", pk=pk)
    timepoints = selectors.grid_timepoints(trial)
    form = TrialAmendForm(request.POST or None, trial=trial, timepoints=timepoints)
    if request.method == "POST" and form.is_valid():
        cells = [ToneCell(m, s, t, mas) for m, s, t, mas in form.changed_cells()]
        try:
            with transaction.atomic():
                services.trial_amend(
                    trial,
                    by=request.user,
                    reason=form.cleaned_data["reason"],
                    changes=form.changes(),
                    cells=cells,
                    expected_version=form.cleaned_data["version"],
                )
        except ValidationError as error:
            _add_errors(form, error)
        except IntegrityError:
            form.add_error(None, "This clashes with a change saved at the same moment; reload and try again.")
        else:
            messages.success(request, "Amendment recorded.")
            return redirect("trials:detail", pk=pk)
    status = 400 if request.method == "POST" else 200
    rows = [
        (row, [(c, form[cell_field_name(c.muscle_group, c.side, c.minutes_after_bolus)]) for c in row.cells])
        for row in selectors.trial_grid(trial).rows
    ]
    context = {"trial": trial, "form": form, "timepoints": timepoints, "rows": rows}
    return render(request, "trials/trial_amend.html", context, status=status)


@require_GET
def trial_score_history(request: HttpRequest, pk: int) -> HttpResponse:
    trial = _get_trial(pk)
    return render(request, "trials/score_history.html", {"trial": trial, "rows": selectors.score_history(trial)})


# --- Goals ---------------------------------------------------------------------------------


@require_GET
def patient_goals(request: HttpRequest, patient_pk: int) -> HttpResponse:
    """A patient's goals, the T-score on a date (today unless ``?on=``) and its chart over time."""
    patient = get_object_or_404(Patient, pk=patient_pk)
    date_form = GoalAttainmentDateForm(request.GET or None)
    on = clinic_today()
    if date_form.is_valid() and date_form.cleaned_data["on"]:
        on = date_form.cleaned_data["on"]
    goals = selectors.patient_goals(patient.pk)
    series = selectors.goal_attainment_series(goals)
    context = {
        "patient": patient,
        "goals": goals,
        "attainment": selectors.goal_attainment(goals, on=on),
        "date_form": date_form,
        "on": on,
        "chart": {
            "series": [{"label": "T-score", "points": [{"x": d.isoformat(), "y": float(t)} for d, t in series]}],
            "x_label": "Date",
            "y_label": "GAS T-score",
            "y_suggested_min": 30,
            "y_suggested_max": 70,
        },
        "levels": [2, 1, 0, -1, -2],
    }
    return render(request, "trials/patient_goals.html", context)


def _goals_url(goal: Goal) -> str:
    return reverse("goals:patient_goals", args=[goal.patient_id])


class GoalCreateView(AuditedCreateView):
    model = Goal
    form_class = GoalForm
    permission_required = PERMS.MANAGE_GOAL
    page_title = "Set a goal"

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        patient = get_object_or_404(Patient.objects.active(), pk=self.kwargs["patient_pk"])
        kwargs["instance"] = Goal(patient=patient, set_on=clinic_today())
        return kwargs

    def get_success_url(self) -> str:
        return _goals_url(self.object)

    def save_record(self, form: GoalForm) -> None:
        services.goal_save(form.instance, by=self.request.user)


class GoalUpdateView(AuditedUpdateView):
    model = Goal
    form_class = GoalForm
    permission_required = PERMS.MANAGE_GOAL
    page_title = "Edit the goal"

    def get_success_url(self) -> str:
        return _goals_url(self.object)

    def save_record(self, form: GoalForm) -> None:
        services.goal_save(
            form.instance, by=self.request.user, expected_version=form.expected_version, reason=form.change_reason_text
        )


class GoalReviewCreateView(AuditedCreateView):
    model = GoalReview
    form_class = GoalReviewForm
    permission_required = PERMS.MANAGE_GOAL
    page_title = "Review a goal"

    def get_goal(self) -> Goal:
        return get_object_or_404(Goal.objects.select_related("patient"), pk=self.kwargs["goal_pk"])

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["instance"] = GoalReview(goal=self.get_goal())
        return kwargs

    def get_initial(self) -> dict[str, Any]:
        return {"reviewed_on": clinic_today()}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        goal = self.get_goal()
        domain = goal.get_domain_display().lower()
        context["page_title"] = f"Review {goal.patient.full_name}'s {domain} goal: {goal.description}"
        return context

    def save_record(self, form: GoalReviewForm) -> None:  # type: ignore[override]
        data = form.cleaned_data
        form.instance = services.goal_review_add(
            form.instance.goal,
            by=self.request.user,
            reviewed_on=data["reviewed_on"],
            level=data["level"],
            note=data["note"],
        )

    def get_success_url(self) -> str:
        return _goals_url(self.object.goal)
