"""Shared views: history of any audited record, voiding, and the base edit views."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.views import View
from django.views.generic import CreateView, UpdateView
from django.views.generic.edit import ModelFormMixin

from access_log.models import AccessChannel
from access_log.recording import record_access_to
from spasticity.audit import void_record
from spasticity.history import history_entries
from spasticity.integrity import integrity_validation_error
from spasticity.models import ClinicalRecord
from spasticity.redirects import redirect_to_next


def audited_model(model_label: str) -> type[ClinicalRecord]:
    try:
        model = apps.get_model(model_label)
    except (LookupError, ValueError) as error:
        raise Http404("No such record type.") from error
    if not issubclass(model, ClinicalRecord):
        raise Http404("No such record type.")
    return model


def record_history(request: HttpRequest, model_label: str, pk: int) -> HttpResponse:
    model = audited_model(model_label)
    record = get_object_or_404(model, pk=pk)
    # The history of a patient, pump, trial, refill or dose change shows the record itself.
    record_access_to(request, record, channel=AccessChannel.PAGE)
    context = {
        "record": record,
        "entries": history_entries(record),
        "model_name": model._meta.verbose_name,
    }
    return render(request, "history.html", context)


class VoidRecordView(View):
    """Void (never delete) a clinical record, with a reason; needs the record's void permission
    (its write permission, except for a patient or a trial: the rehab doctor's alone)."""

    def post(self, request: HttpRequest, model_label: str, pk: int) -> HttpResponse:
        model = audited_model(model_label)
        required = model.void_permission()
        if not required or not request.user.has_perm(required):
            raise PermissionDenied
        record = get_object_or_404(model, pk=pk)
        try:
            void_record(record, by=request.user, reason=request.POST.get("reason", ""))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{str(model._meta.verbose_name).capitalize()} voided.")
        return redirect_to_next(request, "/")


class AuditedEditMixin(PermissionRequiredMixin, ModelFormMixin[Any, Any]):
    """Create/update views whose save goes through a service.

    Subclasses set ``permission_required`` and implement ``save_record(form)``. A
    service's ValidationError (including a stale edit) is shown on the form and
    nothing is saved: the whole save is one transaction.
    """

    request: HttpRequest
    raise_exception = True
    template_name: str | None = "form_page.html"
    page_title = ""

    def save_record(self, form: Any) -> None:
        raise NotImplementedError

    def form_valid(self, form: Any) -> HttpResponse:
        try:
            with transaction.atomic():
                self.save_record(form)
        except ValidationError as error:
            form.add_service_error(error)
            return self.form_invalid(form)
        except IntegrityError as error:
            # A unique key a concurrent save won: the message lands on the field it guards.
            form.add_service_error(integrity_validation_error(error))
            return self.form_invalid(form)
        self.object = form.instance
        messages.success(self.request, f"Saved {form.instance}.")
        return HttpResponseRedirect(self.get_success_url())

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)
        context["page_title"] = self.page_title
        return context


class AuditedCreateView(AuditedEditMixin, CreateView[Any, Any]):
    pass


class AuditedUpdateView(AuditedEditMixin, UpdateView[Any, Any]):
    pass
