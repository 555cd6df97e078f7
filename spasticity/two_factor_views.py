"""The second step of signing in: enrol an authenticator app, or type its code."""

from __future__ import annotations

import django_otp
from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.cache import never_cache

from spasticity.redirects import safe_next_url
from spasticity.two_factor import (
    code_matches,
    confirmed_device,
    enrolment_confirm,
    enrolment_device,
    is_verified,
    qr_svg_data_uri,
    secret_for_typing,
    step_url,
)


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


WRONG_CODE = "That code is not right, or it was already used. Wait for the next code and try again."


def safe_next(request: HttpRequest) -> str:
    """Where to go after the second factor: the page asked for, if it is on this site."""
    return safe_next_url(request, resolve_url(settings.LOGIN_REDIRECT_URL))


@never_cache
def enrol(request: HttpRequest) -> HttpResponse:
    """Show the QR code of the user's new device; the first matching code confirms it."""
    user = request.user
    if confirmed_device(user):  # type: ignore[arg-type]
        # A second device needs the first one (or an administrator's --reset-2fa), never just a password.
        return redirect(step_url("two_factor_verify", safe_next(request)))
    device = enrolment_device(user)  # type: ignore[arg-type]
    form = CodeForm(request.POST or None)
    if form.is_valid():
        if enrolment_confirm(device, form.cleaned_data["code"]):
            django_otp.login(request, device)
            messages.success(request, "Two-factor sign-in is set up. You will be asked for a code at each sign-in.")
            return redirect(safe_next(request))
        form.add_error("code", WRONG_CODE)
    context = {
        "form": form,
        "qr_src": qr_svg_data_uri(device.config_url),
        "secret": secret_for_typing(device),
        "next": safe_next(request),
    }
    return render(request, "two_factor/enrol.html", context)


@never_cache
def verify(request: HttpRequest) -> HttpResponse:
    """Ask for the current code of the user's confirmed device."""
    user = request.user
    device = confirmed_device(user)  # type: ignore[arg-type]
    if device is None:
        return redirect(step_url("two_factor_enrol", safe_next(request)))
    if is_verified(user):
        return redirect(safe_next(request))
    form = CodeForm(request.POST or None)
    if form.is_valid():
        if code_matches(device, form.cleaned_data["code"]):
            django_otp.login(request, device)
            return redirect(safe_next(request))
        form.add_error("code", WRONG_CODE)
    return render(request, "two_factor/verify.html", {"form": form, "next": safe_next(request)})
