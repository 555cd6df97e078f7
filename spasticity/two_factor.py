"""Two-factor sign-in (django-otp, TOTP): who needs it, their device, and the QR code to enrol it.

With ``REQUIRE_2FA`` (the production default), every signed-in user must confirm a code from
an authenticator app after the password: a user without a confirmed device enrols one first
(scan the QR code, type a code), a user with one types a code. The API's token endpoint asks
for the code too (``otp``), so integration accounts need a device as well.

Each user has at most one TOTP device. It is created unconfirmed (by ``add_staff`` or the
enrolment page, which show the same secret) and confirmed by the first code that matches it.
A lost phone is replaced with ``add_staff USERNAME --role ROLE --reset-2fa``.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

DEVICE_NAME = "authenticator app"


def two_factor_required() -> bool:
    return bool(settings.REQUIRE_2FA)


def is_verified(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether this session's user has passed the second factor (set by django-otp's OTPMiddleware)."""
    return getattr(user, "otp_device", None) is not None


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def enrolment_device(user: User) -> TOTPDevice:
    """The user's unconfirmed device, created when missing, so that every look shows the same secret."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def device_reset(user: User) -> TOTPDevice:
    """Forget the user's devices (a lost phone) and start a new enrolment."""
    TOTPDevice.objects.filter(user=user).delete()
    return enrolment_device(user)


def code_matches(device: TOTPDevice, code: str) -> bool:
    """Check a code against one device, under a row lock so that django-otp's throttle and
    replay check (a code is accepted once) hold when two requests race."""
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        matched = bool(locked.verify_token(code.strip()))
    device.refresh_from_db()
    return matched


def enrolment_confirm(device: TOTPDevice, code: str) -> bool:
    """Confirm an enrolment with the first code from the user's app; False when the code is wrong."""
    if not code_matches(device, code):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return True


def qr_svg_data_uri(text: str) -> str:
    """A QR code as an ``<img src>`` (the page's CSP allows ``data:`` images, not inline markup)."""
    buffer = io.BytesIO()
    qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2).save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def qr_text(text: str) -> str:
    """A QR code drawn with block characters, for a terminal."""
    code = qrcode.QRCode(border=2)
    code.add_data(text)
    buffer = io.StringIO()
    code.print_ascii(out=buffer, invert=True)
    return buffer.getvalue()


def secret_for_typing(device: TOTPDevice) -> str:
    """The base32 secret in groups of four, for apps where the QR code cannot be scanned."""
    secret = base64.b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def step_url(name: str, next_url: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


def second_factor_url(user: User, next_url: str) -> str:
    """Where an unverified user goes: the code page, or enrolment when they have no device yet."""
    return step_url("two_factor_verify" if confirmed_device(user) else "two_factor_enrol", next_url)


class TwoFactorRequiredMiddleware:
    """With ``REQUIRE_2FA``, a signed-in user reaches no page before the second factor.

    The API is left to its authentication classes (``spasticity.api_session``): a browser
    session counts there only once verified, and tokens are issued only after the code.
    """

    OPEN_PREFIXES = ("/static/", "/api/")
    OPEN_URL_NAMES = ("login", "logout", "two_factor_enrol", "two_factor_verify")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if two_factor_required() and user.is_authenticated and not is_verified(user) and not self._open(request):
            return HttpResponseRedirect(second_factor_url(user, request.get_full_path()))  # type: ignore[arg-type]
        return self.get_response(request)

    def _open(self, request: HttpRequest) -> bool:
        return request.path.startswith(self.OPEN_PREFIXES) or request.path in {
            reverse(name) for name in self.OPEN_URL_NAMES
        }
